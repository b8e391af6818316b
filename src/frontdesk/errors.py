"""The one exception hierarchy of Frontdesk, with stable string codes.

The same ``code`` is used by the HTTP problem+json answers, the WebSocket
``error`` messages and the SDKs, so a user can branch on it everywhere::

    FrontdeskError                      code              HTTP
    ├── ValidationFailed                validation_failed 422
    │   └── WebhookTargetForbidden      webhook_target_forbidden
    ├── AuthError                                         401
    │   ├── InvalidClient               invalid_client
    │   ├── InvalidCredentials          invalid_credentials
    │   ├── Unauthenticated             unauthenticated
    │   ├── TokenInvalid                token_invalid
    │   ├── TokenExpired                token_expired
    │   ├── TokenWrongMeeting           token_wrong_meeting   (403)
    │   └── TokenUsed                   token_used            (403)
    ├── PermissionDenied                forbidden         403
    │   ├── CsrfRefused                 csrf_refused
    │   └── OriginRefused               origin_refused
    ├── NotFound                        not_found         404
    │   ├── MeetingNotFound             meeting_not_found
    │   ├── UserNotFound                user_not_found
    │   ├── AppNotFound                 app_not_found
    │   ├── ParticipantNotFound         participant_not_found
    │   ├── QueueNotFound               queue_not_found
    │   └── VisitNotFound               visit_not_found
    ├── Conflict                        conflict          409
    │   ├── AlreadyExists               already_exists
    │   ├── MeetingEnded                meeting_ended     (410)
    │   ├── QueueClosed                 queue_closed      (next_opening)
    │   └── QueueFull                   queue_full        (estimated_wait_s)
    ├── IllegalState                    illegal_state     409
    ├── LimitExceeded                   limit_exceeded    413
    ├── RateLimited                     rate_limited      429
    ├── Unavailable                     unavailable       503
    ├── WrongNode                       wrong_node        421
    └── ProtocolError                   protocol_error    400
        └── UnsupportedVersion          unsupported_version

``str(err)`` is the human detail; ``err.code`` is what programs compare.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AlreadyExists",
    "AppNotFound",
    "AuthError",
    "Conflict",
    "CsrfRefused",
    "FrontdeskError",
    "IllegalState",
    "InvalidClient",
    "InvalidCredentials",
    "LimitExceeded",
    "MeetingEnded",
    "MeetingNotFound",
    "NotFound",
    "OriginRefused",
    "ParticipantNotFound",
    "PermissionDenied",
    "ProtocolError",
    "QueueClosed",
    "QueueFull",
    "QueueNotFound",
    "RateLimited",
    "TokenExpired",
    "TokenInvalid",
    "TokenUsed",
    "TokenWrongMeeting",
    "Unauthenticated",
    "Unavailable",
    "UnsupportedVersion",
    "UserNotFound",
    "ValidationFailed",
    "VisitNotFound",
    "WebhookTargetForbidden",
    "WrongNode",
    "error_for_code",
]


class FrontdeskError(Exception):
    """Base of every error Frontdesk raises on purpose."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra: dict[str, Any] = extra
        super().__init__(self.detail)

    def to_dict(self) -> dict[str, Any]:
        """The problem+json body (RFC 9457) for this error."""
        body: dict[str, Any] = {
            "type": f"https://frontdesk.dev/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        body.update(self.extra)
        return body


class ValidationFailed(FrontdeskError):
    code = "validation_failed"
    status = 422
    title = "The request is not valid"


class WebhookTargetForbidden(ValidationFailed):
    """A webhook URL this node will not post to: not http(s), credentials in
    the URL, a name that does not resolve, or an address that is not globally
    routable (loopback, private, link-local, ...) nor in an allowed network."""

    code = "webhook_target_forbidden"
    title = "The webhook URL is not an allowed target"


class AuthError(FrontdeskError):
    code = "unauthenticated"
    status = 401
    title = "Authentication required"


class Unauthenticated(AuthError):
    code = "unauthenticated"


class InvalidClient(AuthError):
    code = "invalid_client"
    title = "Unknown client or wrong secret"


class InvalidCredentials(AuthError):
    code = "invalid_credentials"
    title = "Unknown user or wrong password"


class TokenInvalid(AuthError):
    code = "token_invalid"
    title = "The token is not valid"


class TokenExpired(AuthError):
    code = "token_expired"
    title = "The token has expired"


class TokenWrongMeeting(AuthError):
    code = "token_wrong_meeting"
    status = 403
    title = "The token is for another meeting"


class TokenUsed(AuthError):
    code = "token_used"
    status = 403
    title = "The single-use token was already used"


class PermissionDenied(FrontdeskError):
    code = "forbidden"
    status = 403
    title = "Not allowed"


class CsrfRefused(PermissionDenied):
    """A cookie-authenticated write from another web origin (cross-site request forgery)."""

    code = "csrf_refused"
    title = "Refused: the request came from another web origin"


class OriginRefused(PermissionDenied):
    """A web page's origin is not allowed: not among the guest token's ``origins``
    (the node says so), or not in ``FRONTDESK_ALLOWED_ORIGINS`` (the browser
    refuses the cross-origin answer, so the browser SDK says so)."""

    code = "origin_refused"
    title = "Refused: this web origin is not allowed"


class NotFound(FrontdeskError):
    code = "not_found"
    status = 404
    title = "Not found"


class MeetingNotFound(NotFound):
    code = "meeting_not_found"
    title = "No such meeting"


class UserNotFound(NotFound):
    code = "user_not_found"
    title = "No such user"


class AppNotFound(NotFound):
    code = "app_not_found"
    title = "No such application"


class ParticipantNotFound(NotFound):
    code = "participant_not_found"
    title = "No such participant"


class QueueNotFound(NotFound):
    code = "queue_not_found"
    title = "No such queue"


class VisitNotFound(NotFound):
    code = "visit_not_found"
    title = "No such visit"


class Conflict(FrontdeskError):
    code = "conflict"
    status = 409
    title = "Conflict"


class AlreadyExists(Conflict):
    code = "already_exists"
    title = "It exists already"


class MeetingEnded(Conflict):
    code = "meeting_ended"
    status = 410
    title = "The meeting has ended"


class IllegalState(FrontdeskError):
    code = "illegal_state"
    status = 409
    title = "Not possible in the current state"


class LimitExceeded(FrontdeskError):
    code = "limit_exceeded"
    status = 413
    title = "A size limit was exceeded"


class RateLimited(FrontdeskError):
    code = "rate_limited"
    status = 429
    title = "Too many requests"


class Unavailable(FrontdeskError):
    code = "unavailable"
    status = 503
    title = "Temporarily unavailable"


class QueueClosed(Conflict):
    """The queue is outside its opening hours. ``next_opening`` (ISO 8601 UTC, in
    ``extra`` and the problem body; ``None`` when the queue never opens) says when
    to come back; meanwhile the visitor can leave a message (a callback request).
    A 409, not a 503: trying again in a few seconds does not help."""

    code = "queue_closed"
    title = "The queue is closed"


class QueueFull(Conflict):
    """The wait would exceed the queue's maximum (or its size limit).
    ``estimated_wait_s`` says how long it would have been, when known."""

    code = "queue_full"
    title = "The queue is full"


class WrongNode(FrontdeskError):
    """The meeting is hosted by another node of the cluster. ``rtc_url`` (in
    ``extra`` and on the wire) is where it is hosted: connect there, or resume
    through the cluster's public address, which routes."""

    code = "wrong_node"
    status = 421  # Misdirected Request
    title = "The meeting is hosted on another node"


class ProtocolError(FrontdeskError):
    code = "protocol_error"
    status = 400
    title = "Malformed message"


class UnsupportedVersion(ProtocolError):
    code = "unsupported_version"
    title = "Unsupported protocol version"


def _all_subclasses(cls: type[FrontdeskError]) -> list[type[FrontdeskError]]:
    out: list[type[FrontdeskError]] = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


def error_for_code(code: str, detail: str | None = None, **extra: Any) -> FrontdeskError:
    """Rebuild the typed error for a stable ``code`` (used by the SDKs)."""
    for cls in _all_subclasses(FrontdeskError):
        if cls.code == code:
            return cls(detail, **extra)
    unknown: type[FrontdeskError] = type("UnknownFrontdeskError", (FrontdeskError,), {"code": code})
    return unknown(detail, **extra)
