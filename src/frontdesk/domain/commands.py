"""What the transports ask a meeting's state machine to do.

Commands are values: the transport builds one from a client message (or a
service API call, or a timer) and passes it to :meth:`Room.handle` with the
current time. ``actor`` is always the participant id of the session that sent
it; the transport authenticates, the room decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from frontdesk.domain.model import AccessPolicy, LobbyBypass, Role, UserRole
from frontdesk.domain.participants import JoinMethod, LeaveReason

__all__ = [
    "Admit",
    "Barge",
    "Command",
    "Deny",
    "Disconnect",
    "EndBySystem",
    "EndMeeting",
    "Join",
    "Leave",
    "MuteParticipant",
    "Reconnect",
    "Remove",
    "SendChat",
    "SetMedia",
    "SetPolicy",
    "Tick",
    "Typing",
    "Whisper",
]


@dataclass(frozen=True, slots=True)
class Join:
    """A new session joins; ``participant_id`` is chosen (unique) by the caller.

    ``user_role`` is the signed-in user's role as the transport looked it up
    (method USER); ``monitor`` asks to watch unseen by the guests, which the
    room grants to supervisors only."""

    participant_id: str
    display_name: str
    role: Role
    method: JoinMethod
    username: str | None = None  # the signed-in user (method USER)
    user_role: UserRole | None = None
    monitor: bool = False
    guest_app: str | None = None  # the application whose token vouched (method TOKEN)
    visit_id: str | None = None  # the helpdesk visit its token was minted for (method TOKEN)
    #: Who is joining, across sessions, as the transport vouches for it: a signed-in
    #: user's name, a guest token's subject, or a key the guest's browser keeps for
    #: its tab. A join with the identity of an active session replaces that session.
    identity: str | None = None


@dataclass(frozen=True, slots=True)
class Admit:
    actor: str
    participant_id: str


@dataclass(frozen=True, slots=True)
class Deny:
    actor: str
    participant_id: str


@dataclass(frozen=True, slots=True)
class Leave:
    """The session ends on purpose (``reason`` LEFT), or the transport ends it
    for ``TOKEN_EXPIRED`` / ``CONNECTION_LOST`` without waiting for the grace."""

    actor: str
    reason: LeaveReason = LeaveReason.LEFT


@dataclass(frozen=True, slots=True)
class Disconnect:
    """The connection dropped: the session waits ``reconnect_grace_s`` for a Reconnect."""

    actor: str


@dataclass(frozen=True, slots=True)
class Reconnect:
    actor: str


@dataclass(frozen=True, slots=True)
class SendChat:
    actor: str
    client_msg_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Whisper:
    """A chat message for the agents and supervisors in the meeting only."""

    actor: str
    client_msg_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Barge:
    """A monitoring supervisor comes in: from now on the guests see it."""

    actor: str


@dataclass(frozen=True, slots=True)
class Typing:
    actor: str
    typing: bool = True


@dataclass(frozen=True, slots=True)
class SetMedia:
    """Change one's own media state; ``None`` leaves a field as it is."""

    actor: str
    audio_muted: bool | None = None
    video_muted: bool | None = None
    hand_raised: bool | None = None
    screen_sharing: bool | None = None


@dataclass(frozen=True, slots=True)
class MuteParticipant:
    """A moderator mutes someone's audio (nobody can unmute another)."""

    actor: str
    participant_id: str


@dataclass(frozen=True, slots=True)
class Remove:
    actor: str
    participant_id: str


@dataclass(frozen=True, slots=True)
class EndMeeting:
    actor: str


@dataclass(frozen=True, slots=True)
class SetPolicy:
    """The service API changed the meeting's policy (affects later joins)."""

    access_policy: AccessPolicy | None = None
    lobby_bypass: LobbyBypass | None = None


@dataclass(frozen=True, slots=True)
class EndBySystem:
    """The meeting ends without a moderator (service API DELETE, operator)."""

    reason: str = "ended"


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: lobby timeouts, reconnect-grace expiry, idle expiry."""


Command: TypeAlias = (
    Join
    | Admit
    | Deny
    | Leave
    | Disconnect
    | Reconnect
    | SendChat
    | Whisper
    | Barge
    | Typing
    | SetMedia
    | MuteParticipant
    | Remove
    | EndMeeting
    | SetPolicy
    | EndBySystem
    | Tick
)
