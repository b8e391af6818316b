"""The bus interface: hints between nodes, and the node directory.

The bus carries *hints*, never the truth. PostgreSQL holds meetings, leases and
events; a message on the bus only says "look again, sooner than you would have".
So the bus may lose messages, and does so rather than ever failing a caller:

- :meth:`Bus.publish` is fire-and-forget: it never raises and never waits. A
  message it could not send is dropped and counted (:attr:`Bus.dropped_publishes`).
- A subscriber receives each message at most once, in the order one node
  published them. Each subscription has its own queue and task, so a slow
  callback delays only itself; a full queue drops (counted in
  :attr:`Bus.dropped_deliveries`).
- After the bus (re)connects, the :meth:`Bus.on_resubscribed` callbacks run:
  that is where a consumer catches up from the database on whatever it missed.
  While the bus is degraded (``healthy`` False, ``state`` "degraded"),
  consumers are expected to poll the database.

Messages are JSON objects (dicts of JSON values); every subscriber gets its own
decoded copy, also on the in-process bus, so the two behave alike.

The node directory: each node :meth:`~Bus.announce`\\ s a :class:`NodeInfo`
which the bus keeps alive (re-announced every third of ``node_ttl_s``) until
:meth:`~Bus.withdraw` or :meth:`~Bus.close`; an instance that stops announcing
drops out of :meth:`~Bus.nodes` once ``node_ttl_s`` has passed.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import dataclasses
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from frontdesk.bus.channels import check_channel, check_pattern, is_prefix, matches

__all__ = [
    "Bus",
    "Callback",
    "NodeInfo",
    "ResubscribedCallback",
    "Subscription",
    "new_instance_id",
    "redact_url",
]

log = logging.getLogger("frontdesk.bus")

#: ``async def callback(channel, message)``: ``channel`` is the logical channel
#: the message was published on (useful with prefix subscriptions).
Callback = Callable[[str, dict[str, Any]], Awaitable[None]]
#: ``async def callback()``: the bus (re)connected; catch up from the database.
ResubscribedCallback = Callable[[], Awaitable[None]]

#: Messages a subscription holds for its callback before dropping new ones.
DEFAULT_QUEUE_SIZE = 1024


def new_instance_id(node_id: str) -> str:
    """An id for this process: unique even when a node restarts with the same node_id."""
    return f"{node_id}-{secrets.token_hex(6)}"


def redact_url(url: str) -> str:
    """``url`` safe to print or log: a password shows as ``***``."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        user = parts.username or ""
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port is not None else ""
        netloc = f"{user}:***@{host}{port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    except ValueError:
        return "(unparsable URL)"


@dataclass(frozen=True)
class NodeInfo:
    """One running node as the directory lists it."""

    node_id: str  # the configured FRONTDESK_NODE_ID (may repeat across restarts)
    instance: str  # unique per process: the directory's key (see new_instance_id)
    url: str  # this node's own base URL for RTC/WebSockets (FRONTDESK_NODE_URL)
    load: int = 0  # live participants on the node, say: lower is emptier
    draining: bool = False  # on its way out: place nothing new here
    at: float = 0.0  # wall-clock time (epoch seconds) of the last announcement

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: str | bytes) -> NodeInfo:
        """Parse an entry another node wrote; :class:`ValueError` when it is not one."""
        raw = json.loads(data)
        if not isinstance(raw, dict):
            raise ValueError("a node entry is a JSON object")
        try:
            info = cls(
                node_id=str(raw["node_id"]),
                instance=str(raw["instance"]),
                url=str(raw["url"]),
                load=int(raw.get("load", 0)),
                draining=bool(raw.get("draining", False)),
                at=float(raw.get("at", 0.0)),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a node entry: {exc}") from exc
        return info


class Subscription:
    """What :meth:`Bus.subscribe` returns: ``await sub.close()`` unsubscribes.

    Also an async context manager (``async with await bus.subscribe(...)``)."""

    def __init__(
        self,
        pattern: str,
        callback: Callback,
        *,
        queue_size: int,
        on_close: Callable[[Subscription], Awaitable[None]],
        on_overflow: Callable[[], None],
    ) -> None:
        self.pattern = pattern
        self._callback = callback
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(queue_size)
        self._on_close = on_close
        self._on_overflow = on_overflow
        self._closed = False
        self._task = asyncio.get_running_loop().create_task(
            self._work(), name=f"frontdesk-bus-sub {pattern}"
        )

    @property
    def closed(self) -> bool:
        return self._closed

    def matches(self, channel: str) -> bool:
        return matches(self.pattern, channel)

    def offer(self, channel: str, payload: bytes) -> None:
        """Queue a message for the callback (never blocks; drops when full)."""
        if self._closed:
            return
        try:
            self._queue.put_nowait((channel, payload))
        except asyncio.QueueFull:
            self._on_overflow()

    async def _work(self) -> None:
        while not self._closed:
            channel, payload = await self._queue.get()
            try:
                message = json.loads(payload)
            except ValueError:
                log.warning("bus: a message on %s is not JSON; ignored", channel)
                continue
            if not isinstance(message, dict):
                log.warning("bus: a message on %s is not a JSON object; ignored", channel)
                continue
            try:
                await self._callback(channel, message)
            except Exception:
                log.exception("bus: subscriber to %s failed on %s", self.pattern, channel)

    async def close(self) -> None:
        """Stop the callback (messages still queued are dropped); idempotent."""
        if self._closed:
            return
        self._closed = True
        if asyncio.current_task() is not self._task:  # not from inside the callback
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._on_close(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class _Registry:
    """The subscriptions of one bus, by pattern (a channel or a ``prefix*``)."""

    def __init__(self) -> None:
        self._by_pattern: dict[str, set[Subscription]] = {}
        self._prefixes: set[str] = set()

    def add(self, sub: Subscription) -> bool:
        """Register; True when it is the first subscription to its pattern."""
        subs = self._by_pattern.setdefault(sub.pattern, set())
        subs.add(sub)
        if is_prefix(sub.pattern):
            self._prefixes.add(sub.pattern)
        return len(subs) == 1

    def remove(self, sub: Subscription) -> bool:
        """Unregister; True when no subscription to its pattern is left."""
        subs = self._by_pattern.get(sub.pattern)
        if subs is None:
            return False
        subs.discard(sub)
        if subs:
            return False
        del self._by_pattern[sub.pattern]
        self._prefixes.discard(sub.pattern)
        return True

    def has(self, pattern: str) -> bool:
        return pattern in self._by_pattern

    def patterns(self) -> list[str]:
        return list(self._by_pattern)

    def all(self) -> list[Subscription]:
        return [s for subs in self._by_pattern.values() for s in subs]

    def deliver_to(self, pattern: str, channel: str, payload: bytes) -> None:
        """To the subscribers of exactly ``pattern`` (Redis says which one matched)."""
        for sub in list(self._by_pattern.get(pattern, ())):
            sub.offer(channel, payload)

    def deliver_matching(self, channel: str, payload: bytes) -> None:
        """To every subscription whose pattern matches ``channel``."""
        self.deliver_to(channel, channel, payload)
        for prefix in list(self._prefixes):
            if matches(prefix, channel):
                self.deliver_to(prefix, channel, payload)


class Bus(abc.ABC):
    """Hints between nodes, and the node directory (see the module docstring)."""

    def __init__(
        self,
        *,
        node_id: str,
        instance: str | None = None,
        node_ttl_s: float = 5.0,
        queue_size: int = DEFAULT_QUEUE_SIZE,
    ) -> None:
        if node_ttl_s <= 0:
            raise ValueError("node_ttl_s must be positive")
        self.node_id = node_id
        self.instance = instance or new_instance_id(node_id)
        self.node_ttl_s = node_ttl_s
        #: Messages not sent: degraded, backed up, closed or not JSON.
        self.dropped_publishes = 0
        #: Messages received but not handed to a callback (its queue was full).
        self.dropped_deliveries = 0
        self._queue_size = queue_size
        self._registry = _Registry()
        self._resubscribed: list[ResubscribedCallback] = []

    # -- lifecycle and health -------------------------------------------------

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect (or begin trying to: a bus never fails to start)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Withdraw from the directory, stop every subscription, disconnect."""

    @property
    @abc.abstractmethod
    def healthy(self) -> bool:
        """Whether hints flow between nodes now."""

    @property
    def state(self) -> str:
        """``"ok"``, or ``"degraded"``: hints are dropped; consumers poll the database."""
        return "ok" if self.healthy else "degraded"

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """What this bus is, for a banner or a log (no secrets)."""

    # -- hints ------------------------------------------------------------------

    @abc.abstractmethod
    def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Send ``message`` to every subscriber of ``channel`` on every node,
        this one included. Fire-and-forget: never raises, never waits."""

    async def subscribe(self, pattern: str, callback: Callback) -> Subscription:
        """Call ``callback(channel, message)`` for messages on ``pattern``: a channel
        (``meeting:m_1``) or a prefix ending in ``*`` (``meeting:*``). When the bus
        is healthy the subscription is in force on return (a message published
        after that reaches it); when degraded it takes effect on reconnection.
        :class:`ValueError` for a malformed pattern."""
        check_pattern(pattern)
        sub = Subscription(
            pattern,
            callback,
            queue_size=self._queue_size,
            on_close=self._unsubscribed,
            on_overflow=self._overflow,
        )
        first = self._registry.add(sub)
        await self._attach(pattern, first=first)
        return sub

    def on_resubscribed(self, callback: ResubscribedCallback) -> Callable[[], None]:
        """Run ``callback()`` each time the bus has (re)connected and resubscribed:
        messages may have been lost before, so catch up from the database.
        Returns a function that removes the callback."""
        self._resubscribed.append(callback)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._resubscribed.remove(callback)

        return remove

    # -- the node directory -------------------------------------------------------

    @abc.abstractmethod
    async def announce(self, info: NodeInfo) -> None:
        """List this node (``info.instance`` must be :attr:`instance`) and keep it
        listed; announce again when something changes (load, draining). Never
        raises for an unreachable Redis: the bus announces on reconnection."""

    @abc.abstractmethod
    async def withdraw(self) -> None:
        """Take this node off the directory now (shutdown, drain); idempotent."""

    @abc.abstractmethod
    async def nodes(self) -> list[NodeInfo]:
        """The live nodes, sorted by (node_id, instance)."""

    # -- for implementations ----------------------------------------------------

    async def _attach(self, pattern: str, *, first: bool) -> None:  # noqa: B027
        """A subscription to ``pattern`` was registered (``first``: the only one)."""

    async def _detach(self, pattern: str) -> None:  # noqa: B027
        """The last subscription to ``pattern`` was closed."""

    async def _unsubscribed(self, sub: Subscription) -> None:
        if self._registry.remove(sub):
            await self._detach(sub.pattern)

    def _overflow(self) -> None:
        self.dropped_deliveries += 1
        if self.dropped_deliveries == 1 or self.dropped_deliveries % 1000 == 0:
            log.warning(
                "bus: a subscriber is not keeping up; %d messages dropped so far",
                self.dropped_deliveries,
            )

    def _drop(self, count: int = 1) -> None:
        self.dropped_publishes += count

    def _encode(self, channel: str, message: dict[str, Any]) -> bytes | None:
        """The wire form of a message, or None (dropped, logged) when it has none."""
        try:
            check_channel(channel)
            if not isinstance(message, dict):
                raise TypeError(f"a message is a dict, not {type(message).__name__}")
            text = json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            return text.encode()
        except (TypeError, ValueError) as exc:  # UnicodeEncodeError too (lone surrogates)
            self._drop()
            log.error("bus: cannot publish on %r: %s", channel, exc)
            return None

    async def _run_resubscribed(self) -> None:
        for callback in list(self._resubscribed):
            try:
                await callback()
            except Exception:
                log.exception("bus: an on_resubscribed callback failed")

    async def _close_subscriptions(self) -> None:
        subs = self._registry.all()
        self._registry = _Registry()
        for sub in subs:
            await sub.close()

    @staticmethod
    def _stamped(info: NodeInfo, at: float) -> NodeInfo:
        return dataclasses.replace(info, at=at)

    def _check_own(self, info: NodeInfo) -> None:
        if info.instance != self.instance:
            raise ValueError(
                f"announce this bus's own instance ({self.instance!r}), not {info.instance!r}"
            )
