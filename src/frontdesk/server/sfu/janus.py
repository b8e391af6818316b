"""One session on a Janus server, over its HTTP API (asyncio, httpx).

Every request carries a fresh HMAC-signed token (Janus's ``token_auth`` with
``token_auth_secret``); a long poll fetches the session's events. Janus can send
a plugin ``event`` *before* the ``ack`` of the same transaction, so waiters are
registered before a request is posted and events are routed first by
transaction, then by the handle that sent them (``sender``): trickled
candidates, ``webrtcup`` and ``hangup`` carry no transaction of ours.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx

from frontdesk.errors import FrontdeskError, Unavailable

__all__ = ["HandleListener", "JanusError", "JanusSession", "sign_token"]

log = logging.getLogger(__name__)

#: The one plugin the node drives.
VIDEOROOM = "janus.plugin.videoroom"

#: Called with every event Janus sends about a handle that no request waits for.
HandleListener = Callable[[dict[str, Any]], None]


class JanusError(Unavailable):
    """Janus refused a request, answered nonsense, or could not be reached.

    ``janus_code`` is Janus's own error number (0 when there was none).
    """

    title = "The media server refused or failed"

    def __init__(self, detail: str, janus_code: int = 0) -> None:
        super().__init__(detail)
        self.janus_code = janus_code


def sign_token(secret: str, expires_at: int, plugins: tuple[str, ...] = (VIDEOROOM,)) -> str:
    """A Janus ``token_auth`` token: ``"{expiry},janus,{plugins}:{base64(HMAC-SHA1)}"``."""
    data = f"{expires_at},janus,{','.join(plugins)}"
    mac = hmac.new(secret.encode(), data.encode(), hashlib.sha1).digest()
    return f"{data}:{base64.b64encode(mac).decode()}"


class JanusSession:
    """A Janus session: attach handles, send requests, receive their events.

    Use ``async with JanusSession(url, token_secret=...) as s``; closing it
    destroys the session on Janus, which detaches every handle left.
    """

    def __init__(
        self,
        url: str,
        *,
        token_secret: str,
        http: httpx.AsyncClient | None = None,
        token_ttl_s: int = 120,
        poll_events: int = 10,
        request_timeout_s: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._secret = token_secret
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=httpx.Timeout(request_timeout_s, read=40))
        self._token_ttl_s = token_ttl_s
        self._token = ""
        self._token_expires = 0.0
        self._poll_events = poll_events
        self._timeout = request_timeout_s
        self.session_id: int | None = None
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._listeners: dict[int, HandleListener] = {}
        self._early: dict[int, list[dict[str, Any]]] = {}
        self._poller: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    # -- lifecycle --------------------------------------------------------------

    async def __aenter__(self) -> JanusSession:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        reply = await self._post(self.url, {"janus": "create"})
        self.session_id = int(reply["data"]["id"])
        self._poller = asyncio.create_task(self._poll(), name=f"janus-poll-{self.session_id}")

    async def close(self) -> None:
        if self.session_id is not None and not self.closed.is_set():
            with contextlib.suppress(FrontdeskError, httpx.HTTPError):
                await self._post(self._session_url, {"janus": "destroy"})
        self.closed.set()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        for fut in self._waiters.values():
            if not fut.done():
                fut.set_exception(JanusError("the Janus session closed"))
        self._waiters.clear()
        if self._own_http:
            await self._http.aclose()

    # -- handles ----------------------------------------------------------------

    async def attach(self, listener: HandleListener | None = None, plugin: str = VIDEOROOM) -> int:
        """A new handle on ``plugin``; ``listener`` gets its unsolicited events
        (those that arrived before this returned are replayed to it first)."""
        reply = await self._post(self._session_url, {"janus": "attach", "plugin": plugin})
        handle = int(reply["data"]["id"])
        if listener is not None:
            self.listen(handle, listener)
        return handle

    def listen(self, handle: int, listener: HandleListener) -> None:
        self._listeners[handle] = listener
        for event in self._early.pop(handle, []):
            listener(event)

    async def detach(self, handle: int) -> None:
        self._listeners.pop(handle, None)
        self._early.pop(handle, None)
        with contextlib.suppress(JanusError):
            await self._post(f"{self._session_url}/{handle}", {"janus": "detach"})

    async def request(self, handle: int, body: dict[str, Any]) -> dict[str, Any]:
        """A synchronous plugin request (create, destroy, kick, list...): its data."""
        reply = await self._post(
            f"{self._session_url}/{handle}", {"janus": "message", "body": body}
        )
        return _plugin_data(reply)

    async def message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """An asynchronous plugin request (join, configure, start): the data and
        the JSEP of the event that answers it."""
        payload: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            payload["jsep"] = jsep
        event = await self._post(f"{self._session_url}/{handle}", payload, wait_event=True)
        return _plugin_data(event), event.get("jsep")

    async def trickle(self, handle: int, candidate: dict[str, Any] | None) -> None:
        """Hand Janus one of the client's candidates (``None``: gathering completed)."""
        payload = {"janus": "trickle", "candidate": candidate or {"completed": True}}
        await self._post(f"{self._session_url}/{handle}", payload)

    # -- transport --------------------------------------------------------------

    @property
    def _session_url(self) -> str:
        return f"{self.url}/{self.session_id}"

    def _fresh_token(self) -> str:
        now = time.time()
        if now > self._token_expires - self._token_ttl_s / 2:
            expires = int(now) + self._token_ttl_s
            self._token = sign_token(self._secret, expires)
            self._token_expires = expires
        return self._token

    async def _post(
        self, url: str, payload: dict[str, Any], *, wait_event: bool = False
    ) -> dict[str, Any]:
        tx = secrets.token_hex(8)
        payload = {**payload, "transaction": tx, "token": self._fresh_token()}
        waiter: asyncio.Future[dict[str, Any]] | None = None
        if wait_event:
            # Registered before the post: the event may come before the ack.
            waiter = asyncio.get_running_loop().create_future()
            self._waiters[tx] = waiter
        try:
            try:
                resp = await self._http.post(url, json=payload, timeout=self._timeout)
            except httpx.HTTPError as exc:
                raise JanusError(f"Janus unreachable: {type(exc).__name__}") from exc
            reply = _json(resp)
            if not isinstance(reply, dict):
                raise JanusError("Janus answered something that is not an object")
            kind = reply.get("janus")
            if kind == "error":
                err = reply.get("error") or {}
                raise JanusError(str(err.get("reason", "error")), int(err.get("code", 0)))
            if waiter is None:
                return reply
            if kind == "event":  # some requests answer at once, in the reply
                return reply
            async with asyncio.timeout(self._timeout):
                return await waiter
        finally:
            if waiter is not None:
                self._waiters.pop(tx, None)

    async def _poll(self) -> None:
        url = self._session_url
        while not self.closed.is_set():
            try:
                resp = await self._http.get(
                    url, params={"maxev": self._poll_events, "token": self._fresh_token()}
                )
                reply = _json(resp)
            except (httpx.HTTPError, JanusError) as exc:
                log.warning("janus long poll failed: %s", type(exc).__name__)
                await asyncio.sleep(0.5)
                if isinstance(exc, JanusError) and exc.janus_code == 458:  # no such session
                    self.closed.set()
                continue
            events = reply if isinstance(reply, list) else [reply]
            for event in events:
                self._route(event)

    def _route(self, event: Any) -> None:
        if not isinstance(event, dict):
            return
        kind = event.get("janus")
        if kind == "keepalive":
            return
        if kind == "error" and event.get("error", {}).get("code") == 458:
            self.closed.set()
            return
        tx = event.get("transaction")
        waiter = self._waiters.get(tx) if isinstance(tx, str) else None
        if kind == "event" and waiter is not None and not waiter.done():
            data = event.get("plugindata", {}).get("data", {})
            if isinstance(data, dict) and "error" in data:
                waiter.set_exception(JanusError(str(data["error"]), int(data.get("error_code", 0))))
            else:
                waiter.set_result(event)
            return
        sender = event.get("sender")
        if not isinstance(sender, int):
            return
        listener = self._listeners.get(sender)
        if listener is None:
            # A handle's first candidates can beat attach()'s return to the caller.
            early = self._early.setdefault(sender, [])
            if len(early) < 64:
                early.append(event)
            return
        try:
            listener(event)
        except Exception:  # a listener's bug must not stop the poll loop
            log.exception("janus event listener failed")


def _json(resp: httpx.Response) -> Any:
    if resp.status_code == 403:
        raise JanusError("Janus refused the token (403)", 403)
    if resp.status_code >= 400:
        raise JanusError(f"Janus answered HTTP {resp.status_code}")
    try:
        reply = resp.json()
    except ValueError as exc:
        raise JanusError("Janus answered something that is not JSON") from exc
    if isinstance(reply, dict) and reply.get("janus") == "error" and resp.request.method == "GET":
        err = reply.get("error") or {}
        raise JanusError(str(err.get("reason", "error")), int(err.get("code", 0)))
    return reply


def _plugin_data(reply: dict[str, Any]) -> dict[str, Any]:
    data = reply.get("plugindata", {}).get("data")
    if not isinstance(data, dict):
        raise JanusError("Janus answered without plugin data")
    if "error" in data:
        raise JanusError(str(data["error"]), int(data.get("error_code", 0)))
    return data
