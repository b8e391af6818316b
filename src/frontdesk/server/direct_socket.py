"""Frames written straight to a client's socket, below the ASGI send chain.

Starlette's ``WebSocket.send`` passes every frame through about ten middleware
coroutines to uvicorn, which writes it to the transport at once: one ``write``
system call per frame, the largest single cost of fan-out. On uvicorn's
``websockets-sansio`` protocol (what ``frontdesk serve`` runs) a connection
instead puts its frames into the protocol's own websockets ``ServerProtocol``
buffer, and a :class:`TurnWriter` writes what each connection buffered over a
few event loop turns (:data:`FLUSH_TURNS`) in one ``transport.write``. That
buffer is the one uvicorn drains for its own pongs and close frames, so every
frame keeps its place before a close.

A frame is byte for byte what websockets would send. A connection without an
extension (no ``permessage-deflate``) shares one framed copy of an event with
every other recipient of it; with compression, each connection compresses its
own copy, as its compressor's state is its own.

Backpressure stays with the caller (:class:`~frontdesk.server.rtc.RtcConnection`):
:meth:`DirectSocket.put` refuses a frame while uvicorn says the transport is
full (its ``writable`` flag), exactly when Starlette's send would wait.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

__all__ = ["ASGI_SEND", "DirectSocket", "SocketGone", "TurnWriter", "text_frame"]

#: Scope key under which the app keeps the ASGI server's own ``send`` for a
#: WebSocket (set outermost, before any middleware wraps it).
ASGI_SEND = "frontdesk.asgi_send"

_HEAD_2 = struct.Struct("!BBH")
_HEAD_8 = struct.Struct("!BBQ")
_FIN_TEXT = 0x81

_last_text: str | None = None
_last_frame = b""


class SocketGone(Exception):
    """The client's socket is closed or closing: nothing more can be sent."""


def text_frame(text: str) -> bytes:
    """``text`` as one unmasked, final text frame (RFC 6455 5.2), as a server
    sends it. The last one is kept: every recipient of an event gets the same
    ``str`` object, so it is encoded and framed once."""
    global _last_text, _last_frame
    if text is _last_text:
        return _last_frame
    payload = text.encode()
    n = len(payload)
    if n < 126:
        head = bytes((_FIN_TEXT, n))
    elif n < 65536:
        head = _HEAD_2.pack(_FIN_TEXT, 126, n)
    else:
        head = _HEAD_8.pack(_FIN_TEXT, 127, n)
    frame = head + payload
    _last_text, _last_frame = text, frame
    return frame


#: Loop turns a buffered frame waits for company before it is written. A
#: command's events are delivered when its write is stored; its caller's task
#: wakes (through the shielded future) and sends the ``ok`` two turns later:
#: waiting that long puts the sender's own event and its ``ok`` in one write.
FLUSH_TURNS = 3


class TurnWriter:
    """Writes, once every :data:`FLUSH_TURNS` event loop turns, what each socket
    buffered meanwhile."""

    __slots__ = ("_dirty", "_loop", "_turns")

    def __init__(self) -> None:
        self._dirty: list[DirectSocket] = []
        self._turns = 0  # 0: nothing scheduled
        self._loop: asyncio.AbstractEventLoop | None = None

    def mark(self, sock: DirectSocket) -> None:
        self._dirty.append(sock)
        if not self._turns:
            self._turns = 1
            self._loop = loop = asyncio.get_running_loop()
            loop.call_soon(self._turn)

    def _turn(self) -> None:
        if self._turns < FLUSH_TURNS:
            self._turns += 1
            assert self._loop is not None
            self._loop.call_soon(self._turn)
            return
        self._turns = 0
        dirty, self._dirty = self._dirty, []
        for sock in dirty:
            sock.flush()


class DirectSocket:
    """One uvicorn ``websockets-sansio`` connection, written without the ASGI
    send chain (see the module's docstring)."""

    __slots__ = ("_conn", "_dirty", "_plain", "_proto", "_transport", "_turn")

    def __init__(self, proto: WebSocketsSansIOProtocol, turn: TurnWriter) -> None:
        self._proto = proto
        self._conn = proto.conn
        self._transport = proto.transport
        self._turn = turn
        self._dirty = False
        # Extensions are negotiated in the handshake, before the app runs.
        self._plain = not self._conn.extensions

    @classmethod
    def of(cls, scope: Any, turn: TurnWriter) -> DirectSocket | None:
        """The direct socket under a WebSocket's ``scope``; ``None`` when the
        ASGI server is not uvicorn's ``websockets-sansio`` protocol."""
        send = scope.get(ASGI_SEND) if isinstance(scope, dict) else None
        proto = getattr(send, "__self__", None)
        if not isinstance(proto, WebSocketsSansIOProtocol) or proto.transport is None:
            return None
        return cls(proto, turn)

    @property
    def compressed(self) -> bool:
        return not self._plain

    def put(self, text: str) -> bool:
        """Buffer ``text`` for this loop turn's write; ``False`` (nothing taken)
        while the transport pushes back. Raises :class:`SocketGone`."""
        proto = self._proto
        if proto.disconnected or proto.close_sent:
            raise SocketGone
        if not proto.writable.is_set():
            return False
        conn = self._conn
        if conn.state is not State.OPEN:
            raise SocketGone
        if self._plain:
            conn.writes.append(text_frame(text))
        else:
            conn.send_text(text.encode())  # this connection's compressor
        if not self._dirty:
            self._dirty = True
            self._turn.mark(self)
        return True

    def flush(self) -> None:
        """Write what is buffered, in one ``write`` (a close sent through the
        ASGI chain calls this first, and uvicorn's own writes drain it too)."""
        self._dirty = False
        data = self._conn.data_to_send()
        if data and not self._transport.is_closing():
            self._transport.write(b"".join(data))

    async def wait_writable(self) -> None:
        """Until the transport takes data again (or the connection is lost)."""
        await self._proto.writable.wait()
