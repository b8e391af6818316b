"""The three ways into a meeting: a join URL and a name, a discovery URI and a
guest token, or a signed-in user's session token and a meeting id (agents).

Each returns an unopened :class:`Meeting`; ``async with`` (or ``await
meeting.connect()``) opens it. No secret ever goes into a URL: tokens travel in
the first WebSocket message (and as a bearer header for discovery).

Each also gives the meeting its "home": how to find the node hosting it when the
node the session was on is gone. For a token join that is discovery again, and
the cluster's public RTC URL once discovery refuses the guest token (expired, or
spent: a resume is authenticated by the resume token, not by the guest token);
for the other two it is the public RTC URL, which routes to the hosting node.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from frontdesk.client._discovery import discover
from frontdesk.client._meeting import Meeting
from frontdesk.client._session import OpenConnection, ReconnectPolicy
from frontdesk.errors import FrontdeskError, MeetingNotFound, ValidationFailed
from frontdesk.protocol import urls

__all__ = [
    "join",
    "join_as_user",
    "join_with_token",
    "rtc_url_for_base",
    "rtc_url_for_discovery_uri",
    "rtc_url_for_join_url",
]

_log = logging.getLogger("frontdesk.client")


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


def rtc_url_for_discovery_uri(discovery_uri: str) -> str:
    """The public RTC URL of the cluster that published ``discovery_uri``:
    ``http(s)://host[/prefix]/v1/discovery/{id}`` → ``ws(s)://host[/prefix]/v1/rtc``
    (a URI of another shape: its origin's ``/v1/rtc``)."""
    head = discovery_uri.split("#", 1)[0].split("?", 1)[0]
    base, sep, _ = head.rpartition(urls.DISCOVERY_PATH)
    if not sep:
        parts = urlsplit(discovery_uri)
        base = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    return rtc_url_for_base(base)


def join(
    join_url: str,
    *,
    display_name: str,
    rtc_url: str | None = None,
    open_connection: OpenConnection | None = None,
    reconnect: ReconnectPolicy | None = None,
    request_timeout: float | None = 30.0,
    logger: logging.Logger | None = None,
    client_key: str | None = None,
) -> Meeting:
    """Join with the meeting's join URL alone and a display name (the meeting's
    access policy decides: straight in, lobby, or refused). ``client_key`` (16 to
    64 characters, kept secret, e.g. ``secrets.token_urlsafe(18)``): a later join
    with the same key replaces this session, as a reloaded browser page does."""
    if not display_name or not display_name.strip():
        raise ValidationFailed("a display name is needed to join by URL")
    if client_key is not None and not 16 <= len(client_key) <= 64:
        raise ValidationFailed("client_key is 16..64 characters")
    url = rtc_url or rtc_url_for_join_url(join_url)

    async def resolve() -> str:
        return url

    auth = {"kind": "url", "join_url": join_url, "display_name": display_name.strip()}
    if client_key is not None:
        auth["client_key"] = client_key
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
    public_rtc_url = rtc_url_for_discovery_uri(discovery_uri)
    opened = False

    async def resolve() -> str:
        nonlocal opened
        try:
            found = (await discover(discovery_uri, token, http_client=http_client)).rtc_url
        except FrontdeskError as err:
            if not opened:
                raise  # the first join: discovery's answer is the answer
            # Finding the node again while resuming: the guest token may be spent
            # or expired by now, and the public address routes just as well.
            _log.info("discovery refused (%s): resuming through %s", err.code, public_rtc_url)
            return public_rtc_url
        opened = True
        return found

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
    monitor: bool = False,
) -> Meeting:
    """Join as a signed-in organizer or agent (session token from the user API).

    ``monitor=True`` (supervisors only; anyone else gets ``PermissionDenied``)
    watches unseen by the guests: receiving, whispering, until ``barge()``."""
    if not session_token:
        raise ValidationFailed("the session token must not be empty")
    url = rtc_url or rtc_url_for_base(base_url)

    async def resolve() -> str:
        return url

    auth: dict[str, Any] = {"kind": "session", "token": session_token, "meeting_id": meeting_id}
    if monitor:
        auth["monitor"] = True
    return Meeting(
        resolve,
        auth,
        open_connection=open_connection,
        reconnect=reconnect,
        request_timeout=request_timeout,
        logger=logger,
    )
