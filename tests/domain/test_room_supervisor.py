"""Supervisors in a meeting: monitor unseen, whisper to the agents, barge in.

The rule under every test: nothing about a monitoring supervisor and no
whisper reaches a guest — live, in a snapshot, after a restore, or in what an
application reads of the meeting.
"""

from __future__ import annotations

import pytest
from room_support import (
    T0,
    admitted_guest,
    at,
    make_room,
    of_type,
    organizer,
    snapshot,
    supervisor,
    through_store,
    token_guest,
    types,
    url_guest,
    wire,
)

from frontdesk.domain import (
    AccessPolicy,
    Admit,
    Barge,
    Disconnect,
    EndMeeting,
    EventType,
    Join,
    JoinMethod,
    Leave,
    Limits,
    MuteParticipant,
    Reconnect,
    Remove,
    Role,
    Room,
    SendChat,
    SetMedia,
    SupervisorMode,
    Tick,
    Typing,
    UserRole,
    Whisper,
)
from frontdesk.errors import (
    IllegalState,
    LimitExceeded,
    ParticipantNotFound,
    PermissionDenied,
    ValidationFailed,
)


def _meeting_with_guest() -> Room:
    room = make_room()
    room.handle(organizer(), T0)
    admitted_guest(room, "g1")
    return room


def test_a_supervisor_monitors_unseen_by_the_guest() -> None:
    room = _meeting_with_guest()
    events = room.handle(supervisor(), at(1))
    assert types(events) == [EventType.PARTICIPANT_JOINED]
    (joined,) = events
    assert joined.to == {"org", "sup"} and joined.staff_only
    assert wire(joined)["participant"]["supervisor"] == "monitor"
    # The guest's roster has no supervisor; the agent's shows it as supervising.
    assert [p["id"] for p in snapshot(room, "g1")["roster"]] == ["org", "g1"]
    agent_view = {p["id"]: p for p in snapshot(room, "org")["roster"]}
    assert agent_view["sup"]["supervisor"] == "monitor"
    assert "supervisor" not in agent_view["g1"]


def test_only_a_signed_in_supervisor_may_monitor() -> None:
    room = _meeting_with_guest()
    agent = Join("a", "Ann Agent", Role.PRESENTER, JoinMethod.USER, "ann", UserRole.AGENT, True)
    with pytest.raises(PermissionDenied):
        room.handle(agent, at(1))
    no_role = Join("b", "Bo", Role.PRESENTER, JoinMethod.USER, "bo", None, True)
    with pytest.raises(PermissionDenied):
        room.handle(no_role, at(1))
    guest = Join("c", "Cy", Role.GUEST, JoinMethod.TOKEN, None, UserRole.SUPERVISOR, True)
    with pytest.raises(PermissionDenied):
        room.handle(guest, at(1))
    organizer_join = Join(
        "d", "Al", Role.ORGANIZER, JoinMethod.USER, "alice", UserRole.SUPERVISOR, True
    )
    with pytest.raises(ValidationFailed):
        room.handle(organizer_join, at(1))
    assert set(room.participants) == {"org", "g1"}


def test_monitors_are_capped_apart_from_the_participants() -> None:
    room = Room(make_room().meeting, Limits(max_participants=2, max_monitors=1))
    room.handle(organizer(), T0)
    admitted_guest(room, "g1")
    room.handle(supervisor("s1"), at(1))  # the meeting is "full" for guests, not for it
    with pytest.raises(LimitExceeded):
        room.handle(supervisor("s2"), at(2))
    # and it takes no seat a guest could have: barging in needs one
    with pytest.raises(LimitExceeded):
        room.handle(Barge("s1"), at(3))


def test_nothing_a_monitor_does_reaches_the_guest() -> None:
    room = _meeting_with_guest()
    room.handle(supervisor(), at(1))
    typing = room.handle(Typing("sup"), at(2))
    assert [e.to for e in typing] == [{"org"}]
    for refused in (
        SendChat("sup", "c1", "hello guest"),
        SetMedia("sup", audio_muted=False),
        MuteParticipant("sup", "g1"),
        Remove("sup", "g1"),
        EndMeeting("sup"),
    ):
        with pytest.raises(PermissionDenied):
            room.handle(refused, at(3))
    reconnecting = room.handle(Disconnect("sup"), at(4))
    back = room.handle(Reconnect("sup"), at(5))
    left = room.handle(Leave("sup"), at(6))
    for e in reconnecting + back + left:
        assert "g1" not in e.to and e.staff_only
    assert [p["id"] for p in snapshot(room, "org")["roster"]] == ["org", "g1"]


def test_a_guest_cannot_reach_a_monitor_even_knowing_its_id() -> None:
    room = make_room(AccessPolicy.DIRECT)
    room.handle(organizer(), T0)
    room.handle(token_guest("t1", role=Role.PRESENTER), T0)  # a guest that moderates
    room.handle(supervisor(), at(1))
    with pytest.raises(ParticipantNotFound):
        room.handle(Remove("t1", "sup"), at(2))
    with pytest.raises(ParticipantNotFound):
        room.handle(MuteParticipant("t1", "sup"), at(2))
    assert not room.can_signal("t1", "sup") and not room.can_signal("sup", "t1")
    assert room.can_signal("org", "sup") and room.can_signal("sup", "org")
    # the agent may end the supervisor's monitoring: nobody but staff hears of it
    (left,) = room.handle(Remove("org", "sup"), at(3))
    assert left.to == {"org", "sup"}


def test_whispers_reach_agents_and_supervisors_only() -> None:
    room = _meeting_with_guest()
    room.handle(supervisor(), at(1))
    (whisper,) = room.handle(Whisper("sup", "w1", "Offer the fixed rate"), at(2))
    assert whisper.type == EventType.WHISPER and whisper.to == {"org", "sup"}
    assert whisper.staff_only
    (reply,) = room.handle(Whisper("org", "w2", "Will do"), at(3))
    assert reply.to == {"org", "sup"}
    assert room.handle(Whisper("sup", "w1", "Offer the fixed rate"), at(4)) == []  # a retry
    assert [m.text for m in room.whispers] == ["Offer the fixed rate", "Will do"]
    assert room.chat == []  # kept apart from the guests' chat
    with pytest.raises(PermissionDenied):
        room.handle(Whisper("g1", "w3", "let me in on it"), at(5))
    assert "whispers" not in snapshot(room, "g1")
    assert [m["text"] for m in snapshot(room, "org")["whispers"]] == [
        "Offer the fixed rate",
        "Will do",
    ]
    messages, _more = room.chat_history("g1", room.last_seq + 1, 50)
    assert messages == []


def test_whispers_and_monitors_survive_a_restore_unseen() -> None:
    room = make_room()
    log = room.handle(organizer(), T0) + admitted_guest(room, "g1")
    events = room.handle(supervisor(), at(1)) + room.handle(Whisper("sup", "w1", "hi"), at(2))
    stored = through_store(events)
    assert all("g1" not in e.to for e in stored)
    stored_log = through_store(log + events)
    restored = Room.restore(room.meeting, stored_log, room.limits)
    assert restored.participant("sup").supervisor is SupervisorMode.MONITOR
    assert [m.text for m in restored.whispers] == ["hi"]
    assert snapshot(restored, "g1") == snapshot(room, "g1")
    assert "sup" not in [p["id"] for p in snapshot(restored, "g1")["roster"]]


def test_barge_in_is_a_normal_join_for_the_guest() -> None:
    room = _meeting_with_guest()
    room.handle(supervisor(), at(1))
    events = room.handle(Barge("sup"), at(5))
    assert types(events) == [EventType.SUPERVISOR_BARGED, EventType.PARTICIPANT_JOINED]
    barged, joined = events
    assert barged.to == {"org", "sup"} and barged.staff_only
    assert joined.to == {"g1"} and not joined.staff_only
    view = wire(joined)["participant"]
    assert view["id"] == "sup" and "supervisor" not in view
    assert view["joined_at"] == at(5).isoformat()  # not when it started watching
    assert [p["id"] for p in snapshot(room, "g1")["roster"]] == ["org", "g1", "sup"]
    assert room.participant("sup").supervisor is SupervisorMode.BARGED
    # now it talks like anyone in the meeting
    assert room.handle(SendChat("sup", "c1", "Hello, I am Sam"), at(6))[0].to == {
        "org",
        "g1",
        "sup",
    }
    assert of_type(room.handle(SetMedia("sup", audio_muted=False), at(7)), "media_changed")
    with pytest.raises(IllegalState):
        room.handle(Barge("sup"), at(8))
    with pytest.raises(IllegalState):
        room.handle(Barge("org"), at(8))


def test_barging_in_tells_a_waiting_guest_someone_can_admit() -> None:
    room = make_room()
    room.handle(supervisor(), T0)
    (position,) = room.handle(url_guest("g1"), at(1))[1:]
    assert wire(position)["organizer_present"] is False  # the monitor does not count
    events = room.handle(Barge("sup"), at(2))
    lobby = of_type(events, "lobby_position")
    assert [wire(e)["organizer_present"] for e in lobby] == [True]
    room.handle(Admit("sup", "g1"), at(3))
    assert room.participant("g1").in_roster


def test_applications_see_what_guests_see() -> None:
    room = _meeting_with_guest()
    room.handle(supervisor(), at(1))
    assert [p.id for p in room.seen_by_guests()] == ["org", "g1"]
    room.handle(Barge("sup"), at(2))
    seen = {p.id: p for p in room.seen_by_guests()}
    assert set(seen) == {"org", "g1", "sup"} and seen["sup"].supervisor is None


def test_a_monitor_whose_grace_runs_out_leaves_unseen() -> None:
    room = _meeting_with_guest()
    room.handle(supervisor(), at(1))
    room.handle(Disconnect("sup"), at(2))
    events = room.handle(Tick(), at(2 + room.limits.reconnect_grace_s))
    (left,) = of_type(events, "participant_left")
    assert left.to == {"org", "sup"} and left.staff_only
