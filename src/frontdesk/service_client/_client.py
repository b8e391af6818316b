"""The async client of the service API, and guest-side discovery.

:class:`ServiceClient` authenticates as a trusted application with the OAuth2
client-credentials grant, keeps its access token fresh by itself, and turns every
answer into a typed value or a :mod:`frontdesk.errors` exception: problem+json
bodies by their stable ``code``, network failures and timeouts as
:class:`~frontdesk.errors.Unavailable`.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import icalendar

from frontdesk.domain.model import UNSET, AccessPolicy, LobbyBypass, MeetingState, Unset
from frontdesk.errors import ProtocolError, ValidationFailed
from frontdesk.service_client._models import (
    Branding,
    CallbackRequest,
    Discovery,
    GuestToken,
    Meeting,
    Participant,
    QueueInfo,
    Visit,
    VisitGrant,
    Webhook,
)
from frontdesk.service_client._retry import RetryPolicy, with_retries
from frontdesk.service_client._transcripts import Transcript, TranscriptEntry
from frontdesk.service_client._transport import expect_json, raise_for_problem, send

__all__ = ["ServiceClient", "discover", "join_url_of_ics"]


#: problem codes on a 401 after which a fresh access token is worth one retry
_REFRESH_CODES = frozenset({"token_expired", "token_invalid", "unauthenticated"})
_REFRESH_MARGIN_S = 30.0
_REFRESH_FRACTION = 0.1


def _setting(value: str | None, env: str, what: str) -> str:
    resolved = value if value is not None else os.environ.get(env)
    if not resolved:
        raise ValidationFailed(f"no {what}: pass it to ServiceClient or set {env}")
    return resolved


def _segment(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationFailed(f"{what} must be a non-empty string")
    return quote(value, safe="")


def _aware(value: datetime | None, what: str) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationFailed(f"{what} must be timezone-aware")
    return value.isoformat()


def _enum_value(
    kind: type[AccessPolicy | LobbyBypass | MeetingState], value: str, what: str
) -> str:
    try:
        return str(kind(value).value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise ValidationFailed(f"{what} must be one of {allowed}, not {value!r}") from None


class ServiceClient:
    """Client of the Frontdesk service API for a business back end.

    ``base_url``, ``client_id`` and ``client_secret`` fall back to
    ``FRONTDESK_URL``, ``FRONTDESK_CLIENT_ID`` and ``FRONTDESK_CLIENT_SECRET``.
    An injected ``http_client`` is used as is and left open by :meth:`aclose`.
    ``retry`` bounds the retries after ``unavailable`` (503 or a network failure;
    see :mod:`frontdesk.service_client._retry`); ``RetryPolicy(retries=0)`` turns them off.
    """

    def __init__(
        self,
        base_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._retry = retry if retry is not None else RetryPolicy()
        self._base_url = _setting(base_url, "FRONTDESK_URL", "base URL").rstrip("/")
        if urlsplit(self._base_url).scheme not in ("http", "https"):
            raise ValidationFailed("the base URL must start with http:// or https://")
        self._client_id = _setting(client_id, "FRONTDESK_CLIENT_ID", "client id")
        self._client_secret = _setting(client_secret, "FRONTDESK_CLIENT_SECRET", "client secret")
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)
        self._token: str | None = None
        self._token_refresh_at = 0.0  # on self._clock
        self._token_lock = asyncio.Lock()
        self._clock: Callable[[], float] = time.monotonic

    def __repr__(self) -> str:
        return f"ServiceClient(base_url={self._base_url!r}, client_id={self._client_id!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            await self._http.aclose()

    # -- access token -------------------------------------------------------

    async def _access_token(self, *, rejected: str | None = None) -> str:
        """A usable access token; ``rejected`` is one the server just refused.

        Concurrent callers share one refresh: whoever holds the lock fetches, the
        others find the new token when they get the lock.
        """
        token = self._token
        if token is not None and token != rejected and self._clock() < self._token_refresh_at:
            return token
        async with self._token_lock:
            token = self._token
            if token is not None and token != rejected and self._clock() < self._token_refresh_at:
                return token
            return await self._fetch_token()  # retried with the request it serves

    async def _fetch_token(self) -> str:
        started = self._clock()
        response = await send(
            self._http,
            "POST",
            f"{self._base_url}/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            # RFC 6749 §2.3.1: each part is form-urlencoded before the Basic encoding
            auth=httpx.BasicAuth(
                quote(self._client_id, safe=""), quote(self._client_secret, safe="")
            ),
        )
        raise_for_problem(response)
        body = expect_json(response)
        token = body.get("access_token")
        expires_in = body.get("expires_in")
        if not isinstance(token, str) or not token:
            raise ProtocolError("the token endpoint answered without an access_token")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
            raise ProtocolError("the token endpoint answered without expires_in")
        lifetime = max(float(expires_in), 0.0)
        # refresh when less than 30 s, or 10 % of a short lifetime, is left
        margin = min(_REFRESH_MARGIN_S, lifetime * _REFRESH_FRACTION)
        self._token = token
        self._token_refresh_at = started + lifetime - margin
        return token

    # -- requests -----------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        return await with_retries(
            method,
            lambda: self._request_once(
                method, path, json=json, params=params, content=content, content_type=content_type
            ),
            self._retry,
        )

    async def _request_once(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        url = f"{self._base_url}{path}"
        body: dict[str, Any] = {"json": json, "params": params}
        if content is not None:
            body.update(content=content, content_type=content_type)
        token = await self._access_token()
        response = await send(self._http, method, url, bearer=token, **body)
        if response.status_code == 401 and _problem_code(response) in _REFRESH_CODES:
            token = await self._access_token(rejected=token)
            response = await send(self._http, method, url, bearer=token, **body)
        raise_for_problem(response)
        return response

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return expect_json(await self._request(method, path, **kwargs))

    # -- meetings -----------------------------------------------------------

    async def create_meeting(
        self,
        *,
        subject: str = "",
        organizer: str,
        start: datetime | None = None,
        end: datetime | None = None,
        access_policy: AccessPolicy | str = AccessPolicy.LOBBY,
        lobby_bypass: LobbyBypass | str = LobbyBypass.NONE,
    ) -> Meeting:
        """Create an ad hoc meeting, or a scheduled one when ``start`` is given."""
        body: dict[str, Any] = {
            "subject": subject,
            "organizer": organizer,
            "access_policy": _enum_value(AccessPolicy, access_policy, "access_policy"),
            "lobby_bypass": _enum_value(LobbyBypass, lobby_bypass, "lobby_bypass"),
        }
        if start is not None:
            body["start"] = _aware(start, "start")
        if end is not None:
            body["end"] = _aware(end, "end")
        return Meeting.from_json(await self._json("POST", "/v1/meetings", json=body))

    async def get_meeting(self, meeting_id: str) -> Meeting:
        path = f"/v1/meetings/{_segment(meeting_id, 'meeting_id')}"
        return Meeting.from_json(await self._json("GET", path))

    async def list_meetings(
        self,
        *,
        organizer: str | None = None,
        state: MeetingState | str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Meeting]:
        """One page of meetings, newest first, optionally filtered."""
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        if organizer is not None:
            params["organizer"] = organizer
        if state is not None:
            params["state"] = _enum_value(MeetingState, state, "state")
        body = await self._json("GET", "/v1/meetings", params=params)
        return [Meeting.from_json(item) for item in _items(body)]

    async def update_meeting(
        self,
        meeting_id: str,
        *,
        subject: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        access_policy: AccessPolicy | str | None = None,
        lobby_bypass: LobbyBypass | str | None = None,
    ) -> Meeting:
        """Change the given fields only (``None`` leaves a field as it is)."""
        body: dict[str, Any] = {}
        if subject is not None:
            body["subject"] = subject
        if start is not None:
            body["start"] = _aware(start, "start")
        if end is not None:
            body["end"] = _aware(end, "end")
        if access_policy is not None:
            body["access_policy"] = _enum_value(AccessPolicy, access_policy, "access_policy")
        if lobby_bypass is not None:
            body["lobby_bypass"] = _enum_value(LobbyBypass, lobby_bypass, "lobby_bypass")
        path = f"/v1/meetings/{_segment(meeting_id, 'meeting_id')}"
        return Meeting.from_json(await self._json("PATCH", path, json=body))

    async def end_meeting(self, meeting_id: str) -> Meeting:
        """End the meeting for everyone; its guest tokens stop working."""
        path = f"/v1/meetings/{_segment(meeting_id, 'meeting_id')}"
        return Meeting.from_json(await self._json("DELETE", path))

    async def participants(self, meeting_id: str) -> list[Participant]:
        path = f"/v1/meetings/{_segment(meeting_id, 'meeting_id')}/participants"
        return [Participant.from_json(item) for item in _items(await self._json("GET", path))]

    async def invite_ics(self, meeting_id: str) -> str:
        """The meeting's iCalendar invite (``text/calendar``)."""
        path = f"/v1/meetings/{_segment(meeting_id, 'meeting_id')}/invite.ics"
        return (await self._request("GET", path)).text

    async def join_url_from_invite(self, meeting_id: str) -> str:
        """The join URL as published in the invite's VEVENT (``URL``, else ``LOCATION``)."""
        return join_url_of_ics(await self.invite_ics(meeting_id))

    # -- transcripts --------------------------------------------------------

    async def transcript(
        self, meeting_id: str, *, after: int = 0, limit: int | None = None
    ) -> Transcript:
        """One page of the meeting's transcript: entries after seq ``after``
        (``limit`` of them at most; the server's default when None). For a
        meeting this application created, all of it; for an agent's meeting it
        vouched a guest into, what its guests were sent. 404 otherwise."""
        path = f"/v1/meetings/{_segment(meeting_id, 'meeting_id')}/transcript"
        params: dict[str, str | int] = {"after": after}
        if limit is not None:
            params["limit"] = limit
        return Transcript.from_json(await self._json("GET", path, params=params))

    async def transcript_entries(
        self, meeting_id: str, *, page_size: int | None = None
    ) -> AsyncIterator[TranscriptEntry]:
        """Every entry of the transcript, oldest first, a page at a time."""
        after: int | None = 0
        while after is not None:
            page = await self.transcript(meeting_id, after=after, limit=page_size)
            for entry in page.entries:
                yield entry
            after = page.next_after

    async def transcript_text(self, meeting_id: str) -> str:
        """The readable transcript (``text/plain``): a header, then one line per entry."""
        path = f"/v1/meetings/{_segment(meeting_id, 'meeting_id')}/transcript"
        return (await self._request("GET", path, params={"format": "text"})).text

    # -- guest tokens -------------------------------------------------------

    async def create_guest_token(
        self,
        meeting_id: str,
        *,
        display_name: str,
        role: str = "guest",
        ttl_s: int | None = None,
        single_use: bool = False,
        origins: Sequence[str] = (),
    ) -> GuestToken:
        """Vouch for one visitor: a short-lived token bound to this meeting."""
        body: dict[str, Any] = {
            "display_name": display_name,
            "role": role,
            "single_use": single_use,
        }
        if ttl_s is not None:
            body["ttl_s"] = ttl_s
        if origins:
            body["origins"] = list(origins)
        path = f"/v1/meetings/{_segment(meeting_id, 'meeting_id')}/guest-tokens"
        return GuestToken.from_json(await self._json("POST", path, json=body))

    # -- helpdesk: visits and queues ------------------------------------------

    async def create_visit(
        self,
        queue: str,
        *,
        display_name: str,
        medium: str = "video",
        topic: str | None = None,
        language: str | None = None,
        context: str = "",
        ttl_s: int | None = None,
    ) -> VisitGrant:
        """Ask for the next available agent of ``queue``. Refused with
        ``QueueClosed`` (``err.extra["next_opening"]``) or ``QueueFull``."""
        body: dict[str, Any] = {
            "queue": queue,
            "display_name": display_name,
            "medium": medium,
            "context": context,
        }
        for key, value in (("topic", topic), ("language", language), ("ttl_s", ttl_s)):
            if value is not None:
                body[key] = value
        return VisitGrant.from_json(await self._json("POST", "/v1/visits", json=body))

    async def get_visit(self, visit_id: str) -> Visit:
        path = f"/v1/visits/{_segment(visit_id, 'visit_id')}"
        return Visit.from_json(await self._json("GET", path))

    async def cancel_visit(self, visit_id: str) -> None:
        """The visitor gave up before an agent took the visit."""
        await self._request("DELETE", f"/v1/visits/{_segment(visit_id, 'visit_id')}")

    async def create_queue(
        self,
        name: str,
        *,
        agents: Sequence[str] = (),
        topics: Sequence[str] = (),
        languages: Sequence[str] = (),
        hours: Mapping[str, Any] | None = None,
        max_wait_s: int | None = None,
        service_level_s: int = 60,
    ) -> QueueInfo:
        """``hours``: ``{"time_zone": "Europe/Paris", "weekly": {"mon": [["09:00", "17:00"]]}}``."""
        body = _queue_body(name, agents, topics, languages, hours, max_wait_s, service_level_s)
        return QueueInfo.from_json(await self._json("POST", "/v1/queues", json=body))

    async def replace_queue(
        self,
        name: str,
        *,
        agents: Sequence[str] = (),
        topics: Sequence[str] = (),
        languages: Sequence[str] = (),
        hours: Mapping[str, Any] | None = None,
        max_wait_s: int | None = None,
        service_level_s: int = 60,
    ) -> QueueInfo:
        body = _queue_body(name, agents, topics, languages, hours, max_wait_s, service_level_s)
        path = f"/v1/queues/{_segment(name, 'name')}"
        return QueueInfo.from_json(await self._json("PUT", path, json=body))

    async def list_queues(self) -> list[QueueInfo]:
        return [QueueInfo.from_json(i) for i in _items(await self._json("GET", "/v1/queues"))]

    async def get_queue(self, name: str) -> QueueInfo:
        return QueueInfo.from_json(await self._json("GET", f"/v1/queues/{_segment(name, 'name')}"))

    async def delete_queue(self, name: str) -> None:
        await self._request("DELETE", f"/v1/queues/{_segment(name, 'name')}")

    async def add_queue_agent(self, name: str, agent: str) -> QueueInfo:
        path = f"/v1/queues/{_segment(name, 'name')}/agents"
        return QueueInfo.from_json(await self._json("POST", path, json={"agent": agent}))

    async def remove_queue_agent(self, name: str, agent: str) -> QueueInfo:
        path = f"/v1/queues/{_segment(name, 'name')}/agents/{_segment(agent, 'agent')}"
        return QueueInfo.from_json(await self._json("DELETE", path))

    async def set_agent_capacity(
        self,
        agent: str,
        *,
        video: int = 1,
        chats: int = 3,
        languages: Sequence[str] = (),
        topics: Sequence[str] = (),
    ) -> dict[str, Any]:
        body = {
            "capacity_video": video,
            "capacity_chats": chats,
            "languages": list(languages),
            "topics": list(topics),
        }
        return await self._json("PUT", f"/v1/agents/{_segment(agent, 'agent')}", json=body)

    async def queue_board(self, name: str) -> dict[str, Any]:
        """Waiting, longest wait, service level, each agent's state and visits."""
        return await self._json("GET", f"/v1/queues/{_segment(name, 'name')}/board")

    async def leave_message(
        self, queue: str, *, display_name: str, message: str, contact: str = ""
    ) -> CallbackRequest:
        """A callback request for a closed or full queue."""
        body = {"display_name": display_name, "message": message, "contact": contact}
        path = f"/v1/queues/{_segment(queue, 'queue')}/callbacks"
        return CallbackRequest.from_json(await self._json("POST", path, json=body))

    async def list_callbacks(
        self, *, queue: str | None = None, open_only: bool = True
    ) -> list[CallbackRequest]:
        params: dict[str, str | int] = {"open_only": "true" if open_only else "false"}
        if queue is not None:
            params["queue"] = queue
        body = await self._json("GET", "/v1/callbacks", params=params)
        return [CallbackRequest.from_json(i) for i in _items(body)]

    # -- branding -----------------------------------------------------------

    async def get_branding(self) -> Branding:
        """This application's brand: what its visitors see on the guest page."""
        return Branding.from_json(await self._json("GET", "/v1/branding"))

    async def update_branding(
        self,
        *,
        display_name: str | Unset | None = UNSET,
        accent: str | Unset | None = UNSET,
    ) -> Branding:
        """Change the display name and/or the accent colour (``#rrggbb``): a field
        not given stays as it is, ``None`` clears it (the node's default shows)."""
        body: dict[str, Any] = {}
        if not isinstance(display_name, Unset):
            body["display_name"] = display_name
        if not isinstance(accent, Unset):
            body["accent"] = accent
        return Branding.from_json(await self._json("PATCH", "/v1/branding", json=body))

    async def set_logo(self, image: bytes, *, content_type: str = "image/png") -> Branding:
        """Upload the logo: a PNG, JPEG or WebP image of at most 256 KiB (the
        node reads the type from the bytes; SVG is refused)."""
        response = await self._request(
            "PUT", "/v1/branding/logo", content=bytes(image), content_type=content_type
        )
        return Branding.from_json(expect_json(response))

    async def delete_logo(self) -> Branding:
        return Branding.from_json(await self._json("DELETE", "/v1/branding/logo"))

    # -- webhooks -----------------------------------------------------------

    async def create_webhook(self, url: str, *, events: Sequence[str] | None = None) -> Webhook:
        """Register a callback; the returned value carries the signing secret, once."""
        body: dict[str, Any] = {"url": url}
        if events is not None:
            body["events"] = list(events)
        return Webhook.from_json(await self._json("POST", "/v1/webhooks", json=body))

    async def list_webhooks(self) -> list[Webhook]:
        return [Webhook.from_json(item) for item in _items(await self._json("GET", "/v1/webhooks"))]

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._request("DELETE", f"/v1/webhooks/{_segment(webhook_id, 'webhook_id')}")


def _queue_body(
    name: str,
    agents: Sequence[str],
    topics: Sequence[str],
    languages: Sequence[str],
    hours: Mapping[str, Any] | None,
    max_wait_s: int | None,
    service_level_s: int,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "agents": list(agents),
        "topics": list(topics),
        "languages": list(languages),
        "service_level_s": service_level_s,
    }
    if hours is not None:
        body["hours"] = dict(hours)
    if max_wait_s is not None:
        body["max_wait_s"] = max_wait_s
    return body


def _items(body: Mapping[str, Any]) -> list[Any]:
    items = body.get("items")
    if not isinstance(items, list):
        raise ProtocolError("expected a JSON object with an 'items' list")
    return items


def _problem_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def join_url_of_ics(text: str) -> str:
    """The join URL of the first VEVENT of an iCalendar text (``URL``, else ``LOCATION``)."""
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except ValueError as exc:
        raise ProtocolError("the invite is not valid iCalendar") from exc
    for event in calendar.walk("VEVENT"):
        for prop in ("URL", "LOCATION"):
            value = event.get(prop)
            if value is not None and str(value).strip():
                return str(value).strip()
    raise ProtocolError("the invite carries no join URL")


async def discover(
    discovery_uri: str, token: str, *, http_client: httpx.AsyncClient | None = None
) -> Discovery:
    """Resolve a discovery URI with a guest token: where to open the rtc WebSocket."""
    if urlsplit(discovery_uri).scheme not in ("http", "https"):
        raise ValidationFailed("the discovery URI must start with http:// or https://")
    if not token:
        raise ValidationFailed("the guest token must not be empty")
    http = http_client if http_client is not None else httpx.AsyncClient(timeout=10.0)
    try:
        response = await send(http, "GET", discovery_uri, bearer=token)
    finally:
        if http_client is None:
            await http.aclose()
    raise_for_problem(response)
    return Discovery.from_json(expect_json(response))
