"""The sans-I/O domain core: entities, rules and the per-meeting state machine.

Nothing here performs I/O or reads a clock: time is passed in by the caller.
"""

from __future__ import annotations

from frontdesk.domain.commands import (
    Admit,
    Barge,
    Command,
    Deny,
    Disconnect,
    EndBySystem,
    EndMeeting,
    Join,
    Leave,
    MuteParticipant,
    Reconnect,
    Remove,
    SendChat,
    SetMedia,
    SetPolicy,
    Tick,
    Typing,
    Whisper,
)
from frontdesk.domain.events import Event, EventType
from frontdesk.domain.live import Limits
from frontdesk.domain.model import (
    AccessPolicy,
    App,
    LobbyBypass,
    Meeting,
    MeetingState,
    Role,
    User,
    UserRole,
    new_join_code,
    new_meeting_id,
)
from frontdesk.domain.participants import (
    ChatMessage,
    JoinMethod,
    LeaveReason,
    Participant,
    SessionState,
    SupervisorMode,
)
from frontdesk.domain.room import Room

__all__ = [
    "AccessPolicy",
    "Admit",
    "App",
    "Barge",
    "ChatMessage",
    "Command",
    "Deny",
    "Disconnect",
    "EndBySystem",
    "EndMeeting",
    "Event",
    "EventType",
    "Join",
    "JoinMethod",
    "Leave",
    "LeaveReason",
    "Limits",
    "LobbyBypass",
    "Meeting",
    "MeetingState",
    "MuteParticipant",
    "Participant",
    "Reconnect",
    "Remove",
    "Role",
    "Room",
    "SendChat",
    "SessionState",
    "SetMedia",
    "SetPolicy",
    "SupervisorMode",
    "Tick",
    "Typing",
    "User",
    "UserRole",
    "Whisper",
    "new_join_code",
    "new_meeting_id",
]
