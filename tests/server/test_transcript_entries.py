"""Transcript entries from a log written by the meeting core (no I/O): every
stored event of a busy meeting becomes its entry or is left out on purpose, and
records of unknown or malformed form become generic entries, never errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from frontdesk.domain import (
    AccessPolicy,
    Admit,
    Deny,
    Disconnect,
    Join,
    JoinMethod,
    Meeting,
    MuteParticipant,
    Reconnect,
    Remove,
    Role,
    Room,
    SendChat,
    SetMedia,
    SetPolicy,
)
from frontdesk.protocol.events import event_to_record, redact_record
from frontdesk.server.transcripts import Person, Reader, _entry, _People
from frontdesk.store.base import EventRecord

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _records() -> list[EventRecord]:
    meeting = Meeting(id="m_test", join_code="code", subject="s", organizer="olga", created_at=T0)
    room = Room(meeting)
    script = [
        Join("org", "Olga Organizer", Role.ORGANIZER, JoinMethod.USER, username="olga"),
        Join("g1", "Ann Visitor", Role.GUEST, JoinMethod.URL),
        Join("g2", "Gus Guest", Role.GUEST, JoinMethod.URL),
        Admit("org", "g1"),
        Deny("org", "g2"),
        SendChat("org", "c1", "Welcome"),
        SendChat("g1", "c1", "Thanks"),
        SetMedia("g1", video_muted=True, hand_raised=True),
        MuteParticipant("org", "g1"),
        Disconnect("g1"),
        Reconnect("g1"),
        SetPolicy(access_policy=AccessPolicy.DIRECT),
        Join("g3", "Eve", Role.GUEST, JoinMethod.URL),
        Remove("org", "g3"),
    ]
    events = []
    for i, command in enumerate(script):
        events += room.handle(command, T0 + timedelta(seconds=i))
    return [
        EventRecord("m_test", e.seq, e.type, json.loads(json.dumps(event_to_record(e))), e.at)
        for e in events
        if e.seq is not None
    ]


def test_a_busy_meeting_reads_as_who_did_what() -> None:
    people = _People(Reader(full=True))

    def pid(person: Person | None) -> str | None:
        return person and person.participant_id

    story = [
        (r.type, e and (e.kind, pid(e.actor), pid(e.subject)))
        for r in _records()
        for e in [_entry(r, people)]
    ]
    assert story == [
        ("participant_joined", ("joined", "org", None)),
        ("participant_waiting", ("waiting", "g1", None)),
        ("lobby_position", None),  # a signal
        ("participant_waiting", ("waiting", "g2", None)),
        ("lobby_position", None),
        ("participant_admitted", ("admitted", "org", "g1")),
        ("participant_joined", ("joined", "g1", None)),
        ("lobby_position", None),
        ("participant_denied", ("denied", "org", "g2")),
        ("participant_left", None),  # said by "denied"
        ("chat_message", ("chat", "org", None)),
        ("chat_message", ("chat", "g1", None)),
        ("media_changed", None),  # g1's own camera and hand
        ("media_changed", ("muted", "org", "g1")),
        ("participant_reconnecting", None),
        ("participant_reconnected", None),
        ("policy_changed", ("policy_changed", None, None)),
        ("participant_joined", ("joined", "g3", None)),
        ("participant_left", ("removed", "org", "g3")),
    ]


def test_redacted_unknown_and_malformed_records_never_fail() -> None:
    people = _People(Reader(full=True))
    chat = next(r for r in _records() if r.type == "chat_message")
    redacted = EventRecord(
        chat.meeting_id, chat.seq, chat.type, redact_record(chat.type, chat.data) or {}, chat.at, T0
    )
    entry = _entry(redacted, people)
    assert entry is not None and (entry.kind, entry.text, entry.removed, entry.removed_at) == (
        "chat",
        None,
        True,
        T0,
    )
    odd = [
        EventRecord("m", 90, "whisper", {"by": "x", "text": "psst", "to": ["x"]}, T0),
        EventRecord("m", 91, "whisper", {"by": "x", "text": "", "redacted": True}, T0),
        EventRecord("m", 92, "chat_message", {"text": 5}, T0 + timedelta(seconds=1)),
        EventRecord("m", 93, "participant_left", {"participant_id": []}, T0),
    ]
    got = [_entry(r, people) for r in odd]
    assert [e.kind if e else None for e in got] == [
        "whisper",
        "whisper",
        "chat_message",
        "participant_left",
    ]
    assert got[0] is not None and got[0].text == "psst" and got[0].details == {}
    assert got[1] is not None and got[1].removed and got[1].text is None
