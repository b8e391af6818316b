"""A cluster of real Frontdesk nodes for tests: processes on loopback ports
sharing one PostgreSQL schema (and Redis, when given), behind a balancer.

Each node is ``frontdesk serve`` in its own process, so a test can kill it
(SIGKILL), pause it (SIGSTOP/SIGCONT) or stop it (SIGTERM) for real. The
balancer stands for the load balancer in front of a cluster: it forwards each
TCP connection to the next node that accepts one, so the cluster's public URL
reaches some live node, as HAProxy with health checks would. A test that puts
a real balancer in front instead chooses the node ports and the URLs itself
(``ports``, ``public_url``, ``node_urls``): see ``tests/support/haproxy.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from frontdesk.config import Settings
from frontdesk.protocol import urls
from frontdesk.server.operations import Operations
from frontdesk.store.sql import SqlStore
from tests.support.databases import postgres_url_or_skip, schema_url, temp_schema
from tests.support.live_server import free_port
from tests.support.tcp_proxy import pipe

__all__ = ["Balancer", "Cluster", "Node", "cluster"]

FRONTDESK = str(Path(sys.executable).parent / "frontdesk")
PASSWORD = "correct horse battery"


class Balancer:
    """Round robin over TCP to the nodes that accept a connection."""

    def __init__(self, ports: Sequence[int]) -> None:
        self.ports = list(ports)
        self.port = 0
        self._rr = itertools.count()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        for t in list(self._tasks):
            t.cancel()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        start = next(self._rr)
        for i in range(len(self.ports)):
            port = self.ports[(start + i) % len(self.ports)]
            try:
                up_r, up_w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1)
            except (OSError, TimeoutError):
                continue
            for src, dst in ((reader, up_w), (up_r, writer)):
                t = asyncio.create_task(_pipe(src, dst))
                self._tasks.add(t)
                t.add_done_callback(self._tasks.discard)
            return
        writer.transport.abort()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        await pipe(src, dst)
    finally:
        with contextlib.suppress(Exception):
            dst.close()


@dataclass
class Node:
    node_id: str
    port: int
    env: dict[str, str]
    log_path: Path
    proc: asyncio.subprocess.Process | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def node_url(self) -> str:
        """Where clients reach this node (``FRONTDESK_NODE_URL``; maybe a balancer)."""
        return self.env.get("FRONTDESK_NODE_URL") or self.base_url

    @property
    def rtc_url(self) -> str:
        return urls.rtc_url(self.node_url)

    async def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
        self.proc = await asyncio.create_subprocess_exec(
            FRONTDESK, "serve", env=self.env, stdout=log, stderr=log
        )
        log.close()
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                if self.proc.returncode is not None:
                    raise RuntimeError(f"{self.node_id} exited: see {self.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(self.base_url + "/readyz", timeout=1)).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.node_id} did not become ready: see {self.log_path}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)

    async def kill(self) -> None:
        """SIGKILL: gone at once, nothing handed over."""
        self.signal(signal.SIGKILL)
        assert self.proc is not None
        await self.proc.wait()

    async def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM: a rolling restart's stop (drain, then exit)."""
        self.signal(signal.SIGTERM)
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)


@dataclass
class Cluster:
    nodes: list[Node]
    balancer: Balancer
    settings: Settings  # as the nodes have it (database, public URL)
    ops: Operations  # the test's own handle on the same database
    store: SqlStore
    tmp: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def public_url(self) -> str:
        return self.settings.base_url

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.node_id == node_id)

    async def owner_of(self, meeting_id: str) -> Node | None:
        lease = await self.store.current_lease(meeting_id)
        if lease is None:
            return None
        return self.node(lease.owner.rsplit(".", 1)[0])


@contextlib.asynccontextmanager
async def cluster(
    tmp: Path,
    *,
    size: int = 3,
    redis_url: str | None = None,
    env: dict[str, str] | None = None,
    ports: Sequence[int] | None = None,
    public_url: str | None = None,
    node_urls: Sequence[str] | None = None,
) -> AsyncIterator[Cluster]:
    """``size`` nodes on a fresh PostgreSQL schema, with the organizer alice.

    By default the nodes listen on free ports, the public URL is the built-in
    balancer's and each node's URL is its own port. A real balancer in front
    needs them chosen beforehand: ``ports`` (where the nodes listen),
    ``public_url`` (``FRONTDESK_PUBLIC_URL``), ``node_urls`` (each node's
    ``FRONTDESK_NODE_URL``, in the order of ``ports``)."""
    url = await postgres_url_or_skip()
    async with temp_schema(url) as schema:
        db = schema_url(url, schema)
        ports = list(ports) if ports is not None else [free_port() for _ in range(size)]
        size = len(ports)
        if node_urls is not None and len(node_urls) != size:
            raise ValueError("one node URL per node")
        balancer = Balancer(ports)
        await balancer.start()
        public = public_url or f"http://127.0.0.1:{balancer.port}"
        settings = Settings(database_url=db, public_url=public)
        store = await SqlStore.open(db)  # migrated before any node starts
        ops = Operations(settings, store)
        await ops.start()  # the signing key every node shares
        await ops.accounts.create("alice", "Alice Advisor", PASSWORD)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")} | {
            "FRONTDESK_DATABASE_URL": db,
            "FRONTDESK_PUBLIC_URL": public,
            "FRONTDESK_HOST": "127.0.0.1",
            "FRONTDESK_LOG_LEVEL": "warning",
        }
        if redis_url:
            base_env["FRONTDESK_REDIS_URL"] = redis_url
            base_env["FRONTDESK_REDIS_PREFIX"] = f"t{secrets.token_hex(4)}:"
        base_env |= env or {}
        nodes = [
            Node(
                f"node-{i + 1}",
                port,
                base_env
                | {
                    "FRONTDESK_NODE_ID": f"node-{i + 1}",
                    "FRONTDESK_PORT": str(port),
                    "FRONTDESK_NODE_URL": (
                        node_urls[i] if node_urls is not None else f"http://127.0.0.1:{port}"
                    ),
                },
                tmp / f"node-{i + 1}.log",
            )
            for i, port in enumerate(ports)
        ]
        c = Cluster(nodes, balancer, settings, ops, store, tmp)
        try:
            await asyncio.gather(*(n.start() for n in nodes))
            yield c
        finally:
            for n in nodes:
                if n.running:
                    n.signal(signal.SIGCONT)
                    n.signal(signal.SIGKILL)
                    assert n.proc is not None
                    await n.proc.wait()
            await balancer.stop()
            await store.close()
