"""The cluster on Redis: placement by the node directory, service-API changes
reaching a meeting's host by a hint, and a Redis outage that degrades the
cluster (polling PostgreSQL, said on /readyz) without stopping anything."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from frontdesk.client import SessionState, join_with_token
from frontdesk.service_client import ServiceClient
from tests.cluster.test_routing import _discover, _grant, _hello
from tests.support.cluster import Cluster, Node, cluster
from tests.support.redis_server import RedisProcess, redis_server_binary_or_skip


async def _ready(node: Node) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        r = await http.get(node.base_url + "/readyz")
        assert r.status_code == 200, r.text
        return dict(r.json())


async def _until(pred, timeout: float = 10.0) -> float:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    async with asyncio.timeout(timeout):
        while not await pred():
            await asyncio.sleep(0.05)
    return time.monotonic() - t0


async def _ended_through_another_node(c: Cluster, via: Node) -> float:
    """A back end ends a meeting through a node that does not host it: seconds
    until the guest on the host hears the meeting ended."""
    creds = await c.ops.apps.create("back end")
    async with ServiceClient(via.base_url, creds.client_id, creds.client_secret) as svc:
        m = await svc.create_meeting(subject="Hints", organizer="alice", access_policy="direct")
        grant = await svc.create_guest_token(m.id, display_name="Ann")
        guest = await join_with_token(grant.discovery_uri, grant.token).connect()
        host = await c.owner_of(m.id)
        assert host is not None
        other = next(n for n in c.nodes if n is not host)
        async with ServiceClient(other.base_url, creds.client_id, creds.client_secret) as svc2:
            t0 = time.monotonic()
            await svc2.end_meeting(m.id)

        async def ended() -> bool:
            return guest.state is SessionState.LEFT

        await _until(ended, 20)
        return time.monotonic() - t0


async def test_placement_hints_and_a_redis_outage(tmp_path: Path) -> None:
    redis = RedisProcess(redis_server_binary_or_skip(), tmp_path)
    await redis.start()
    try:
        async with cluster(tmp_path, redis_url=redis.url) as c:
            assert [(await _ready(n))["bus"] for n in c.nodes] == ["ok"] * 3
            # Load node-1 with a few participants, then place a new meeting by
            # asking node-1: the directory sends it to an emptier node.
            meeting_id, _, _ = await _grant(c)
            n1 = c.nodes[0]
            sockets = []
            for i in range(4):
                g = await c.ops.guest_tokens.mint(meeting_id, display_name=f"G{i}")
                welcome, ws = await _hello(n1.rtc_url, {"kind": "token", "token": g.token})
                assert welcome["type"] == "welcome", welcome
                sockets.append(ws)
            _, token2, uri2 = await _grant(c)
            path = uri2.removeprefix(c.public_url)

            async def placed_elsewhere() -> bool:
                where = await _discover(n1.base_url + path, token2)
                return bool(where["node_id"] != "node-1")

            await _until(placed_elsewhere)  # once the directory has the new load
            for ws in sockets:
                await ws.close()

            # A service-API change on another node reaches the host by a hint,
            # well before its slow poll.
            hinted = await _ended_through_another_node(c, c.nodes[1])
            assert hinted < 5.0, hinted

            # Redis goes away: the nodes stay ready and say they are degraded.
            await redis.kill()

            async def degraded() -> bool:
                states = [(await _ready(n))["bus"] for n in c.nodes]
                return all(s == "degraded (polling)" for s in states)

            await _until(degraded)
            # Everything goes on, by polling PostgreSQL.
            polled = await _ended_through_another_node(c, c.nodes[2])
            assert polled < 3.0 + 5.0, polled
            # Redis is back: the nodes say so again.
            await redis.start()

            async def healthy() -> bool:
                return [(await _ready(n))["bus"] for n in c.nodes] == ["ok"] * 3

            await _until(healthy, 20)
            again = await _ended_through_another_node(c, c.nodes[0])
            assert again < 5.0, again
            print(
                f"service-API change reached the host: hinted {hinted:.2f} s, "
                f"polled {polled:.2f} s, after Redis came back {again:.2f} s"
            )
    finally:
        await redis.kill()
