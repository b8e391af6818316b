"""What a meeting's state machine emits: typed events with their recipients.

Each kind of event is one frozen dataclass (its *payload*); :class:`Event`
wraps a payload with its per-meeting sequence number, its time and who it is
for. Every event but the ephemeral :class:`TypingChanged` carries a sequence
number (1, 2, 3, … with no gap) and is stored: the log of a meeting rebuilds
its live state (:meth:`Room.restore`) and lets a client that resumes get exactly
what it missed. ``to`` is resolved when the event is created, so a replay
delivers to each participant what it would have seen live.

How an event looks on the wire, in the store and in a webhook is not decided
here: :mod:`frontdesk.protocol.events` is the one codec of these classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, TypeAlias

from frontdesk.domain.model import AccessPolicy, LobbyBypass
from frontdesk.domain.participants import ChatMessage, LeaveReason, ParticipantView

__all__ = [
    "PAYLOAD_TYPES",
    "ChatPosted",
    "Event",
    "EventPayload",
    "EventType",
    "LobbyPosition",
    "MediaChanged",
    "MeetingEnded",
    "ParticipantAdmitted",
    "ParticipantDenied",
    "ParticipantJoined",
    "ParticipantLeft",
    "ParticipantReconnected",
    "ParticipantReconnecting",
    "ParticipantWaiting",
    "PolicyChanged",
    "SupervisorBarged",
    "TypingChanged",
    "WhisperPosted",
]


class EventType(StrEnum):
    """The stable names of events (``Event.type``), on the wire and in the store."""

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
    WHISPER = "whisper"  # chat for agents and supervisors only, never for a guest
    SUPERVISOR_BARGED = "supervisor_barged"  # to agents: a monitoring supervisor came in


@dataclass(frozen=True, slots=True)
class ParticipantWaiting:
    """Someone entered the lobby. ``username`` is kept for restore only (a
    signed-in user never waits, so it is ``None`` in practice); ``guest_app``,
    the application that vouched for a token guest, for the audit trail. Both
    are stored, never sent."""

    NAME: ClassVar[EventType] = EventType.PARTICIPANT_WAITING
    participant: ParticipantView
    username: str | None = None
    guest_app: str | None = None
    identity: str | None = None  # stored for restore only, like ``username``


@dataclass(frozen=True, slots=True)
class ParticipantJoined:
    """Someone joined the roster. ``username`` (an agent's login) and
    ``guest_app`` (the application that vouched for a token guest) are stored
    (for restore, for the audit trail) and never sent to clients."""

    NAME: ClassVar[EventType] = EventType.PARTICIPANT_JOINED
    participant: ParticipantView
    username: str | None = None
    guest_app: str | None = None
    identity: str | None = None  # stored for restore only, like ``username``


@dataclass(frozen=True, slots=True)
class LobbyPosition:
    NAME: ClassVar[EventType] = EventType.LOBBY_POSITION
    participant_id: str
    position: int
    organizer_present: bool
    timeout_at: datetime | None


@dataclass(frozen=True, slots=True)
class ParticipantAdmitted:
    NAME: ClassVar[EventType] = EventType.PARTICIPANT_ADMITTED
    participant_id: str
    by: str


@dataclass(frozen=True, slots=True)
class ParticipantDenied:
    NAME: ClassVar[EventType] = EventType.PARTICIPANT_DENIED
    participant_id: str
    by: str


@dataclass(frozen=True, slots=True)
class ParticipantLeft:
    NAME: ClassVar[EventType] = EventType.PARTICIPANT_LEFT
    participant_id: str
    display_name: str
    reason: LeaveReason
    by: str | None = None


@dataclass(frozen=True, slots=True)
class ParticipantReconnecting:
    NAME: ClassVar[EventType] = EventType.PARTICIPANT_RECONNECTING
    participant_id: str


@dataclass(frozen=True, slots=True)
class ParticipantReconnected:
    NAME: ClassVar[EventType] = EventType.PARTICIPANT_RECONNECTED
    participant_id: str


@dataclass(frozen=True, slots=True)
class MediaChanged:
    NAME: ClassVar[EventType] = EventType.MEDIA_CHANGED
    participant_id: str
    by: str
    audio_muted: bool
    video_muted: bool
    hand_raised: bool
    #: The video now carries a shared screen (said only when true).
    screen_sharing: bool = False


@dataclass(frozen=True, slots=True)
class ChatPosted:
    """A chat message was accepted (and, once its event is stored, acknowledged).

    ``redacted`` is only ever true in a stored event read back after the chat
    retention policy deleted its text (``text`` is then empty)."""

    NAME: ClassVar[EventType] = EventType.CHAT_MESSAGE
    participant_id: str
    display_name: str
    text: str
    client_msg_id: str
    redacted: bool = False

    def message(self, seq: int, at: datetime) -> ChatMessage:
        """The chat message this event stores (its event's ``seq`` and time)."""
        return ChatMessage(
            seq,
            self.participant_id,
            self.display_name,
            self.text,
            self.client_msg_id,
            at,
            self.redacted,
        )


@dataclass(frozen=True, slots=True)
class WhisperPosted:
    """A whisper was accepted: a chat message that only the agents and
    supervisors in the meeting receive (stored apart from the guests' chat)."""

    NAME: ClassVar[EventType] = EventType.WHISPER
    participant_id: str
    display_name: str
    text: str
    client_msg_id: str
    redacted: bool = False  # as ChatPosted: read back after the retention policy

    def message(self, seq: int, at: datetime) -> ChatMessage:
        return ChatMessage(
            seq,
            self.participant_id,
            self.display_name,
            self.text,
            self.client_msg_id,
            at,
            self.redacted,
        )


@dataclass(frozen=True, slots=True)
class SupervisorBarged:
    """To the agents: the monitoring supervisor is now visible (the guests get
    a plain ``participant_joined`` instead)."""

    NAME: ClassVar[EventType] = EventType.SUPERVISOR_BARGED
    participant_id: str


@dataclass(frozen=True, slots=True)
class TypingChanged:
    NAME: ClassVar[EventType] = EventType.TYPING
    participant_id: str
    typing: bool


@dataclass(frozen=True, slots=True)
class PolicyChanged:
    NAME: ClassVar[EventType] = EventType.POLICY_CHANGED
    access_policy: AccessPolicy
    lobby_bypass: LobbyBypass


@dataclass(frozen=True, slots=True)
class MeetingEnded:
    NAME: ClassVar[EventType] = EventType.MEETING_ENDED
    reason: str
    by: str | None = None


EventPayload: TypeAlias = (
    ParticipantWaiting
    | ParticipantJoined
    | LobbyPosition
    | ParticipantAdmitted
    | ParticipantDenied
    | ParticipantLeft
    | ParticipantReconnecting
    | ParticipantReconnected
    | MediaChanged
    | ChatPosted
    | WhisperPosted
    | SupervisorBarged
    | TypingChanged
    | PolicyChanged
    | MeetingEnded
)

#: Every payload class by its event name.
PAYLOAD_TYPES: dict[EventType, type[EventPayload]] = {
    cls.NAME: cls
    for cls in (
        ParticipantWaiting,
        ParticipantJoined,
        LobbyPosition,
        ParticipantAdmitted,
        ParticipantDenied,
        ParticipantLeft,
        ParticipantReconnecting,
        ParticipantReconnected,
        MediaChanged,
        ChatPosted,
        TypingChanged,
        PolicyChanged,
        MeetingEnded,
        WhisperPosted,
        SupervisorBarged,
    )
}


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened in a meeting, addressed to participant ids."""

    seq: int | None
    at: datetime
    payload: EventPayload
    to: frozenset[str] = field(default_factory=frozenset)
    #: For agents and supervisors only (a whisper, anything about a monitoring
    #: supervisor): no guest receives it, nor the applications that read what
    #: their guests read (webhooks). Decided live; ``to`` is what is stored.
    staff_only: bool = False

    @property
    def type(self) -> EventType:
        return self.payload.NAME

    @property
    def stored(self) -> bool:
        """Sequenced events are persisted; ephemeral signals are not."""
        return self.seq is not None
