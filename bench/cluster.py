"""What a cluster costs and holds: ``frontdesk loadtest`` against 1, 2 and 3
nodes on PostgreSQL (each node its own ``frontdesk serve`` process behind a
balancer on 127.0.0.1), and against the embedded default (one node, SQLite).

    .venv/bin/python bench/cluster.py [--meetings 40] [--guests 2] [--rate 5] [--duration 10]

Needs PostgreSQL (``FRONTDESK_TEST_POSTGRES_URL``, default the local server's
``test`` database; a scratch schema is used and dropped). Every guest joins by
discovery, so its WebSocket goes to the meeting's host, not through the
balancer. All processes share this machine's cores with the load generator:
the figures say what coordination costs per join and per message, not how far
more machines would scale.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.service_api import machine
from tests.support.cluster import Node, cluster
from tests.support.live_server import free_port

from frontdesk.cli.loadtest import Results, _pct, run_loadtest

os.environ.setdefault(
    "FRONTDESK_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
RAISED = {"FRONTDESK_RATE_LIMIT_PER_MIN": "1000000"}


def line(name: str, r: Results) -> str:
    per_s = r.sent / r.elapsed_s if r.elapsed_s else 0.0
    deliveries = r.received / r.elapsed_s if r.elapsed_s else 0.0
    return (
        f"{name:<22} join p50 {_pct(r.join_ms, 50):6.1f} p99 {_pct(r.join_ms, 99):6.1f} ms | "
        f"ack p50 {_pct(r.ack_ms, 50):6.1f} p99 {_pct(r.ack_ms, 99):6.1f} ms | "
        f"delivery p50 {_pct(r.delivery_ms, 50):6.1f} p99 {_pct(r.delivery_ms, 99):6.1f} ms | "
        f"{per_s:6.0f} msg/s {deliveries:6.0f} deliveries/s | errors {r.errors or 'none'}"
    )


async def load(url: str, ops, args: argparse.Namespace) -> Results:  # type: ignore[no-untyped-def]
    creds = await ops.apps.create("bench")
    return await run_loadtest(
        url=url,
        client_id=creds.client_id,
        client_secret=creds.client_secret,
        organizer="alice",
        meetings=args.meetings,
        guests=args.guests,
        rate=args.rate,
        duration=args.duration,
    )


async def embedded(tmp: Path, args: argparse.Namespace) -> Results:
    """The embedded default: one ``frontdesk serve`` on SQLite."""
    from frontdesk.config import Settings
    from frontdesk.server.operations import Operations
    from frontdesk.store.sql import SqlStore

    port = free_port()
    db = f"sqlite+aiosqlite:///{tmp}/embedded.db"
    settings = Settings(database_url=db, public_url=f"http://127.0.0.1:{port}")
    store = await SqlStore.open(db)
    ops = Operations(settings, store)
    await ops.start()
    await ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
        | {
            "FRONTDESK_DATABASE_URL": db,
            "FRONTDESK_PORT": str(port),
            "FRONTDESK_LOG_LEVEL": "warning",
        }
        | RAISED
    )
    node = Node("embedded", port, env, tmp / "embedded.log")
    await node.start()
    try:
        return await load(settings.base_url, ops, args)
    finally:
        await node.kill()
        await store.close()


async def main(args: argparse.Namespace) -> None:
    print(f"machine: {machine()}")
    print(
        f"load: {args.meetings} meetings x {args.guests} guests, {args.rate:g} msg/s each, "
        f"{args.duration:g} s"
    )
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print(line("embedded (SQLite)", await embedded(tmp, args)))
        for size in (1, 2, 3):
            sub = tmp / f"c{size}"
            sub.mkdir()
            async with cluster(sub, size=size, env=RAISED) as c:
                r = await load(c.public_url, c.ops, args)
                print(line(f"{size} node(s), PostgreSQL", r))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--meetings", type=int, default=40)
    p.add_argument("--guests", type=int, default=2)
    p.add_argument("--rate", type=float, default=5.0)
    p.add_argument("--duration", type=float, default=10.0)
    asyncio.run(main(p.parse_args()))
