"""The three ways into a meeting: a join URL and a name, a discovery URI and a
guest token, or a signed-in user's session token and a meeting id (agents).

Each returns an unopened :class:`Meeting`; ``async with`` (or ``await
meeting.connect()``) opens it. No secret ever goes into a URL: tokens travel in
the first WebSocket message (and as a bearer header for discovery).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

import httpx

from frontdesk.client._discovery import discover
from frontdesk.client._meeting import Meeting
from frontdesk.client._session import OpenConnection, ReconnectPolicy
from frontdesk.errors import MeetingNotFound, ValidationFailed
from frontdesk.protocol import urls

__all__ = ["join", "join_as_user", "join_with_token", "rtc_url_for_base", "rtc_url_for_join_url"]


def rtc_url_for_base(base_url: str) -> str:
    """``http(s)://host[/prefix]`` → ``ws(s)://host[/prefix]/v1/rtc`` (a ``ws(s)``
    base is taken as it is)."""
    parts = urlsplit(base_url)
    http = {"ws": "http", "wss": "https"}.get(parts.scheme)
    if http is not None:
        base_url = urlunsplit((http, parts.netloc, parts.path, "", ""))
    return urls.rtc_url(base_url)


def rtc_url_for_join_url(join_url: str) -> str:
    """The rtc endpoint of the node that published ``{base}/j/{code}``."""
    try:
        return urls.rtc_url_for_join_url(join_url)
    except MeetingNotFound:
        raise ValidationFailed("a join URL looks like https://host/j/CODE") from None


def join(
    join_url: str,
    *,
    display_name: str,
    rtc_url: str | None = None,
    open_connection: OpenConnection | None = None,
    reconnect: ReconnectPolicy | None = None,
    request_timeout: float | None = 30.0,
    logger: logging.Logger | None = None,
) -> Meeting:
    """Join with the meeting's join URL alone and a display name (the meeting's
    access policy decides: straight in, lobby, or refused)."""
    if not display_name or not display_name.strip():
        raise ValidationFailed("a display name is needed to join by URL")
    url = rtc_url or rtc_url_for_join_url(join_url)

    async def resolve() -> str:
        return url

    auth = {"kind": "url", "join_url": join_url, "display_name": display_name.strip()}
    return Meeting(
        resolve,
        auth,
        open_connection=open_connection,
        reconnect=reconnect,
        request_timeout=request_timeout,
        logger=logger,
    )


def join_with_token(
    discovery_uri: str,
    token: str,
    *,
    http_client: httpx.AsyncClient | None = None,
    open_connection: OpenConnection | None = None,
    reconnect: ReconnectPolicy | None = None,
    request_timeout: float | None = 30.0,
    logger: logging.Logger | None = None,
) -> Meeting:
    """Join with a guest token the business back end obtained; the discovery URI
    says which node hosts the meeting (resolved when the meeting is opened)."""
    if not token:
        raise ValidationFailed("the guest token must not be empty")

    async def resolve() -> str:
        return (await discover(discovery_uri, token, http_client=http_client)).rtc_url

    return Meeting(
        resolve,
        {"kind": "token", "token": token},
        open_connection=open_connection,
        reconnect=reconnect,
        request_timeout=request_timeout,
        logger=logger,
    )


def join_as_user(
    base_url: str,
    meeting_id: str,
    session_token: str,
    *,
    rtc_url: str | None = None,
    open_connection: OpenConnection | None = None,
    reconnect: ReconnectPolicy | None = None,
    request_timeout: float | None = 30.0,
    logger: logging.Logger | None = None,
) -> Meeting:
    """Join as a signed-in organizer or agent (session token from the user API)."""
    if not session_token:
        raise ValidationFailed("the session token must not be empty")
    url = rtc_url or rtc_url_for_base(base_url)

    async def resolve() -> str:
        return url

    auth = {"kind": "session", "token": session_token, "meeting_id": meeting_id}
    return Meeting(
        resolve,
        auth,
        open_connection=open_connection,
        reconnect=reconnect,
        request_timeout=request_timeout,
        logger=logger,
    )
