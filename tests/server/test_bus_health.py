"""The node and its bus: ready with or without Redis, and saying which.

A node whose Redis goes away keeps serving; ``/readyz`` stays 200 and says the
bus is degraded (nodes poll the database meanwhile), and the metrics show it.
The Redis here is a redis-server of the test's own, killed and started again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from frontdesk.bus import LocalBus, RedisBus
from frontdesk.config import Settings
from tests.server.conftest import Harness
from tests.support.live_server import LiveServer, live_server
from tests.support.redis_server import RedisProcess, redis_server_binary_or_skip


async def test_a_node_without_redis_has_an_in_process_bus(harness: Harness) -> None:
    assert isinstance(harness.app.state.bus, LocalBus)
    ready = await harness.http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["bus"] == "ok"
    nodes = await harness.app.state.bus.nodes()
    assert [(n.node_id, n.url) for n in nodes] == [("node-1", "http://frontdesk.test")]
    metrics = (await harness.http.get("/metrics")).text
    assert "frontdesk_bus_healthy 1.0" in metrics
    assert "frontdesk_bus_dropped_publishes_total 0.0" in metrics


@pytest.fixture
async def redis_process(tmp_path: Path) -> AsyncIterator[RedisProcess]:
    proc = RedisProcess(redis_server_binary_or_skip(), tmp_path)
    await proc.start()
    try:
        yield proc
    finally:
        await proc.kill()


@pytest.fixture
async def node(tmp_path: Path, redis_process: RedisProcess) -> AsyncIterator[LiveServer]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db",
        redis_url=redis_process.url,
        redis_prefix="fdtest:",
        node_id="node-a",
        node_url="http://10.1.2.3:8080/",
        node_ttl_s=1.0,
    )
    async with live_server(settings) as srv:
        yield srv


async def _readyz(http: httpx.AsyncClient) -> dict[str, object]:
    r = await http.get("/readyz")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _until(http: httpx.AsyncClient, bus: str, timeout: float = 5.0) -> float:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    while (await _readyz(http))["bus"] != bus:
        assert loop.time() - t0 < timeout, f"/readyz never said bus {bus!r}"
        await asyncio.sleep(0.05)
    return loop.time() - t0


@pytest.mark.redis
async def test_readyz_says_degraded_while_redis_is_away_and_stays_200(
    node: LiveServer, redis_process: RedisProcess
) -> None:
    bus = node.app.state.bus
    assert isinstance(bus, RedisBus)
    async with httpx.AsyncClient(base_url=node.base_url, timeout=5) as http:
        assert await _readyz(http) == {"status": "ready", "node_id": "node-a", "bus": "ok"}
        [me] = await bus.nodes()
        assert (me.node_id, me.url) == ("node-a", "http://10.1.2.3:8080")
        assert "frontdesk_bus_healthy 1.0" in (await http.get("/metrics")).text

        await redis_process.kill()
        took = await _until(http, "degraded (polling)")
        assert took < 2.5
        bus.publish("meeting:m_1", {"n": 1})  # nothing raises; counted
        metrics = (await http.get("/metrics")).text
        assert "frontdesk_bus_healthy 0.0" in metrics
        assert "frontdesk_bus_dropped_publishes_total 1.0" in metrics
        # The node serves on: the service API, discovery keys, health.
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/.well-known/jwks.json")).status_code == 200

        await redis_process.start()
        await _until(http, "ok")
        assert [n.node_id for n in await bus.nodes()] == ["node-a"]  # announced again
        assert "frontdesk_bus_healthy 1.0" in (await http.get("/metrics")).text


@pytest.mark.redis
async def test_a_node_is_in_the_directory_until_it_shuts_down(
    tmp_path: Path, redis_process: RedisProcess
) -> None:
    observer = RedisBus(redis_process.url, node_id="observer", prefix="fdtest:")
    await observer.start()
    try:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db",
            redis_url=redis_process.url,
            redis_prefix="fdtest:",
            node_id="node-b",
        )
        async with live_server(settings) as srv:
            [listed] = await observer.nodes()
            # No FRONTDESK_NODE_URL: the node is reached at its public URL.
            assert (listed.node_id, listed.url) == ("node-b", srv.base_url)
            assert listed.instance == srv.app.state.bus.instance
        assert await observer.nodes() == []  # withdrawn, not left to expire
    finally:
        await observer.close()
