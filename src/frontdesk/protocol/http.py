"""The HTTP side of the contract: what a problem+json answer means, and the
discovery answer. Both SDKs decode with these (they share no other code: the
App SDK does not import the service client, nor the other way round).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from frontdesk.errors import (
    Conflict,
    FrontdeskError,
    LimitExceeded,
    MeetingEnded,
    NotFound,
    PermissionDenied,
    ProtocolError,
    RateLimited,
    Unauthenticated,
    Unavailable,
    ValidationFailed,
    error_for_code,
)

__all__ = ["PROBLEM_TYPE", "Answer", "Discovery", "error_from_answer", "error_from_problem"]

PROBLEM_TYPE = "application/problem+json"

#: The error class of an answer whose body says no ``code`` (a proxy's page, say).
_BY_STATUS: dict[int, type[FrontdeskError]] = {
    400: ValidationFailed,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    410: MeetingEnded,
    413: LimitExceeded,
    422: ValidationFailed,
    429: RateLimited,
    502: Unavailable,
    503: Unavailable,
    504: Unavailable,
}
_MAX_DETAIL = 500


#: Problem extension members kept on the typed error's ``extra``.
_EXTENSIONS = ("next_opening", "estimated_wait_s")


def error_from_problem(
    status: int,
    body: object,
    *,
    text: str = "",
    reason: str = "",
    retry_after: str | None = None,
) -> FrontdeskError:
    """The typed error an HTTP error answer stands for: its problem+json ``code``
    (RFC 9457), an RFC 6749 ``error``, or else the class of its status.
    ``body`` is the decoded JSON (``None`` when the body was not JSON)."""
    extra: dict[str, Any] = {}
    if retry_after is not None and retry_after.strip().isdigit():
        extra["retry_after"] = int(retry_after.strip())
    if isinstance(body, Mapping):
        code = body.get("code")
        detail = body.get("detail") or body.get("title")
        if isinstance(code, str) and code:
            if isinstance(body.get("errors"), list):
                extra["errors"] = body["errors"]
            for name in _EXTENSIONS:  # typed details a caller acts on (queue_closed)
                value = body.get(name)
                if name in body and (value is None or isinstance(value, str | int | float)):
                    extra[name] = value
            return error_for_code(code, detail if isinstance(detail, str) else None, **extra)
        oauth_error = body.get("error")  # RFC 6749 §5.2 shape
        if isinstance(oauth_error, str) and oauth_error:
            description = body.get("error_description")
            said = description if isinstance(description, str) else None
            return error_for_code(oauth_error, said, **extra)
    cls = _BY_STATUS.get(status, FrontdeskError)
    return cls(text.strip()[:_MAX_DETAIL] or f"HTTP {status} {reason}".rstrip(), **extra)


class Answer(Protocol):
    """What both SDKs' HTTP answers offer (an ``httpx.Response`` is one)."""

    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def reason_phrase(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    def json(self) -> Any: ...


def error_from_answer(answer: Answer) -> FrontdeskError:
    """The typed error of an HTTP error answer (see :func:`error_from_problem`)."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    return error_from_problem(
        answer.status_code,
        body,
        text=answer.text,
        reason=answer.reason_phrase,
        retry_after=answer.headers.get("Retry-After"),
    )


@dataclass(frozen=True, slots=True)
class Discovery:
    """Where to connect for a meeting: the rtc WebSocket URL and ICE servers."""

    rtc_url: str
    meeting_id: str
    ice_servers: tuple[dict[str, Any], ...] = field(repr=False)  # may hold TURN credentials
    node_id: str

    @classmethod
    def from_json(cls, data: object) -> Discovery:
        if not isinstance(data, Mapping):
            raise ProtocolError("Discovery: expected a JSON object")
        values: dict[str, str] = {}
        for name in ("rtc_url", "meeting_id", "node_id"):
            value = data.get(name)
            if not isinstance(value, str):
                raise ProtocolError(f"Discovery: field {name!r} must be a string")
            values[name] = value
        servers = data.get("ice_servers")
        if not isinstance(servers, list) or not all(isinstance(s, dict) for s in servers):
            raise ProtocolError("Discovery: ice_servers must be a list of objects")
        return cls(ice_servers=tuple(servers), **values)
