"""The connection of one meeting session: handshake, reading, heartbeat, requests
and resuming after a drop.

:class:`Session` moves frames; what they mean is up to its
:class:`SessionHandler` (the :class:`~frontdesk.client.Meeting`). It keeps the
highest event sequence number seen and drops every event at or below it, so an
event reaches the handler once even when the server replays. When the socket
drops without a ``bye`` (or closes with 1001, 1006 or another code outside the
4000 range), it resumes with the resume token and that sequence number, with
exponential back-off and jitter, until :attr:`ReconnectPolicy.give_up_after_s`.

In a cluster each meeting is hosted by one node at a time. A node that does not
host it answers the ``hello`` with the error ``wrong_node`` and the ``rtc_url``
of the node that does: the session connects there at once (no back-off), at most
:data:`MAX_REDIRECTS` times per attempt, and keeps that URL as its current one.
When connecting to the current URL fails (its node died, or drains), the next
attempt starts from "home" again, the ``resolve`` callable (discovery for token
joins, the public RTC URL otherwise), so a dead node's URL is never retried for
long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from frontdesk.client._errors import SessionEnded, TooManyRedirects, session_ended
from frontdesk.domain.participants import LeaveReason
from frontdesk.errors import (
    Conflict,
    FrontdeskError,
    ProtocolError,
    Unavailable,
    UnsupportedVersion,
    ValidationFailed,
    WrongNode,
    error_for_code,
)
from frontdesk.protocol import (
    CLOSE_CODES,
    PROTOCOL_VERSION,
    CloseCode,
    decode_server,
    encode,
)
from frontdesk.protocol.codes import CLOSE_ERRORS
from frontdesk.protocol.messages import MAX_SERVER_FRAME

__all__ = [
    "CLIENT_NAME",
    "MAX_REDIRECTS",
    "Connection",
    "OpenConnection",
    "ReconnectPolicy",
    "Resolve",
    "Session",
    "SessionHandler",
    "websocket_connection",
]

CLIENT_NAME = "frontdesk-py/0.1"
_RESUMABLE_4000 = {CloseCode.HEARTBEAT_TIMEOUT}
#: Close code -> the leave reason it stands for (from the one table in protocol).
_LEAVE_REASONS: dict[int, str] = {
    int(code): reason
    for reason, code in CLOSE_CODES.items()
    if reason in {r.value for r in LeaveReason}
}

Log = logging.Logger | logging.LoggerAdapter[logging.Logger]


class Connection(Protocol):
    """What the session needs of a WebSocket. ``recv`` raises
    ``websockets.exceptions.ConnectionClosed`` (or ``OSError``) when it drops."""

    async def send(self, message: str) -> None: ...

    async def recv(self) -> str | bytes: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


#: ``open_connection(rtc_url) -> Connection``; inject one for tests or proxies.
OpenConnection = Callable[[str], Awaitable[Connection]]


async def websocket_connection(url: str) -> Connection:
    """The default :data:`OpenConnection`: the ``websockets`` asyncio client
    (proxies from the environment; keepalive is the session's own heartbeat)."""
    return await connect(
        url,
        max_size=MAX_SERVER_FRAME,  # the same cap decode_server applies
        open_timeout=10,
        ping_interval=None,
        close_timeout=2,
        user_agent_header=CLIENT_NAME,
    )


#: How often a first join answered ``unavailable`` is tried again.
OPEN_RETRIES = 4
#: ``wrong_node`` redirects followed within one connection attempt (a cluster
#: needs one; more than a few means its nodes disagree, for now).
MAX_REDIRECTS = 3
_WS_SCHEMES = frozenset({"ws", "wss"})

#: ``resolve() -> rtc_url``: where to start again when the current node is gone.
Resolve = Callable[[], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Back-off between resume attempts: ``initial_delay_s`` doubling up to a cap,
    each delay shortened by up to ``jitter`` (a fraction), and no new attempt once
    ``give_up_after_s`` have passed since the drop.

    The cap is ``fast_max_delay_s`` for the first ``fast_for_s`` seconds after the
    drop and ``max_delay_s`` after that. Why two: in a cluster, a dead node's
    meetings are taken over once its lease runs out (about 3 s), and a client must
    be back within 5 s of the kill. Delays 0.1, 0.2, 0.4, 0.8, 1, 1 ... s put an
    attempt at most 1 s after the takeover (about 4 s after the kill), where the
    old single 5 s cap tried at 3.1 s and next at 6.3 s. An outage still going after
    ``fast_for_s`` is not a takeover (a restart of everything, a network gone), so
    the attempts thin out to one per 2.5-5 s rather than keep a crowd of clients
    knocking every second."""

    initial_delay_s: float = 0.1
    max_delay_s: float = 5.0
    give_up_after_s: float = 60.0
    jitter: float = 0.5
    fast_max_delay_s: float = 1.0
    fast_for_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0 < self.initial_delay_s <= self.max_delay_s:
            raise ValidationFailed("need 0 < initial_delay_s <= max_delay_s")
        if self.give_up_after_s < 0 or not 0 <= self.jitter < 1:
            raise ValidationFailed("need give_up_after_s >= 0 and 0 <= jitter < 1")
        if self.fast_max_delay_s <= 0 or self.fast_for_s < 0:
            raise ValidationFailed("need fast_max_delay_s > 0 and fast_for_s >= 0")

    def delay(self, attempt: int, elapsed: float = 0.0) -> float:
        """The pause before attempt ``attempt + 1``, ``elapsed`` seconds after the drop."""
        cap = self.max_delay_s
        if elapsed < self.fast_for_s:
            cap = min(cap, self.fast_max_delay_s)
        base = min(cap, self.initial_delay_s * 2.0 ** min(attempt, 30))
        spread: float = self.jitter * random.random()  # noqa: S311 - not a secret
        return base * (1 - spread)


class SessionHandler(Protocol):
    def _on_welcome(self, welcome: dict[str, Any]) -> None: ...

    def _on_event(self, msg: dict[str, Any]) -> None: ...

    def _on_frame(self, msg: dict[str, Any]) -> None: ...

    def _on_reconnecting(self) -> None: ...

    def _on_end(self, reason: str, error: FrontdeskError) -> None: ...


@dataclass(slots=True)
class _Pending:
    type: str
    fields: dict[str, Any]
    future: asyncio.Future[dict[str, Any]]
    retry: bool
    generation: int = 0  # the connection it was sent on (0: not sent yet)


@dataclass(frozen=True, slots=True)
class _Outcome:
    final: bool
    reason: str = "connection_lost"
    error: FrontdeskError | None = None


_DROPPED = _Outcome(final=False)


def _new_ref() -> str:
    return uuid.uuid4().hex[:16]


def _close_code(exc: ConnectionClosed) -> int:
    return exc.rcvd.code if exc.rcvd is not None else 1006


def error_for_close(code: int) -> FrontdeskError:
    """The error a 4000-range close code stands for, when no frame said more."""
    reason = _LEAVE_REASONS.get(code)
    if reason is not None:
        return session_ended(reason)
    if code == CloseCode.REPLACED:
        return Conflict("the session was resumed on another connection")
    err_code = CLOSE_ERRORS.get(code)  # type: ignore[call-overload]
    if err_code is not None:  # the same choice as the browser SDK's (protocol.js)
        return error_for_code(err_code, f"the server closed the connection ({code})")
    return ProtocolError(f"the server closed the connection ({code})")


def reason_of(error: FrontdeskError) -> str:
    return error.reason if isinstance(error, SessionEnded) else error.code


def redirect_target(error: WrongNode, current: str) -> str:
    """The ``rtc_url`` a ``wrong_node`` answer (received at ``current``) points at.
    Only ``ws://`` and ``wss://`` URLs are followed, and never from ``wss://`` to
    ``ws://`` (the next hello carries a token): anything else is a
    ``ProtocolError``. An answer without one is ``Unavailable`` (the next attempt
    starts from home)."""
    target = error.extra.get("rtc_url")
    if not target:
        raise Unavailable("the node does not host the meeting and did not say which does")
    try:
        parts = urlsplit(str(target))
        host = parts.hostname
    except ValueError:
        raise ProtocolError("the server redirected to something that is not a URL") from None
    if parts.scheme not in _WS_SCHEMES or not host:
        raise ProtocolError(
            f"the server redirected to a {parts.scheme or 'relative'}: URL;"
            " only ws:// and wss:// URLs are followed"
        )
    if parts.scheme == "ws" and current.startswith("wss:"):
        raise ProtocolError("the server redirected from wss:// to ws://; not followed")
    return str(target)


@dataclass
class Session:
    """One participant session: a connection at a time, resumed after drops."""

    rtc_url: str
    auth: dict[str, Any] = field(repr=False)
    handler: SessionHandler = field(repr=False)
    open_connection: OpenConnection = websocket_connection
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    request_timeout: float | None = 30.0
    handshake_timeout: float = 10.0
    log: Log = field(default_factory=lambda: logging.getLogger(__name__), repr=False)
    #: Where to start again after a failed attempt (``None``: ``rtc_url`` as given).
    resolve: Resolve | None = field(default=None, repr=False)

    last_seq: int = field(default=0, init=False)
    finished: bool = field(default=False, init=False)
    end_error: FrontdeskError | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._ws: Connection | None = None
        self._connected = False
        self._generation = 0
        self._pending: dict[str, _Pending] = {}
        self._resume_token: str | None = None
        self._heartbeat_s = 15.0
        self._task: asyncio.Task[None] | None = None
        self._unsolicited_error: FrontdeskError | None = None
        self.ended = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self._connected

    # --- opening ----------------------------------------------------------------
    async def open(self) -> None:
        """Connect and authenticate; raises the typed error if the server refuses.

        ``unavailable`` (the node or its database is busy, or the connection
        failed) is retried with the reconnect policy's back-off, from home again,
        at most ``OPEN_RETRIES`` times and never past ``give_up_after_s``.
        ``wrong_node`` redirects are followed at once."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.reconnect.give_up_after_s
        attempt = 0
        while True:
            try:
                ws, welcome = await self._connect(self.auth, rehome=attempt > 0)
                break
            except Unavailable as err:
                delay = self.reconnect.delay(attempt, loop.time() - started)
                attempt += 1
                if attempt > OPEN_RETRIES or loop.time() + delay > deadline:
                    raise
                self.log.info("join attempt %d unavailable (%s); retrying", attempt, err.detail)
                await asyncio.sleep(delay)
        await self._attach(ws, welcome, resumed=False)
        self._task = asyncio.create_task(self._run(), name="frontdesk-session")

    async def _connect(
        self, auth: dict[str, Any], *, rehome: bool
    ) -> tuple[Connection, dict[str, Any]]:
        """One attempt: a handshake at the current URL (or at home, ``rehome``),
        following up to :data:`MAX_REDIRECTS` ``wrong_node`` answers at once. The
        URL that welcomed the session becomes the current one."""
        url = await self._home() if rehome else self.rtc_url
        tried = [url]
        while True:
            try:
                ws, welcome = await self._handshake(url, auth)
            except WrongNode as err:
                target = redirect_target(err, url)
                if len(tried) > MAX_REDIRECTS:
                    raise TooManyRedirects(
                        f"redirected {MAX_REDIRECTS} times and still not at the meeting's node",
                        rtc_urls=[*tried, target],
                    ) from None
                self.log.info("the meeting is hosted at %s: following the redirect", target)
                tried.append(target)
                url = target
                continue
            if url != self.rtc_url:
                self.log.info("connected to %s (was %s)", url, self.rtc_url)
                self.rtc_url = url
            return ws, welcome

    async def _home(self) -> str:
        """Where the meeting is hosted, found again (the current URL if that fails)."""
        if self.resolve is None:
            return self.rtc_url
        try:
            return await self.resolve()
        except FrontdeskError as err:
            self.log.info("cannot find the meeting's node again (%s): %s", err.code, err.detail)
            return self.rtc_url

    async def _handshake(self, url: str, auth: dict[str, Any]) -> tuple[Connection, dict[str, Any]]:
        try:
            ws = await self.open_connection(url)
        except FrontdeskError:
            raise
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise Unavailable(f"the rtc endpoint answered HTTP {status}") from exc
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise Unavailable(f"cannot connect to the rtc endpoint: {type(exc).__name__}") from exc
        try:
            hello = encode(
                "hello", v=PROTOCOL_VERSION, auth=auth, client=CLIENT_NAME, ref=_new_ref()
            )
            await ws.send(hello)
            msg = decode_server(await asyncio.wait_for(ws.recv(), self.handshake_timeout))
        except ConnectionClosed as exc:
            code = _close_code(exc)
            if 4000 <= code < 5000 and code not in _RESUMABLE_4000:
                raise error_for_close(code) from None
            raise Unavailable(f"the connection closed during the handshake ({code})") from None
        except (OSError, TimeoutError) as exc:
            await _close_quietly(ws)
            raise Unavailable(f"no welcome from the server ({type(exc).__name__})") from exc
        except FrontdeskError:
            await _close_quietly(ws)
            raise
        kind = msg["type"]
        if kind == "welcome":
            if msg["v"] != PROTOCOL_VERSION:
                await _close_quietly(ws)
                raise UnsupportedVersion(f"the server speaks protocol version {msg['v']}")
            return ws, msg
        await _close_quietly(ws)
        if kind == "error":
            extra = {"rtc_url": msg["rtc_url"]} if msg.get("rtc_url") else {}
            raise error_for_code(str(msg["code"]), str(msg["message"]), **extra)
        if kind == "bye":
            raise session_ended(str(msg["reason"]))
        raise ProtocolError(f"expected welcome, got {kind!r}")

    async def _attach(self, ws: Connection, welcome: dict[str, Any], *, resumed: bool) -> None:
        self._ws = ws
        self._generation += 1
        self._resume_token = str(welcome["resume_token"])
        self._heartbeat_s = max(0.05, float(welcome["heartbeat_s"]))
        if not resumed:
            snapshot_seq = welcome["snapshot"].get("last_seq")
            if isinstance(snapshot_seq, int):
                self.last_seq = max(self.last_seq, snapshot_seq)
        self._unsolicited_error = None
        self.handler._on_welcome(welcome)
        self._connected = True
        for ref, pending in list(self._pending.items()):
            if pending.generation and not pending.retry:
                self._pending.pop(ref, None)
                lost = f"the connection dropped before {pending.type} was answered"
                _fail(pending, Unavailable(lost))
            elif pending.generation != self._generation:
                await self._send_pending(ref, pending)

    # --- the loop ---------------------------------------------------------------
    async def _run(self) -> None:
        try:
            while True:
                outcome = await self._pump()
                if outcome.final:
                    self._finish(outcome.reason, outcome.error)
                    return
                if not await self._resume():
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must not leave the user waiting forever
            self.log.exception("session loop failed")
            self._finish("connection_lost", Unavailable(f"session loop failed: {exc!r}"))
        finally:
            self._connected = False
            if self._ws is not None:
                await _close_quietly(self._ws)

    async def _pump(self) -> _Outcome:
        ws = self._ws
        assert ws is not None
        pinger = asyncio.create_task(self._ping_loop(ws), name="frontdesk-heartbeat")
        try:
            while True:
                try:
                    raw = await asyncio.wait_for(ws.recv(), 2 * self._heartbeat_s)
                except TimeoutError:
                    silence = 2 * self._heartbeat_s
                    self.log.warning("no frame for %.1fs: connection presumed dead", silence)
                    _abort(ws)
                    return _DROPPED
                except ConnectionClosed as exc:
                    return self._after_close(_close_code(exc))
                except OSError:
                    _abort(ws)
                    return _DROPPED
                try:
                    msg = decode_server(raw)
                except FrontdeskError as err:
                    self.log.warning("ignoring a malformed server frame: %s", err.detail)
                    continue
                outcome = self._dispatch(msg)
                if outcome is not None:
                    return outcome
        finally:
            self._connected = False
            pinger.cancel()
            await _close_quietly(ws)

    def _after_close(self, code: int) -> _Outcome:
        if 4000 <= code < 5000 and code not in _RESUMABLE_4000:
            said = self._unsolicited_error
            error = said if said and CLOSE_CODES.get(said.code) == code else error_for_close(code)
            return _Outcome(final=True, reason=reason_of(error), error=error)
        self.log.info("connection closed (%d): resuming", code)
        return _DROPPED

    def _dispatch(self, msg: dict[str, Any]) -> _Outcome | None:
        kind = msg["type"]
        if kind == "event":
            seq = msg["seq"]
            if seq <= self.last_seq:
                self.log.debug("dropping event %d: already seen (last %d)", seq, self.last_seq)
                return None
            self.last_seq = seq
            self.handler._on_event(msg)
        elif kind in ("ok", "error") and msg.get("ref") in self._pending:
            pending = self._pending.pop(msg["ref"])
            if kind == "ok":
                if not pending.future.done():
                    pending.future.set_result(msg.get("result") or {})
            else:
                _fail(pending, error_for_code(str(msg["code"]), str(msg["message"])))
        elif kind == "error":
            extra = {"rtc_url": msg["rtc_url"]} if msg.get("rtc_url") else {}
            error = error_for_code(str(msg["code"]), str(msg["message"]), **extra)
            self._unsolicited_error = error
            if isinstance(error, WrongNode):  # the room moved: resume where it went
                self.log.info("the meeting moved to another node: %s", error.detail)
                with contextlib.suppress(FrontdeskError):
                    self.rtc_url = redirect_target(error, self.rtc_url)
                return None
            self.log.warning("server error %s: %s", error.code, error.detail)
            self.handler._on_frame(msg)
        elif kind == "bye":
            reason = str(msg["reason"])
            return _Outcome(final=True, reason=reason, error=session_ended(reason))
        elif kind == "pong":
            fresh = msg.get("resume_token")
            if isinstance(fresh, str) and fresh:
                self._resume_token = fresh  # the next resume spends this one
            return None
        elif kind in ("ping", "ok"):
            return None
        else:
            self.handler._on_frame(msg)
        return None

    async def _ping_loop(self, ws: Connection) -> None:
        with contextlib.suppress(ConnectionClosed, OSError):
            while True:
                await asyncio.sleep(self._heartbeat_s)
                await ws.send(encode("ping"))

    async def _resume(self) -> bool:
        """Reconnect until resumed (``True``) or given up / refused (``False``)."""
        self.handler._on_reconnecting()
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.reconnect.give_up_after_s
        attempt = 0
        rehome = False  # the first attempt goes to the current node (it may redirect)
        while True:
            delay = self.reconnect.delay(attempt, loop.time() - started)
            attempt += 1
            if loop.time() + delay > deadline:
                self._finish("connection_lost", session_ended("connection_lost"))
                return False
            await asyncio.sleep(delay)
            auth = {"kind": "resume", "token": self._resume_token, "last_seq": self.last_seq}
            try:
                ws, welcome = await self._connect(auth, rehome=rehome)
            except Unavailable as err:
                self.log.info("resume attempt %d failed: %s", attempt, err.detail)
                rehome = True  # that node is gone or busy: find the meeting's node again
                continue
            except FrontdeskError as err:
                self.log.warning("resume refused: %s", err.code)
                self._finish(reason_of(err), err)
                return False
            self.log.info("resumed after %d attempt(s) from seq %d", attempt, self.last_seq)
            await self._attach(ws, welcome, resumed=True)
            return True

    # --- requests ---------------------------------------------------------------
    async def request(
        self, type_: str, fields: dict[str, Any], *, retry: bool = False
    ) -> dict[str, Any]:
        """Send a request and return the ``result`` of its ``ok`` answer. While the
        session resumes, the request waits; ``retry=True`` re-sends it after a drop."""
        if self.finished:
            raise self.end_error or session_ended("left")
        ref = _new_ref()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        pending = _Pending(type_, fields, future, retry)
        self._pending[ref] = pending
        try:
            if self._connected:
                await self._send_pending(ref, pending)
            return await asyncio.wait_for(future, self.request_timeout)
        except TimeoutError:
            raise Unavailable(f"no answer to {type_} within {self.request_timeout}s") from None
        finally:
            self._pending.pop(ref, None)

    async def _send_pending(self, ref: str, pending: _Pending) -> None:
        ws = self._ws
        if ws is None:
            return
        try:
            await ws.send(encode(pending.type, ref=ref, **pending.fields))
        except (ConnectionClosed, OSError):
            return  # the reader notices the drop; the request goes out after resuming
        pending.generation = self._generation

    async def send_frame(self, type_: str, fields: dict[str, Any]) -> None:
        """Send a frame that gets no answer (lost if the connection is down)."""
        if self._ws is not None and self._connected:
            with contextlib.suppress(ConnectionClosed, OSError):
                await self._ws.send(encode(type_, **fields))

    # --- ending -----------------------------------------------------------------
    def _finish(self, reason: str, error: FrontdeskError | None) -> None:
        if self.finished:
            return
        self.finished = True
        self._connected = False
        self.end_error = error or session_ended(reason)
        for pending in list(self._pending.values()):
            _fail(pending, self.end_error)
        self._pending.clear()
        self.log.info("session ended: %s", reason)
        try:
            self.handler._on_end(reason, self.end_error)
        finally:
            self.ended.set()

    async def close(self, *, leave: bool = True, leave_timeout: float = 5.0) -> None:
        """Leave the meeting (when connected) and stop; idempotent."""
        if leave and not self.finished and self._connected:
            with contextlib.suppress(FrontdeskError, TimeoutError):
                await asyncio.wait_for(self.request("leave", {}), leave_timeout)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ended.wait(), 1.0)
        self._finish("left", None)
        task = self._task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._ws is not None:
            await _close_quietly(self._ws)


def _fail(pending: _Pending, error: FrontdeskError) -> None:
    if not pending.future.done():
        pending.future.set_exception(error)


def _abort(ws: Connection) -> None:
    """Drop a dead connection at once (no closing handshake to wait for)."""
    transport = getattr(ws, "transport", None)
    if transport is not None:
        with contextlib.suppress(Exception):
            transport.abort()


async def _close_quietly(ws: Connection) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(), 2.0)
