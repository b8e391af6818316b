"""Join time and chat round trip on loopback, against a real node.

    .venv/bin/python bench/rtc.py [--joins 200] [--chats 200]

Join time: guest token in hand → ``welcome`` (joined, policy ``direct``... via
token with lobby bypass) over a fresh WebSocket. Chat round trip: ``chat`` sent →
the ``ok`` carrying the stored message (stored before acknowledged) and, for the
other participant, the ``chat_message`` event. Prints percentiles and the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.service_api import machine
from tests.support.live_server import live_server
from websockets.asyncio.client import connect

from frontdesk.config import Settings
from frontdesk.domain.model import LobbyBypass


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def report(name: str, ms: list[float]) -> None:
    print(
        f"{name:<28} n={len(ms):<4} median={statistics.median(ms):7.2f} ms  "
        f"p90={pct(ms, 90):7.2f}  p99={pct(ms, 99):7.2f}  max={max(ms):7.2f}"
    )


async def hello(url: str, auth: dict) -> tuple[object, dict]:
    ws = await connect(url)
    await ws.send(json.dumps({"type": "hello", "v": 1, "auth": auth}))
    return ws, json.loads(await ws.recv())


async def main(joins: int, chats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp}/bench.db")
        async with live_server(settings) as srv:
            ops = srv.app.state.ops
            url = srv.base_url.replace("http://", "ws://") + "/v1/rtc"
            await ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
            m = await ops.meetings.create(
                subject="bench", organizer="alice", lobby_bypass=LobbyBypass.TOKEN_HOLDERS
            )
            join_ms: list[float] = []
            for i in range(joins):
                grant = await ops.guest_tokens.mint(m.id, display_name=f"Guest {i}")
                t0 = time.perf_counter()
                ws, welcome = await hello(url, {"kind": "token", "token": grant.token})
                join_ms.append((time.perf_counter() - t0) * 1000)
                assert welcome["type"] == "welcome" and welcome["state"] == "joined", welcome
                await ws.send(json.dumps({"type": "leave"}))
                await ws.close()

            m2 = await ops.meetings.create(
                subject="chat", organizer="alice", lobby_bypass=LobbyBypass.TOKEN_HOLDERS
            )
            a_grant = await ops.guest_tokens.mint(m2.id, display_name="A")
            b_grant = await ops.guest_tokens.mint(m2.id, display_name="B")
            a, _ = await hello(url, {"kind": "token", "token": a_grant.token})
            b, _ = await hello(url, {"kind": "token", "token": b_grant.token})

            async def keepalive() -> None:  # the protocol's heartbeat (every heartbeat_s)
                while True:
                    await asyncio.sleep(5)
                    for ws in (a, b):
                        await ws.send(json.dumps({"type": "ping"}))

            pinger = asyncio.create_task(keepalive())
            ack_ms: list[float] = []
            peer_ms: list[float] = []
            for i in range(chats):
                t0 = time.perf_counter()
                await a.send(
                    json.dumps(
                        {"type": "chat", "id": f"c{i}", "text": f"hello {i}", "ref": f"r{i}"}
                    )
                )

                async def until_ack(i: int = i, t0: float = t0) -> None:
                    while True:
                        msg = json.loads(await a.recv())
                        if msg["type"] == "error":
                            raise RuntimeError(msg)
                        if msg["type"] == "ok" and msg.get("ref") == f"r{i}":
                            ack_ms.append((time.perf_counter() - t0) * 1000)
                            return

                async def until_peer(i: int = i, t0: float = t0) -> None:
                    while True:
                        msg = json.loads(await b.recv())
                        if (
                            msg["type"] == "event"
                            and msg["name"] == "chat_message"
                            and msg["data"]["client_msg_id"] == f"c{i}"
                        ):
                            peer_ms.append((time.perf_counter() - t0) * 1000)
                            return

                await asyncio.gather(until_ack(), until_peer())
                await asyncio.sleep(0.06)  # stay under the per-connection limit (20 msg/s)
            pinger.cancel()
            await a.close()
            await b.close()
            writer = srv.app.state.live.writer
    print(f"{machine()}; SQLite (WAL) in a temp dir; client and node in one process on 127.0.0.1")
    report("join (token → welcome)", join_ms)
    report("chat → ack (stored)", ack_ms)
    report("chat → other participant", peer_ms)
    print(f"event writer: {writer.records} events in {writer.batches} transactions")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--joins", type=int, default=200)
    ap.add_argument("--chats", type=int, default=200)
    args = ap.parse_args()
    asyncio.run(main(args.joins, args.chats))
