"""Rebuilding a room from its stored events, and what events look like stored."""

from __future__ import annotations

import json

from room_support import (
    at,
    attendee,
    make_meeting,
    make_room,
    organizer,
    presenter,
    snapshot,
    state_key,
    through_store,
    token_guest,
    url_guest,
)

from frontdesk.domain import (
    AccessPolicy,
    Admit,
    Command,
    Deny,
    Disconnect,
    EndMeeting,
    Event,
    EventType,
    Join,
    JoinMethod,
    MuteParticipant,
    Reconnect,
    Remove,
    Role,
    Room,
    SendChat,
    SetMedia,
    SetPolicy,
    Tick,
    Typing,
)
from frontdesk.protocol.events import (
    event_frame,
    event_from_record,
    event_to_record,
    redact_record,
)


def busy_meeting() -> tuple[Room, list[Event]]:
    room = make_room()
    script: list[Command] = [
        organizer(),
        url_guest("g1"),
        url_guest("g2"),
        token_guest("t1"),
        Admit("org", "g1"),
        Deny("org", "g2"),
        presenter(),
        SendChat("org", "c1", "Welcome"),
        SendChat("g1", "c1", "Thanks"),
        Typing("g1"),
        SetMedia("g1", video_muted=True, hand_raised=True),
        MuteParticipant("pres", "g1"),
        Disconnect("g1"),
        Reconnect("g1"),
        attendee(),
        Disconnect("att"),
        SetPolicy(access_policy=AccessPolicy.DIRECT),
        url_guest("g3"),
        Remove("org", "g3"),
    ]
    events: list[Event] = []
    for i, command in enumerate(script):
        events += room.handle(command, at(i))
    return room, events


def test_restore_reproduces_the_live_room() -> None:
    room, events = busy_meeting()
    restored = Room.restore(make_meeting(), through_store(events))
    assert state_key(restored) == state_key(room)
    assert restored.last_seq == room.last_seq
    assert list(restored.chat) == list(room.chat)
    assert restored.find_chat("g1", "c1") == room.find_chat("g1", "c1")


def test_restored_room_continues_the_sequence() -> None:
    room, events = busy_meeting()
    restored = Room.restore(make_meeting(), through_store(events))
    a = room.handle(SendChat("org", "c2", "next"), at(100))
    b = restored.handle(SendChat("org", "c2", "next"), at(100))
    assert a == b and a[0].seq == len(through_store(events)) + 1
    assert restored.handle(SendChat("g1", "c1", "Thanks"), at(101)) == []  # idempotent still


def test_restore_after_timeouts_and_the_end() -> None:
    room, events = busy_meeting()
    events += room.handle(Tick(), at(40))  # att's grace is over
    events += room.handle(Tick(), at(2000))  # t1's lobby wait is over
    events += room.handle(EndMeeting("org"), at(2001))
    restored = Room.restore(make_meeting(), through_store(events))
    assert state_key(restored) == state_key(room)
    assert restored.ended and restored.meeting == room.meeting


def test_restore_takes_events_in_any_order_and_skips_signals() -> None:
    room, events = busy_meeting()
    shuffled = list(reversed(events))
    restored = Room.restore(make_meeting(), shuffled)
    assert state_key(restored) == state_key(room)


def test_events_are_json_safe_and_round_trip_through_records() -> None:
    _room, events = busy_meeting()
    for event in events:
        json.loads(event_frame(event))
        if event.seq is None:
            assert event.type == EventType.TYPING
            continue
        record = json.loads(json.dumps(event_to_record(event)))
        assert record["to"] == sorted(event.to)
        assert event_from_record(event.seq, event.type, event.at, record) == event


def test_snapshot_is_json_safe_and_carries_last_seq() -> None:
    room, _ = busy_meeting()
    for pid in room.participants:
        snap = snapshot(room, pid)
        json.dumps(snap)
        assert snap["last_seq"] == room.last_seq
        assert snap["meeting"]["id"] == "m_test"
        assert snap["me"]["id"] == pid


def test_replaying_to_one_participant_gives_what_it_saw_live() -> None:
    _room, events = busy_meeting()
    stored = through_store(events)
    live_g1 = [e for e in events if e.seq is not None and "g1" in e.to]
    replay_g1 = [e for e in stored if "g1" in e.to]
    assert replay_g1 == live_g1
    resume_from = live_g1[3].seq
    assert resume_from is not None
    missed = [e for e in stored if "g1" in e.to and (e.seq or 0) > resume_from]
    assert missed == live_g1[4:]


def _redacted_by_retention(events: list[Event]) -> list[Event]:
    """The events as stored after the chat retention policy ran over all of them."""
    out = []
    for e in events:
        if e.seq is None:
            continue
        data = json.loads(json.dumps(event_to_record(e)))
        data = redact_record(e.type, data) or data
        out.append(event_from_record(e.seq, e.type, e.at, data))
    return out


def test_restore_after_retention_shows_chat_as_removed() -> None:
    """A room restored from redacted events works: the messages are there, each
    marked removed with its sender and time, history pages through them, a
    retried send is still recognised, and the chat goes on."""
    room, events = busy_meeting()
    restored = Room.restore(make_meeting(), _redacted_by_retention(events))
    assert [(c.seq, c.participant_id, c.at) for c in restored.chat] == [
        (c.seq, c.participant_id, c.at) for c in room.chat
    ]
    assert all(c.redacted and c.text == "" for c in restored.chat)
    history, more = restored.chat_history("org", restored.last_seq + 1, 10)
    assert [c.seq for c in history] == [c.seq for c in room.chat] and not more
    assert snapshot(restored, "org")["chat"][0]["redacted"] is True
    assert restored.handle(SendChat("g1", "c1", "Thanks"), at(101)) == []  # still idempotent
    (new,) = restored.handle(SendChat("org", "c9", "Still here"), at(102))
    assert new.payload == room.handle(SendChat("org", "c9", "Still here"), at(102))[0].payload
    assert "redacted" not in event_frame(new)  # only said when true


def test_live_room_redacts_its_chat_in_memory() -> None:
    room, _events = busy_meeting()
    first, second = room.chat
    assert room.redact_chat(second.at) == 1  # only the older one
    assert room.chat[0] == first.redacted_copy() and room.chat[1] == second
    assert room.find_chat(first.participant_id, first.client_msg_id) == first.redacted_copy()
    assert room.redact_chat(second.at) == 0
    assert snapshot(room, "org")["chat"][0] == {
        "seq": first.seq,
        "participant_id": first.participant_id,
        "display_name": first.display_name,
        "text": "",
        "client_msg_id": first.client_msg_id,
        "at": first.at.isoformat(),
        "redacted": True,
    }


def test_the_vouching_application_is_stored_never_sent() -> None:
    room = make_room(AccessPolicy.LOBBY)
    room.handle(organizer(), at(0))
    join = Join("t9", "Tia Token", Role.GUEST, JoinMethod.TOKEN, guest_app="app_bank")
    (waiting,) = [e for e in room.handle(join, at(1)) if e.type == "participant_waiting"]
    record = event_to_record(waiting)
    assert record["participant"]["guest_app"] == "app_bank"
    assert "guest_app" not in event_frame(waiting)
    joined = [e for e in room.handle(Admit("org", "t9"), at(2)) if e.type == "participant_joined"]
    assert event_to_record(joined[0])["participant"]["guest_app"] == "app_bank"
    restored = Room.restore(make_meeting(), through_store([waiting, *joined]))
    assert restored.participant("t9").guest_app == "app_bank"
