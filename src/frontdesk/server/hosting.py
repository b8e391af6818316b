"""Which node hosts a meeting: one node alone, or a lease per meeting in a cluster.

On one node (SQLite) every meeting is hosted here and nothing is fenced. In a
cluster (PostgreSQL), a node hosts a meeting only while it holds the meeting's
lease (:meth:`Store.acquire_lease`): it takes the lease before it loads the
room, renews all its leases together every third of their life, and stores the
room's events only under the lease's fence. A lease that is taken over, or that
this node cannot renew before it runs out (its database is unreachable), is
*lost*: the room stops serving at once and its clients resume where the
meeting is hosted now. Where a meeting is hosted is answered from the lease,
or, for a meeting nobody hosts, by placing it on the least-loaded live node.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from frontdesk.bus import Bus, NodeInfo
from frontdesk.config import Settings
from frontdesk.errors import WrongNode
from frontdesk.protocol import urls
from frontdesk.store.base import Fence, LeaseHeld, Store

__all__ = [
    "Directory",
    "Hosting",
    "LeasedHosting",
    "NodeCandidate",
    "Placement",
    "SingleNode",
    "open_hosting",
]

log = logging.getLogger(__name__)

LostCallback = Callable[[set[str], str], None]


class NodeCandidate(Protocol):
    """What placement needs of a node in the directory."""

    @property
    def node_id(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def load(self) -> int: ...

    @property
    def draining(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a meeting's clients connect: its host's RTC URL and node id."""

    rtc_url: str
    node_id: str


class Hosting(abc.ABC):
    """Where meetings are hosted, and the fence of each meeting hosted here."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rtc_url = urls.rtc_url(settings.node_base_url)
        self.here = Placement(self.rtc_url, settings.node_id)
        self._on_lost: LostCallback = lambda ids, why: None

    def on_lost(self, callback: LostCallback) -> None:
        """``callback(meeting_ids, why)``: those rooms must stop serving at once."""
        self._on_lost = callback

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Begin renewing leases (a cluster); nothing on one node."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Stop renewing; with ``release``, hand every meeting over at once."""

    @abc.abstractmethod
    async def claim(self, meeting_id: str) -> Fence | None:
        """Host ``meeting_id`` here (before its room is loaded). Returns the fence
        its writes carry (``None`` on one node); :class:`WrongNode` with the
        host's ``rtc_url`` when another node hosts it."""

    @abc.abstractmethod
    def fence(self, meeting_id: str) -> Fence | None:
        """The fence of a meeting hosted here (``None``: not fenced)."""

    @abc.abstractmethod
    async def release(self, meeting_id: str) -> None:
        """No longer host ``meeting_id`` (its room was dropped)."""

    @abc.abstractmethod
    async def locate(self, meeting_id: str) -> Placement:
        """Where ``meeting_id`` is hosted, or will be: for discovery."""

    async def release_all(self) -> None:  # noqa: B027 - nothing to hand over on one node
        """Hand every meeting hosted here over at once (a node that drains)."""


class SingleNode(Hosting):
    """One node: every meeting is hosted here; writes are not fenced."""

    async def claim(self, meeting_id: str) -> Fence | None:
        return None

    def fence(self, meeting_id: str) -> Fence | None:
        return None

    async def release(self, meeting_id: str) -> None:
        return None

    async def locate(self, meeting_id: str) -> Placement:
        return self.here


@dataclass
class _Held:
    fence: Fence
    confirmed: float  # monotonic time the lease was last taken or renewed (request sent)


class LeasedHosting(Hosting):
    """A cluster node: meetings by lease, renewed in one statement per round."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        nodes: Callable[[], Sequence[NodeCandidate]] | None = None,
    ) -> None:
        super().__init__(settings)
        self.store = store
        self.ttl_s = settings.lease_ttl_s
        # One owner per process: a restarted node is a new owner and never
        # mistakes its predecessor's leases for its own.
        self.owner = f"{settings.node_id}.{secrets.token_hex(4)}"
        self.nodes = nodes
        self._held: dict[str, _Held] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._renew_loop(), name="frontdesk-leases")

    async def stop(self) -> None:
        await _cancelled(self._task)
        self._task = None

    async def release_all(self) -> None:
        held, self._held = self._held, {}
        for meeting_id, h in held.items():
            with contextlib.suppress(Exception):
                await self.store.release_lease(meeting_id, h.fence)

    @property
    def hosted(self) -> frozenset[str]:
        return frozenset(self._held)

    async def claim(self, meeting_id: str) -> Fence | None:
        sent = time.monotonic()
        try:
            lease = await self.store.acquire_lease(meeting_id, self.owner, self.rtc_url, self.ttl_s)
        except LeaseHeld as held:
            raise WrongNode(
                f"meeting {meeting_id} is hosted on node {_node_of(held.lease.owner)}",
                rtc_url=held.lease.node_url,
            ) from None
        self._held[meeting_id] = _Held(lease.as_fence, sent)
        return lease.as_fence

    def fence(self, meeting_id: str) -> Fence | None:
        h = self._held.get(meeting_id)
        # A lease not held (lost, released) fences with a number no lease has.
        return h.fence if h is not None else Fence(self.owner, -1)

    async def release(self, meeting_id: str) -> None:
        h = self._held.pop(meeting_id, None)
        if h is not None:
            with contextlib.suppress(Exception):
                await self.store.release_lease(meeting_id, h.fence)

    async def locate(self, meeting_id: str) -> Placement:
        if meeting_id in self._held:
            return self.here
        lease = await self.store.current_lease(meeting_id)
        if lease is not None:
            return Placement(lease.node_url, _node_of(lease.owner))
        return self._place()

    def _place(self) -> Placement:
        """The least-loaded live node that is not draining (this one if none is known)."""
        candidates = [n for n in (self.nodes() if self.nodes else ()) if not n.draining]
        if not candidates:
            return self.here
        best = min(candidates, key=lambda n: (n.load, n.node_id))
        return Placement(urls.rtc_url(best.url), best.node_id)

    # --- renewal ----------------------------------------------------------------------
    async def _renew_loop(self) -> None:
        interval = self.ttl_s / 3
        while True:
            await asyncio.sleep(interval)
            await self.renew_once()

    async def renew_once(self) -> None:
        """Renew every lease held; what could not be renewed is lost."""
        held = dict(self._held)
        if not held:
            return
        sent = time.monotonic()
        try:
            renewed = await asyncio.wait_for(
                self.store.renew_leases(
                    self.owner, {m: h.fence.number for m, h in held.items()}, self.ttl_s
                ),
                timeout=self.ttl_s / 2,
            )
        except Exception as exc:
            # Cut off from the database: serve on until the leases could have
            # run out (by this node's clock, from when each was last confirmed),
            # then stop: another node may host those meetings by now.
            now = time.monotonic()
            late = {m for m, h in held.items() if now - h.confirmed >= self.ttl_s * 0.9}
            log.warning("renewing %d leases failed: %s", len(held), type(exc).__name__)
            self._lose(late, "database unreachable")
            return
        for m in renewed:
            h = self._held.get(m)
            if h is not None and h.fence == held[m].fence:
                h.confirmed = sent
        self._lose({m for m in held if m not in renewed}, "taken over")

    def _lose(self, meeting_ids: set[str], why: str) -> None:
        lost = {m for m in meeting_ids if self._held.pop(m, None) is not None}
        if lost:
            log.warning("lost the lease of %d meeting(s) (%s)", len(lost), why)
            self._on_lost(lost, why)


class Directory:
    """This node in the bus's node directory, with its load (live connections),
    and the last list of live nodes read from it, for placement. While the bus
    is degraded the list goes stale and then holds this node alone (the bus's
    rule): meetings nobody hosts are then placed where discovery was asked."""

    def __init__(self, bus: Bus, settings: Settings, load: Callable[[], int]) -> None:
        self.bus = bus
        self.settings = settings
        self.load = load
        self.draining = False
        self._nodes: list[NodeInfo] = []
        self._task: asyncio.Task[None] | None = None

    def info(self) -> NodeInfo:
        s = self.settings
        return NodeInfo(s.node_id, self.bus.instance, s.node_base_url, self.load(), self.draining)

    def nodes(self) -> list[NodeInfo]:
        return self._nodes

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._run(), name="frontdesk-directory")

    async def stop(self) -> None:
        await _cancelled(self._task)
        self._task = None

    async def drain(self) -> None:
        """Place nothing new here: leave the directory."""
        self.draining = True
        await self.stop()
        await self.bus.withdraw()

    async def refresh(self) -> None:
        await self.bus.announce(self.info())
        self._nodes = await self.bus.nodes()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.node_ttl_s / 3)
            try:
                await self.refresh()
            except Exception:  # the bus never fails a caller; be sure of it here
                log.exception("node directory refresh failed")


async def _cancelled(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` (if any) and wait for it to end."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _node_of(owner: str) -> str:
    """``node-1.5f3a9c1e`` (the node id and one process of it) → ``node-1``."""
    return owner.rsplit(".", 1)[0]


def open_hosting(
    settings: Settings,
    store: Store,
    *,
    clustered: bool,
    nodes: Callable[[], Sequence[NodeCandidate]] | None = None,
) -> Hosting:
    if clustered:
        return LeasedHosting(settings, store, nodes=nodes)
    return SingleNode(settings)
