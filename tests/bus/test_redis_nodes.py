"""Two RedisBus "nodes" on one Redis: hints cross, the directory lists both,
and a node that stops announcing (cut off, crashed) drops out after its TTL."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis

from frontdesk.bus import ALL_MEETINGS, Bus, NodeInfo, RedisBus, meeting_channel
from tests.bus.conftest import TTL_S, Inbox, MakeBus, wait_for
from tests.support.live_server import free_port
from tests.support.redis_server import scratch_prefix
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.redis


def me(
    bus: Bus, url: str = "http://10.0.0.1:8080", load: int = 0, draining: bool = False
) -> NodeInfo:
    return NodeInfo(bus.node_id, bus.instance, url, load=load, draining=draining)


async def test_a_hint_crosses_from_one_node_to_the_other(make_redis_bus: MakeBus) -> None:
    a = await make_redis_bus(node_id="a")
    b = await make_redis_bus(node_id="b")
    on_a, on_b = Inbox(), Inbox()
    await a.subscribe(meeting_channel("m_1"), on_a)
    await b.subscribe(ALL_MEETINGS, on_b)
    a.publish(meeting_channel("m_1"), {"seq": 1})
    b.publish(meeting_channel("m_1"), {"seq": 2})
    assert [(await on_b.next())[1]["seq"] for _ in range(2)] in ([1, 2], [2, 1])
    assert sorted([(await on_a.next())[1]["seq"] for _ in range(2)]) == [1, 2]
    assert a.dropped_publishes == b.dropped_publishes == 0


async def test_unsubscribing_on_one_node_leaves_the_other(make_redis_bus: MakeBus) -> None:
    a = await make_redis_bus()
    b = await make_redis_bus()
    on_a, on_b = Inbox(), Inbox()
    sub_a = await a.subscribe(meeting_channel("m_1"), on_a)
    await b.subscribe(meeting_channel("m_1"), on_b)
    await sub_a.close()
    a.publish(meeting_channel("m_1"), {"n": 1})
    assert (await on_b.next())[1] == {"n": 1}
    await on_a.nothing()


async def test_prefixes_keep_clusters_apart(redis_url: str, make_redis_bus: MakeBus) -> None:
    """Two deployments on one Redis (FRONTDESK_REDIS_PREFIX) hear nothing of each other,
    even with a prefix full of glob characters."""
    a = await make_redis_bus()
    async with scratch_prefix(redis_url) as base:
        other = RedisBus(redis_url, prefix=base + "[x]*?\\:", node_ttl_s=TTL_S)
        await other.start()
        try:
            on_a, on_other = Inbox(), Inbox()
            await a.subscribe(ALL_MEETINGS, on_a)
            await other.subscribe(ALL_MEETINGS, on_other)
            await other.announce(me(other))
            other.publish(meeting_channel("m_1"), {"from": "other"})
            assert await on_other.next() == ("meeting:m_1", {"from": "other"})
            await on_a.nothing()
            assert await a.nodes() == []
            assert [n.instance for n in await other.nodes()] == [other.instance]
        finally:
            await other.close()


async def test_the_directory_lists_every_node(make_redis_bus: MakeBus) -> None:
    a = await make_redis_bus(node_id="a")
    b = await make_redis_bus(node_id="b")
    await a.announce(me(a, url="http://a:8080", load=2))
    await b.announce(me(b, url="http://b:8080", draining=True))
    listed = await a.nodes()
    assert [(n.node_id, n.url, n.load, n.draining) for n in listed] == [
        ("a", "http://a:8080", 2, False),
        ("b", "http://b:8080", 0, True),
    ]
    assert [n.instance for n in await b.nodes()] == [n.instance for n in listed]
    await b.withdraw()
    assert [n.node_id for n in await a.nodes()] == ["a"]


async def test_a_restarted_node_is_a_new_instance(make_redis_bus: MakeBus) -> None:
    old = await make_redis_bus(node_id="a")
    await old.announce(me(old))
    await old.close()
    new = await make_redis_bus(node_id="a")
    await new.announce(me(new))
    assert [n.instance for n in await new.nodes()] == [new.instance]
    assert new.instance != old.instance


async def test_a_node_that_stops_announcing_drops_out_after_its_ttl(
    redis_url: str, prefix: str, make_redis_bus: MakeBus
) -> None:
    """Node b reaches Redis through a proxy; cutting the proxy is b crashing, as far
    as the others can tell: its entry is not refreshed and expires."""
    a = await make_redis_bus(node_id="a")
    target = urlsplit(redis_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    try:
        via_proxy = target._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()
        b = await make_redis_bus(node_id="b", url=via_proxy)
        await a.announce(me(a))
        await b.announce(me(b))
        assert [n.node_id for n in await a.nodes()] == ["a", "b"]
        await asyncio.sleep(1.5 * TTL_S)  # b keeps announcing: still there
        assert [n.node_id for n in await a.nodes()] == ["a", "b"]
        await proxy.stop()
        t0 = time.monotonic()
        took = await wait_for_nodes(a, ["a"], timeout=3 * TTL_S)
        assert took <= TTL_S + 0.5, took
        # Refreshed every ttl/3: its last refresh was at most ttl/3 before the cut.
        assert time.monotonic() - t0 >= TTL_S / 2
    finally:
        await proxy.stop()


async def wait_for_nodes(bus: Bus, node_ids: list[str], timeout: float) -> float:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    while [n.node_id for n in await bus.nodes()] != node_ids:
        if loop.time() - t0 > timeout:
            raise AssertionError(f"nodes not {node_ids} within {timeout} s")
        await asyncio.sleep(0.05)
    return loop.time() - t0


async def test_the_directory_is_two_keys_that_tidy_themselves(
    redis_url: str, prefix: str, make_redis_bus: MakeBus
) -> None:
    a = await make_redis_bus(node_id="a")
    await a.announce(me(a))
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = sorted([k.decode() async for k in client.scan_iter(match=prefix + "*")])
        assert keys == [prefix + "nodes", prefix + "nodes:expiry"]
        entry = json.loads(await client.hget(prefix + "nodes", a.instance))
        assert entry["instance"] == a.instance and entry["url"] == "http://10.0.0.1:8080"
        assert 0 < await client.pttl(prefix + "nodes") <= 60_000
        await client.hset(prefix + "nodes", "junk", b"{not json")
        await client.zadd(prefix + "nodes:expiry", {"junk": 1e15})
        assert [n.instance for n in await a.nodes()] == [a.instance]  # junk ignored
        await client.hdel(prefix + "nodes", "junk")
        await client.zrem(prefix + "nodes:expiry", "junk")
        await a.withdraw()
        assert await client.exists(prefix + "nodes", prefix + "nodes:expiry") == 0
    finally:
        await client.aclose()


async def test_messages_on_the_wire_are_prefixed_json(
    redis_url: str, prefix: str, make_redis_bus: MakeBus
) -> None:
    """What another implementation (or an operator with redis-cli) sees."""
    a = await make_redis_bus()
    client = aioredis.Redis.from_url(redis_url)
    ps = client.pubsub()
    try:
        await ps.subscribe(prefix + "meeting:m_1")
        assert (await ps.get_message(timeout=2))["type"] == "subscribe"
        a.publish(meeting_channel("m_1"), {"seq": 3, "name": "Zoë"})
        msg = await ps.get_message(timeout=2)
        assert msg is not None and json.loads(msg["data"]) == {"seq": 3, "name": "Zoë"}
        inbox = Inbox()
        await a.subscribe(meeting_channel("m_1"), inbox)
        await client.publish(prefix + "meeting:m_1", b"not json")
        await client.publish(prefix + "meeting:m_1", b"[1]")
        await client.publish(prefix + "meeting:m_1", b'{"ok": true}')
        assert await inbox.next() == ("meeting:m_1", {"ok": True})
    finally:
        await ps.aclose()
        await client.aclose()


async def test_a_bus_that_never_reached_redis_starts_degraded(
    make_redis_bus: MakeBus,
) -> None:
    t0 = time.monotonic()
    bus = await make_redis_bus(url=f"redis://127.0.0.1:{free_port()}/0")
    assert time.monotonic() - t0 < 3
    assert not bus.healthy and bus.state == "degraded"
    bus.publish(meeting_channel("m_1"), {"n": 1})
    assert bus.dropped_publishes == 1
    inbox = Inbox()
    await bus.subscribe(meeting_channel("m_1"), inbox)  # returns; takes effect later
    await bus.announce(me(bus))
    assert [n.instance for n in await bus.nodes()] == [bus.instance]
    await wait_for(lambda: not bus.healthy, 0.1, "still degraded")
