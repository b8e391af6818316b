"""Chat: who may send, validation, idempotent retries, sequence numbers, typing."""

from __future__ import annotations

import pytest
from room_support import T0, at, attendee, make_room, organizer, state_key, url_guest, wire

from frontdesk.domain import (
    AccessPolicy,
    Disconnect,
    EventType,
    Leave,
    Limits,
    Reconnect,
    Room,
    SendChat,
    Typing,
)
from frontdesk.errors import IllegalState, LimitExceeded, ValidationFailed
from frontdesk.protocol.events import chat_to_wire


def joined_room(limits: Limits = Limits()) -> Room:
    room = make_room(AccessPolicy.DIRECT, limits=limits)
    room.handle(organizer(), T0)
    room.handle(url_guest(), T0)
    return room


def test_message_is_stored_with_its_event_seq_and_sent_to_the_roster() -> None:
    room = joined_room()
    [event] = room.handle(SendChat("g1", "c1", "  Hello there  "), at(1))
    assert event.type == EventType.CHAT_MESSAGE
    assert event.to == frozenset({"org", "g1"})  # the sender too
    assert wire(event)["text"] == "  Hello there  "  # kept as sent
    [msg] = room.chat
    assert msg.seq == event.seq == room.last_seq
    assert (msg.participant_id, msg.display_name, msg.client_msg_id, msg.at) == (
        "g1",
        "Ann Visitor",
        "c1",
        at(1),
    )
    assert chat_to_wire(msg)["at"] == at(1).isoformat()


def test_retried_send_is_stored_once() -> None:
    room = joined_room()
    [first] = room.handle(SendChat("g1", "c1", "Hello"), T0)
    before = state_key(room)
    assert room.handle(SendChat("g1", "c1", "Hello"), at(5)) == []
    assert room.handle(SendChat("g1", "c1", "different text, same id"), at(6)) == []
    assert state_key(room) == before
    original = room.find_chat("g1", "c1")
    assert original is not None and original.seq == first.seq and original.text == "Hello"
    assert len(room.chat) == 1


def test_same_client_msg_id_from_another_participant_is_a_new_message() -> None:
    room = joined_room()
    room.handle(SendChat("g1", "c1", "Hello"), T0)
    room.handle(SendChat("org", "c1", "Hi"), T0)
    assert [m.text for m in room.chat] == ["Hello", "Hi"]
    assert room.find_chat("nobody", "c1") is None


def test_retry_after_leaving_still_finds_the_original() -> None:
    room = joined_room()
    room.handle(SendChat("g1", "c1", "Hello"), T0)
    room.handle(Leave("g1"), T0)
    assert room.handle(SendChat("g1", "c1", "Hello"), T0) == []
    with pytest.raises(IllegalState):
        room.handle(SendChat("g1", "c2", "Hello again"), T0)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_refused(text: str) -> None:
    room = joined_room()
    with pytest.raises(ValidationFailed):
        room.handle(SendChat("g1", "c1", text), T0)
    assert room.chat == [] and room.find_chat("g1", "c1") is None


@pytest.mark.parametrize("cmid", ["", "x" * 65])
def test_client_msg_id_is_required_and_bounded(cmid: str) -> None:
    with pytest.raises(ValidationFailed):
        joined_room().handle(SendChat("g1", cmid, "Hello"), T0)


def test_max_chat_chars() -> None:
    room = joined_room(Limits(max_chat_chars=10))
    room.handle(SendChat("g1", "ok", "x" * 10), T0)
    with pytest.raises(LimitExceeded):
        room.handle(SendChat("g1", "long", "x" * 11), T0)


def test_default_chat_length_is_4000() -> None:
    room = joined_room()
    room.handle(SendChat("g1", "ok", "x" * 4000), T0)
    with pytest.raises(LimitExceeded):
        room.handle(SendChat("g1", "long", "x" * 4001), T0)


def test_max_chat_messages() -> None:
    room = joined_room(Limits(max_chat_messages=2))
    room.handle(SendChat("g1", "1", "a"), T0)
    room.handle(SendChat("g1", "2", "b"), T0)
    with pytest.raises(LimitExceeded):
        room.handle(SendChat("g1", "3", "c"), T0)
    assert room.handle(SendChat("g1", "2", "b"), T0) == []  # a retry is still answered


def test_reconnecting_participant_cannot_send_but_receives() -> None:
    room = joined_room()
    room.handle(Disconnect("g1"), T0)
    with pytest.raises(IllegalState):
        room.handle(SendChat("g1", "c1", "Hello"), T0)
    [event] = room.handle(SendChat("org", "c1", "Are you there?"), T0)
    assert "g1" in event.to  # delivered on resume
    room.handle(Reconnect("g1"), T0)
    room.handle(SendChat("g1", "c1", "Back"), T0)


def test_sequence_numbers_have_no_gaps_across_event_types() -> None:
    room = joined_room()
    events = room.handle(attendee(), T0)
    events += room.handle(SendChat("g1", "c1", "one"), T0)
    events += room.handle(Typing("g1"), T0)
    events += room.handle(SendChat("att", "c1", "two"), T0)
    events += room.handle(Leave("att"), T0)
    seqs = [e.seq for e in events if e.seq is not None]
    assert seqs == list(range(3, 3 + len(seqs)))
    assert room.last_seq == seqs[-1]


def test_typing_is_ephemeral_and_goes_to_the_other_joined() -> None:
    room = joined_room()
    room.handle(attendee(), T0)
    room.handle(Disconnect("att"), T0)
    last = room.last_seq
    [event] = room.handle(Typing("g1", True), T0)
    assert event.type == EventType.TYPING and event.seq is None
    assert event.to == frozenset({"org"})  # not the sender, not the reconnecting
    assert wire(event) == {"participant_id": "g1", "typing": True}
    assert room.last_seq == last


def test_typing_only_when_joined() -> None:
    room = make_room()
    room.handle(url_guest(), T0)
    with pytest.raises(IllegalState):
        room.handle(Typing("g1"), T0)
