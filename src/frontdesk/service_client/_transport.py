"""One HTTP exchange: send, log one line, translate every failure to a Frontdesk error.

httpx exceptions never leave this module: timeouts and network failures become
:class:`~frontdesk.errors.Unavailable`; error answers become the typed error of
their problem+json ``code`` (or, for a body that is not problem+json, the error
class of their HTTP status).
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from frontdesk.errors import ProtocolError, Unavailable, ValidationFailed
from frontdesk.protocol.http import error_from_answer

__all__ = ["error_from_response", "expect_json", "raise_for_problem", "send"]

logger = logging.getLogger(__name__)


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    bearer: str | None = None,
    auth: httpx.Auth | None = None,
    json: Any = None,
    data: dict[str, str] | None = None,
    params: Any = None,
    content: bytes | None = None,
    content_type: str | None = None,
) -> httpx.Response:
    """Send one request; log ``method path status ms`` (never headers or bodies)."""
    kwargs: dict[str, Any] = {}
    if json is not None:
        kwargs["json"] = json
    if data is not None:
        kwargs["data"] = data
    if params is not None:
        kwargs["params"] = params
    if content is not None:
        kwargs["content"] = content
    if auth is not None:
        kwargs["auth"] = auth
    headers = {"Accept": "application/json, application/problem+json;q=0.9, */*;q=0.1"}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    if content_type is not None:
        headers["Content-Type"] = content_type
    path = urlsplit(url).path or "/"
    started = time.perf_counter()
    try:
        response = await http.request(method, url, headers=headers, **kwargs)
    except httpx.UnsupportedProtocol as exc:
        raise ValidationFailed(f"cannot reach {path}: unsupported URL scheme") from exc
    except httpx.TimeoutException as exc:
        _log_failure(method, path, started, exc)
        raise Unavailable(f"{method} {path} timed out") from exc
    except httpx.RequestError as exc:
        _log_failure(method, path, started, exc)
        raise Unavailable(f"{method} {path} failed: {type(exc).__name__}") from exc
    except httpx.InvalidURL as exc:
        raise ValidationFailed(f"invalid URL for {method} request") from exc
    elapsed_ms = (time.perf_counter() - started) * 1000
    logger.debug("%s %s %d %.1fms", method, path, response.status_code, elapsed_ms)
    return response


def _log_failure(method: str, path: str, started: float, exc: Exception) -> None:
    elapsed_ms = (time.perf_counter() - started) * 1000
    logger.debug("%s %s failed (%s) %.1fms", method, path, type(exc).__name__, elapsed_ms)


#: The typed error an error answer stands for (the protocol's rule).
error_from_response = error_from_answer


def raise_for_problem(response: httpx.Response) -> None:
    if response.status_code >= 400:
        raise error_from_response(response)


def expect_json(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a successful answer."""
    try:
        body = response.json()
    except ValueError as exc:
        raise ProtocolError(f"expected JSON, got {response.headers.get('content-type')}") from exc
    if not isinstance(body, dict):
        raise ProtocolError("expected a JSON object")
    return body
