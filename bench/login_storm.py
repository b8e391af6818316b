"""Event-loop lag while 30 bad sign-ins arrive at once, against a real node.

    .venv/bin/python bench/login_storm.py [--n 30]

The node runs in this process's event loop (127.0.0.1, SQLite in a temp dir), so
a 5 ms timer on that loop measures the stall every WebSocket of the node feels.
``--n`` clients, each from its own loopback source address (127.0.0.10...),
send one wrong password for the same user at the same moment (the worst case for
CPU: a fresh address gets its guess checked). Meanwhile a probe sends
``GET /healthz`` every 10 ms. Prints the worst loop lag, the /healthz round
trips, one Argon2 check's time and the answers by status.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from bench.service_api import machine
from tests.support.live_server import live_server

from frontdesk.config import Settings
from frontdesk.tokens import hash_secret, verify_secret


async def run(n: int) -> None:
    h = hash_secret("a password of some length")
    t0 = time.perf_counter()
    verify_secret(h, "wrong")
    check_ms = (time.perf_counter() - t0) * 1000
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp}/fd.db")
        async with live_server(settings) as node:
            await node.ops.accounts.create("alice", "Alice", "correct horse battery")
            clients = [
                httpx.AsyncClient(
                    base_url=node.base_url,
                    timeout=120,
                    transport=httpx.AsyncHTTPTransport(local_address=f"127.0.0.{10 + i}"),
                )
                for i in range(n)
            ]
            worst = 0.0
            done = asyncio.Event()

            async def watch() -> None:
                nonlocal worst
                loop = asyncio.get_running_loop()
                while not done.is_set():
                    t = loop.time()
                    await asyncio.sleep(0.005)
                    worst = max(worst, loop.time() - t - 0.005)

            async def probe() -> list[float]:
                rtts = []
                async with httpx.AsyncClient(base_url=node.base_url, timeout=120) as http:
                    while not done.is_set():
                        t = time.perf_counter()
                        await http.get("/healthz")
                        rtts.append((time.perf_counter() - t) * 1000)
                        await asyncio.sleep(0.01)
                return rtts

            watcher = asyncio.create_task(watch())
            prober = asyncio.create_task(probe())
            await asyncio.sleep(0.05)
            t0 = time.perf_counter()
            answers = await asyncio.gather(
                *(
                    c.post("/v1/session", json={"username": "alice", "password": "wrong"})
                    for c in clients
                ),
                return_exceptions=True,
            )
            elapsed = time.perf_counter() - t0
            done.set()
            rtts = await prober
            await watcher
            for c in clients:
                await c.aclose()
    statuses = collections.Counter(
        a.status_code if isinstance(a, httpx.Response) else type(a).__name__ for a in answers
    )
    rtts.sort()
    print(f"{n} concurrent bad sign-ins: all answered in {elapsed:.2f} s, {dict(statuses)}")
    print(f"worst event-loop lag      {worst * 1000:8.1f} ms")
    print(
        f"/healthz round trip       median {rtts[len(rtts) // 2]:.1f} ms, max {rtts[-1]:.1f} ms"
        f" ({len(rtts)} probes)"
    )
    print(f"one Argon2 check          {check_ms:8.1f} ms")
    print(f"{machine()}; client and node in one process on 127.0.0.1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(run(args.n))


if __name__ == "__main__":
    main()
