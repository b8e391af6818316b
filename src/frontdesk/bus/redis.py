"""The Redis bus: hints between nodes over Redis pub/sub, and the node directory.

Redis holds hints only; it may go away at any time and the node keeps running.

**Connection.** One supervisor task connects (a PING, then a pub/sub connection
subscribed to every pattern in use), announces this node again, marks the bus
healthy and runs the :meth:`~Bus.on_resubscribed` callbacks; it then reads
messages, PINGing the pub/sub connection whenever it has been quiet for
``ping_interval_s``. The bus turns degraded (``healthy`` False) as soon as the
pub/sub connection closes, goes ``ping_interval_s + socket_timeout_s`` (1.5 s)
without an answer, or a command (a publish, an announcement) fails; the
supervisor then reconnects with exponential back-off (0.1 s doubling to 2 s,
jittered). Sockets time out after ``socket_timeout_s`` (1 s) and redis-py's own
retries are off, so no call waits on a dead Redis for longer than that.

**Publishing.** :meth:`~RedisBus.publish` only queues the message; a writer task
sends the queue in pipelined batches. While degraded, messages are dropped at
once (and counted), as are those of a batch that failed and those that find the
queue full (``max_pending``).

**Directory.** A hash ``<prefix>nodes`` (instance -> NodeInfo JSON) and a sorted
set ``<prefix>nodes:expiry`` (instance -> expiry, milliseconds by the Redis
server's clock), both written by one Lua script so every node measures expiry
on the same clock. Every ``node_ttl_s / 3`` a node refreshes its announcement
and reads the directory. :meth:`~RedisBus.nodes` first removes the expired
entries, then reads the rest, in O(nodes) (no SCAN over the keyspace). Both
keys expire themselves when no node has written for a minute.

**While degraded,** :meth:`~RedisBus.nodes` answers from memory: the last list
Redis gave, minus every entry whose expiry has passed since (measured on this
node's monotonic clock from the remaining time Redis reported), with this
node's own entry as last announced. A short outage thus keeps the cluster's
picture; a long one shrinks it to this node alone.

**Cancellation.** On Python 3.11, redis-py sends every command inside
``asyncio.wait_for``, which swallows a cancellation that arrives as the send
completes; the command then returns (or fails) as if nothing happened. Every
Redis call here goes through :func:`_guarded`, which raises the lost
:class:`~asyncio.CancelledError` again, so ``close()`` always stops the tasks and
a caller's own timeout around, say, :meth:`~RedisBus.nodes` still fires.

Requires Redis 5 or later (scripts that call TIME before writing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from frontdesk.bus.base import DEFAULT_QUEUE_SIZE, Bus, NodeInfo, redact_url
from frontdesk.bus.channels import is_prefix

__all__ = ["RedisBus"]

log = logging.getLogger("frontdesk.bus")

#: What a lost or hung Redis raises (redis-py wraps most of it in RedisError).
_DOWN = (RedisError, OSError, asyncio.TimeoutError)

# KEYS: nodes hash, expiry zset. ARGV: instance, entry JSON, ttl ms, keys' own ttl ms.
_ANNOUNCE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return now
"""

# KEYS: nodes hash, expiry zset. Returns {now ms, entry, expiry ms, entry, expiry ms, ...}.
_NODES = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, instance in ipairs(gone) do
  redis.call('HDEL', KEYS[1], instance)
end
if #gone > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
end
local live = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local out = {now}
for i = 1, #live, 2 do
  local entry = redis.call('HGET', KEYS[1], live[i])
  if entry then
    out[#out + 1] = entry
    out[#out + 1] = live[i + 1]
  end
end
return out
"""

#: How long the directory keys outlive the last write to them.
_KEYS_TTL_MS = 60_000
#: Messages sent per pipelined round trip.
_BATCH = 256
#: A connection that lasted at least this long resets the back-off.
_STABLE_S = 5.0


T = TypeVar("T")


def _cancel_requests() -> int:
    task = asyncio.current_task()
    return task.cancelling() if task is not None else 0


async def _guarded(call: Awaitable[T]) -> T:
    """Await a redis-py call; if this task was cancelled meanwhile and the call
    swallowed it (see "Cancellation" above), raise the cancellation after all."""
    before = _cancel_requests()
    try:
        return await call
    finally:
        if _cancel_requests() > before:
            raise asyncio.CancelledError


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _glob_escape(text: str) -> str:
    """``text`` matched literally by a Redis glob pattern."""
    return "".join("\\" + c if c in "\\*?[]" else c for c in text)


def _glob_unescape(glob: str) -> str:
    out = []
    chars = iter(glob)
    for c in chars:
        out.append(next(chars, "") if c == "\\" else c)
    return "".join(out)


class RedisBus(Bus):
    def __init__(
        self,
        url: str,
        *,
        node_id: str = "node-1",
        prefix: str = "frontdesk:",
        node_ttl_s: float = 5.0,
        instance: str | None = None,
        socket_timeout_s: float = 1.0,
        ping_interval_s: float = 0.5,
        reconnect_min_s: float = 0.1,
        reconnect_max_s: float = 2.0,
        max_pending: int = 10_000,
        queue_size: int = DEFAULT_QUEUE_SIZE,
    ) -> None:
        super().__init__(
            node_id=node_id, instance=instance, node_ttl_s=node_ttl_s, queue_size=queue_size
        )
        self.url = url
        self.prefix = prefix
        self._socket_timeout = socket_timeout_s
        self._ping_interval = ping_interval_s
        self._dead_after = ping_interval_s + socket_timeout_s
        self._reconnect_min = reconnect_min_s
        self._reconnect_max = reconnect_max_s
        self._nodes_key = prefix + "nodes"
        self._expiry_key = prefix + "nodes:expiry"
        # Keeps the pub/sub connection subscribed (PING answers as a message) even
        # when no one else is; nothing is published on it.
        self._control = f"{prefix}bus:{self.instance}"

        self._client: aioredis.Redis | None = None
        self._pubsub: PubSub | None = None
        self._wired: set[str] = set()  # logical patterns subscribed on self._pubsub
        self._ps_lock = asyncio.Lock()  # writes to the pub/sub connection
        self._confirming: dict[tuple[str, str], asyncio.Future[bool]] = {}
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(max_pending)
        self._healthy = False
        self._started = False
        self._closed = False
        self._broken = asyncio.Event()  # a command failed: reconnect
        self._first_attempt = asyncio.Event()
        self._down_since: float | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._callback_tasks: set[asyncio.Task[None]] = set()

        self._dir_lock = asyncio.Lock()
        self._me: NodeInfo | None = None  # what announce() was given
        self._me_written: NodeInfo | None = None  # with `at` of its last write
        self._seen: dict[str, tuple[NodeInfo, float]] = {}  # instance -> (info, deadline)

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting; return once the first attempt succeeded or failed
        (a Redis that is down leaves the bus degraded, and it keeps trying)."""
        if self._started:
            return
        self._started = True
        self._client = aioredis.Redis.from_url(
            self.url,
            socket_timeout=self._socket_timeout,
            socket_connect_timeout=self._socket_timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
            client_name=f"frontdesk-{self.instance}",
        )
        self._announce_script = self._client.register_script(_ANNOUNCE)
        self._nodes_script = self._client.register_script(_NODES)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._supervise(), name="frontdesk-bus-connection"),
            loop.create_task(self._send_loop(), name="frontdesk-bus-writer"),
            loop.create_task(self._refresh_loop(), name="frontdesk-bus-directory"),
        ]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3 * self._socket_timeout + 1):
                await self._first_attempt.wait()

    async def close(self) -> None:
        if self._closed:
            return
        await self.withdraw()
        self._closed = True
        self._healthy = False
        tasks = [*self._tasks, *self._callback_tasks]
        for task in tasks:
            task.cancel()
        if tasks:
            _, stuck = await asyncio.wait(tasks, timeout=5)
            for task in stuck:  # not expected: say so rather than hang the shutdown
                log.error("bus: task %s did not stop when cancelled", task.get_name())
        await self._drop_pubsub()
        if self._client is not None:
            with contextlib.suppress(*_DOWN):
                await _guarded(self._client.aclose())
        await self._close_subscriptions()

    @property
    def healthy(self) -> bool:
        return self._healthy

    @property
    def description(self) -> str:
        return f"redis {redact_url(self.url)} (prefix {self.prefix!r})"

    # -- hints ----------------------------------------------------------------------

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        payload = self._encode(channel, message)
        if payload is None:
            return
        if not self._healthy:
            self._drop()
            return
        try:
            self._outbox.put_nowait((self.prefix + channel, payload))
        except asyncio.QueueFull:
            self._drop()

    async def _send_loop(self) -> None:
        while True:
            batch = [await self._outbox.get()]
            while len(batch) < _BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            if not self._healthy or self._client is None:
                self._drop(len(batch))
                continue
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for wire, payload in batch:
                        pipe.publish(wire, payload)
                    await _guarded(pipe.execute())
            except _DOWN as exc:
                self._drop(len(batch))
                self._fail(exc)

    def _wire(self, pattern: str) -> tuple[str, str]:
        """(the confirming message type, the wire name) of a logical pattern."""
        if is_prefix(pattern):
            return "psubscribe", _glob_escape(self.prefix + pattern[:-1]) + "*"
        return "subscribe", self.prefix + pattern

    def _expect(self, kind: str, wire: str) -> asyncio.Future[bool]:
        fut = self._confirming.get((kind, wire))
        if fut is None or fut.done():
            fut = asyncio.get_running_loop().create_future()
            self._confirming[(kind, wire)] = fut
        return fut

    async def _confirmed(self, fut: asyncio.Future[bool]) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2 * self._socket_timeout):
                await asyncio.shield(fut)

    async def _attach(self, pattern: str, *, first: bool) -> None:
        kind, wire = self._wire(pattern)
        if not first:  # another subscriber is (being) wired: wait as long as it does
            pending = self._confirming.get((kind, wire))
            if pending is not None:
                await self._confirmed(pending)
            return
        async with self._ps_lock:
            ps = self._pubsub
            if ps is None or pattern in self._wired:
                return  # degraded, or already on the wire: the connection will do
            fut = self._expect(kind, wire)
            try:
                await _guarded(ps.psubscribe(wire) if kind == "psubscribe" else ps.subscribe(wire))
            except _DOWN as exc:
                self._fail(exc)
                return
            self._wired.add(pattern)
        await self._confirmed(fut)

    async def _detach(self, pattern: str) -> None:
        async with self._ps_lock:
            ps = self._pubsub
            if ps is None or pattern not in self._wired or self._registry.has(pattern):
                return
            self._wired.discard(pattern)
            kind, wire = self._wire(pattern)
            try:
                await _guarded(
                    ps.punsubscribe(wire) if kind == "psubscribe" else ps.unsubscribe(wire)
                )
            except _DOWN as exc:
                self._fail(exc)

    def _handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind in ("message", "pmessage"):
            wire = _text(msg["channel"])
            if not wire.startswith(self.prefix):
                return
            channel = wire[len(self.prefix) :]
            if kind == "pmessage":
                pattern = self._pattern_of(_text(msg["pattern"]))
                if pattern is None:
                    return
            else:
                pattern = channel
            data = msg["data"]
            if isinstance(data, str):
                data = data.encode()
            self._registry.deliver_to(pattern, channel, data)
        elif kind in ("subscribe", "psubscribe"):
            fut = self._confirming.pop((kind, _text(msg["channel"])), None)
            if fut is not None and not fut.done():
                fut.set_result(True)

    def _pattern_of(self, wire: str) -> str | None:
        """The logical prefix subscription (``meeting:*``) of a wire glob."""
        if not wire.endswith("*"):
            return None
        text = _glob_unescape(wire[:-1])
        if not text.startswith(self.prefix):
            return None
        logical = text[len(self.prefix) :] + "*"
        return logical if logical in self._wired else None

    # -- connection -----------------------------------------------------------------

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self._reconnect_min
        while True:
            self._broken.clear()
            try:
                ps = await self._connect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # whatever it was, try again later
                self._fail(exc)
                self._first_attempt.set()
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311
                delay = min(2 * delay, self._reconnect_max)
                continue
            up_since = loop.time()
            self._came_up()
            self._first_attempt.set()
            try:
                await self._read(ps)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._fail(exc)
            finally:
                await self._drop_pubsub()
            if loop.time() - up_since >= _STABLE_S:
                delay = self._reconnect_min
            else:  # it keeps breaking right after connecting: do not hammer it
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311
                delay = min(2 * delay, self._reconnect_max)

    async def _connect(self) -> PubSub:
        """PING; subscribe everything on a fresh pub/sub connection and wait for
        Redis to confirm; announce again and read the directory; then the bus
        is healthy."""
        assert self._client is not None
        await _guarded(self._client.ping())
        ps = self._client.pubsub()
        try:
            async with self._ps_lock:
                patterns = self._registry.patterns()
                channels = [self._control] + [
                    self._wire(p)[1] for p in patterns if not is_prefix(p)
                ]
                globs = [self._wire(p)[1] for p in patterns if is_prefix(p)]
                waits = [self._expect("subscribe", c) for c in channels]
                waits += [self._expect("psubscribe", g) for g in globs]
                await _guarded(ps.subscribe(*channels))
                if globs:
                    await _guarded(ps.psubscribe(*globs))
                self._pubsub = ps
                self._wired = set(patterns)
            deadline = asyncio.get_running_loop().time() + 2 * self._socket_timeout
            while not all(w.done() for w in waits):
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    raise TimeoutError("Redis did not confirm the subscriptions")
                msg = await _guarded(ps.get_message(timeout=min(left, 0.25)))
                if msg is not None:
                    self._handle(msg)
            async with self._dir_lock:
                if self._me is not None:
                    await self._write_me()
            self._seen = self._parse_nodes(await self._read_directory())
        except BaseException:
            await self._drop_pubsub(ps)
            raise
        return ps

    async def _read(self, ps: PubSub) -> None:
        loop = asyncio.get_running_loop()
        tick = min(0.25, self._ping_interval / 2)
        last_rx = last_ping = loop.time()
        while True:
            if self._broken.is_set():
                raise ConnectionError("a command to Redis failed")
            msg = await _guarded(ps.get_message(timeout=tick))
            now = loop.time()
            if msg is not None:
                last_rx = now
                self._handle(msg)
                continue
            if now - last_rx >= self._dead_after:
                raise TimeoutError(f"no answer from Redis for {self._dead_after:.1f} s")
            if now - max(last_rx, last_ping) >= self._ping_interval:
                async with self._ps_lock:
                    await _guarded(ps.ping())
                last_ping = now

    async def _drop_pubsub(self, ps: PubSub | None = None) -> None:
        async with self._ps_lock:
            if ps is None or ps is self._pubsub:
                ps, self._pubsub = self._pubsub, None
                self._wired = set()
            for fut in self._confirming.values():
                if not fut.done():
                    fut.set_result(False)
            self._confirming.clear()
        if ps is not None:
            with contextlib.suppress(*_DOWN):
                await _guarded(ps.aclose())  # type: ignore[no-untyped-call]

    def _came_up(self) -> None:
        self._healthy = True
        if self._down_since is not None:
            log.warning(
                "bus: Redis at %s is back after %.1f s; resubscribed, node announced",
                redact_url(self.url),
                time.monotonic() - self._down_since,
            )
            self._down_since = None
        else:
            log.info("bus: connected to Redis at %s", redact_url(self.url))
        task = asyncio.get_running_loop().create_task(
            self._run_resubscribed(), name="frontdesk-bus-resubscribed"
        )
        self._callback_tasks.add(task)
        task.add_done_callback(self._callback_tasks.discard)

    def _fail(self, exc: BaseException) -> None:
        """Redis failed us: degraded until the supervisor has reconnected."""
        was_healthy = self._healthy
        self._healthy = False
        self._broken.set()
        if self._closed:
            return
        if self._down_since is None:
            self._down_since = time.monotonic()
        if was_healthy or not self._first_attempt.is_set():
            log.warning(
                "bus: Redis at %s unreachable (%s: %s); degraded: hints are dropped, "
                "nodes poll the database; reconnecting",
                redact_url(self.url),
                type(exc).__name__,
                exc,
            )
        else:
            log.debug("bus: reconnection failed: %s: %s", type(exc).__name__, exc)

    # -- the node directory -------------------------------------------------------------

    async def announce(self, info: NodeInfo) -> None:
        self._check_own(info)
        async with self._dir_lock:
            self._me = info
            self._me_written = self._stamped(info, time.time())
            if self._healthy:
                try:
                    await self._write_me()
                except _DOWN as exc:
                    self._fail(exc)

    async def withdraw(self) -> None:
        async with self._dir_lock:
            had, self._me, self._me_written = self._me, None, None
            self._seen.pop(self.instance, None)
            if had is None or not self._healthy or self._client is None:
                return
            try:
                async with self._client.pipeline(transaction=True) as pipe:
                    pipe.hdel(self._nodes_key, self.instance)
                    pipe.zrem(self._expiry_key, self.instance)
                    await _guarded(pipe.execute())
            except _DOWN as exc:
                self._fail(exc)  # the entry expires on its own

    async def _write_me(self) -> None:
        """Write this node's entry (the caller holds the directory lock)."""
        assert self._me is not None
        info = self._stamped(self._me, time.time())
        ttl_ms = round(self.node_ttl_s * 1000)
        await _guarded(
            self._announce_script(
                keys=[self._nodes_key, self._expiry_key],
                args=[info.instance, info.to_json(), ttl_ms, max(_KEYS_TTL_MS, 2 * ttl_ms)],
            )
        )
        self._me_written = info
        self._seen[info.instance] = (info, asyncio.get_running_loop().time() + self.node_ttl_s)

    async def _refresh_loop(self) -> None:
        """Keep this node's entry alive, and the picture of the others fresh
        (what :meth:`nodes` answers from while degraded)."""
        while True:
            await asyncio.sleep(self.node_ttl_s / 3)
            if not self._healthy:
                continue
            async with self._dir_lock:
                if self._me is not None:
                    try:
                        await self._write_me()
                    except _DOWN as exc:
                        self._fail(exc)
                        continue
            await self.nodes()

    async def nodes(self) -> list[NodeInfo]:
        if self._healthy and self._client is not None:
            try:
                raw = await self._read_directory()
            except _DOWN as exc:
                self._fail(exc)
            else:
                self._seen = self._parse_nodes(raw)
        return self._known()

    async def _read_directory(self) -> Any:
        return await _guarded(self._nodes_script(keys=[self._nodes_key, self._expiry_key]))

    def _parse_nodes(self, raw: Any) -> dict[str, tuple[NodeInfo, float]]:
        now = asyncio.get_running_loop().time()
        redis_now = int(raw[0])
        seen: dict[str, tuple[NodeInfo, float]] = {}
        for i in range(1, len(raw) - 1, 2):
            try:
                info = NodeInfo.from_json(raw[i])
                expires = float(raw[i + 1])
            except ValueError as exc:
                log.warning("bus: ignoring a malformed directory entry: %s", exc)
                continue
            seen[info.instance] = (info, now + (expires - redis_now) / 1000)
        return seen

    def _known(self) -> list[NodeInfo]:
        """The directory as this node knows it: entries not yet expired, and itself."""
        now = asyncio.get_running_loop().time()
        self._seen = {k: v for k, v in self._seen.items() if v[1] > now}
        found = {k: info for k, (info, _) in self._seen.items()}
        if self._me_written is not None:
            found[self.instance] = self._me_written
        else:
            found.pop(self.instance, None)
        return sorted(found.values(), key=lambda n: (n.node_id, n.instance))
