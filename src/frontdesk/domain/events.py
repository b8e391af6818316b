"""What a meeting's state machine emits: sequenced events with their recipients.

Every event but the ephemeral ``typing`` signal carries a per-meeting sequence
number (1, 2, 3, … with no gap) and is meant to be stored: the log of a meeting
rebuilds its live state (:meth:`Room.restore`) and lets a client that resumes
get exactly what it missed. ``to`` is resolved when the event is created, so a
replay delivers to each participant what it would have seen live.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["Event", "EventType"]


class EventType(StrEnum):
    """The stable wire names of events (``Event.type`` is one of these strings)."""

    PARTICIPANT_WAITING = "participant_waiting"  # to moderators: someone entered the lobby
    LOBBY_POSITION = "lobby_position"  # to one lobby guest: position / organizer presence
    PARTICIPANT_ADMITTED = "participant_admitted"  # to the guest and the moderators
    PARTICIPANT_DENIED = "participant_denied"  # to the guest and the moderators
    PARTICIPANT_JOINED = "participant_joined"  # to the roster, the joiner included
    PARTICIPANT_LEFT = "participant_left"  # to the roster (or moderators for a lobby guest)
    PARTICIPANT_RECONNECTING = "participant_reconnecting"
    PARTICIPANT_RECONNECTED = "participant_reconnected"
    MEDIA_CHANGED = "media_changed"
    CHAT_MESSAGE = "chat_message"
    TYPING = "typing"  # ephemeral: seq None, never stored
    POLICY_CHANGED = "policy_changed"
    MEETING_ENDED = "meeting_ended"  # everyone still in the meeting leaves with it


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened in a meeting, addressed to participant ids."""

    seq: int | None
    type: str
    at: datetime
    data: dict[str, Any]
    to: frozenset[str] = field(default_factory=frozenset)

    @property
    def stored(self) -> bool:
        """Sequenced events are persisted; ephemeral signals are not."""
        return self.seq is not None

    def to_record_data(self) -> dict[str, Any]:
        """``data`` plus the recipients (key ``"to"``), as persisted."""
        return {**self.data, "to": sorted(self.to)}

    @classmethod
    def from_record(cls, seq: int, type: str, at: datetime, data: Mapping[str, Any]) -> Event:
        """Rebuild an event from what :meth:`to_record_data` produced."""
        payload = dict(data)
        to = payload.pop("to", ())
        return cls(seq=seq, type=str(type), at=at, data=payload, to=frozenset(to))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe view without the recipients (what a client receives)."""
        return {"seq": self.seq, "type": self.type, "at": self.at.isoformat(), "data": self.data}
