"""The lobby: positions, organizer presence, admit / deny, timeouts, what guests see."""

from __future__ import annotations

import pytest
from room_support import (
    T0,
    at,
    attendee,
    make_room,
    of_type,
    organizer,
    presenter,
    snapshot,
    state_key,
    token_guest,
    url_guest,
    wire,
)

from frontdesk.domain import (
    AccessPolicy,
    Admit,
    Deny,
    Event,
    EventType,
    Join,
    JoinMethod,
    Leave,
    LeaveReason,
    Limits,
    Role,
    SendChat,
    SessionState,
    SetMedia,
    SetPolicy,
    Tick,
)
from frontdesk.errors import (
    IllegalState,
    LimitExceeded,
    ParticipantNotFound,
    PermissionDenied,
)


def positions(events: list[Event]) -> dict[str, tuple[int, bool]]:
    return {
        wire(e)["participant_id"]: (wire(e)["position"], wire(e)["organizer_present"])
        for e in of_type(events, EventType.LOBBY_POSITION)
    }


def test_guest_waits_with_position_timeout_and_no_organizer() -> None:
    room = make_room()
    events = room.handle(url_guest(), T0)
    [pos] = of_type(events, EventType.LOBBY_POSITION)
    assert pos.to == frozenset({"g1"})
    assert wire(pos) == {
        "participant_id": "g1",
        "position": 1,
        "organizer_present": False,
        "timeout_at": at(900).isoformat(),
    }
    snap = snapshot(room, "g1")
    assert snap["lobby_position"] == 1
    assert snap["organizer_present"] is False
    assert snap["timeout_at"] == at(900).isoformat()


def test_moderators_are_told_who_waits_with_vouched_flag() -> None:
    room = make_room()
    room.handle(organizer(), T0)
    room.handle(presenter(), T0)
    room.handle(attendee(), T0)
    [waiting, _pos] = room.handle(token_guest(), at(5))
    assert waiting.type == EventType.PARTICIPANT_WAITING
    assert waiting.to == frozenset({"org", "pres"})  # not the attendee
    assert wire(waiting)["participant"]["vouched"] is True
    assert wire(waiting)["participant"]["method"] == "token"
    room.handle(url_guest(), at(7))
    lobby = snapshot(room, "org")["lobby"]
    assert [(x["participant_id"], x["vouched"], x["method"]) for x in lobby] == [
        ("t1", True, "token"),
        ("g1", False, "url"),
    ]
    assert lobby[0]["waiting_since"] == at(5).isoformat()
    assert snapshot(room, "att")["lobby"] == []


def test_organizer_presence_changes_are_announced_to_each_waiting_guest() -> None:
    room = make_room()
    room.handle(url_guest("g1"), T0)
    room.handle(url_guest("g2"), T0)
    events = room.handle(organizer(), at(1))
    assert positions(events) == {"g1": (1, True), "g2": (2, True)}
    events = room.handle(Leave("org"), at(2))
    assert positions(events) == {"g1": (1, False), "g2": (2, False)}


def test_positions_move_up_when_someone_ahead_leaves_the_lobby() -> None:
    room = make_room()
    room.handle(organizer(), T0)
    for pid in ("g1", "g2", "g3"):
        room.handle(url_guest(pid), T0)
    events = room.handle(Admit("org", "g1"), at(1))
    assert positions(events) == {"g2": (1, True), "g3": (2, True)}
    events = room.handle(Leave("g3"), at(2))
    assert positions(events) == {}  # nobody behind g3
    assert [p.id for p in room.lobby()] == ["g2"]


def test_admit_joins_the_guest_and_tells_the_roster() -> None:
    room = make_room()
    room.handle(organizer(), T0)
    room.handle(attendee(), T0)
    room.handle(url_guest(), T0)
    events = room.handle(Admit("org", "g1"), at(3))
    admitted, joined = events
    assert admitted.type == EventType.PARTICIPANT_ADMITTED
    assert admitted.to == frozenset({"org", "g1"})
    assert joined.type == EventType.PARTICIPANT_JOINED
    assert joined.to == frozenset({"org", "att", "g1"})
    p = room.participant("g1")
    assert p.state is SessionState.JOINED and p.joined_at == at(3) and p.lobby_since is None
    assert room.lobby() == []


def test_presenter_may_admit_and_deny() -> None:
    room = make_room()
    room.handle(presenter(), T0)
    room.handle(url_guest("g1"), T0)
    room.handle(url_guest("g2"), T0)
    room.handle(Admit("pres", "g1"), T0)
    room.handle(Deny("pres", "g2"), T0)
    assert room.participant("g1").state is SessionState.JOINED
    assert room.participant("g2").left_reason is LeaveReason.DENIED


@pytest.mark.parametrize("command", [Admit, Deny])
@pytest.mark.parametrize(
    "actor_join",
    [
        attendee(),
        Join("tg", "Guest In", Role.GUEST, JoinMethod.TOKEN),
        Join("ta", "Att In", Role.ATTENDEE, JoinMethod.TOKEN),
    ],
)
def test_guests_and_attendees_may_not_admit_or_deny(command: type, actor_join: Join) -> None:
    room = make_room(AccessPolicy.DIRECT)
    room.handle(actor_join, T0)
    room.handle(organizer(), T0)
    room.handle(SetPolicy(access_policy=AccessPolicy.LOBBY), T0)
    room.handle(url_guest(), T0)
    before = state_key(room)
    with pytest.raises(PermissionDenied):
        room.handle(command(actor_join.participant_id, "g1"), T0)
    assert state_key(room) == before


def test_waiting_guest_cannot_admit_itself_or_others() -> None:
    room = make_room()
    room.handle(url_guest("g1"), T0)
    room.handle(url_guest("g2"), T0)
    with pytest.raises(PermissionDenied):
        room.handle(Admit("g1", "g1"), T0)
    with pytest.raises(PermissionDenied):
        room.handle(Admit("g1", "g2"), T0)


def test_waiting_presenter_must_be_admitted_before_moderating() -> None:
    room = make_room()
    room.handle(token_guest("tp", role=Role.PRESENTER), T0)
    room.handle(url_guest(), T0)
    with pytest.raises(IllegalState):
        room.handle(Admit("tp", "g1"), T0)


def test_admit_needs_a_waiting_target() -> None:
    room = make_room()
    room.handle(organizer(), T0)
    room.handle(attendee(), T0)
    with pytest.raises(IllegalState):
        room.handle(Admit("org", "att"), T0)
    with pytest.raises(ParticipantNotFound):
        room.handle(Admit("org", "nobody"), T0)
    with pytest.raises(ParticipantNotFound):
        room.handle(Admit("nobody", "att"), T0)


def test_admit_respects_max_participants() -> None:
    room = make_room(limits=Limits(max_participants=1))
    room.handle(organizer(), T0)
    room.handle(url_guest(), T0)
    with pytest.raises(LimitExceeded):
        room.handle(Admit("org", "g1"), T0)
    assert room.participant("g1").state is SessionState.LOBBY


def test_deny_tells_the_guest_and_the_moderators() -> None:
    room = make_room()
    room.handle(organizer(), T0)
    room.handle(presenter(), T0)
    room.handle(url_guest(), T0)
    denied, left = room.handle(Deny("org", "g1"), at(1))
    assert denied.type == EventType.PARTICIPANT_DENIED
    assert denied.to == frozenset({"g1", "org", "pres"})
    assert left.type == EventType.PARTICIPANT_LEFT
    assert wire(left)["reason"] == "denied"
    assert left.to == frozenset({"g1", "org", "pres"})
    p = room.participant("g1")
    assert p.state is SessionState.LEFT and p.left_reason is LeaveReason.DENIED


def test_lobby_timeout_via_tick() -> None:
    room = make_room()
    room.handle(organizer(), T0)
    room.handle(url_guest("g1"), T0)
    room.handle(url_guest("g2"), at(100))
    assert room.next_deadline() == at(900)
    assert room.handle(Tick(), at(899)) == []
    events = room.handle(Tick(), at(900))
    [left] = of_type(events, EventType.PARTICIPANT_LEFT)
    assert wire(left)["participant_id"] == "g1"
    assert wire(left)["reason"] == "lobby_timeout"
    assert left.to == frozenset({"g1", "org"})  # the guest is told
    assert positions(events) == {"g2": (1, True)}
    assert room.participant("g1").left_reason is LeaveReason.LOBBY_TIMEOUT
    assert room.next_deadline() == at(1000)


def test_lobby_timeout_is_configurable() -> None:
    room = make_room(limits=Limits(lobby_timeout_s=60))
    room.handle(url_guest(), T0)
    room.handle(Tick(), at(60))
    assert room.participant("g1").left_reason is LeaveReason.LOBBY_TIMEOUT


def test_lobby_guest_never_sees_roster_chat_or_media() -> None:
    room = make_room()
    room.handle(organizer(), T0)
    room.handle(url_guest("in"), T0)
    room.handle(Admit("org", "in"), T0)
    events = room.handle(url_guest("out"), T0)
    events += room.handle(SendChat("org", "c1", "hello"), T0)
    events += room.handle(SetMedia("in", audio_muted=True), T0)
    events += room.handle(attendee(), T0)
    events += room.handle(Leave("att"), T0)
    seen = [e.type for e in events if "out" in e.to]
    assert set(seen) <= {EventType.LOBBY_POSITION}
    snap = snapshot(room, "out")
    assert snap["roster"] == [] and snap["chat"] == [] and snap["lobby"] == []


def test_chat_history_comes_with_admission() -> None:
    room = make_room()
    room.handle(organizer(), T0)
    room.handle(SendChat("org", "c1", "before you came"), T0)
    room.handle(url_guest(), T0)
    with pytest.raises(IllegalState):
        room.handle(SendChat("g1", "c1", "let me in"), T0)
    room.handle(Admit("org", "g1"), T0)
    snap = snapshot(room, "g1")
    assert [m["text"] for m in snap["chat"]] == ["before you came"]
    assert [p["id"] for p in snap["roster"]] == ["org", "g1"]
    assert snap["lobby_position"] is None


def test_lobby_guest_may_leave() -> None:
    room = make_room()
    room.handle(organizer(), T0)
    room.handle(url_guest(), T0)
    [left] = room.handle(Leave("g1"), T0)
    assert left.to == frozenset({"org", "g1"})
    assert room.lobby() == []


def test_url_guests_fill_only_their_share_of_the_lobby() -> None:
    room = make_room(limits=Limits(max_lobby=5, max_unvouched_lobby=3))
    now = T0
    for i in range(3):
        room.handle(Join(f"u{i}", f"Bot {i}", Role.GUEST, JoinMethod.URL), now)
    with pytest.raises(LimitExceeded, match="without an invitation"):
        room.handle(Join("u3", "Bot 3", Role.GUEST, JoinMethod.URL), now)
    room.handle(Join("t1", "Ann Visitor", Role.GUEST, JoinMethod.TOKEN), now)
    room.handle(Join("t2", "Bo Visitor", Role.GUEST, JoinMethod.TOKEN), now)
    assert [p.id for p in room.lobby()] == ["u0", "u1", "u2", "t1", "t2"]
