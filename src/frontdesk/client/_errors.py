"""Why a meeting session ended, as :mod:`frontdesk.errors` exceptions.

::

    FrontdeskError
    └── SessionEnded                    session_ended  (.reason)
        ├── LeftMeeting                 left
        ├── RemovedFromMeeting          removed
        ├── DeniedAtLobby               denied
        ├── LobbyTimedOut               lobby_timeout
        ├── ConnectionLost              connection_lost
        ├── SessionMeetingEnded         meeting_ended  (also a MeetingEnded)
        └── SessionTokenExpired         token_expired  (also a TokenExpired)
    Unavailable
    └── TooManyRedirects                unavailable  (wrong_node past the hop limit)

``err.code`` is the leave reason the server gave (``bye.reason``), so programs
compare it exactly as they compare the server's error codes.

:class:`TooManyRedirects` keeps the code ``unavailable`` (try again later): nodes
that send a client round in circles disagree about who hosts the meeting, which
a takeover in progress settles in seconds.
"""

from __future__ import annotations

from typing import Any, ClassVar

from frontdesk.errors import FrontdeskError, MeetingEnded, TokenExpired, Unavailable

__all__ = [
    "ConnectionLost",
    "DeniedAtLobby",
    "LeftMeeting",
    "LobbyTimedOut",
    "RemovedFromMeeting",
    "SessionEnded",
    "SessionMeetingEnded",
    "SessionTokenExpired",
    "TooManyRedirects",
    "session_ended",
]


class SessionEnded(FrontdeskError):
    """The meeting session is over; ``reason`` says why (a leave reason)."""

    code: ClassVar[str] = "session_ended"
    status: ClassVar[int] = 410
    title: ClassVar[str] = "The meeting session has ended"

    def __init__(self, detail: str | None = None, *, reason: str | None = None, **extra: Any):
        super().__init__(detail, **extra)
        self.reason = reason or self.code


class LeftMeeting(SessionEnded):
    code = "left"
    title = "You left the meeting"


class RemovedFromMeeting(SessionEnded):
    code = "removed"
    title = "A moderator removed you from the meeting"


class DeniedAtLobby(SessionEnded):
    code = "denied"
    title = "A moderator did not admit you"


class LobbyTimedOut(SessionEnded):
    code = "lobby_timeout"
    title = "Nobody admitted you in time"


class ConnectionLost(SessionEnded):
    code = "connection_lost"
    title = "The connection was lost and could not be resumed"


class SessionMeetingEnded(SessionEnded, MeetingEnded):
    code = "meeting_ended"
    title = "The meeting has ended"


class SessionTokenExpired(SessionEnded, TokenExpired):
    code = "token_expired"
    title = "The join token has expired"


class SessionRevoked(SessionEnded):
    code = "revoked"
    title = "The application that vouched for you was revoked"


class TooManyRedirects(Unavailable):
    """Every node the client was sent to (``wrong_node``) sent it on again, past
    the hop limit of one attempt. ``extra["rtc_urls"]`` lists the URLs tried."""

    title = "The cluster's nodes kept redirecting the connection"


_BY_REASON: dict[str, type[SessionEnded]] = {
    cls.code: cls
    for cls in (
        LeftMeeting,
        RemovedFromMeeting,
        DeniedAtLobby,
        LobbyTimedOut,
        ConnectionLost,
        SessionMeetingEnded,
        SessionTokenExpired,
        SessionRevoked,
    )
}


def session_ended(reason: str, detail: str | None = None) -> SessionEnded:
    """The typed error for a leave ``reason`` (unknown reasons give ``SessionEnded``)."""
    cls = _BY_REASON.get(reason, SessionEnded)
    return cls(detail or f"{cls.title} ({reason})", reason=reason)
