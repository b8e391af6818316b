"""In-process costs of the fan-out path, without sockets (steady, on a noisy box).

    PYTHONPATH=src .venv/bin/python bench/fanout_micro.py [--people 100]

- ``Room.handle(SendChat)`` in a meeting of ``--people`` (µs per chat);
- ``event_frame`` of a chat event (µs per event);
- ``RtcConnection.send`` of one frame to each of ``--people`` connections
  whose socket send completes at once (as uvicorn's does while the transport
  takes data), until every frame reached its socket (µs per delivery).
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


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=100)
    asyncio.run(main(ap.parse_args().people))
