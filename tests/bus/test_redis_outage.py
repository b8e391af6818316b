"""Redis goes away and comes back; the nodes keep running throughout.

Each test runs a redis-server of its own (so it may kill it) and two RedisBus
"nodes" on it. No mocks: the server is killed (connections closed by the
kernel), or frozen with SIGSTOP (connections open but silent, as behind a
partition), and then started again on the same port.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from frontdesk.bus import ALL_MEETINGS, NodeInfo, RedisBus, meeting_channel
from tests.bus.conftest import TTL_S, Inbox, wait_for
from tests.support.redis_server import RedisProcess

pytestmark = pytest.mark.redis

#: "An outage is noticed within about a second or two."
NOTICE_S = 2.0


@dataclass
class Cluster:
    redis: RedisProcess
    a: RedisBus
    b: RedisBus
    resubscribed: dict[str, int]

    async def node_ids(self, bus: RedisBus) -> list[str]:
        return [n.node_id for n in await bus.nodes()]


@pytest.fixture
async def cluster(redis_process: RedisProcess) -> AsyncIterator[Cluster]:
    counts = {"a": 0, "b": 0}
    buses = []
    for name in ("a", "b"):
        bus = RedisBus(redis_process.url, node_id=name, prefix="fd:", node_ttl_s=TTL_S)
        await bus.start()
        buses.append(bus)

        async def catch_up(name: str = name) -> None:
            counts[name] += 1

        bus.on_resubscribed(catch_up)
        await bus.announce(NodeInfo(name, bus.instance, f"http://{name}:8080"))
    try:
        yield Cluster(redis_process, buses[0], buses[1], counts)
    finally:
        for bus in buses:
            await bus.close()


async def test_a_killed_redis_degrades_both_nodes_and_they_recover(cluster: Cluster) -> None:
    a, b = cluster.a, cluster.b
    on_b = Inbox()
    await b.subscribe(ALL_MEETINGS, on_b)
    a.publish(meeting_channel("m_1"), {"n": 1})
    assert (await on_b.next())[1] == {"n": 1}
    assert await cluster.node_ids(a) == ["a", "b"]

    await cluster.redis.kill()
    took = await wait_for(lambda: not a.healthy and not b.healthy, NOTICE_S, "degraded")
    assert a.state == b.state == "degraded", took

    # The node keeps answering, at once: publish drops (counted), the directory
    # answers from memory, subscribing and announcing are accepted for later.
    t0 = time.monotonic()
    dropped = a.dropped_publishes
    a.publish(meeting_channel("m_1"), {"n": 2})
    assert a.dropped_publishes == dropped + 1
    assert await cluster.node_ids(a) == ["a", "b"]  # b's entry has not expired yet
    on_a = Inbox()
    await a.subscribe(meeting_channel("m_2"), on_a)
    await a.announce(NodeInfo("a", a.instance, "http://a:8080", load=4))
    assert time.monotonic() - t0 < 0.5
    await asyncio.sleep(TTL_S)
    assert await cluster.node_ids(a) == ["a"]  # b's entry ran out: only itself
    assert (await a.nodes())[0].load == 4

    await cluster.redis.start()  # empty: nothing of before survived
    await wait_for(lambda: a.healthy and b.healthy, 5, "healthy again")
    await wait_for(lambda: cluster.resubscribed == {"a": 1, "b": 1}, 2, "on_resubscribed")
    # Both re-announced into the new, empty Redis.
    nodes = await a.nodes()
    assert [(n.node_id, n.load) for n in nodes] == [("a", 4), ("b", 0)]
    # Subscriptions made before and during the outage work again.
    a.publish(meeting_channel("m_1"), {"n": 3})
    assert (await on_b.next())[1] == {"n": 3}
    b.publish(meeting_channel("m_2"), {"n": 4})
    assert await on_a.next() == ("meeting:m_2", {"n": 4})


async def test_a_frozen_redis_is_noticed_by_the_pings(cluster: Cluster) -> None:
    """SIGSTOP: no connection closes; only unanswered PINGs tell."""
    a, b = cluster.a, cluster.b
    on_a = Inbox()
    await a.subscribe(meeting_channel("m_1"), on_a)
    cluster.redis.pause()
    try:
        took = await wait_for(lambda: not a.healthy and not b.healthy, NOTICE_S, "degraded")
        t0 = time.monotonic()
        b.publish(meeting_channel("m_1"), {"n": 1})
        # From memory, at once; a's entry (TTL 1 s) ran out while the PINGs waited.
        assert await cluster.node_ids(b) == ["b"]
        assert time.monotonic() - t0 < 0.2, took
    finally:
        cluster.redis.resume()
    await wait_for(lambda: a.healthy and b.healthy, 5, "healthy again")
    await wait_for(lambda: cluster.resubscribed == {"a": 1, "b": 1}, 2, "on_resubscribed")
    b.publish(meeting_channel("m_1"), {"n": 2})
    assert await on_a.next() == ("meeting:m_1", {"n": 2})


async def test_close_during_an_outage_is_prompt(cluster: Cluster) -> None:
    cluster.redis.pause()
    try:
        await wait_for(lambda: not cluster.a.healthy, NOTICE_S, "degraded")
        t0 = time.monotonic()
        await cluster.a.close()
        assert time.monotonic() - t0 < 0.5
    finally:
        cluster.redis.resume()


async def test_a_node_started_while_redis_is_down_joins_when_it_comes_up(
    redis_process: RedisProcess,
) -> None:
    await redis_process.kill()
    bus = RedisBus(redis_process.url, node_id="a", prefix="fd:", node_ttl_s=TTL_S)
    resubscribed = asyncio.Event()

    async def catch_up() -> None:
        resubscribed.set()

    bus.on_resubscribed(catch_up)
    t0 = time.monotonic()
    await bus.start()
    try:
        assert time.monotonic() - t0 < 1 and not bus.healthy
        inbox = Inbox()
        await bus.subscribe(meeting_channel("m_1"), inbox)
        await bus.announce(NodeInfo("a", bus.instance, "http://a:8080"))
        await redis_process.start()
        await asyncio.wait_for(resubscribed.wait(), 5)
        assert bus.healthy
        bus.publish(meeting_channel("m_1"), {"n": 1})
        assert (await inbox.next())[1] == {"n": 1}
        other = RedisBus(redis_process.url, node_id="b", prefix="fd:", node_ttl_s=TTL_S)
        await other.start()
        try:
            assert [n.node_id for n in await other.nodes()] == ["a"]
        finally:
            await other.close()
    finally:
        await bus.close()
