"""Transcripts: what happened in a meeting, who did it and to whom, as stored.

A transcript is read from the meeting's event log (never from a live room), so
it is the same on every node, after a restart, and after the meeting ended.
Each stored event becomes at most one :class:`Entry`:

* the events people act through get a kind of their own (``chat``, ``joined``,
  ``waiting`` (in the lobby), ``admitted``, ``denied``, ``removed``, ``left``, ``muted``,
  ``policy_changed``, ``ended``);
* signals that say nothing about who did what are left out (reconnecting,
  reconnected, lobby positions, someone changing their own camera or hand);
* any other stored type (one this version does not know, or one added later
  without an entry kind of its own: visits, transfers, whispers) is an entry of
  its type's name, its actor and subject found by the usual field names, its
  other fields under ``details``. A new event never breaks a transcript; to
  give it a kind of its own, add a case to :func:`_entry` and a line to
  :func:`frontdesk.server.transcript_out._line` (and, if it carries what
  someone wrote, its type to ``REDACTABLE`` for the chat retention).

Who may read it (:meth:`Transcripts.for_app`, :meth:`Transcripts.for_user`):
the application that created the meeting, and its organizer, read all of it;
for a meeting made by no application (an agent's), an application that vouched
a guest into it reads what its guests were sent (events addressed to one of
them) — the rule of :mod:`frontdesk.server.audience`, narrowed to the event —
and sees neither agents' login names nor other applications' ids. Anyone else
is told the meeting does not exist (404), as for the service API's other reads
of a meeting it may not see.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from frontdesk.domain import events as ev
from frontdesk.domain.events import EventType
from frontdesk.domain.model import App, Meeting, Role, User
from frontdesk.domain.participants import JoinMethod, LeaveReason
from frontdesk.errors import FrontdeskError, MeetingNotFound, ValidationFailed
from frontdesk.protocol.events import event_from_record
from frontdesk.server.accounts import Accounts
from frontdesk.store.base import EventRecord, Store

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Entry",
    "Page",
    "Person",
    "Reader",
    "Transcripts",
    "VisitHistory",
    "VisitStep",
]

DEFAULT_LIMIT = 500
MAX_LIMIT = 2000
_READ_CHUNK = 1000  # events read from the store at a time
#: Stored events that say nothing about who did what.
_SIGNALS = frozenset(
    {
        EventType.PARTICIPANT_RECONNECTING.value,
        EventType.PARTICIPANT_RECONNECTED.value,
        EventType.LOBBY_POSITION.value,
        EventType.TYPING.value,
    }
)
#: The stored events that introduce a participant (read even before a page).
_INTRODUCING = frozenset({EventType.PARTICIPANT_WAITING.value, EventType.PARTICIPANT_JOINED.value})
#: What a visit's step shows besides its kind, time and agent.
_VISIT_STEP_DETAILS = (
    "from_agent",
    "to_queue",
    "to_agent",
    "note",
    "reason",
    "waited_s",
    "handled_s",
)
#: Stored fields never shown in a generic entry's details.
_HIDDEN = frozenset({"to", "username", "guest_app"})


@dataclass(frozen=True, slots=True)
class Person:
    """Someone in the transcript. ``role`` is ``organizer``, ``agent`` (a
    signed-in user who is not the organizer) or ``guest``; ``meeting_role`` the
    role they had in the meeting (a guest token may grant ``presenter``)."""

    participant_id: str
    display_name: str
    role: str
    meeting_role: str
    vouched: bool
    username: str | None = None
    guest_app: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    at: datetime
    kind: str
    actor: Person | None = None  # None: the system (a timeout, the service API)
    subject: Person | None = None  # whom it was done to
    text: str | None = None  # what was said (None once removed by retention)
    removed: bool = False  # the content was deleted by the chat retention policy
    removed_at: datetime | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads: everything, or (a vouching application) its guests' share."""

    full: bool
    app_id: str | None = None


@dataclass(frozen=True, slots=True)
class VisitStep:
    """One step of a helpdesk visit held in the meeting: queued, offered,
    declined, offer_expired, accepted, transferred, completed, abandoned."""

    at: datetime
    kind: str
    agent: str | None = None  # who it was offered to, who accepted, transferred...
    details: dict[str, Any] = field(default_factory=dict)  # note, to_queue, to_agent...


@dataclass(frozen=True, slots=True)
class VisitHistory:
    """A helpdesk visit the meeting held, and what the router did with it."""

    visit_id: str
    queue: str
    medium: str
    topic: str | None
    language: str | None
    context: str
    steps: list[VisitStep]


@dataclass(frozen=True, slots=True)
class Page:
    meeting: Meeting
    organizer_name: str
    entries: list[Entry]
    #: Pass as ``after`` for the next page; None when this is the last.
    next_after: int | None
    #: The helpdesk visits the meeting held (for readers who read all of it).
    visits: list[VisitHistory] = field(default_factory=list)


class _People:
    """Participants by id, as the log introduced them (for actors and subjects)."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.by_id: dict[str, Person] = {}
        self.own_guests: set[str] = set()  # ids of the reading application's guests

    def learn(self, payload: ev.ParticipantWaiting | ev.ParticipantJoined) -> None:
        view = payload.participant
        if view.id in self.by_id:
            return
        if view.role is Role.ORGANIZER:
            role = "organizer"
        elif view.method is JoinMethod.USER:
            role = "agent"
        else:
            role = "guest"
        app = payload.guest_app
        if app is not None and app == self.reader.app_id:
            self.own_guests.add(view.id)
        shown_app = app if self.reader.full or app == self.reader.app_id else None
        self.by_id[view.id] = Person(
            participant_id=view.id,
            display_name=view.display_name,
            role=role,
            meeting_role=view.role.value,
            vouched=view.vouched,
            username=payload.username if self.reader.full else None,
            guest_app=shown_app,
        )

    def get(self, participant_id: object) -> Person | None:
        if not isinstance(participant_id, str):
            return None
        found = self.by_id.get(participant_id)
        if found is None:  # not introduced by the log (a record of an older form)
            return Person(participant_id, participant_id, "unknown", "unknown", False)
        return found


def _entry(record: EventRecord, people: _People) -> Entry | None:
    """The transcript entry of one stored event (None: not part of a transcript)."""
    if record.type in _SIGNALS:
        return None
    try:
        payload = event_from_record(record.seq, record.type, record.at, record.data).payload
    except (ValueError, KeyError, TypeError):  # a type (or form) this version does not know
        return _generic(record, people)

    def new(kind: str, **fields: Any) -> Entry:
        return Entry(seq=record.seq, at=record.at, kind=kind, **fields)

    match payload:
        case ev.ParticipantWaiting() | ev.ParticipantJoined():
            people.learn(payload)
            kind = "waiting" if isinstance(payload, ev.ParticipantWaiting) else "joined"
            return new(kind, actor=people.get(payload.participant.id))
        case ev.ChatPosted():
            return new(
                "chat",
                actor=people.get(payload.participant_id),
                text=None if payload.redacted else payload.text,
                removed=payload.redacted,
                removed_at=record.redacted_at,
            )
        case ev.ParticipantAdmitted(participant_id=pid, by=by):
            return new("admitted", actor=people.get(by), subject=people.get(pid))
        case ev.ParticipantDenied(participant_id=pid, by=by):
            return new("denied", actor=people.get(by), subject=people.get(pid))
        case ev.ParticipantLeft(participant_id=pid, reason=reason, by=by):
            if reason is LeaveReason.DENIED:
                return None  # its "denied" entry says it
            if reason is LeaveReason.REMOVED:
                return new("removed", actor=people.get(by), subject=people.get(pid))
            return new("left", actor=people.get(pid), reason=reason.value)
        case ev.MediaChanged(participant_id=pid, by=by) if by != pid and payload.audio_muted:
            return new("muted", actor=people.get(by), subject=people.get(pid))
        case ev.PolicyChanged(access_policy=policy, lobby_bypass=bypass):
            details = {"access_policy": policy.value, "lobby_bypass": bypass.value}
            return new("policy_changed", details=details)
        case ev.MeetingEnded(reason=reason, by=by):
            return new("ended", actor=people.get(by), reason=reason)
        case ev.MediaChanged():  # one's own camera, microphone or hand
            return None
        case _:  # an event with no kind of its own (yet)
            return _generic(record, people)


def _generic(record: EventRecord, people: _People) -> Entry:
    """An event with no entry kind of its own: shown, never dropped, never fatal."""
    data = record.data
    actor = next(
        (people.get(data[k]) for k in ("by", "actor") if isinstance(data.get(k), str)), None
    )
    subject = people.get(data.get("participant_id"))
    if actor is None:
        actor, subject = subject, None
    text = data.get("text")
    redacted = data.get("redacted") is True
    return Entry(
        seq=record.seq,
        at=record.at,
        kind=record.type,
        actor=actor,
        subject=subject,
        text=None if redacted or not isinstance(text, str) else text,
        removed=redacted,
        removed_at=record.redacted_at,
        details=_visible(
            {k: v for k, v in data.items() if k not in ("by", "actor", "participant_id", "text")}
        ),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _visit_step(kind: str, at: datetime, data: Mapping[str, Any]) -> VisitStep:
    """A stored router event as a step. Its data holds the visit as it then was
    as well; the note is the transfer's own only on the transfer."""
    details = {
        k: data[k]
        for k in _VISIT_STEP_DETAILS
        if data.get(k) not in (None, "") and (k != "note" or kind == "transferred")
    }
    return VisitStep(at=at, kind=kind, agent=_text(data.get("agent")), details=details)


def _visible(value: Any) -> Any:
    """Stored data as shown in details: recipients and login names left out."""
    if isinstance(value, Mapping):
        return {str(k): _visible(v) for k, v in value.items() if k not in _HIDDEN}
    if isinstance(value, list):
        return [_visible(v) for v in value]
    return value


class Transcripts:
    def __init__(self, store: Store, accounts: Accounts) -> None:
        self._store = store
        self._accounts = accounts

    # --- who may read -----------------------------------------------------------------
    async def reader_for_app(self, meeting_id: str, app: App) -> tuple[Meeting, Reader]:
        """The meeting, and how much of it ``app`` reads; 404 when nothing."""
        meeting = await self._store.get_meeting(meeting_id)
        if meeting.created_by_app == app.client_id:
            return meeting, Reader(full=True)
        if meeting.created_by_app is None and app.client_id in (
            await self._store.meeting_guest_apps(meeting.id)
        ):
            return meeting, Reader(full=False, app_id=app.client_id)
        raise MeetingNotFound(f"no meeting {meeting_id!r}")

    async def reader_for_user(self, meeting_id: str, user: User) -> tuple[Meeting, Reader]:
        """The meeting for its organizer; 404 for anyone else."""
        meeting = await self._store.get_meeting(meeting_id)
        if meeting.organizer != user.username:
            raise MeetingNotFound(f"no meeting {meeting_id!r}")
        return meeting, Reader(full=True)

    # --- reading ----------------------------------------------------------------------
    async def page(
        self, meeting: Meeting, reader: Reader, *, after: int = 0, limit: int = DEFAULT_LIMIT
    ) -> Page:
        """Up to ``limit`` entries after seq ``after``, oldest first."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationFailed(f"limit must be 1..{MAX_LIMIT}")
        if after < 0:
            raise ValidationFailed("after must not be negative")
        entries: list[Entry] = []
        next_after: int | None = None
        async for entry in self._entries(meeting.id, reader, after):
            if len(entries) == limit:
                next_after = entries[-1].seq
                break
            entries.append(entry)
        visits = await self.visits(meeting, reader)
        return Page(meeting, await self.organizer_name(meeting), entries, next_after, visits)

    async def visits(self, meeting: Meeting, reader: Reader) -> list[VisitHistory]:
        """The visits the meeting held, each with its steps (queued, offered,
        transferred with the note, ...). A vouching application that reads only
        its guests' share does not see them: they name agents and queues."""
        if not reader.full:
            return []
        found = []
        for stored in await self._store.helpdesk.visits_of_meeting(meeting.id):
            v = stored.visit
            steps = [
                _visit_step(record.type.removeprefix("visit."), record.at, record.data)
                for record in await self._store.helpdesk.visit_events(v.visit_id)
            ]
            found.append(
                VisitHistory(
                    visit_id=v.visit_id,
                    queue=v.queue,
                    medium=v.medium.value,
                    topic=v.topic,
                    language=v.language,
                    context=v.context,
                    steps=steps,
                )
            )
        return found

    async def entries(self, meeting: Meeting, reader: Reader) -> AsyncIterator[Entry]:
        """Every entry, oldest first, read in bounded chunks (for downloads)."""
        async for entry in self._entries(meeting.id, reader, 0):
            yield entry

    async def organizer_name(self, meeting: Meeting) -> str:
        with contextlib.suppress(FrontdeskError):
            return await self._accounts.display_name(meeting.organizer)
        return meeting.organizer

    async def _entries(self, meeting_id: str, reader: Reader, after: int) -> AsyncIterator[Entry]:
        """Entries with seq > ``after``. The people are learnt first, from the
        events that introduce them (who joined before ``after`` still acts after
        it), so a page costs its own events, not the whole log before it."""
        people = _People(reader)
        for record in await self._store.events_since(meeting_id, 0, types=_INTRODUCING):
            _entry(record, people)
        seq = after
        while True:
            records = await self._store.events_since(meeting_id, seq, _READ_CHUNK)
            for record in records:
                entry = _entry(record, people)
                if entry is None:
                    continue
                if not reader.full:
                    to = record.data.get("to")
                    if not isinstance(to, list) or people.own_guests.isdisjoint(map(str, to)):
                        continue
                yield entry
            if len(records) < _READ_CHUNK:
                return
            seq = records[-1].seq
