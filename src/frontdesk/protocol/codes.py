"""WebSocket close codes (4000 range) and how errors map to them."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["CLOSE_CODES", "CLOSE_ERRORS", "CloseCode", "close_code_for"]


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001  # server shutting down: resume on another node
    LEFT = 4000  # the participant left
    AUTH_FAILED = 4001  # first message did not authenticate
    TOKEN_EXPIRED = 4002
    FORBIDDEN = 4003  # e.g. URL-only join to a 'deny' meeting, token used
    NOT_FOUND = 4004  # no such meeting
    PROTOCOL_ERROR = 4005  # malformed or out-of-order message, or unsupported version
    RATE_LIMITED = 4008  # kept abusing the limits
    REPLACED = 4009  # the same participant resumed on another connection
    MEETING_ENDED = 4010
    REMOVED = 4011
    DENIED = 4012  # refused at the lobby
    LOBBY_TIMEOUT = 4013
    HEARTBEAT_TIMEOUT = 4014
    CONNECTION_LOST = 4015  # reconnect grace expired
    REVOKED = 4016  # the application that vouched for this guest was revoked
    SUPERSEDED = 4017  # the same person joined again (a reload, another tab or device)


#: Error code (``frontdesk.errors``) -> close code, for errors that end a connection.
CLOSE_CODES: dict[str, CloseCode] = {
    "unauthenticated": CloseCode.AUTH_FAILED,
    "invalid_credentials": CloseCode.AUTH_FAILED,
    "token_invalid": CloseCode.AUTH_FAILED,
    "token_wrong_meeting": CloseCode.AUTH_FAILED,
    "token_expired": CloseCode.TOKEN_EXPIRED,
    "token_used": CloseCode.FORBIDDEN,
    "forbidden": CloseCode.FORBIDDEN,
    "origin_refused": CloseCode.FORBIDDEN,
    "meeting_not_found": CloseCode.NOT_FOUND,
    "not_found": CloseCode.NOT_FOUND,
    "meeting_ended": CloseCode.MEETING_ENDED,
    "protocol_error": CloseCode.PROTOCOL_ERROR,
    "unsupported_version": CloseCode.PROTOCOL_ERROR,
    "rate_limited": CloseCode.RATE_LIMITED,
    "limit_exceeded": CloseCode.FORBIDDEN,
    "unavailable": CloseCode.GOING_AWAY,  # try again (the node or the store is busy)
    "wrong_node": CloseCode.GOING_AWAY,  # resume where the error's rtc_url says
    # leave reasons (domain LeaveReason values)
    "left": CloseCode.LEFT,
    "removed": CloseCode.REMOVED,
    "denied": CloseCode.DENIED,
    "lobby_timeout": CloseCode.LOBBY_TIMEOUT,
    "connection_lost": CloseCode.CONNECTION_LOST,
    "revoked": CloseCode.REVOKED,
    "replaced": CloseCode.SUPERSEDED,
}

#: Close code -> the error code it stands for when no ``error`` or ``bye`` frame
#: said more, for the close codes that are not a leave reason (those stand for
#: the reason: ``CLOSE_CODES[reason]``). One code each, the general one: a bare
#: 4003 is ``forbidden``, not ``token_used``. The browser SDK reads this table.
CLOSE_ERRORS: dict[CloseCode, str] = {
    CloseCode.AUTH_FAILED: "unauthenticated",
    CloseCode.FORBIDDEN: "forbidden",
    CloseCode.NOT_FOUND: "meeting_not_found",
    CloseCode.PROTOCOL_ERROR: "protocol_error",
    CloseCode.RATE_LIMITED: "rate_limited",
    CloseCode.REPLACED: "conflict",  # the participant resumed on another connection
}


def close_code_for(code: str) -> CloseCode:
    return CLOSE_CODES.get(code, CloseCode.PROTOCOL_ERROR)
