"""What one participant is shown of a meeting when it joins, is admitted or resumes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from frontdesk.domain.model import AccessPolicy, LobbyBypass, MeetingState
from frontdesk.domain.participants import ChatMessage, LobbyEntry, ParticipantView

__all__ = ["MeetingView", "Snapshot"]


@dataclass(frozen=True, slots=True)
class MeetingView:
    """The meeting as a participant sees it: no login names (the organizer is
    shown by ``organizer_display_name``, which the transport fills in)."""

    id: str
    subject: str
    access_policy: AccessPolicy
    lobby_bypass: LobbyBypass
    state: MeetingState
    ended: bool
    organizer_display_name: str | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state of a meeting for one participant. A lobby guest sees no roster,
    lobby or chat; only moderators see the lobby list."""

    meeting: MeetingView
    me: ParticipantView
    roster: tuple[ParticipantView, ...]
    lobby: tuple[LobbyEntry, ...]
    chat: tuple[ChatMessage, ...]
    lobby_position: int | None
    organizer_present: bool | None
    timeout_at: datetime | None
    last_seq: int
    #: Older chat was left out (a client asks for it with ``history``).
    chat_truncated: bool = False
    #: Whispers among agents and supervisors: empty (and absent on the wire) for a guest.
    whispers: tuple[ChatMessage, ...] = ()
