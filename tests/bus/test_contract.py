"""What every bus does, in-process or over Redis: each test runs on both."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import pytest

from frontdesk.bus import (
    ALL_LOBBIES,
    ALL_MEETINGS,
    LocalBus,
    NodeInfo,
    lobby_channel,
    meeting_channel,
    open_bus,
)
from frontdesk.bus.base import redact_url
from tests.bus.conftest import TTL_S, Inbox, MakeBus


def me(bus: Any, **changes: Any) -> NodeInfo:
    fields: dict[str, Any] = {
        "node_id": bus.node_id,
        "instance": bus.instance,
        "url": "http://10.0.0.1:8080",
    }
    fields.update(changes)
    return NodeInfo(**fields)


async def test_a_started_bus_is_healthy(make_bus: MakeBus) -> None:
    bus = await make_bus(node_id="n1")
    assert bus.healthy and bus.state == "ok"
    assert bus.node_id == "n1" and bus.instance.startswith("n1-")


async def test_publish_reaches_a_subscriber_of_the_channel(make_bus: MakeBus) -> None:
    bus = await make_bus()
    inbox = Inbox()
    await bus.subscribe(meeting_channel("m_1"), inbox)
    bus.publish(meeting_channel("m_1"), {"seq": 7, "name": "Zoë"})
    assert await inbox.next() == ("meeting:m_1", {"seq": 7, "name": "Zoë"})


async def test_a_prefix_subscription_gets_every_channel_under_it(make_bus: MakeBus) -> None:
    bus = await make_bus()
    meetings, lobbies = Inbox(), Inbox()
    await bus.subscribe(ALL_MEETINGS, meetings)
    await bus.subscribe(ALL_LOBBIES, lobbies)
    bus.publish(meeting_channel("m_1"), {"n": 1})
    bus.publish(lobby_channel("alice"), {"n": 2})
    bus.publish(meeting_channel("m_2"), {"n": 3})
    assert await meetings.next() == ("meeting:m_1", {"n": 1})
    assert await meetings.next() == ("meeting:m_2", {"n": 3})
    assert await lobbies.next() == ("lobby:alice", {"n": 2})
    await meetings.nothing()


async def test_an_exact_and_a_prefix_subscriber_each_get_a_message_once(
    make_bus: MakeBus,
) -> None:
    bus = await make_bus()
    exact, every = Inbox(), Inbox()
    await bus.subscribe(meeting_channel("m_1"), exact)
    await bus.subscribe(ALL_MEETINGS, every)
    bus.publish(meeting_channel("m_1"), {"n": 1})
    assert (await exact.next())[1] == {"n": 1}
    assert (await every.next())[1] == {"n": 1}
    await exact.nothing()
    await every.nothing()


async def test_messages_arrive_in_publish_order(make_bus: MakeBus) -> None:
    bus = await make_bus()
    inbox = Inbox()
    await bus.subscribe(meeting_channel("m_1"), inbox)
    for i in range(200):
        bus.publish(meeting_channel("m_1"), {"i": i})
    assert [(await inbox.next())[1]["i"] for _ in range(200)] == list(range(200))


async def test_other_channels_are_not_delivered(make_bus: MakeBus) -> None:
    bus = await make_bus()
    inbox = Inbox()
    await bus.subscribe(meeting_channel("m_1"), inbox)
    bus.publish(meeting_channel("m_10"), {"n": 1})  # not a prefix match
    bus.publish(lobby_channel("m_1"), {"n": 2})
    await inbox.nothing()


async def test_each_subscriber_gets_its_own_copy(make_bus: MakeBus) -> None:
    bus = await make_bus()
    seen: list[dict[str, Any]] = []

    async def meddle(channel: str, message: dict[str, Any]) -> None:
        message["meddled"] = True
        seen.append(message)

    inbox = Inbox()
    await bus.subscribe(meeting_channel("m_1"), meddle)
    await bus.subscribe(meeting_channel("m_1"), inbox)
    original = {"n": 1}
    bus.publish(meeting_channel("m_1"), original)
    assert (await inbox.next())[1] in ({"n": 1}, {"n": 1, "meddled": True})
    await asyncio.sleep(0.05)
    assert seen == [{"n": 1, "meddled": True}]
    assert original == {"n": 1}  # the publisher's dict is never handed out


async def test_closing_a_subscription_stops_it_and_only_it(make_bus: MakeBus) -> None:
    bus = await make_bus()
    gone, stays = Inbox(), Inbox()
    sub = await bus.subscribe(meeting_channel("m_1"), gone)
    await bus.subscribe(meeting_channel("m_1"), stays)
    await sub.close()
    await sub.close()  # idempotent
    assert sub.closed
    bus.publish(meeting_channel("m_1"), {"n": 1})
    assert (await stays.next())[1] == {"n": 1}
    await gone.nothing()


async def test_a_subscription_is_an_async_context_manager(make_bus: MakeBus) -> None:
    bus = await make_bus()
    inbox = Inbox()
    async with await bus.subscribe(ALL_MEETINGS, inbox) as sub:
        bus.publish(meeting_channel("m_1"), {"n": 1})
        assert (await inbox.next())[1] == {"n": 1}
    assert sub.closed
    bus.publish(meeting_channel("m_1"), {"n": 2})
    await inbox.nothing()


async def test_resubscribing_after_the_last_subscriber_left_works(make_bus: MakeBus) -> None:
    bus = await make_bus()
    first = await bus.subscribe(meeting_channel("m_1"), Inbox())
    await first.close()
    inbox = Inbox()
    await bus.subscribe(meeting_channel("m_1"), inbox)
    bus.publish(meeting_channel("m_1"), {"n": 1})
    assert (await inbox.next())[1] == {"n": 1}


async def test_a_failing_callback_does_not_end_its_subscription(make_bus: MakeBus) -> None:
    bus = await make_bus()
    got: list[int] = []

    async def flaky(channel: str, message: dict[str, Any]) -> None:
        got.append(message["n"])
        if message["n"] == 1:
            raise RuntimeError("consumer bug")

    await bus.subscribe(meeting_channel("m_1"), flaky)
    bus.publish(meeting_channel("m_1"), {"n": 1})
    bus.publish(meeting_channel("m_1"), {"n": 2})
    for _ in range(100):
        if got == [1, 2]:
            break
        await asyncio.sleep(0.02)
    assert got == [1, 2]


async def test_a_callback_may_close_its_own_subscription(make_bus: MakeBus) -> None:
    bus = await make_bus()
    got: list[int] = []
    subs = []

    async def once(channel: str, message: dict[str, Any]) -> None:
        got.append(message["n"])
        await subs[0].close()

    subs.append(await bus.subscribe(meeting_channel("m_1"), once))
    bus.publish(meeting_channel("m_1"), {"n": 1})
    bus.publish(meeting_channel("m_1"), {"n": 2})
    await asyncio.sleep(0.3)
    assert got == [1] and subs[0].closed


async def test_a_slow_subscriber_does_not_hold_up_another(make_bus: MakeBus) -> None:
    bus = await make_bus()
    release = asyncio.Event()

    async def stuck(channel: str, message: dict[str, Any]) -> None:
        await release.wait()

    inbox = Inbox()
    await bus.subscribe(meeting_channel("m_1"), stuck)
    await bus.subscribe(meeting_channel("m_1"), inbox)
    bus.publish(meeting_channel("m_1"), {"n": 1})
    bus.publish(meeting_channel("m_1"), {"n": 2})
    assert [(await inbox.next())[1]["n"] for _ in range(2)] == [1, 2]
    release.set()


async def test_a_full_subscriber_queue_drops_and_counts(make_bus: MakeBus) -> None:
    bus = await make_bus(queue_size=2)
    entered, release = asyncio.Event(), asyncio.Event()
    got: list[int] = []

    async def stuck(channel: str, message: dict[str, Any]) -> None:
        entered.set()
        await release.wait()
        got.append(message["n"])

    await bus.subscribe(meeting_channel("m_1"), stuck)
    bus.publish(meeting_channel("m_1"), {"n": 0})
    await asyncio.wait_for(entered.wait(), 3)
    for n in range(1, 10):
        bus.publish(meeting_channel("m_1"), {"n": n})
    for _ in range(100):
        if bus.dropped_deliveries >= 7:
            break
        await asyncio.sleep(0.02)
    # One in the callback, two queued, the rest dropped.
    assert bus.dropped_deliveries == 7
    release.set()
    await asyncio.sleep(0.1)
    assert got == [0, 1, 2]


@pytest.mark.parametrize(
    "channel, message",
    [
        ("meeting:m_1", {"x": object()}),  # not JSON
        ("meeting:m_1", {"x": math.nan}),  # not strict JSON
        ("meeting:m_1", {"x": "\ud800"}),  # a lone surrogate
        ("meeting:m_1", ["not", "a", "dict"]),
        ("meeting:*", {"x": 1}),  # a pattern is not a channel
        ("", {"x": 1}),
    ],
)
async def test_publish_never_raises_and_counts_what_it_could_not_send(
    make_bus: MakeBus, channel: str, message: Any
) -> None:
    bus = await make_bus()
    inbox = Inbox()
    await bus.subscribe(ALL_MEETINGS, inbox)
    bus.publish(channel, message)
    assert bus.dropped_publishes == 1
    await inbox.nothing(0.1)


async def test_publish_after_close_is_dropped(make_bus: MakeBus) -> None:
    bus = await make_bus()
    await bus.close()
    assert not bus.healthy and bus.state == "degraded"
    bus.publish(meeting_channel("m_1"), {"n": 1})
    assert bus.dropped_publishes == 1


@pytest.mark.parametrize("pattern", ["", "meeting:*:x", "meeting:**", "bad\nname"])
async def test_subscribe_refuses_a_malformed_pattern(make_bus: MakeBus, pattern: str) -> None:
    bus = await make_bus()
    with pytest.raises(ValueError):
        await bus.subscribe(pattern, Inbox())


def test_channel_helpers_refuse_a_wildcard() -> None:
    with pytest.raises(ValueError):
        meeting_channel("m_*")
    with pytest.raises(ValueError):
        lobby_channel("")  # "lobby:" alone is fine as a prefix, but "" is no user
    assert lobby_channel("alice") == "lobby:alice"


# -- the node directory -------------------------------------------------------------


async def test_an_announced_node_is_listed_and_withdrawn(make_bus: MakeBus) -> None:
    bus = await make_bus(node_id="n1")
    assert await bus.nodes() == []
    t0 = time.time()
    await bus.announce(me(bus, load=3))
    [info] = await bus.nodes()
    assert (info.node_id, info.instance, info.url, info.load, info.draining) == (
        "n1",
        bus.instance,
        "http://10.0.0.1:8080",
        3,
        False,
    )
    assert info.at >= t0 - 1
    await bus.announce(me(bus, load=5, draining=True))
    [info] = await bus.nodes()
    assert (info.load, info.draining) == (5, True)
    await bus.withdraw()
    await bus.withdraw()  # idempotent
    assert await bus.nodes() == []


async def test_an_announced_node_stays_listed_past_its_ttl(make_bus: MakeBus) -> None:
    bus = await make_bus()
    await bus.announce(me(bus))
    await asyncio.sleep(2.5 * TTL_S)  # refreshed every ttl/3
    assert [n.instance for n in await bus.nodes()] == [bus.instance]


async def test_announce_refuses_another_instance(make_bus: MakeBus) -> None:
    bus = await make_bus()
    with pytest.raises(ValueError):
        await bus.announce(me(bus, instance="someone-else"))


async def test_close_withdraws(make_bus: MakeBus) -> None:
    bus = await make_bus()
    await bus.announce(me(bus))
    await bus.close()
    assert await bus.nodes() == []


# -- resubscription callbacks ---------------------------------------------------------


async def test_on_resubscribed_returns_a_remover(make_bus: MakeBus) -> None:
    bus = await make_bus()
    calls: list[str] = []

    async def catch_up() -> None:
        calls.append("x")

    remove = bus.on_resubscribed(catch_up)
    remove()
    remove()  # idempotent
    await bus._run_resubscribed()
    assert calls == []


# -- construction ---------------------------------------------------------------------


def test_open_bus_picks_the_bus_from_the_settings() -> None:
    local = open_bus(redis_url=None, node_id="n1")
    assert isinstance(local, LocalBus) and local.description == "in-process (one node)"
    remote = open_bus(
        redis_url="redis://:hunter2@cache.internal:6380/2",
        node_id="n1",
        redis_prefix="fd:",
        node_ttl_s=3.0,
    )
    assert not isinstance(remote, LocalBus)
    assert remote.node_ttl_s == 3.0
    assert "hunter2" not in remote.description and "fd:" in remote.description
    assert remote.description == "redis redis://:***@cache.internal:6380/2 (prefix 'fd:')"


def test_redact_url() -> None:
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redact_url("rediss://u:p%40ss@[::1]:6380/1") == "rediss://u:***@[::1]:6380/1"
    with pytest.raises(ValueError):
        LocalBus(node_ttl_s=0)
