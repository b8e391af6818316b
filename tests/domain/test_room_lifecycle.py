"""Connections dropping and coming back, time passing, policy changes, the end."""

from __future__ import annotations

import pytest
from room_support import (
    T0,
    at,
    attendee,
    make_meeting,
    make_room,
    of_type,
    organizer,
    snapshot,
    state_key,
    token_guest,
    url_guest,
    wire,
)

from frontdesk.domain import (
    AccessPolicy,
    Admit,
    Disconnect,
    EndBySystem,
    EventType,
    Leave,
    LeaveReason,
    Limits,
    LobbyBypass,
    Reconnect,
    Room,
    SessionState,
    SetPolicy,
    Tick,
)
from frontdesk.errors import IllegalState, MeetingEnded, ValidationFailed


def test_disconnect_shows_reconnecting_to_the_others() -> None:
    room = make_room(AccessPolicy.DIRECT)
    room.handle(organizer(), T0)
    room.handle(url_guest(), T0)
    [event] = room.handle(Disconnect("g1"), at(1))
    assert event.type == EventType.PARTICIPANT_RECONNECTING
    assert event.to == frozenset({"org"})
    p = room.participant("g1")
    assert p.state is SessionState.RECONNECTING and p.reconnecting_since == at(1)
    assert [x["id"] for x in snapshot(room, "org")["roster"]] == ["org", "g1"]
    assert room.next_deadline() == at(31)
    assert room.handle(Disconnect("g1"), at(2)) == []  # twice: nothing new


def test_reconnect_within_grace_restores_joined() -> None:
    room = make_room(AccessPolicy.DIRECT)
    room.handle(organizer(), T0)
    room.handle(url_guest(), T0)
    room.handle(Disconnect("g1"), at(1))
    assert room.handle(Tick(), at(30)) == []
    [event] = room.handle(Reconnect("g1"), at(30))
    assert event.type == EventType.PARTICIPANT_RECONNECTED
    assert event.to == frozenset({"org", "g1"})
    p = room.participant("g1")
    assert p.state is SessionState.JOINED and p.reconnecting_since is None
    assert room.handle(Reconnect("g1"), at(31)) == []  # already back
    assert room.next_deadline() is None


def test_grace_expiry_is_connection_lost() -> None:
    room = make_room(AccessPolicy.DIRECT)
    room.handle(organizer(), T0)
    room.handle(url_guest(), T0)
    room.handle(Disconnect("g1"), at(1))
    [left] = room.handle(Tick(), at(31))
    assert wire(left)["reason"] == "connection_lost"
    assert left.to == frozenset({"org", "g1"})
    assert room.participant("g1").left_reason is LeaveReason.CONNECTION_LOST
    with pytest.raises(IllegalState) as err:
        room.handle(Reconnect("g1"), at(32))
    assert err.value.extra["reason"] == "connection_lost"


def test_reconnect_grace_is_configurable() -> None:
    room = make_room(AccessPolicy.DIRECT, limits=Limits(reconnect_grace_s=5))
    room.handle(url_guest(), T0)
    room.handle(Disconnect("g1"), T0)
    room.handle(Tick(), at(5))
    assert room.participant("g1").state is SessionState.LEFT


def test_lobby_guest_keeps_its_position_while_reconnecting() -> None:
    room = make_room()
    room.handle(organizer(), T0)
    room.handle(url_guest("g1"), T0)
    room.handle(url_guest("g2"), T0)
    [event] = room.handle(Disconnect("g1"), at(1))
    assert event.to == frozenset({"org"})  # moderators see the lobby change
    assert [p.id for p in room.lobby()] == ["g1", "g2"]
    assert snapshot(room, "g2")["lobby_position"] == 2
    assert snapshot(room, "org")["lobby"][0]["state"] == "reconnecting"
    [back] = room.handle(Reconnect("g1"), at(2))
    assert back.to == frozenset({"org", "g1"})
    assert room.participant("g1").state is SessionState.LOBBY
    assert snapshot(room, "g1")["lobby_position"] == 1


def test_lobby_guest_dropping_for_good_leaves_the_queue() -> None:
    room = make_room()
    room.handle(organizer(), T0)
    room.handle(url_guest("g1"), T0)
    room.handle(url_guest("g2"), T0)
    room.handle(Disconnect("g1"), at(1))
    events = room.handle(Tick(), at(31))
    [left] = of_type(events, EventType.PARTICIPANT_LEFT)
    assert wire(left)["reason"] == "connection_lost"
    [pos] = of_type(events, EventType.LOBBY_POSITION)
    assert wire(pos)["participant_id"] == "g2" and wire(pos)["position"] == 1
    assert [p.id for p in room.lobby()] == ["g2"]


def test_admitting_a_reconnecting_guest_joins_it_when_it_returns() -> None:
    room = make_room()
    room.handle(organizer(), T0)
    room.handle(url_guest(), T0)
    room.handle(Disconnect("g1"), at(1))
    admitted, joined = room.handle(Admit("org", "g1"), at(2))
    assert "g1" in admitted.to and "g1" in joined.to  # replayed on resume
    p = room.participant("g1")
    assert p.state is SessionState.RECONNECTING and p.in_roster
    room.handle(Reconnect("g1"), at(3))
    assert room.participant("g1").state is SessionState.JOINED


@pytest.mark.parametrize("reason", [LeaveReason.TOKEN_EXPIRED, LeaveReason.CONNECTION_LOST])
def test_transport_may_end_a_session_with_a_reason(reason: LeaveReason) -> None:
    room = make_room()
    room.handle(token_guest(), T0)
    [left] = room.handle(Leave("t1", reason), T0)
    assert wire(left)["reason"] == reason.value


@pytest.mark.parametrize("reason", [LeaveReason.REMOVED, LeaveReason.DENIED])
def test_a_participant_cannot_claim_a_moderator_reason(reason: LeaveReason) -> None:
    room = make_room()
    room.handle(token_guest(), T0)
    with pytest.raises(ValidationFailed):
        room.handle(Leave("t1", reason), T0)


def test_leaving_twice_is_refused() -> None:
    room = make_room(AccessPolicy.DIRECT)
    room.handle(url_guest(), T0)
    room.handle(Leave("g1"), T0)
    with pytest.raises(IllegalState):
        room.handle(Leave("g1"), T0)
    assert room.handle(Disconnect("g1"), T0) == []  # a late socket close is harmless


def test_idle_ad_hoc_meeting_expires() -> None:
    room = make_room(AccessPolicy.DIRECT)
    room.handle(url_guest(), T0)
    room.handle(Leave("g1"), at(60))
    idle_end = at(60 + 8 * 3600)
    assert room.next_deadline() == idle_end
    assert room.handle(Tick(), at(60 + 8 * 3600 - 1)) == []
    [ended] = room.handle(Tick(), idle_end)
    assert ended.type == EventType.MEETING_ENDED
    assert wire(ended) == {"reason": "idle", "by": None}
    assert room.ended


def test_a_new_room_nobody_joins_expires_from_creation() -> None:
    room = make_room(limits=Limits(idle_timeout_s=10))
    assert room.next_deadline() == at(10)
    room.handle(Tick(), at(10))
    assert room.ended


def test_meeting_with_someone_waiting_is_not_idle() -> None:
    room = make_room(limits=Limits(idle_timeout_s=10, lobby_timeout_s=10**6))
    room.handle(url_guest(), T0)
    assert room.handle(Tick(), at(10**5)) == []
    assert not room.ended


def test_scheduled_meeting_does_not_expire_by_idleness() -> None:
    room = Room(make_meeting(start=at(3600)), Limits(idle_timeout_s=10))
    assert room.next_deadline() is None
    assert room.handle(Tick(), at(10**6)) == []


def test_end_by_system() -> None:
    room = make_room(AccessPolicy.DIRECT)
    room.handle(organizer(), T0)
    [ended] = room.handle(EndBySystem("deleted"), T0)
    assert wire(ended) == {"reason": "deleted", "by": None}
    assert ended.to == frozenset({"org"})
    with pytest.raises(MeetingEnded):
        room.handle(EndBySystem("again"), T0)


def test_end_by_system_needs_a_reason() -> None:
    with pytest.raises(ValidationFailed):
        make_room().handle(EndBySystem("  "), T0)


def test_set_policy_applies_to_later_joins_and_is_announced() -> None:
    room = make_room()
    room.handle(organizer(), T0)
    room.handle(url_guest("g1"), T0)
    [event] = room.handle(SetPolicy(access_policy=AccessPolicy.DIRECT), T0)
    assert event.type == EventType.POLICY_CHANGED
    assert wire(event) == {"access_policy": "direct", "lobby_bypass": "none"}
    assert event.to == frozenset({"org"})
    assert room.meeting.access_policy is AccessPolicy.DIRECT
    assert room.participant("g1").state is SessionState.LOBBY  # still waits to be admitted
    room.handle(url_guest("g2"), T0)
    assert room.participant("g2").state is SessionState.JOINED
    room.handle(SetPolicy(access_policy=AccessPolicy.DENY), T0)
    room.handle(token_guest("t1"), T0)
    assert room.participant("t1").state is SessionState.LOBBY
    room.handle(SetPolicy(lobby_bypass=LobbyBypass.TOKEN_HOLDERS), T0)
    room.handle(token_guest("t2"), T0)
    assert room.participant("t2").state is SessionState.JOINED
    assert room.handle(SetPolicy(lobby_bypass=LobbyBypass.TOKEN_HOLDERS), T0) == []


def test_set_policy_bad_value() -> None:
    room = make_room()
    before = state_key(room)
    with pytest.raises(ValidationFailed):
        room.handle(SetPolicy(access_policy="open"), T0)  # type: ignore[arg-type]
    assert state_key(room) == before


def test_can_signal_only_between_joined() -> None:
    room = make_room()
    room.handle(organizer(), T0)
    room.handle(attendee(), T0)
    room.handle(url_guest(), T0)
    assert room.can_signal("org", "att") and room.can_signal("att", "org")
    assert not room.can_signal("org", "g1") and not room.can_signal("g1", "org")
    assert not room.can_signal("org", "nobody") and not room.can_signal("org", "org")
    room.handle(Disconnect("att"), T0)
    assert not room.can_signal("org", "att")


def test_next_deadline_is_the_earliest() -> None:
    room = make_room()
    room.handle(organizer(), T0)
    room.handle(url_guest(), at(100))  # times out at 1000
    room.handle(attendee(), T0)
    room.handle(Disconnect("att"), at(500))  # grace ends at 530
    assert room.next_deadline() == at(530)
    room.handle(Tick(), at(530))
    assert room.next_deadline() == at(1000)
