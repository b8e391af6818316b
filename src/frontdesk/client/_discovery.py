"""Resolving a discovery URI with a guest token: which node hosts the meeting.

The App SDK's own HTTP call (it does not import the service client): one GET
with the token as a bearer, errors translated at the boundary, the answer
decoded by the protocol's :class:`~frontdesk.protocol.http.Discovery`.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import httpx

from frontdesk.errors import ProtocolError, Unavailable, ValidationFailed
from frontdesk.protocol.http import Discovery, error_from_answer

__all__ = ["discover"]

log = logging.getLogger("frontdesk.client")


async def discover(
    discovery_uri: str, token: str, *, http_client: httpx.AsyncClient | None = None
) -> Discovery:
    """Where to open the rtc WebSocket for the meeting the token is for."""
    if urlsplit(discovery_uri).scheme not in ("http", "https"):
        raise ValidationFailed("the discovery URI must start with http:// or https://")
    if not token:
        raise ValidationFailed("the guest token must not be empty")
    http = http_client if http_client is not None else httpx.AsyncClient(timeout=10.0)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    try:
        response = await http.get(discovery_uri, headers=headers)
    except httpx.TimeoutException as exc:
        raise Unavailable("discovery timed out") from exc
    except httpx.HTTPError as exc:
        raise Unavailable(f"discovery failed: {type(exc).__name__}") from exc
    finally:
        if http_client is None:
            await http.aclose()
    log.debug("GET %s %d", urlsplit(discovery_uri).path, response.status_code)
    if response.status_code >= 400:
        raise error_from_answer(response)
    try:
        body = response.json()
    except ValueError:
        raise ProtocolError("discovery answered something that is not JSON") from None
    return Discovery.from_json(body)
