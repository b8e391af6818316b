"""A meeting's transcript as the service API returns it (``GET
/v1/meetings/{id}/transcript``), as frozen dataclasses checked on the way in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from frontdesk.errors import ProtocolError
from frontdesk.service_client._models import _Reader

__all__ = ["Transcript", "TranscriptEntry", "TranscriptMeeting", "TranscriptPerson"]


@dataclass(frozen=True, slots=True)
class TranscriptPerson:
    """Who did something (or to whom). ``role``: organizer, agent or guest."""

    participant_id: str
    display_name: str
    role: str
    meeting_role: str
    vouched: bool
    username: str | None = None
    guest_app: str | None = None

    @classmethod
    def from_json(cls, data: object) -> TranscriptPerson:
        r = _Reader(data, "TranscriptPerson")
        return cls(
            participant_id=r.text("participant_id"),
            display_name=r.text("display_name"),
            role=r.text("role"),
            meeting_role=r.text("meeting_role"),
            vouched=r.flag("vouched"),
            username=r.opt_text("username"),
            guest_app=r.opt_text("guest_app"),
        )


def _person(data: object) -> TranscriptPerson | None:
    return None if data is None else TranscriptPerson.from_json(data)


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One thing that happened. ``kind`` is ``chat``, ``waiting``, ``joined``,
    ``admitted``, ``denied``, ``removed``, ``left``, ``muted``,
    ``policy_changed``, ``ended``, or the stored event's type for any other
    event (a newer server's); ``text`` is None for a chat message that chat
    retention ``removed``."""

    seq: int
    at: datetime
    kind: str
    actor: TranscriptPerson | None
    subject: TranscriptPerson | None
    text: str | None = field(repr=False)  # what someone wrote: not for logs
    removed: bool
    removed_at: datetime | None
    reason: str | None
    details: dict[str, Any]

    @classmethod
    def from_json(cls, data: object) -> TranscriptEntry:
        r = _Reader(data, "TranscriptEntry")
        raw: Any = data
        seq = raw.get("seq")
        details = raw.get("details", {})
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise ProtocolError("TranscriptEntry: seq must be an integer")
        if not isinstance(details, dict):
            raise ProtocolError("TranscriptEntry: details must be an object")
        return cls(
            seq=seq,
            at=r.dt("at"),
            kind=r.text("kind"),
            actor=_person(raw.get("actor")),
            subject=_person(raw.get("subject")),
            text=r.opt_text("text"),
            removed=r.flag("removed"),
            removed_at=r.opt_dt("removed_at"),
            reason=r.opt_text("reason"),
            details=details,
        )


@dataclass(frozen=True, slots=True)
class TranscriptMeeting:
    id: str
    subject: str
    organizer: str
    organizer_name: str
    state: str
    created_at: datetime
    start: datetime | None
    end: datetime | None
    ended_at: datetime | None

    @classmethod
    def from_json(cls, data: object) -> TranscriptMeeting:
        r = _Reader(data, "TranscriptMeeting")
        return cls(
            id=r.text("id"),
            subject=r.text("subject"),
            organizer=r.text("organizer"),
            organizer_name=r.text("organizer_name"),
            state=r.text("state"),
            created_at=r.dt("created_at"),
            start=r.opt_dt("start"),
            end=r.opt_dt("end"),
            ended_at=r.opt_dt("ended_at"),
        )


@dataclass(frozen=True, slots=True)
class Transcript:
    """One page of a transcript; ``next_after`` (None on the last page) asks for
    the next one."""

    meeting: TranscriptMeeting
    entries: tuple[TranscriptEntry, ...]
    next_after: int | None

    @classmethod
    def from_json(cls, data: object) -> Transcript:
        r = _Reader(data, "Transcript")
        raw: Any = data
        next_after = raw.get("next_after")
        if next_after is not None and (not isinstance(next_after, int) or next_after < 0):
            raise ProtocolError("Transcript: next_after must be a non-negative integer")
        return cls(
            meeting=TranscriptMeeting.from_json(raw.get("meeting")),
            entries=tuple(TranscriptEntry.from_json(e) for e in r.items("entries")),
            next_after=next_after,
        )
