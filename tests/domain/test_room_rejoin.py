"""One person, one row: a session that comes back (a reload, a second tab) with
the identity of a session still holding a seat replaces it."""

from __future__ import annotations

import dataclasses

import pytest
from room_support import (
    T0,
    at,
    make_room,
    organizer,
    state_key,
    through_store,
    url_guest,
    wire,
)

from frontdesk.domain import (
    Admit,
    Disconnect,
    EventType,
    Join,
    LeaveReason,
    Limits,
    Remove,
    Room,
    SessionState,
)
from frontdesk.domain.participants import Participant
from frontdesk.errors import ValidationFailed
from frontdesk.protocol.events import snapshot_to_wire

JOINED, LOBBY, LEFT = SessionState.JOINED, SessionState.LOBBY, SessionState.LEFT


def ann(pid: str, key: str | None = "tab:ann") -> Join:
    return dataclasses.replace(url_guest(pid), identity=key)


def alice(pid: str) -> Join:
    return dataclasses.replace(organizer(pid), identity="user:alice")


def roster_names(room: Room) -> list[tuple[str, str]]:
    return [(p.id, p.display_name) for p in room.roster()]


def test_a_guest_who_reloads_replaces_their_row_and_comes_straight_back() -> None:
    room = make_room()  # lobby policy
    room.handle(alice("org"), T0)
    room.handle(ann("g1"), T0)
    room.handle(Admit("org", "g1"), T0)
    room.handle(Disconnect("g1"), at(1))  # the page reloads: the old socket drops
    assert room.participant("g1").state is SessionState.RECONNECTING

    events = room.handle(ann("g2"), at(2))

    left, joined = events
    assert left.type == EventType.PARTICIPANT_LEFT
    assert wire(left) == {
        "participant_id": "g1",
        "display_name": "Ann Visitor",
        "reason": "replaced",
        "by": None,
    }
    assert left.to == {"org", "g1"}
    assert joined.type == EventType.PARTICIPANT_JOINED  # not the lobby: admitted already
    assert joined.to == {"org", "g2"}
    assert roster_names(room) == [("org", "Alice Agent"), ("g2", "Ann Visitor")]
    assert room.participant("g1").left_reason is LeaveReason.REPLACED


def test_an_agents_second_tab_takes_the_place_of_the_first() -> None:
    room = make_room()
    room.handle(alice("tab1"), T0)
    room.handle(ann("g1"), T0)
    room.handle(Admit("tab1", "g1"), T0)

    events = room.handle(alice("tab2"), at(5))

    assert [(e.type, wire(e).get("reason")) for e in events] == [
        (EventType.PARTICIPANT_LEFT, "replaced"),
        (EventType.PARTICIPANT_JOINED, None),
    ]
    assert [p.id for p in room.roster()] == ["g1", "tab2"]
    # The agent sees itself once: nobody else in its roster is called Alice.
    snap = snapshot_to_wire(room.snapshot_for("tab2"))
    assert [p["id"] for p in snap["roster"]] == ["g1", "tab2"]
    assert snap["me"]["id"] == "tab2"


def test_a_rejoin_from_the_lobby_waits_again_once() -> None:
    room = make_room()
    room.handle(alice("org"), T0)
    room.handle(ann("g1"), T0)
    events = room.handle(ann("g2"), at(3))
    assert [e.type for e in events][:2] == [
        EventType.PARTICIPANT_LEFT,
        EventType.PARTICIPANT_WAITING,
    ]
    assert [p.id for p in room.lobby()] == ["g2"]


def test_someone_removed_does_not_come_back_straight_in() -> None:
    room = make_room()
    room.handle(alice("org"), T0)
    room.handle(ann("g1"), T0)
    room.handle(Admit("org", "g1"), T0)
    room.handle(Remove("org", "g1"), at(1))
    events = room.handle(ann("g2"), at(2))
    assert events[0].type == EventType.PARTICIPANT_WAITING
    assert room.participant("g2").state is LOBBY


def test_without_an_identity_nobody_is_replaced() -> None:
    room = make_room()
    room.handle(alice("org"), T0)
    room.handle(ann("g1", None), T0)
    room.handle(Admit("org", "g1"), T0)
    room.handle(ann("g2", None), at(1))
    assert room.participant("g1").state is JOINED
    assert room.participant("g2").state is LOBBY


def test_a_full_meeting_still_takes_back_the_one_who_reloads() -> None:
    room = make_room(limits=Limits(max_participants=2))
    room.handle(alice("org"), T0)
    room.handle(ann("g1"), T0)
    room.handle(Admit("org", "g1"), T0)
    room.handle(ann("g2"), at(1))
    assert [p.id for p in room.roster()] == ["org", "g2"]


def test_the_identity_is_never_sent_but_is_restored() -> None:
    room = make_room()
    events = room.handle(alice("org"), T0)
    events += room.handle(ann("g1"), T0) + room.handle(Admit("org", "g1"), T0)
    events += room.handle(ann("g2"), at(1))
    for e in events:
        assert "tab:ann" not in repr(wire(e))
    assert "tab:ann" not in repr(snapshot_to_wire(room.snapshot_for("org")))
    restored = Room.restore(room.meeting, through_store(events))
    assert restored.participant("g2").identity == "tab:ann"
    assert state_key(restored) == state_key(room)


@pytest.mark.parametrize("key", ["", "x" * 201])
def test_an_identity_out_of_bounds_is_refused(key: str) -> None:
    room = make_room()
    before = state_key(room)
    with pytest.raises(ValidationFailed):
        room.handle(ann("g1", key), T0)
    assert state_key(room) == before


def test_participant_keeps_identity_out_of_its_view() -> None:
    p = Participant("p", "Ann", url_guest().role, url_guest().method, JOINED, identity="tab:x")
    assert not hasattr(p.view(), "identity")
