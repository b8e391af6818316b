"""Raw WebSocket load, spread over worker processes: the engine behind
``frontdesk loadtest --processes N`` and the benchmarks in ``bench/``.

Each worker process runs many clients that speak the RTC protocol over a
minimal WebSocket client of their own (an :class:`asyncio.Protocol`, no
library): a delivered chat message costs a worker a few microseconds, far less
than it costs the node, so on one machine the load generator is not what
saturates first. Clients offer ``permessage-deflate`` as the SDKs (and
browsers) do, unless told not to.

Latency is measured across processes with ``CLOCK_MONOTONIC`` (system-wide on
Linux): a chat message's text carries its sender's index and send time
(``"lt <index> <ns>"``), so whoever receives it knows how long it took without
asking the sender. Latencies go into mergeable histograms (0.1 % resolution).

The coordinator (:class:`Fleet`) sends each worker a command and gathers the
answers; the shapes (:func:`joins`, :func:`connect`, :func:`chat`,
:func:`service_api`) build on that, and a :class:`Minter` supplies meetings and
guest tokens (the service API in ``frontdesk loadtest``; the store directly in
``bench/``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import heapq
import json
import math
import multiprocessing
import os
import random
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

__all__ = [
    "ApiResult",
    "ChatResult",
    "Fleet",
    "Hist",
    "JoinResult",
    "Minter",
    "NodeProc",
    "Target",
    "chat",
    "connect",
    "drop",
    "joins",
    "service_api",
]

HIST_SIZE = 26 * 2048  # up to 2**36 µs: far beyond any wait here


# --- histograms -------------------------------------------------------------------------------
class Hist:
    """Counts of microsecond values, exact below 2048 µs and within 0.1 % above:
    cheap to fill, and two of them merge by adding counts."""

    __slots__ = ("counts", "n")

    def __init__(self) -> None:
        self.counts = [0] * HIST_SIZE
        self.n = 0

    def add(self, us: int) -> None:
        if us < 2048:
            self.counts[us if us > 0 else 0] += 1
        else:
            s = us.bit_length() - 11
            self.counts[min((s << 11) + (us >> s), HIST_SIZE - 1)] += 1
        self.n += 1

    def sparse(self) -> dict[int, int]:
        return {i: c for i, c in enumerate(self.counts) if c}

    def merge(self, sparse: dict[int, int]) -> None:
        for i, c in sparse.items():
            self.counts[i] += c
            self.n += c

    @staticmethod
    def value_us(index: int) -> float:
        if index < 2048:
            return float(index)
        s = index >> 11
        return float(((index & 2047) << s) + (1 << s) / 2)

    def pct_ms(self, p: float) -> float:
        """Nearest-rank percentile in milliseconds (NaN when empty)."""
        if not self.n:
            return float("nan")
        rank = max(1, math.ceil(p / 100 * self.n))
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= rank:
                return self.value_us(i) / 1000
        return float("nan")  # pragma: no cover - counts add up to n

    def max_ms(self) -> float:
        for i in range(HIST_SIZE - 1, -1, -1):
            if self.counts[i]:
                return self.value_us(i) / 1000
        return float("nan")

    @classmethod
    def of(cls, parts: Iterable[dict[int, int]]) -> Hist:
        h = cls()
        for part in parts:
            h.merge(part)
        return h


def _merge_counts(parts: Iterable[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in parts:
        for k, v in part.items():
            out[k] = out.get(k, 0) + v
    return out


# --- the node under test ------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """Where the clients connect: the node's RTC WebSocket and service API."""

    host: str
    port: int
    rtc_path: str = "/v1/rtc"

    @classmethod
    def from_url(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "ws"):
            raise ValueError("raw clients speak plain http/ws only (no TLS): use the SDK path")
        host = parts.hostname or "127.0.0.1"
        port = parts.port or 80
        prefix = parts.path.rstrip("/")
        return cls(host, port, prefix + "/v1/rtc")


class NodeProc:
    """CPU time and resident memory of a local node process, from ``/proc``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._tick = os.sysconf("SC_CLK_TCK")

    def cpu_s(self, thread: int | None = None) -> float:
        """User + system CPU seconds of the process (all its threads), or of one
        thread (the main thread, which runs the event loop, has the process's id)."""
        path = (
            f"/proc/{self.pid}/stat" if thread is None else f"/proc/{self.pid}/task/{thread}/stat"
        )
        stat = Path(path).read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / self._tick

    def waited_s(self, thread: int) -> float:
        """Seconds ``thread`` was ready to run but waited for a CPU (``schedstat``):
        on a shared machine, what other processes took from the node."""
        try:
            return (
                int(Path(f"/proc/{self.pid}/task/{thread}/schedstat").read_text().split()[1]) / 1e9
            )
        except (OSError, IndexError, ValueError):
            return float("nan")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")


class CpuWindow:
    """A node's CPU use over a window, as a percentage of one core: the whole
    process, its event loop's thread alone (near 100 %: the loop is the limit),
    and how long that thread was ready but waited for a CPU (taken by others)."""

    def __init__(self, node: NodeProc | None) -> None:
        self.node = node
        self.cpu0 = self.loop0 = self.wait0 = self.t0 = 0.0
        self.percent = self.loop_percent = self.wait_percent = self.cpu_s = float("nan")

    def start(self) -> None:
        if self.node is not None:
            self.cpu0 = self.node.cpu_s()
            self.loop0 = self.node.cpu_s(self.node.pid)
            self.wait0 = self.node.waited_s(self.node.pid)
            self.t0 = time.monotonic()

    def stop(self) -> None:
        if self.node is not None:
            self.cpu_s = self.node.cpu_s() - self.cpu0
            loop_s = self.node.cpu_s(self.node.pid) - self.loop0
            wait_s = self.node.waited_s(self.node.pid) - self.wait0
            wall = time.monotonic() - self.t0
            if wall > 0:
                self.percent = 100 * self.cpu_s / wall
                self.loop_percent = 100 * loop_s / wall
                self.wait_percent = 100 * wait_s / wall


# --- a minimal WebSocket client -----------------------------------------------------------------
class WsClient(asyncio.Protocol):
    """RFC 6455 client framing on a transport: text frames out (masked with a zero
    key, which the server unmasks like any other), frames in parsed from a
    buffer, pings answered, ``permessage-deflate`` when the server agrees."""

    def __init__(self, deflate: bool) -> None:
        self.offer_deflate = deflate
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.inflater: Any = None
        self.deflater: Any = None
        self.client_bits = 15
        self.client_reset = False
        self._frag: bytearray | None = None
        self._frag_rsv1 = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError("closed during the handshake"))
        if not self.lost.done():
            self.lost.set_result(None)
        self.on_lost()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).decode("latin-1")
            del self.buf[: end + 4]
            self._upgrade(head)
            if not self.upgraded:
                return
        self._frames()

    # the handshake
    def request(self, host: str, port: int, path: str) -> bytes:
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            "User-Agent: frontdesk-loadgen",
        ]
        if self.offer_deflate:
            lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def _upgrade(self, head: str) -> None:
        status, *headers = head.split("\r\n")
        if not status.startswith("HTTP/1.1 101"):
            self.handshake.set_exception(ConnectionError(f"no upgrade: {status}"))
            if self.transport is not None:
                self.transport.close()
            return
        for line in headers:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-extensions" and "permessage-deflate" in value:
                self._agree(value)
        self.upgraded = True
        self.handshake.set_result(None)

    def _agree(self, value: str) -> None:
        server_bits = 15
        for param in value.split(";")[1:]:
            k, _, v = param.strip().partition("=")
            if k == "server_max_window_bits" and v:
                server_bits = int(v)
            elif k == "client_max_window_bits" and v:
                self.client_bits = int(v)
            elif k == "client_no_context_takeover":
                self.client_reset = True
        self.inflater = zlib.decompressobj(-server_bits)
        self.deflater = zlib.compressobj(wbits=-self.client_bits)

    # frames
    def _frames(self) -> None:
        buf = self.buf
        n = len(buf)
        pos = 0
        while n - pos >= 2:
            b0 = buf[pos]
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            end = pos + head + length
            if end > n:
                break
            payload = bytes(buf[pos + head : end])
            pos = end
            opcode = b0 & 0x0F
            if opcode == 1 or opcode == 2:
                if b0 & 0x80:
                    self._message(payload, bool(b0 & 0x40))
                else:
                    self._frag = bytearray(payload)
                    self._frag_rsv1 = bool(b0 & 0x40)
            elif opcode == 0 and self._frag is not None:
                self._frag += payload
                if b0 & 0x80:
                    whole, self._frag = bytes(self._frag), None
                    self._message(whole, self._frag_rsv1)
            elif opcode == 9:
                self._send_frame(0x8A, payload)
            elif opcode == 8:
                self._send_frame(0x88, payload[:2])
                if self.transport is not None:
                    self.transport.close()
                break
        del buf[:pos]

    def _message(self, payload: bytes, compressed: bool) -> None:
        if compressed:
            payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
        self.on_message(payload)

    def _send_frame(self, b0: int, data: bytes) -> None:
        n = len(data)
        if n < 126:
            header = bytes((b0, 0x80 | n))
        elif n < 65536:
            header = bytes((b0, 0xFE)) + n.to_bytes(2, "big")
        else:
            header = bytes((b0, 0xFF)) + n.to_bytes(8, "big")
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(header + b"\x00\x00\x00\x00" + data)

    def send(self, text: bytes) -> None:
        """One text message (compressed when the extension was agreed)."""
        if self.deflater is not None:
            if self.client_reset:
                self.deflater = zlib.compressobj(wbits=-self.client_bits)
            data = self.deflater.compress(text) + self.deflater.flush(zlib.Z_SYNC_FLUSH)
            self._send_frame(0xC1, data[:-4])
        else:
            self._send_frame(0x81, text)

    def close(self) -> None:
        self._send_frame(0x88, (1000).to_bytes(2, "big"))
        if self.transport is not None:
            self.transport.close()

    # for subclasses
    def on_message(self, payload: bytes) -> None:
        pass

    def on_lost(self) -> None:
        pass


# --- one client of the RTC protocol ---------------------------------------------------------------
class Stats:
    """What a worker's clients saw during one command."""

    def __init__(self, end_ns: int = 0) -> None:
        self.join = Hist()
        self.ack = Hist()
        self.delivery = Hist()
        self.lag = Hist()  # paced sending: actual minus scheduled send time
        self.sent = 0
        self.acked = 0
        self.acked_in_window = 0
        self.received = 0
        self.received_in_window = 0
        self.errors: dict[str, int] = {}
        self.end_ns = end_ns
        self.last_ns = 0

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    def report(self) -> dict[str, Any]:
        return {
            "join": self.join.sparse(),
            "ack": self.ack.sparse(),
            "delivery": self.delivery.sparse(),
            "lag": self.lag.sparse(),
            "sent": self.sent,
            "acked": self.acked,
            "acked_in_window": self.acked_in_window,
            "received": self.received,
            "received_in_window": self.received_in_window,
            "errors": self.errors,
            "last_ns": self.last_ns,
        }


CHAT_EVENT = b'"name":"chat_message"'
TEXT_KEY = b'"text":"lt '
PING = b'{"type":"ping"}'


class Peer(WsClient):
    """A guest: joins with its token, then counts what it is sent."""

    def __init__(self, index: int, stats: Stats, deflate: bool) -> None:
        super().__init__(deflate)
        self.index = index
        self.stats = stats
        self.welcome: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.joined = False
        self.pending: dict[bytes, int] = {}
        self.counter = 0
        self.closed_loop = False
        self.budget = 0
        self.heartbeat_s = 15.0

    def on_lost(self) -> None:
        if not self.welcome.done():
            self.welcome.set_exception(ConnectionError("closed before welcome"))
        elif self.joined:
            self.stats.error("disconnected")
        self.joined = False

    def send_chat(self, now_ns: int) -> None:
        self.counter += 1
        ref = f"m{self.counter}"
        self.pending[ref.encode()] = now_ns
        text = f"lt {self.index} {now_ns}"
        self.send(f'{{"type":"chat","id":"{ref}","text":"{text}","ref":"{ref}"}}'.encode())
        self.stats.sent += 1

    def next_closed_loop(self) -> None:
        now = time.monotonic_ns()
        if self.budget > 0 and now < self.stats.end_ns and self.joined:
            self.budget -= 1
            self.send_chat(now)

    def on_message(self, p: bytes) -> None:
        if not self.joined:
            if not self.welcome.done():
                try:
                    self.welcome.set_result(json.loads(p))
                except ValueError as exc:
                    self.welcome.set_exception(exc)
            return
        if p.startswith(b'{"type":"event"'):
            if CHAT_EVENT in p[:64]:
                i = p.find(TEXT_KEY)
                if i < 0:
                    return
                i += 11
                sender, sent = p[i : p.find(b'"', i)].split(b" ")
                if int(sender) != self.index:
                    now = time.monotonic_ns()
                    st = self.stats
                    st.delivery.add((now - int(sent)) // 1000)
                    st.received += 1
                    if now <= st.end_ns:
                        st.received_in_window += 1
                    st.last_ns = now
        elif p.startswith(b'{"type":"ok","ref":"'):
            t = self.pending.pop(p[20 : p.find(b'"', 20)], None)
            if t is not None:
                now = time.monotonic_ns()
                st = self.stats
                st.ack.add((now - t) // 1000)
                st.acked += 1
                if now <= st.end_ns:
                    st.acked_in_window += 1
                if self.closed_loop:
                    self.next_closed_loop()
        elif p.startswith(b'{"type":"error"'):
            msg = json.loads(p)
            self.stats.error(str(msg.get("code")))
            ref = msg.get("ref")
            if (
                isinstance(ref, str)
                and self.pending.pop(ref.encode(), None) is not None
                and self.closed_loop
            ):
                wait = float(msg.get("retry_after") or 0.0)
                asyncio.get_running_loop().call_later(wait, self.next_closed_loop)


# --- a worker process ---------------------------------------------------------------------------
@dataclass
class Spec:
    """One guest to connect: its global index, its meeting (an index) and token."""

    index: int
    meeting: int
    token: str


class Worker:
    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self.peers: list[Peer] = []
        self.stats = Stats()
        self._heartbeat: asyncio.Task[None] | None = None

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        self._heartbeat = asyncio.create_task(self._pings())
        while True:
            cmd: dict[str, Any] = await loop.run_in_executor(None, self.pipe.recv)
            op = cmd["op"]
            if op == "exit":
                await self._drop(cmd)
                self.pipe.send({})
                return
            handler: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] = getattr(self, "_" + op)
            cpu0 = time.process_time()
            try:
                answer = await handler(cmd)
            except Exception as exc:  # reported to the coordinator, which raises
                answer = {"failed": f"{type(exc).__name__}: {exc}"}
            answer["client_cpu_s"] = time.process_time() - cpu0
            self.pipe.send(answer)

    async def _pings(self) -> None:
        """The protocol's heartbeat: each guest sends a ping every ``heartbeat_s``,
        spread over the interval."""
        step = 0
        while True:
            await asyncio.sleep(1.0)
            peers = [p for p in self.peers if p.joined]
            if not peers:
                continue
            slices = max(1, round(peers[0].heartbeat_s))
            for p in peers[step % slices :: slices]:
                p.send(PING)
            step += 1

    @staticmethod
    async def _until(start_ns: int) -> None:
        delay = (start_ns - time.monotonic_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)

    async def _open(self, target: Target, spec: Spec, deflate: bool, stats: Stats) -> Peer | None:
        """Token in hand → ``welcome``; follows one redirect to the hosting node."""
        loop = asyncio.get_running_loop()
        host, port, path = target.host, target.port, target.rtc_path
        t0 = time.monotonic_ns()
        for _ in range(2):
            peer: Peer | None = None
            try:
                _, peer = await loop.create_connection(
                    lambda: Peer(spec.index, stats, deflate), host, port
                )
                assert peer.transport is not None
                peer.transport.write(peer.request(host, port, path))
                await asyncio.wait_for(peer.handshake, 30)
                hello = {"type": "hello", "v": 1, "auth": {"kind": "token", "token": spec.token}}
                peer.send(json.dumps(hello).encode())
                welcome = await asyncio.wait_for(peer.welcome, 30)
            except (OSError, TimeoutError, ValueError) as exc:
                stats.error(type(exc).__name__)
                if peer is not None and peer.transport is not None:
                    peer.transport.abort()
                return None
            if welcome.get("type") == "welcome":
                stats.join.add((time.monotonic_ns() - t0) // 1000)
                stats.last_ns = time.monotonic_ns()
                peer.joined = True
                peer.heartbeat_s = float(welcome.get("heartbeat_s") or 15.0)
                return peer
            if peer.transport is not None:
                peer.transport.abort()
            rtc_url = welcome.get("rtc_url")
            if welcome.get("type") == "error" and isinstance(rtc_url, str):
                parts = urlsplit(rtc_url)
                host, port, path = parts.hostname or host, parts.port or port, parts.path
                continue
            stats.error(str(welcome.get("code") or welcome.get("type")))
            return None
        stats.error("redirected twice")
        return None

    async def _ready(self, cmd: dict[str, Any]) -> dict[str, Any]:
        return {}

    async def _connect(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Join every spec, ``concurrency`` at a time, from ``start_ns`` on; keep them.
        None is begun after ``deadline_ns`` (those count as ``not tried``)."""
        target: Target = cmd["target"]
        specs: list[Spec] = cmd["specs"]
        deadline: int | None = cmd.get("deadline_ns")
        stats = Stats()
        gate = asyncio.Semaphore(max(1, cmd["concurrency"]))
        skipped = 0

        async def one(spec: Spec) -> None:
            nonlocal skipped
            async with gate:
                if deadline is not None and time.monotonic_ns() > deadline:
                    skipped += 1
                    return
                peer = await self._open(target, spec, cmd["deflate"], stats)
            if peer is not None:
                self.peers.append(peer)

        await self._until(cmd["start_ns"])
        await asyncio.gather(*(one(s) for s in specs))
        if skipped:
            stats.errors["not tried"] = skipped
        return {"joined": stats.join.n, **stats.report()}

    async def _chat(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Senders chat from ``start_ns`` for ``duration`` s: at ``rate`` msg/s each
        (paced, open loop) or, with ``rate`` 0, each as soon as its last message is
        acknowledged (closed loop, at most ``budget`` messages each). Every peer
        counts what it is delivered; answers after a drain."""
        senders: set[int] = set(cmd["senders"])
        start_ns: int = cmd["start_ns"]
        end_ns = start_ns + int(cmd["duration"] * 1e9)
        stats = Stats(end_ns)
        for p in self.peers:
            p.stats = stats
            p.pending.clear()
            p.closed_loop = False
        mine = [p for p in self.peers if p.index in senders and p.joined]
        rate: float = cmd["rate"]
        await self._until(start_ns)
        if rate > 0:
            await self._paced(mine, rate, start_ns, end_ns, stats)
        else:
            for p in mine:
                p.closed_loop = True
                p.budget = cmd["budget"]
                p.next_closed_loop()
            await self._until(end_ns)
        drain_until = time.monotonic_ns() + int(cmd["drain"] * 1e9)
        while time.monotonic_ns() < drain_until:
            if not any(p.pending for p in mine) and (
                time.monotonic_ns() - stats.last_ns > 200_000_000
            ):
                break
            await asyncio.sleep(0.05)
        for p in mine:
            p.closed_loop = False
            stats.errors["unacknowledged"] = stats.errors.get("unacknowledged", 0) + len(p.pending)
        if not stats.errors.get("unacknowledged"):
            stats.errors.pop("unacknowledged", None)
        return {"senders": len(mine), "peers": sum(p.joined for p in self.peers), **stats.report()}

    @staticmethod
    async def _paced(peers: list[Peer], rate: float, start: int, end: int, stats: Stats) -> None:
        interval = int(1e9 / rate)
        rng = random.Random(start)  # noqa: S311 - phases, not secrets
        heap = [(start + rng.randrange(interval), i) for i in range(len(peers))]
        heapq.heapify(heap)
        while heap:
            due, i = heap[0]
            now = time.monotonic_ns()
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
                continue
            if due >= end:
                heapq.heappop(heap)
                continue
            stats.lag.add((now - due) // 1000)
            peer = peers[i]
            if peer.joined:
                peer.send_chat(now)
            heapq.heapreplace(heap, (due + interval, i))

    async def _drop(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Leave and close every connection (waits up to ``timeout`` s)."""
        peers, self.peers = self.peers, []
        for p in peers:
            if p.joined:
                p.send(b'{"type":"leave","ref":"bye"}')
        if peers:
            lost = [p.lost for p in peers]
            _, late = await asyncio.wait(lost, timeout=cmd.get("timeout", 5.0))
            for p in peers:
                if not p.lost.done() and p.transport is not None:
                    p.transport.abort()
            return {"dropped": len(peers), "late": len(late)}
        return {"dropped": 0, "late": 0}

    async def _api(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """The service API: ``concurrency`` keep-alive connections, each creating a
        meeting (and, for ``kind`` ``pair``, minting a guest token for it) in a
        loop from ``start_ns`` for ``duration`` s."""
        target: Target = cmd["target"]
        start_ns: int = cmd["start_ns"]
        end_ns = start_ns + int(cmd["duration"] * 1e9)
        stats = Stats(end_ns)
        meeting_body = json.dumps(cmd["meeting"]).encode()
        guest_body = b'{"display_name":"Load guest"}'
        auth = f"Bearer {cmd['access_token']}"

        async def loop_one() -> None:
            reader, writer = await asyncio.open_connection(target.host, target.port)
            http = _Http(reader, writer, f"{target.host}:{target.port}", auth)
            try:
                await self._until(start_ns)
                while time.monotonic_ns() < end_ns:
                    t0 = time.monotonic_ns()
                    status, body = await http.post("/v1/meetings", meeting_body)
                    if status != 201:
                        stats.error(f"POST /v1/meetings {status}")
                        continue
                    if cmd["kind"] == "pair":
                        mid = json.loads(body)["id"]
                        status, body = await http.post(
                            f"/v1/meetings/{mid}/guest-tokens", guest_body
                        )
                        if status != 201:
                            stats.error(f"POST guest-tokens {status}")
                            continue
                    now = time.monotonic_ns()
                    stats.ack.add((now - t0) // 1000)
                    stats.acked += 1
                    if now <= end_ns:
                        stats.acked_in_window += 1
            finally:
                writer.close()

        await asyncio.gather(*(loop_one() for _ in range(cmd["concurrency"])))
        return stats.report()


class _Http:
    """HTTP/1.1 keep-alive requests on one connection, nothing more."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, auth: str
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.head = (
            f"Host: {host}\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\n"
        ).encode()

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            b"POST " + path.encode() + b" HTTP/1.1\r\n" + self.head
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )  # fmt: skip
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)


def _worker_main(pipe: Pipe) -> None:
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    with contextlib.suppress(ImportError):
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(Worker(pipe).serve())


# --- the coordinator ------------------------------------------------------------------------------
class Fleet:
    """Worker processes (spawned) and their pipes."""

    def __init__(self, processes: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Pipe] = []
        self.procs: list[Any] = []
        for _ in range(max(1, processes)):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(theirs,), daemon=True)
            proc.start()
            theirs.close()
            self.pipes.append(mine)
            self.procs.append(proc)

    @property
    def size(self) -> int:
        return len(self.pipes)

    async def ask(self, commands: Sequence[dict[str, Any] | None]) -> list[dict[str, Any]]:
        """Send each worker its command (``None``: none) and wait for the answers."""
        busy = [(pipe, c) for pipe, c in zip(self.pipes, commands, strict=False) if c is not None]
        for pipe, c in busy:
            pipe.send(c)
        answers = await asyncio.gather(*(asyncio.to_thread(pipe.recv) for pipe, _ in busy))
        for a in answers:
            if "failed" in a:
                raise RuntimeError(f"a load worker failed: {a['failed']}")
        return list(answers)

    async def everyone(self, command: dict[str, Any]) -> list[dict[str, Any]]:
        return await self.ask([command] * self.size)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.everyone({"op": "exit", "timeout": 3.0}), 10)
        for proc in self.procs:
            proc.join(timeout=2)
            if proc.is_alive():
                proc.kill()
                proc.join()

    async def __aenter__(self) -> Fleet:
        # Started processes import and set up before they read their pipe: wait
        # for that, or the first measured window would include it.
        await self.everyone({"op": "ready"})
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def start_in(seconds: float = 0.3) -> int:
    """A common start time, a little ahead, so that every worker begins together."""
    return time.monotonic_ns() + int(seconds * 1e9)


class Minter(Protocol):
    """Meetings (ad hoc, token holders skip the lobby) and guest tokens for them."""

    async def meetings(self, n: int) -> list[str]: ...

    async def tokens(self, meeting_ids: Sequence[str], per_meeting: int) -> list[list[str]]: ...


async def plan(minter: Minter, meetings: int, guests: int, first_index: int = 0) -> list[Spec]:
    """``meetings`` fresh meetings of ``guests`` guests each, as specs in meeting order."""
    ids = await minter.meetings(meetings)
    tokens = await minter.tokens(ids, guests)
    specs: list[Spec] = []
    for m, per in enumerate(tokens):
        for t in per:
            specs.append(Spec(first_index + len(specs), m, t))
    return specs


def deal(specs: Sequence[Spec], hands: int) -> list[list[Spec]]:
    """Round robin: the guests of one meeting land in different processes."""
    return [list(specs[i::hands]) for i in range(hands)]


# --- results ------------------------------------------------------------------------------------
@dataclass
class JoinResult:
    joined: int
    wanted: int
    latency: Hist
    elapsed_s: float
    errors: dict[str, int]
    node_cpu: float = float("nan")
    node_loop_cpu: float = float("nan")
    node_loop_wait: float = float("nan")
    client_cpu: float = float("nan")
    concurrency: int = 0

    @property
    def rate(self) -> float:
        return self.joined / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass
class ChatResult:
    duration_s: float
    members: int  # joined guests in each meeting that chats
    senders: int
    sent: int
    acked: int
    acked_in_window: int
    received: int
    received_in_window: int
    ack: Hist
    delivery: Hist
    lag: Hist
    errors: dict[str, int]
    node_cpu: float = float("nan")  # % of one core
    node_loop_cpu: float = float("nan")
    node_loop_wait: float = float("nan")  # the event loop's thread alone
    node_cpu_s: float = float("nan")
    client_cpu: float = float("nan")

    @property
    def msg_rate(self) -> float:
        return self.acked_in_window / self.duration_s

    @property
    def delivery_rate(self) -> float:
        return self.received_in_window / self.duration_s

    @property
    def lost(self) -> int:
        """Deliveries that never came (each sent message is due to the others)."""
        return max(0, self.sent * (self.members - 1) - self.received)


@dataclass
class ApiResult:
    kind: str
    done: int
    latency: Hist
    duration_s: float
    errors: dict[str, int]
    node_cpu: float = float("nan")
    node_loop_cpu: float = float("nan")
    node_loop_wait: float = float("nan")
    client_cpu: float = float("nan")

    @property
    def rate(self) -> float:
        return self.done / self.duration_s


# --- shapes ---------------------------------------------------------------------------------------
async def joins(
    fleet: Fleet,
    target: Target,
    specs: Sequence[Spec],
    *,
    concurrency: int,
    node: NodeProc | None = None,
    deflate: bool = True,
    processes: int | None = None,
    limit_s: float | None = None,
) -> JoinResult:
    """Join every spec (``concurrency`` in flight over the fleet, or over the first
    ``processes`` workers), beginning none after ``limit_s`` seconds; the guests
    stay connected until :func:`drop`."""
    hands = min(processes or fleet.size, fleet.size)
    each = max(1, concurrency // hands)
    start = start_in()
    dealt = deal(specs, hands)
    commands: list[dict[str, Any] | None] = [
        {
            "op": "connect",
            "target": target,
            "specs": dealt[i],
            "concurrency": each,
            "deflate": deflate,
            "start_ns": start,
            "deadline_ns": None if limit_s is None else start + int(limit_s * 1e9),
        }
        if i < hands
        else None
        for i in range(fleet.size)
    ]
    cpu = CpuWindow(node)
    await _sleep_until(start)
    cpu.start()
    t0 = time.monotonic()
    answers = await fleet.ask(commands)
    cpu.stop()
    wall = time.monotonic() - t0
    last = max((a["last_ns"] for a in answers), default=0)
    elapsed = (last - start) / 1e9 if last > start else 0.0
    return JoinResult(
        joined=sum(a["joined"] for a in answers),
        wanted=len(specs),
        latency=Hist.of(a["join"] for a in answers),
        elapsed_s=elapsed,
        errors=_merge_counts(a["errors"] for a in answers),
        node_cpu=cpu.percent,
        node_loop_cpu=cpu.loop_percent,
        node_loop_wait=cpu.wait_percent,
        client_cpu=100 * sum(a["client_cpu_s"] for a in answers) / wall if wall else 0.0,
        concurrency=each * hands,
    )


async def connect(
    fleet: Fleet,
    target: Target,
    specs: Sequence[Spec],
    *,
    concurrency: int = 64,
    deflate: bool = True,
    limit_s: float | None = None,
) -> JoinResult:
    """Connect guests to hold (for chat or idling); same as :func:`joins`."""
    return await joins(
        fleet, target, specs, concurrency=concurrency, deflate=deflate, limit_s=limit_s
    )


async def chat(
    fleet: Fleet,
    *,
    senders: Iterable[int],
    members: int,
    duration: float,
    rate: float = 0.0,
    budget: int = 1_000_000,
    node: NodeProc | None = None,
    drain: float = 15.0,
) -> ChatResult:
    """Every connected guest whose index is in ``senders`` chats for ``duration``
    seconds: ``rate`` msg/s each (open loop), or with ``rate`` 0 as fast as its
    acknowledgements come (closed loop, ``budget`` messages at most)."""
    chosen = sorted(senders)
    start = start_in(0.5)
    cpu = CpuWindow(node)
    command = {
        "op": "chat",
        "senders": chosen,
        "rate": rate,
        "budget": budget,
        "duration": duration,
        "start_ns": start,
        "drain": drain,
    }
    pending = asyncio.ensure_future(fleet.everyone(command))
    await _sleep_until(start)
    cpu.start()
    c0 = time.monotonic()
    await asyncio.sleep(duration)
    cpu.stop()
    answers = await pending
    return ChatResult(
        duration_s=duration,
        members=members,
        senders=sum(a["senders"] for a in answers),
        sent=sum(a["sent"] for a in answers),
        acked=sum(a["acked"] for a in answers),
        acked_in_window=sum(a["acked_in_window"] for a in answers),
        received=sum(a["received"] for a in answers),
        received_in_window=sum(a["received_in_window"] for a in answers),
        ack=Hist.of(a["ack"] for a in answers),
        delivery=Hist.of(a["delivery"] for a in answers),
        lag=Hist.of(a["lag"] for a in answers),
        errors=_merge_counts(a["errors"] for a in answers),
        node_cpu=cpu.percent,
        node_loop_cpu=cpu.loop_percent,
        node_loop_wait=cpu.wait_percent,
        node_cpu_s=cpu.cpu_s,
        # the workers' CPU includes the drain; compared with the window alone
        client_cpu=100 * sum(a["client_cpu_s"] for a in answers) / (time.monotonic() - c0),
    )


async def drop(fleet: Fleet, wait_s: float = 10.0) -> int:
    """Every connected guest leaves (closed after ``wait_s`` at most); returns how
    many connections there were."""
    answers = await fleet.everyone({"op": "drop", "timeout": wait_s})
    return sum(a["dropped"] for a in answers)


async def service_api(
    fleet: Fleet,
    target: Target,
    *,
    access_token: str,
    organizer: str,
    kind: str,
    concurrency: int,
    duration: float,
    node: NodeProc | None = None,
) -> ApiResult:
    """``kind`` ``meeting``: meetings created per second; ``pair``: a meeting and a
    guest token for it, per second (``concurrency`` connections over the fleet)."""
    each = max(1, concurrency // fleet.size)
    start = start_in()
    command = {
        "op": "api",
        "target": target,
        "access_token": access_token,
        "meeting": {
            "subject": "load",
            "organizer": organizer,
            "access_policy": "direct",
            "lobby_bypass": "token_holders",
        },
        "kind": kind,
        "concurrency": each,
        "duration": duration,
        "start_ns": start,
    }
    cpu = CpuWindow(node)
    pending = asyncio.ensure_future(fleet.everyone(command))
    await _sleep_until(start)
    cpu.start()
    c0 = time.monotonic()
    await asyncio.sleep(duration)
    cpu.stop()
    answers = await pending
    return ApiResult(
        kind=kind,
        done=sum(a["acked_in_window"] for a in answers),
        latency=Hist.of(a["ack"] for a in answers),
        duration_s=duration,
        errors=_merge_counts(a["errors"] for a in answers),
        node_cpu=cpu.percent,
        node_loop_cpu=cpu.loop_percent,
        node_loop_wait=cpu.wait_percent,
        client_cpu=100 * sum(a["client_cpu_s"] for a in answers) / (time.monotonic() - c0),
    )


async def _sleep_until(start_ns: int) -> None:
    delay = (start_ns - time.monotonic_ns()) / 1e9
    if delay > 0:
        await asyncio.sleep(delay)
