"""RtcConnection: frames go out at once; only a transport that pushes back makes
them wait, in order, in a bounded backlog; the ``ok`` to a leave precedes its bye."""

from __future__ import annotations

import asyncio
from typing import Any

from frontdesk.server import rtc
from frontdesk.server.rtc import RtcConnection


class Socket:
    """A WebSocket whose send waits while ``writable`` is clear (a full transport)."""

    def __init__(self) -> None:
        self.out: list[Any] = []
        self.writable = asyncio.Event()
        self.writable.set()
        self.broken = False

    async def send(self, message: dict[str, Any]) -> None:
        await self.writable.wait()
        if self.broken:
            raise RuntimeError("gone")
        self.out.append(message["text"])

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        await self.writable.wait()
        self.out.append((code, reason))


def conn_on(sock: Socket) -> RtcConnection:
    return RtcConnection(sock)  # type: ignore[arg-type]


async def test_a_frame_goes_out_at_once_without_a_task() -> None:
    sock = Socket()
    conn = conn_on(sock)
    conn.send("a")
    conn.send("b")
    assert sock.out == ["a", "b"]  # no loop turn needed
    await conn.finish()
    assert sock.out == ["a", "b", (1000, "")]


async def test_pushback_queues_in_order_then_writes_directly_again() -> None:
    sock = Socket()
    conn = conn_on(sock)
    sock.writable.clear()
    for f in "abc":
        conn.send(f)
    await asyncio.sleep(0)
    assert sock.out == []
    sock.writable.set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert sock.out == ["a", "b", "c"]
    conn.send("d")
    assert sock.out == ["a", "b", "c", "d"]  # caught up: direct again
    assert not conn.closing


async def test_a_slow_client_is_cut_off(monkeypatch: Any) -> None:
    monkeypatch.setattr(rtc, "OUTBOX_LIMIT", 5)
    sock = Socket()
    conn = conn_on(sock)
    sock.writable.clear()
    for i in range(10):
        conn.send(str(i))
    assert conn.closing
    sock.writable.set()
    await conn.finish()
    # The first frame was in flight; five waited; then the close.
    assert sock.out == ["0", "1", "2", "3", "4", "5", (1013, "too slow; resume")]


async def test_the_reply_precedes_the_bye_and_the_close() -> None:
    sock = Socket()
    conn = conn_on(sock)
    sock.writable.clear()
    conn.send("event")
    conn.reply_before_close = "ok"
    conn.end_session("bye", 1000, "left")
    conn.send("late")  # after the close: dropped
    sock.writable.set()
    await conn.finish()
    assert sock.out == ["event", "ok", "bye", (1000, "left")]


async def test_a_broken_socket_marks_the_connection_closing() -> None:
    sock = Socket()
    conn = conn_on(sock)
    sock.broken = True
    conn.send("a")
    assert conn.closing
    sock.broken = False
    sock.writable.clear()
    conn2 = conn_on(sock)
    conn2.send("b")
    sock.broken = True
    sock.writable.set()
    await conn2.finish()
    assert conn2.closing and sock.out == []
