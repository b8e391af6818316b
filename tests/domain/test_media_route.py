"""The media route of a meeting (mesh or SFU) and who may publish or receive
on the SFU: pure decisions, no Janus."""

from __future__ import annotations

import pytest

from frontdesk.domain.media import (
    MESH_CAP,
    MediaMode,
    MediaPlan,
    MediaRoute,
    may_publish,
    may_subscribe,
)
from frontdesk.domain.model import Role
from frontdesk.domain.participants import JoinMethod, Participant, SessionState, SupervisorMode
from frontdesk.errors import ValidationFailed


def _people(n: int, state: SessionState = SessionState.JOINED) -> dict[str, Participant]:
    return {
        f"p{i}": Participant(f"p{i}", f"P {i}", Role.GUEST, JoinMethod.TOKEN, state)
        for i in range(n)
    }


def _monitor() -> Participant:
    return Participant(
        "sup",
        "Sue",
        Role.ATTENDEE,
        JoinMethod.USER,
        SessionState.JOINED,
        supervisor=SupervisorMode.MONITOR,
    )


def test_auto_switches_to_the_sfu_when_one_more_would_pass_the_mesh_cap() -> None:
    plan = MediaPlan(MediaMode.AUTO, sfu_available=True)
    for n in range(1, MESH_CAP + 1):
        assert plan.update(_people(n)) is None
    assert plan.route is MediaRoute.MESH
    assert plan.update(_people(MESH_CAP + 1)) is MediaRoute.SFU
    # Once on the SFU it stays there, even when people leave.
    assert plan.update(_people(2)) is None
    assert plan.route is MediaRoute.SFU


def test_lobby_and_hidden_supervisors_do_not_count_toward_the_cap() -> None:
    plan = MediaPlan(MediaMode.AUTO, sfu_available=True)
    people = _people(MESH_CAP) | {"sup": _monitor()}
    people |= {"w": Participant("w", "W", Role.GUEST, JoinMethod.URL, SessionState.LOBBY)}
    assert plan.update(people) is None and plan.route is MediaRoute.MESH


def test_without_an_sfu_every_mode_is_a_mesh() -> None:
    for mode in MediaMode:
        plan = MediaPlan(mode, sfu_available=False)
        assert plan.route is MediaRoute.MESH
        assert plan.update(_people(MESH_CAP + 3)) is None


def test_sfu_mode_starts_on_the_sfu_and_mesh_mode_never_leaves_the_mesh() -> None:
    assert MediaPlan(MediaMode.SFU, sfu_available=True).route is MediaRoute.SFU
    plan = MediaPlan(MediaMode.MESH, sfu_available=True)
    assert plan.update(_people(MESH_CAP + 3)) is None and plan.route is MediaRoute.MESH


def test_mode_parse() -> None:
    assert MediaMode.parse(" SFU ") is MediaMode.SFU
    with pytest.raises(ValidationFailed):
        MediaMode.parse("p2p")


def test_who_publishes_and_who_receives() -> None:
    people = _people(2) | {"sup": _monitor()}
    people["lobby"] = Participant("lobby", "L", Role.GUEST, JoinMethod.URL, SessionState.LOBBY)
    assert may_publish(people, "p0")
    assert not may_publish(people, "sup")  # a monitor sends nothing
    assert not may_publish(people, "lobby") and not may_publish(people, "nobody")
    assert may_subscribe(people, "p0", "p1")
    assert may_subscribe(people, "sup", "p0")  # a monitor may watch
    assert not may_subscribe(people, "p0", "sup")  # and is never a feed
    assert not may_subscribe(people, "p0", "p0")
    assert not may_subscribe(people, "lobby", "p0")
    assert not may_subscribe(people, "p0", "lobby")
