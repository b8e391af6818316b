from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from frontdesk.bus import Bus, LocalBus, RedisBus
from tests.support.redis_server import (
    RedisProcess,
    redis_server_binary_or_skip,
    redis_url_or_skip,
    scratch_prefix,
)

#: Short enough that a test sees a node expire, long enough for a loaded machine.
TTL_S = 1.0

MakeBus = Callable[..., Awaitable[Bus]]


class Inbox:
    """A subscriber callback that keeps what it receives, in order."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    async def __call__(self, channel: str, message: dict[str, Any]) -> None:
        await self.queue.put((channel, message))

    async def next(self, timeout: float = 3.0) -> tuple[str, dict[str, Any]]:
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def nothing(self, within: float = 0.3) -> None:
        await asyncio.sleep(within)
        assert self.queue.empty(), self.queue.get_nowait()


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll until ``predicate()``; the seconds it took (fails after ``timeout``)."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    while not predicate():
        if loop.time() - t0 > timeout:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.02)
    return loop.time() - t0


@pytest.fixture
async def redis_url() -> str:
    return await redis_url_or_skip()


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    async with scratch_prefix(redis_url) as p:
        yield p


@pytest.fixture
async def make_redis_bus(redis_url: str, prefix: str) -> AsyncIterator[MakeBus]:
    """Start RedisBus "nodes" on the shared Redis under this test's prefix."""
    buses: list[Bus] = []

    async def make(**kwargs: Any) -> Bus:
        kwargs.setdefault("url", redis_url)
        kwargs.setdefault("node_ttl_s", TTL_S)
        url = kwargs.pop("url")
        bus = RedisBus(url, prefix=prefix, **kwargs)
        buses.append(bus)
        await bus.start()
        return bus

    yield make
    for bus in buses:
        await bus.close()


@pytest.fixture
async def make_local_bus() -> AsyncIterator[MakeBus]:
    buses: list[Bus] = []

    async def make(**kwargs: Any) -> Bus:
        kwargs.setdefault("node_ttl_s", TTL_S)
        bus = LocalBus(**kwargs)
        buses.append(bus)
        await bus.start()
        return bus

    yield make
    for bus in buses:
        await bus.close()


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
def make_bus(request: pytest.FixtureRequest) -> MakeBus:
    """The contract fixture: each test runs on a LocalBus and on a RedisBus."""
    factory: MakeBus = request.getfixturevalue(f"make_{request.param}_bus")
    return factory


@pytest.fixture
async def redis_process(tmp_path: Path) -> AsyncIterator[RedisProcess]:
    """A redis-server of this test's own, running; killed at the end."""
    proc = RedisProcess(redis_server_binary_or_skip(), tmp_path)
    await proc.start()
    try:
        yield proc
    finally:
        await proc.kill()
