"""The RTC WebSocket endpoint (``/v1/rtc``): a thin adapter between frames and
the meeting core. It authenticates the first message, then turns each client
message into a domain command (or a relayed WebRTC signal) and answers with
``ok`` / ``error``. Delivery of events is done by :mod:`frontdesk.server.live`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from frontdesk.domain import commands as cmd
from frontdesk.domain.participants import SessionState
from frontdesk.errors import (
    FrontdeskError,
    IllegalState,
    LimitExceeded,
    PermissionDenied,
    ProtocolError,
    RateLimited,
)
from frontdesk.protocol import PROTOCOL_VERSION, decode_client, encode, urls
from frontdesk.protocol import messages as m
from frontdesk.protocol.codes import CloseCode, close_code_for
from frontdesk.protocol.events import chat_to_wire, event_frame, event_from_record
from frontdesk.server.admission import GuestAdmission
from frontdesk.server.direct_socket import DirectSocket, SocketGone, TurnWriter
from frontdesk.server.live import LiveMeetings, LiveRoom, chat_tail, wire_snapshot
from frontdesk.server.operations import Operations
from frontdesk.server.ratelimit import TokenBucket
from frontdesk.tokens import (
    issue_resume_token,
)

if TYPE_CHECKING:  # the SFU is imported only when Janus is configured
    from frontdesk.server.sfu.meetings import SfuMeetings

__all__ = ["RtcConnection", "install"]

log = logging.getLogger(__name__)
HELLO_TIMEOUT_S = 10.0
OUTBOX_LIMIT = 2000  # frames queued for a slow client before it is cut off
MAX_STRIKES = 20  # limit or protocol errors within STRIKE_WINDOW_S before a client is cut off
STRIKE_WINDOW_S = 10.0


class _ConnLog(logging.LoggerAdapter[logging.Logger]):
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = self.extra or {}
        return f"[{extra.get('meeting')}/{extra.get('participant')}] {msg}", kwargs


class RtcConnection:
    """One client socket. A frame is taken at once (no queue, no task): on
    uvicorn's ``websockets-sansio`` protocol it goes into the socket's buffer,
    written with the connection's other frames of the next few loop turns in
    one system call (:mod:`frontdesk.server.direct_socket`); elsewhere the ASGI send
    completes without suspending while the transport takes data. Only when
    the transport pushes back (its buffer is full) do frames wait, in a
    bounded backlog drained by a task until the transport takes data again; a
    client that lets :data:`OUTBOX_LIMIT` frames pile up is cut off, so a slow
    client never blocks a room."""

    __slots__ = (
        "_backlog",
        "_closing",
        "_direct",
        "_flusher",
        "_ws_send",
        "last_state",
        "participant_id",
        "reply_before_close",
        "resume_token_at",
        "ws",
    )

    def __init__(self, ws: WebSocket, turn: TurnWriter | None = None) -> None:
        self.ws = ws
        self._ws_send = ws.send
        #: The socket below the ASGI send chain, when the server offers it.
        self._direct = DirectSocket.of(ws.scope, turn) if turn is not None else None
        self.participant_id = ""
        self.last_state: SessionState | None = None
        #: Frames waiting while the transport pushes back (``None``: it does not);
        #: a ``(code, reason)`` item is the close, the last item ever queued.
        self._backlog: deque[str | tuple[int, str]] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False
        # The ``ok`` to a leave/end request: sent before the bye that the same
        # request causes, so the client's request does not hang.
        self.reply_before_close: str | None = None
        #: When this connection was last handed a resume token (monotonic).
        self.resume_token_at = 0.0

    def send(self, frame: str) -> None:
        if self._closing:
            return
        backlog = self._backlog
        if backlog is not None and len(backlog) >= OUTBOX_LIMIT:
            log.warning("client too slow (%d frames queued); disconnecting", OUTBOX_LIMIT)
            self.close(1013, "too slow; resume")
            return
        self._push(frame)

    def close(self, code: int, reason: str) -> None:
        if self._closing:
            return
        if self.reply_before_close is not None:
            self._push(self.reply_before_close)
            self.reply_before_close = None
        self._closing = True
        self._push((code, reason[:120]))

    def end_session(self, bye: str, code: int, reason: str) -> None:
        if self._closing:
            return
        if self.reply_before_close is not None:
            self._push(self.reply_before_close)
            self.reply_before_close = None
        self._push(bye)
        self.close(code, reason)

    @property
    def closing(self) -> bool:
        return self._closing

    def _push(self, item: str | tuple[int, str]) -> None:
        if self._backlog is not None:  # behind frames the transport has not taken
            self._backlog.append(item)
            return
        direct = self._direct
        if direct is not None:
            if isinstance(item, str):
                try:
                    if direct.put(item):
                        return
                except SocketGone:  # the reader notices
                    self._closing = True
                    return
                # The transport pushed back: this frame and every later one wait.
                self._backlog = deque((item,))
                self._flusher = asyncio.get_running_loop().create_task(self._drain(direct))
                return
            direct.flush()  # the close goes out after every frame taken before it
        coro = self._write(item)
        try:
            # Run the send up to its first suspension: with a transport that
            # takes data, it completes here and now.
            waiting = coro.send(None)
        except StopIteration:
            return
        except Exception:  # the socket went away; the reader notices
            self._closing = True
            return
        # The transport pushed back: that send and every later frame go on in a task.
        self._backlog = deque()
        self._flusher = asyncio.get_running_loop().create_task(self._flush(coro, waiting))

    def _write(self, item: str | tuple[int, str]) -> Coroutine[Any, Any, None]:
        if isinstance(item, tuple):
            return self._close_ws(item[0], item[1])
        return self._ws_send({"type": "websocket.send", "text": item})

    async def _close_ws(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close(code, reason)

    async def _flush(self, coro: Coroutine[Any, Any, None], waiting: Any) -> None:
        """Finish the send that was suspended, then the backlog, in order."""
        backlog = self._backlog
        assert backlog is not None
        try:
            await _resume(coro, waiting)
            while backlog:
                item = backlog.popleft()
                await self._write(item)
                if isinstance(item, tuple):
                    return
            self._backlog = None  # caught up: write directly again
        except Exception:  # the socket went away; the reader notices
            self._closing = True

    async def _drain(self, direct: DirectSocket) -> None:
        """Write the backlog straight to the socket, in order, each frame once
        the transport takes data again; the close (always last) through ASGI."""
        backlog = self._backlog
        assert backlog is not None
        try:
            while backlog:
                item = backlog[0]
                if isinstance(item, tuple):
                    backlog.clear()
                    direct.flush()
                    await self._close_ws(item[0], item[1])
                    return
                if not direct.put(item):
                    await direct.wait_writable()
                    continue
                backlog.popleft()
                direct.flush()  # written now: the transport says at once if it is full
            self._backlog = None  # caught up: frames are taken directly again
        except SocketGone:  # the reader notices
            self._closing = True

    async def finish(self) -> None:
        """Flush what is queued (bounded), then stop the flusher."""
        if not self._closing:
            self.close(1000, "")
        flusher = self._flusher
        if flusher is not None:
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(flusher), 2.0)
            flusher.cancel()


async def _resume(coro: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Drive ``coro``, started by hand and suspended on ``waiting`` (what it
    yielded: a future, or ``None`` for a bare yield), to its end."""
    try:
        while True:
            if waiting is None:
                await asyncio.sleep(0)
            else:
                # As a task does with what its coroutine yields: mark the future
                # as taken over, then wait for it (its outcome reaches ``coro``).
                waiting._asyncio_future_blocking = False
                with contextlib.suppress(Exception):
                    await waiting
            try:
                waiting = coro.send(None)
            except StopIteration:
                return
    finally:
        coro.close()  # no-op once finished; cancelled: unwinds it


@dataclass
class _Session:
    lr: LiveRoom
    pid: str


class RtcEndpoint:
    def __init__(self, ops: Operations, live: LiveMeetings, sfu: SfuMeetings | None = None) -> None:
        self.ops = ops
        self.live = live
        self.sfu = sfu
        self.settings = ops.settings
        self.admission = GuestAdmission(ops, live)
        self.turn = TurnWriter()

    # --- connection lifecycle -----------------------------------------------------------
    async def serve(self, ws: WebSocket) -> None:
        await ws.accept()
        conn = RtcConnection(ws, self.turn)
        session: _Session | None = None
        try:
            session = await self._hello(ws, conn)
            if session is not None:
                await self._loop(ws, conn, session)
        except WebSocketDisconnect:
            pass
        finally:
            if session is not None:
                await self.live.detach(session.lr, conn)
            await conn.finish()

    async def _hello(self, ws: WebSocket, conn: RtcConnection) -> _Session | None:
        try:
            async with asyncio.timeout(HELLO_TIMEOUT_S):  # no extra task, unlike wait_for
                raw = await _receive(ws)
            if raw is None:
                return None
            msg = decode_client(raw)
            if not isinstance(msg, m.Hello):
                raise ProtocolError("the first message must be hello")
            return await self._authenticate(msg, conn, ws)
        except TimeoutError:
            self._fail(conn, ProtocolError("no hello within 10 s"), None)
        except FrontdeskError as err:
            ref = None
            self._fail(conn, err, ref)
        return None

    def _fail(self, conn: RtcConnection, err: FrontdeskError, ref: str | None) -> None:
        conn.send(error_frame(err, ref))
        conn.close(int(close_code_for(err.code)), err.code)

    async def _authenticate(
        self, hello: m.Hello, conn: RtcConnection, ws: WebSocket
    ) -> _Session | None:
        if hello.auth.kind == "resume":
            return await self._resume(hello, conn)

        def on_joined(lr: LiveRoom, pid: str) -> None:
            conn.participant_id = pid
            self.live.attach(lr, conn)
            conn.last_state = lr.room.participant(pid).state
            conn.send(self._welcome(lr, pid, conn, resumed=False, ref=hello.ref))
            if self.sfu is not None:
                self.sfu.greet(lr, pid, conn)

        admitted = await self.admission.admit(
            hello.auth,
            origin=ws.headers.get("origin"),
            address=ws.client.host if ws.client is not None else None,
            on_joined=on_joined,
        )
        return _Session(admitted.room, admitted.participant_id)

    async def _resume(self, hello: m.Hello, conn: RtcConnection) -> _Session | None:
        last_seq = hello.auth.last_seq

        async def on_resumed(lr: LiveRoom, pid: str) -> None:
            conn.participant_id = pid
            p = lr.room.participant(pid)
            if p.state is SessionState.LEFT:
                reason = p.left_reason.value if p.left_reason else "left"
                code = int(close_code_for(reason))
                conn.end_session(encode("bye", reason=reason, code=code), code, reason)
                return
            if p.state is SessionState.RECONNECTING:
                await self.live.run_locked(lr, cmd.Reconnect(pid))
            old = self.live.attach(lr, conn)
            if old is not None:
                old.close(int(CloseCode.REPLACED), "resumed on another connection")
            conn.last_state = lr.room.participant(pid).state
            conn.send(self._welcome(lr, pid, conn, resumed=True, ref=hello.ref))
            if self.sfu is not None:
                self.sfu.greet(lr, pid, conn)
            missed = await self.ops.meeting_log.events_since(lr.meeting_id, last_seq)
            for rec in missed:
                event = event_from_record(rec.seq, rec.type, rec.at, rec.data)
                if pid in event.to:
                    conn.send(event_frame(event))

        admitted = await self.admission.resume(hello.auth, on_resumed=on_resumed)
        if conn.closing:
            return None
        return _Session(admitted.room, admitted.participant_id)

    def _resume_token(self, lr: LiveRoom, pid: str, conn: RtcConnection) -> str:
        """A fresh single-use resume token for ``pid`` (noted on the connection, so
        a pong hands out the next one in time)."""
        token, _ = issue_resume_token(
            self.ops.keys.ring,
            issuer=self.ops.issuer,
            meeting_id=lr.meeting_id,
            participant_id=pid,
            ttl_s=self.settings.resume_token_ttl_s,
            now=self.ops.clock(),
            app_id=lr.guest_apps.get(pid),
        )
        conn.resume_token_at = time.monotonic()
        return token

    def _welcome(
        self, lr: LiveRoom, pid: str, conn: RtcConnection, *, resumed: bool, ref: str | None
    ) -> str:
        token = self._resume_token(lr, pid, conn)
        p = lr.room.participant(pid)
        return encode(
            "welcome",
            v=PROTOCOL_VERSION,
            ref=ref,
            participant_id=pid,
            resume_token=token,
            state=p.state.value,
            snapshot=wire_snapshot(lr, pid),
            heartbeat_s=self.settings.heartbeat_s,
            resumed=resumed,
            ice_servers=self.ops.guest_tokens.ice_servers(pid),
        )

    # --- the message loop ----------------------------------------------------------------
    async def _loop(self, ws: WebSocket, conn: RtcConnection, s: _Session) -> None:
        rate = self.settings.ws_messages_per_s
        bucket = TokenBucket(rate, rate * 2, time.monotonic())
        strikes: deque[float] = deque()  # when this client last broke a limit
        idle_limit = self.settings.heartbeat_s * 3 + 5
        clog = _ConnLog(log, {"meeting": s.lr.meeting_id, "participant": s.pid})
        while not conn.closing:
            try:
                async with asyncio.timeout(idle_limit):  # no task per message, unlike wait_for
                    raw = await _receive(ws)
            except TimeoutError:
                clog.info("no message for %.0f s; closing", idle_limit)
                conn.close(int(CloseCode.HEARTBEAT_TIMEOUT), "heartbeat timeout")
                return
            if raw is None:
                return
            ref: str | None = None
            try:
                wait = bucket.take(time.monotonic())
                if wait > 0:
                    raise RateLimited(f"more than {rate:g} messages per second", retry_after=wait)
                msg = decode_client(raw)
                ref = msg.ref
                result = await self._dispatch(conn, s, msg)
                if result is not None:
                    conn.send(encode("ok", ref=ref, result=result or None))
            except FrontdeskError as err:
                if ref is None:
                    ref = _ref_of(raw)
                conn.send(error_frame(err, ref))
                # Only abuse counts (over a limit, malformed), and only recent abuse:
                # an ordinary refusal, such as losing an admit race, never does.
                if isinstance(err, RateLimited | ProtocolError | LimitExceeded):
                    now = time.monotonic()
                    strikes.append(now)
                    while strikes and strikes[0] < now - STRIKE_WINDOW_S:
                        strikes.popleft()
                    if len(strikes) > MAX_STRIKES:
                        clog.warning("closing an abusive connection (%s)", err.code)
                        conn.close(int(close_code_for(err.code)), err.code)
                        return

    async def _dispatch(
        self, conn: RtcConnection, s: _Session, msg: m.ClientMessage
    ) -> dict[str, Any] | None:
        lr, pid, live = s.lr, s.pid, self.live
        match msg:
            case m.Chat(id=cid, text=text):
                await live.execute(lr, cmd.SendChat(pid, cid, text))
                stored = lr.room.find_chat(pid, cid)
                if stored is None:  # pragma: no cover - the domain stored it or raised
                    raise ProtocolError("message not stored")
                return {"message": chat_to_wire(stored)}
            case m.Whisper(id=wid, text=text):
                await live.execute(lr, cmd.Whisper(pid, wid, text))
                whisper = lr.room.find_whisper(pid, wid)
                if whisper is None:  # pragma: no cover - the domain stored it or raised
                    raise ProtocolError("whisper not stored")
                return {"message": chat_to_wire(whisper)}
            case m.Barge():
                await live.execute(lr, cmd.Barge(pid))
            case m.Typing(typing=typing):
                await live.execute(lr, cmd.Typing(pid, typing))
                return None
            case m.Media(audio_muted=a, video_muted=v, hand_raised=h, screen_sharing=screen):
                await live.execute(lr, cmd.SetMedia(pid, a, v, h, screen))
            case m.Admit(participant_id=target):
                await live.execute(lr, cmd.Admit(pid, target))
            case m.Deny(participant_id=target):
                await live.execute(lr, cmd.Deny(pid, target))
            case m.Mute(participant_id=target):
                await live.execute(lr, cmd.MuteParticipant(pid, target))
            case m.Remove(participant_id=target):
                await live.execute(lr, cmd.Remove(pid, target))
            case m.End() | m.Leave():
                conn.reply_before_close = encode("ok", ref=msg.ref)
                try:
                    command = cmd.EndMeeting(pid) if isinstance(msg, m.End) else cmd.Leave(pid)
                    await live.execute(lr, command)
                finally:
                    conn.reply_before_close = None
                return None
            case m.Signal(to=target, kind=kind, data=data):
                if not lr.room.can_signal(pid, target):
                    raise PermissionDenied("both sides must be in the meeting to signal")
                peer = lr.conns.get(target)
                if peer is None:
                    raise PermissionDenied("that participant is not connected")
                peer.send(encode("signal", **{"from": pid, "kind": kind, "data": data}))
                return None
            case m.History(before_seq=before, limit=limit):
                page, older = lr.room.chat_history(pid, before, limit)
                messages, cut = chat_tail(page, limit)
                return {"messages": [chat_to_wire(c) for c in messages], "more": cut or older}
            case m.Ping():
                fresh = None
                if time.monotonic() - conn.resume_token_at > self.settings.resume_token_ttl_s / 2:
                    fresh = self._resume_token(lr, pid, conn)
                conn.send(encode("pong", ref=msg.ref, resume_token=fresh))
                return None
            case (
                m.SfuPublish()
                | m.SfuSubscribe()
                | m.SfuAnswer()
                | m.SfuTrickle()
                | m.SfuUnsubscribe()
                | m.SfuLayer()
            ):
                if self.sfu is None:
                    raise IllegalState("this node has no SFU: media is a mesh")
                return await self.sfu.handle(lr, pid, msg)
            case m.Hello():
                raise ProtocolError("already authenticated")
        return {}


def error_frame(err: FrontdeskError, ref: str | None) -> str:
    """The ``error`` answer; a rate limit says when to try again, a redirect where."""
    retry = err.extra.get("retry_after")
    rtc_url = err.extra.get("rtc_url")
    return encode(
        "error",
        ref=ref,
        code=err.code,
        message=err.detail,
        retry_after=round(float(retry), 3) if retry is not None else None,
        rtc_url=str(rtc_url) if rtc_url is not None else None,
    )


async def _receive(ws: WebSocket) -> str | None:
    """The next text frame; ``None`` when the client went away."""
    if ws.client_state is not WebSocketState.CONNECTED:
        return None
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    if text is None:
        data = message.get("bytes") or b""
        try:
            return bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            return "\x00"  # rejected by the decoder as not JSON
    return str(text)


def _ref_of(raw: str) -> str | None:
    try:
        ref = json.loads(raw).get("ref")  # frames are capped by the server's ws_max_size
    except (ValueError, AttributeError, RecursionError):
        return None
    return ref if isinstance(ref, str) and len(ref) <= 64 else None


def install(app: FastAPI, endpoint_factory: Any = None) -> None:
    """Add ``/v1/rtc`` to ``app``; the endpoint is built at start-up."""

    @app.websocket(urls.RTC_PATH)
    async def rtc(ws: WebSocket) -> None:
        endpoint: RtcEndpoint = ws.app.state.rtc
        await endpoint.serve(ws)
