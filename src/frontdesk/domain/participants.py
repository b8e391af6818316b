"""Who is in a live meeting, in which session state, and what they said.

A :class:`Participant` is one session of one person in one meeting: a person who
leaves and comes back gets a new participant id. ``public()`` is the JSON-safe
view that events and snapshots carry; ``from_public`` rebuilds it on replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from frontdesk.domain.model import Role

__all__ = [
    "ChatMessage",
    "JoinMethod",
    "LeaveReason",
    "Participant",
    "SessionState",
    "format_time",
    "parse_time",
]


class SessionState(StrEnum):
    """The states a client can see: ``connecting → lobby → joined → reconnecting → left``."""

    CONNECTING = "connecting"  # client side only: before the join is decided
    LOBBY = "lobby"
    JOINED = "joined"
    RECONNECTING = "reconnecting"
    LEFT = "left"


class LeaveReason(StrEnum):
    LEFT = "left"
    REMOVED = "removed"
    DENIED = "denied"
    MEETING_ENDED = "meeting_ended"
    LOBBY_TIMEOUT = "lobby_timeout"
    TOKEN_EXPIRED = "token_expired"
    CONNECTION_LOST = "connection_lost"


class JoinMethod(StrEnum):
    TOKEN = "token"  # guest token minted by a trusted back end (vouched)
    URL = "url"  # the join URL alone plus a display name (not vouched)
    USER = "user"  # a signed-in organizer or agent (vouched)


def format_time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def parse_time(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


@dataclass(slots=True)
class Participant:
    """One session in a live meeting. Only the room's event handlers change it."""

    id: str
    display_name: str
    role: Role
    method: JoinMethod
    state: SessionState
    username: str | None = None
    vouched: bool = False
    lobby_since: datetime | None = None
    joined_at: datetime | None = None
    audio_muted: bool = False
    video_muted: bool = False
    hand_raised: bool = False
    left_reason: LeaveReason | None = None
    reconnecting_since: datetime | None = None
    # While RECONNECTING: the state a Reconnect restores (LOBBY or JOINED).
    resume_state: SessionState | None = None

    @property
    def in_roster(self) -> bool:
        """Joined, or joined and now reconnecting (shown to the others as such)."""
        return self.state is SessionState.JOINED or (
            self.state is SessionState.RECONNECTING and self.resume_state is SessionState.JOINED
        )

    @property
    def in_lobby(self) -> bool:
        """Waiting in the lobby, or waiting and reconnecting (keeps its position)."""
        return self.state is SessionState.LOBBY or (
            self.state is SessionState.RECONNECTING and self.resume_state is SessionState.LOBBY
        )

    @property
    def active(self) -> bool:
        return self.state is not SessionState.LEFT

    def public(self) -> dict[str, Any]:
        """The JSON-safe view sent to clients and stored in events."""
        return {
            "id": self.id,
            "display_name": self.display_name,
            "role": self.role.value,
            "method": self.method.value,
            "state": self.state.value,
            "username": self.username,
            "vouched": self.vouched,
            "lobby_since": format_time(self.lobby_since),
            "joined_at": format_time(self.joined_at),
            "audio_muted": self.audio_muted,
            "video_muted": self.video_muted,
            "hand_raised": self.hand_raised,
            "left_reason": None if self.left_reason is None else self.left_reason.value,
            "reconnecting_since": format_time(self.reconnecting_since),
        }

    @classmethod
    def from_public(cls, data: Mapping[str, Any]) -> Participant:
        left = data.get("left_reason")
        return cls(
            id=str(data["id"]),
            display_name=str(data["display_name"]),
            role=Role(data["role"]),
            method=JoinMethod(data["method"]),
            state=SessionState(data["state"]),
            username=data.get("username"),
            vouched=bool(data.get("vouched", False)),
            lobby_since=parse_time(data.get("lobby_since")),
            joined_at=parse_time(data.get("joined_at")),
            audio_muted=bool(data.get("audio_muted", False)),
            video_muted=bool(data.get("video_muted", False)),
            hand_raised=bool(data.get("hand_raised", False)),
            left_reason=None if left is None else LeaveReason(left),
            reconnecting_since=parse_time(data.get("reconnecting_since")),
        )


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """A stored chat message; ``seq`` is the meeting sequence number of its event."""

    seq: int
    participant_id: str
    display_name: str
    text: str
    client_msg_id: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "participant_id": self.participant_id,
            "display_name": self.display_name,
            "text": self.text,
            "client_msg_id": self.client_msg_id,
            "at": self.at.isoformat(),
        }
