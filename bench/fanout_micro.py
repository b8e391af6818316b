"""In-process costs of the fan-out path, without sockets (steady, on a noisy box).

    PYTHONPATH=src .venv/bin/python bench/fanout_micro.py [--people 100]

- ``Room.handle(SendChat)`` in a meeting of ``--people`` (µs per chat);
- ``event_frame`` of a chat event (µs per event);
- ``RtcConnection.send`` of one frame to each of ``--people`` connections
  whose socket send completes at once (as uvicorn's does while the transport
  takes data), until every frame reached its socket (µs per delivery);
- the same through the node's whole ASGI app and uvicorn's ``websockets-sansio``
  protocol on a transport that only counts bytes (no system call): frames
  sent through Starlette's send chain, then written below it
  (``direct_socket``), with and without ``permessage-deflate``; CPU time
  (``time.process_time``) per delivery and ``write`` calls per delivery.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from frontdesk.domain import commands as cmd
from frontdesk.domain.live import Limits
from frontdesk.domain.model import AccessPolicy, Meeting
from frontdesk.domain.room import Room
from frontdesk.protocol.events import event_frame
from frontdesk.server.direct_socket import TurnWriter
from frontdesk.server.rtc import RtcConnection


class FakeSocket:
    """Just what ``RtcConnection`` uses of a Starlette WebSocket."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, message: dict[str, Any]) -> None:
        self.sent += 1

    async def send_text(self, text: str) -> None:
        self.sent += 1

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        pass


def best(fn: Any, n: int, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(n)
        times.append(time.perf_counter() - t0)
    return min(times) / n * 1e6


async def main(people: int) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    meeting = Meeting(
        id="m1",
        join_code="j",
        subject="bench",
        organizer="alice",
        created_at=now,
        access_policy=AccessPolicy.DIRECT,
    )
    room = Room(meeting, Limits(max_participants=people + 10, max_chat_messages=10**7))
    for i in range(people):
        room.handle(cmd.Join(f"p{i}", f"Guest {i}", "guest", "token"), now)
    counter = iter(range(10**9))

    def chats(n: int) -> None:
        for _ in range(n):
            k = next(counter)
            room.handle(cmd.SendChat(f"p{k % 4}", f"c{k}", "hello from the bench"), now)

    print(f"Room.handle(SendChat), {people} people: {best(chats, 2000):.1f} µs/chat")
    k = next(counter)
    (event,) = room.handle(cmd.SendChat("p1", f"c{k}", "hello from the bench"), now)
    print(
        f"event_frame(chat): {best(lambda n: [event_frame(event) for _ in range(n)], 5000):.1f} µs"
    )

    socks = [FakeSocket() for _ in range(people)]
    conns = [RtcConnection(s) for s in socks]  # type: ignore[arg-type]
    frame = event_frame(event)

    async def deliver(n: int) -> float:
        target = sum(s.sent for s in socks) + n * people
        t0 = time.perf_counter()
        for _ in range(n):
            for c in conns:
                c.send(frame)
            await asyncio.sleep(0)  # one loop turn per event, as between commands
        while sum(s.sent for s in socks) < target:
            await asyncio.sleep(0)
        return time.perf_counter() - t0

    results = [await deliver(2000) for _ in range(5)]
    print(
        f"RtcConnection.send, {people} connections: {min(results) / (2000 * people) * 1e6:.2f} µs/delivery"
    )
    for c in conns:
        await c.finish()

    for deflate in (False, True):
        for direct in (False, True):
            cost, writes = await through_uvicorn(people, frame, direct=direct, deflate=deflate)
            how = "below the chain, one write a turn" if direct else "Starlette send chain"
            print(
                f"uvicorn websockets-sansio, {people} connections, "
                f"deflate {'on' if deflate else 'off'}, {how}: "
                f"{cost:.2f} µs CPU/delivery, {writes:.2f} writes/delivery"
            )


class CountingTransport(asyncio.Transport):
    """Takes every write at once and only counts it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.closing = False

    def write(self, data: Any) -> None:
        self.writes += 1

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8080)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def through_uvicorn(
    people: int, frame: str, *, direct: bool, deflate: bool, events: int = 400
) -> tuple[float, float]:
    """``events`` frames to ``people`` connections of uvicorn's protocol running
    the node's app (its middleware stack, a WebSocket route that only holds the
    connection); returns CPU µs and transport writes per delivery."""
    import base64
    import os

    import uvicorn
    from fastapi import WebSocket
    from starlette.routing import WebSocketRoute
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from uvicorn.server import ServerState

    from frontdesk.config import Settings
    from frontdesk.server.app import create_app

    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    turn = TurnWriter() if direct else None
    conns: list[RtcConnection] = []
    hold = asyncio.Event()

    async def bench(ws: WebSocket) -> None:
        await ws.accept()
        conns.append(RtcConnection(ws, turn))
        await hold.wait()

    app.router.routes.insert(0, WebSocketRoute("/bench", bench))  # before the pages' routes
    config = uvicorn.Config(
        app, ws="websockets-sansio", ws_per_message_deflate=deflate, log_level="warning"
    )
    config.load()
    state = ServerState()
    transports = []
    for _ in range(people):
        proto = WebSocketsSansIOProtocol(config, state, {})
        t = CountingTransport()
        proto.connection_made(t)
        key = base64.b64encode(os.urandom(16)).decode()
        ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if deflate else ""
        proto.data_received(
            (
                f"GET /bench HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\n{ext}\r\n"
            ).encode()
        )
        transports.append(t)
    for _ in range(1000):
        if len(conns) == people:
            break
        await asyncio.sleep(0.001)
    else:
        raise SystemExit(f"{len(conns)} of {people} bench connections opened")
    for _ in range(10):
        await asyncio.sleep(0)
    w0 = sum(t.writes for t in transports)
    c0 = time.process_time()
    for _ in range(events):
        for c in conns:
            c.send(frame)
        await asyncio.sleep(0)  # one loop turn per event, as between commands
    await asyncio.sleep(0)
    c1 = time.process_time()
    writes = sum(t.writes for t in transports) - w0
    hold.set()  # every connection's app returns
    await asyncio.wait(list(state.tasks), timeout=5)
    n = events * people
    return (c1 - c0) / n * 1e6, writes / n


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=100)
    asyncio.run(main(ap.parse_args().people))
