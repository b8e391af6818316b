"""The Python App SDK: join a meeting, chat, follow events, moderate.

::

    async with frontdesk.client.join(join_url, display_name="Ann") as meeting:
        await meeting.admitted()
        message = await meeting.chat.send("Hello")
        async for event in meeting.events():
            print(event.name, event.data)

    async with frontdesk.client.join_with_token(discovery_uri, token) as meeting: ...
    async with frontdesk.client.join_as_user(base_url, meeting_id, session_token) as meeting: ...

The session resumes by itself after a network drop (with back-off, see
:class:`ReconnectPolicy`) and delivers every event exactly once. In a cluster it
follows the nodes' ``wrong_node`` redirects to the node hosting the meeting, and
finds that node again (discovery, or the public address) when its node dies. Every failure is
a :mod:`frontdesk.errors` exception; the end of a session is a
:class:`SessionEnded` whose ``code`` is the leave reason.
"""

from __future__ import annotations

import logging

from frontdesk.client._chat import Chat
from frontdesk.client._errors import (
    ConnectionLost,
    DeniedAtLobby,
    LeftMeeting,
    LobbyTimedOut,
    RemovedFromMeeting,
    SessionEnded,
    SessionMeetingEnded,
    SessionTokenExpired,
    TooManyRedirects,
)
from frontdesk.client._events import EVENT_NAMES, EventName, EventStream, MeetingEvent
from frontdesk.client._join import join, join_as_user, join_with_token
from frontdesk.client._meeting import LobbyEntry, Meeting, SignalKind
from frontdesk.client._session import (
    Connection,
    OpenConnection,
    ReconnectPolicy,
    websocket_connection,
)
from frontdesk.domain.participants import ChatMessage, Participant, SessionState

__all__ = [
    "EVENT_NAMES",
    "Chat",
    "ChatMessage",
    "Connection",
    "ConnectionLost",
    "DeniedAtLobby",
    "EventName",
    "EventStream",
    "LeftMeeting",
    "LobbyEntry",
    "LobbyTimedOut",
    "Meeting",
    "MeetingEvent",
    "OpenConnection",
    "Participant",
    "ReconnectPolicy",
    "RemovedFromMeeting",
    "SessionEnded",
    "SessionMeetingEnded",
    "SessionState",
    "SessionTokenExpired",
    "SignalKind",
    "TooManyRedirects",
    "join",
    "join_as_user",
    "join_with_token",
    "websocket_connection",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
