"""Test Redis: the shared server (or a skip), key prefixes, and a server of one's own.

The shared Redis comes from ``FRONTDESK_TEST_REDIS_URL`` (default
``redis://127.0.0.1:6379/15``). When the variable is unset and the server does not
answer, tests skip; when it is set, or ``FRONTDESK_REQUIRE_SERVICES=1`` (CI), they
fail loudly instead, as for PostgreSQL (:mod:`tests.support.databases`).

Tests never flush the shared server: each uses its own key prefix
(:func:`scratch_prefix`) and deletes its keys afterwards.

A test that stops Redis starts its own :class:`RedisProcess` (``redis-server`` on
a free port on 127.0.0.1, nothing saved), which it may kill and restart on the
same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tests.support.live_server import free_port

__all__ = [
    "DEFAULT_REDIS_URL",
    "RedisProcess",
    "redis_server_binary_or_skip",
    "redis_url_or_skip",
    "scratch_prefix",
]

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"

_checked: dict[str, str | None] = {}  # url -> None when reachable, else the reason


def _must_run(explicit: bool) -> bool:
    return explicit or os.environ.get("FRONTDESK_REQUIRE_SERVICES") == "1"


async def _probe(url: str) -> str | None:
    client = aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await client.aclose()
    return None


async def redis_url_or_skip() -> str:
    """The test Redis URL; skip (or fail, in CI) when the server is not reachable."""
    explicit = os.environ.get("FRONTDESK_TEST_REDIS_URL", "").strip()
    url = explicit or DEFAULT_REDIS_URL
    if url not in _checked:
        _checked[url] = await _probe(url)
    reason = _checked[url]
    if reason is not None:
        message = (
            f"Redis not reachable at {url} ({reason}); start it or set FRONTDESK_TEST_REDIS_URL"
        )
        if _must_run(bool(explicit)):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return url


@contextlib.asynccontextmanager
async def scratch_prefix(url: str) -> AsyncIterator[str]:
    """A key prefix of this test's own (``t<random>:``); its keys are deleted after."""
    prefix = f"t{secrets.token_hex(6)}:"
    try:
        yield prefix
    finally:
        client = aioredis.Redis.from_url(url, socket_timeout=5)
        try:
            keys = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


def redis_server_binary_or_skip() -> str:
    """The ``redis-server`` to start; skip (or fail, in CI) when there is none."""
    found = shutil.which("redis-server")
    if found is None:
        message = "redis-server not on PATH (apt-get install redis-server) for Redis outage tests"
        if _must_run(bool(os.environ.get("FRONTDESK_TEST_REDIS_URL", "").strip())):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def _die_with_the_tests() -> None:
    """In the child: SIGKILL when the test process dies (Linux), so a test run
    that is killed leaves no redis-server behind."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class RedisProcess:
    """A ``redis-server`` of the test's own on 127.0.0.1; kill it, start it again."""

    def __init__(self, binary: str, workdir: Path, *, port: int = 0) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = port or free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    async def start(self) -> None:
        if self.running:
            return
        args = {
            "--port": str(self.port),
            "--bind": "127.0.0.1",
            "--save": "",
            "--appendonly": "no",
            "--daemonize": "no",
            "--dir": str(self.workdir),
        }
        self._proc = subprocess.Popen(
            [self.binary, *(x for pair in args.items() for x in pair)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_the_tests,
        )
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited early")
            if await _probe(self.url) is None:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not answer")
            await asyncio.sleep(0.05)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open and go unanswered,
        as behind a network partition."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    async def kill(self) -> None:
        """Die at once, as a crashed server would (the kernel closes its sockets)."""
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGCONT)  # a paused one too
        self._proc.kill()
        await asyncio.to_thread(self._proc.wait, 10)
        self._proc = None
