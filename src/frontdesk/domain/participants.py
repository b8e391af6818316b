"""Who is in a live meeting, in which session state, and what they said.

A :class:`Participant` is one session of one person in one meeting: a person who
leaves and comes back gets a new participant id. A person who comes back while
their old session still holds a seat (a reload, a second tab) replaces it: the
old session leaves with reason ``replaced``, so each person has one row.
:class:`ParticipantView` is the frozen view that events and snapshots carry
(``frontdesk.protocol`` encodes it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from frontdesk.domain.model import Role

__all__ = [
    "ChatMessage",
    "JoinMethod",
    "LeaveReason",
    "LobbyEntry",
    "Participant",
    "ParticipantView",
    "SessionState",
    "SupervisorMode",
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
    REVOKED = "revoked"  # the application that vouched for the guest was revoked
    #: The same person joined again (a reload, another tab or device): the new
    #: session takes this one's place, so nobody is in the roster twice.
    REPLACED = "replaced"


class JoinMethod(StrEnum):
    TOKEN = "token"  # guest token minted by a trusted back end (vouched)
    URL = "url"  # the join URL alone plus a display name (not vouched)
    USER = "user"  # a signed-in organizer or agent (vouched)


class SupervisorMode(StrEnum):
    """How a supervisor is in a meeting. ``monitor``: hidden from the guests (no
    roster entry, no event about it reaches them), shown to the agents as
    supervising, receiving only. ``barged``: came in; the guests saw a normal join."""

    MONITOR = "monitor"
    BARGED = "barged"


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
    #: The application whose guest token let this guest in (kept for the audit
    #: trail; like ``username``, never sent to clients).
    guest_app: str | None = None
    audio_muted: bool = False
    video_muted: bool = False
    hand_raised: bool = False
    #: Sends a shared screen (in place of the camera): shown large to the others.
    screen_sharing: bool = False
    left_reason: LeaveReason | None = None
    reconnecting_since: datetime | None = None
    # While RECONNECTING: the state a Reconnect restores (LOBBY or JOINED).
    resume_state: SessionState | None = None
    supervisor: SupervisorMode | None = None
    #: The helpdesk visit this guest came for (its token's ``visit`` claim): the
    #: agent who accepted the visit admits the entry that names it.
    visit_id: str | None = None
    #: Who this session is, across sessions (see :class:`~frontdesk.domain.commands.Join`);
    #: like ``username``, kept in the core and never sent to clients.
    identity: str | None = None

    @property
    def staff(self) -> bool:
        """Signed in as a user (an agent or supervisor): not a guest of the
        business, whatever meeting role a guest token gave it."""
        return self.method is JoinMethod.USER

    @property
    def hidden(self) -> bool:
        """A supervisor monitoring: nothing about it reaches a guest."""
        return self.supervisor is SupervisorMode.MONITOR

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

    def view(self) -> ParticipantView:
        """The participant as others see it (the login name is not part of it)."""
        return ParticipantView(
            id=self.id,
            display_name=self.display_name,
            role=self.role,
            method=self.method,
            state=self.state,
            vouched=self.vouched,
            lobby_since=self.lobby_since,
            joined_at=self.joined_at,
            audio_muted=self.audio_muted,
            video_muted=self.video_muted,
            hand_raised=self.hand_raised,
            screen_sharing=self.screen_sharing,
            left_reason=self.left_reason,
            reconnecting_since=self.reconnecting_since,
            supervisor=self.supervisor,
            visit_id=self.visit_id,
        )

    def guest_view(self) -> ParticipantView:
        """The participant as guests see it: a supervisor who barged in is a
        plain participant to them (a hidden one is never shown at all)."""
        view = self.view()
        return dataclasses.replace(view, supervisor=None) if view.supervisor else view

    @classmethod
    def from_view(
        cls,
        view: ParticipantView,
        username: str | None = None,
        guest_app: str | None = None,
        identity: str | None = None,
    ) -> Participant:
        return cls(
            id=view.id,
            display_name=view.display_name,
            role=view.role,
            method=view.method,
            state=view.state,
            username=username,
            guest_app=guest_app,
            vouched=view.vouched,
            lobby_since=view.lobby_since,
            joined_at=view.joined_at,
            audio_muted=view.audio_muted,
            video_muted=view.video_muted,
            hand_raised=view.hand_raised,
            screen_sharing=view.screen_sharing,
            left_reason=view.left_reason,
            reconnecting_since=view.reconnecting_since,
            supervisor=view.supervisor,
            visit_id=view.visit_id,
            identity=identity,
        )


@dataclass(frozen=True, slots=True)
class ParticipantView:
    """One participant as clients and webhooks see it, frozen at one moment.

    It has no login name by construction: an agent's username stays in the
    meeting core (events carry it beside the view, for restore only)."""

    id: str
    display_name: str
    role: Role
    method: JoinMethod
    state: SessionState
    vouched: bool = False
    lobby_since: datetime | None = None
    joined_at: datetime | None = None
    audio_muted: bool = False
    video_muted: bool = False
    hand_raised: bool = False
    left_reason: LeaveReason | None = None
    reconnecting_since: datetime | None = None
    #: Set for supervisors only, and shown to agents only (absent on the wire otherwise).
    supervisor: SupervisorMode | None = None
    #: The helpdesk visit of a visitor (absent on the wire otherwise).
    visit_id: str | None = None
    #: Its video is a shared screen (said on the wire only when true).
    screen_sharing: bool = False


@dataclass(frozen=True, slots=True)
class LobbyEntry:
    """A waiting guest as a moderator's lobby list shows it."""

    participant_id: str
    display_name: str
    role: Role
    method: JoinMethod
    vouched: bool
    state: SessionState
    waiting_since: datetime | None
    timeout_at: datetime | None
    visit_id: str | None = None  # a helpdesk visitor's visit


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """A stored chat message; ``seq`` is the meeting sequence number of its event.

    ``redacted``: its text was deleted by the chat retention policy (``text`` is
    empty); who said something, and when, is kept."""

    seq: int
    participant_id: str
    display_name: str
    text: str
    client_msg_id: str
    at: datetime
    redacted: bool = False

    def redacted_copy(self) -> ChatMessage:
        """The message as kept once its text is deleted by retention."""
        return ChatMessage(
            self.seq, self.participant_id, self.display_name, "", self.client_msg_id, self.at, True
        )
