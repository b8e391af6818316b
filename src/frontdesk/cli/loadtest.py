"""``frontdesk loadtest``: load a node with guests; print latency percentiles.

It acts as a business back end (client credentials: meetings and guest tokens
through the service API) and as visitors. The load has a *shape*:

* ``meetings`` (the default): ``--meetings`` meetings of ``--guests`` guests,
  every guest chatting at ``--rate`` messages per second for ``--duration``
  seconds. Without ``--processes`` the guests are App SDK clients in this
  process, as always; with ``--processes N`` they are raw WebSocket clients
  spread over N worker processes (:mod:`frontdesk.cli.loadgen`), cheap enough to
  offer thousands of messages per second.
* ``pairs``: the same with two guests per meeting (a visitor and an advisor).
* ``room``: one meeting of ``--guests`` guests; ``--senders`` of them chat as fast
  as their acknowledgements come back (one in flight each) for ``--duration``
  seconds: the meeting's chat ceiling, or its fan-out when it is large.
* ``joins``: ``--meetings`` x ``--guests`` guests join, ``--concurrency`` at a
  time; joins per second and join time.
* ``idle``: as ``joins``, then the guests stay connected, sending only the
  protocol's heartbeat, for ``--duration`` seconds (memory per guest).
* ``api``: ``--concurrency`` keep-alive connections create a meeting and mint a
  guest token for it, in a loop, for ``--duration`` seconds.

It reports join time and chat latency percentiles: *ack* (sent → stored and
acknowledged) and *delivery* (sent → received by the other guests of the
meeting). Given ``--node-pid`` of a node on this machine, it also reports the
node's CPU and memory from ``/proc``. The node's own limits apply: raise
``FRONTDESK_WS_MESSAGES_PER_S`` (20 per connection) for rates above it, and
``FRONTDESK_RATE_LIMIT_PER_MIN`` (600 service API requests per minute) to mint
many tokens quickly. Bounded in count and time; loopback by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import math
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
import typer

from frontdesk.cli import loadgen as lg
from frontdesk.client import Meeting, MeetingEvent, join_with_token
from frontdesk.errors import FrontdeskError, RateLimited
from frontdesk.service_client import ServiceClient

__all__ = ["Shape", "ShapeReport", "loadtest", "run_loadtest", "run_shape"]

T = TypeVar("T")


@dataclass
class Results:
    join_ms: list[float] = field(default_factory=list)
    ack_ms: list[float] = field(default_factory=list)
    delivery_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    received: int = 0
    elapsed_s: float = 0.0

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


async def _polite(call: Callable[[], Awaitable[T]], tries: int = 20) -> T:
    """Call the service API, waiting out ``rate_limited`` answers as a back end should."""
    for _ in range(tries - 1):
        try:
            return await call()
        except RateLimited as err:
            await asyncio.sleep(float(err.extra.get("retry_after", 1)))
    return await call()


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def summary(r: Results) -> list[str]:
    lines = []
    for name, ms in (("join", r.join_ms), ("chat ack", r.ack_ms), ("chat delivery", r.delivery_ms)):
        if ms:
            lines.append(
                f"{name:<14} n={len(ms):<6} median={statistics.median(ms):8.2f} ms "
                f"p90={_pct(ms, 90):8.2f} p99={_pct(ms, 99):8.2f} max={max(ms):8.2f}"
            )
    rate = r.sent / r.elapsed_s if r.elapsed_s else 0.0
    lines.append(
        f"sent {r.sent} chat messages ({rate:.0f}/s), received {r.received} deliveries, "
        f"errors {r.errors or 'none'}"
    )
    return lines


async def run_loadtest(
    *,
    url: str,
    client_id: str,
    client_secret: str,
    organizer: str,
    meetings: int,
    guests: int,
    rate: float,
    duration: float,
) -> Results:
    res = Results()
    sent_at: dict[str, float] = {}
    joined: list[tuple[int, Meeting]] = []
    async with ServiceClient(base_url=url, client_id=client_id, client_secret=client_secret) as svc:

        async def join_one(idx: int, meeting_id: str, g: int) -> None:
            grant = await _polite(
                lambda: svc.create_guest_token(meeting_id, display_name=f"Load {idx}.{g}")
            )
            t0 = time.perf_counter()
            try:
                m = join_with_token(grant.discovery_uri, grant.token)
                await m.connect()
                await m.admitted(timeout=30)
            except FrontdeskError as err:
                res.error(err.code)
                return
            res.join_ms.append((time.perf_counter() - t0) * 1000)
            joined.append((idx, m))

        for idx in range(meetings):
            meeting = await _polite(
                functools.partial(
                    svc.create_meeting,
                    subject=f"load {idx}",
                    organizer=organizer,
                    access_policy="direct",
                    lobby_bypass="token_holders",
                )
            )
            await asyncio.gather(*(join_one(idx, meeting.id, g) for g in range(guests)))

    def on_chat(me: str | None, event: MeetingEvent) -> None:
        message = event.message
        if message is None or message.participant_id == me:
            return  # our own message coming back: that is the ack, measured apart
        t = sent_at.get(message.client_msg_id)
        if t is not None:
            res.delivery_ms.append((time.perf_counter() - t) * 1000)
            res.received += 1

    for _, m in joined:
        m.on("chat_message", functools.partial(on_chat, m.participant_id))

    async def talk(i: int, m: Meeting) -> None:
        interval = 1.0 / rate
        end = time.perf_counter() + duration
        n = 0
        while time.perf_counter() < end:
            cid = f"lt-{i}-{n}"
            t0 = time.perf_counter()
            sent_at[cid] = t0
            try:
                await m.chat.send(f"message {n} from guest {i}", client_msg_id=cid)
                res.ack_ms.append((time.perf_counter() - t0) * 1000)
                res.sent += 1
            except FrontdeskError as err:
                res.error(err.code)
            n += 1
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - t0)))

    t0 = time.perf_counter()
    await asyncio.gather(*(talk(i, m) for i, (_, m) in enumerate(joined)))
    res.elapsed_s = time.perf_counter() - t0
    await asyncio.sleep(0.5)  # let the last deliveries arrive
    for _, m in joined:
        with contextlib.suppress(FrontdeskError):
            await m.leave()
    return res


class Shape(enum.StrEnum):
    meetings = "meetings"
    pairs = "pairs"
    room = "room"
    joins = "joins"
    idle = "idle"
    api = "api"


@dataclass
class ShapeReport:
    """What a raw-client run measured, and its summary lines."""

    shape: Shape
    join: lg.JoinResult | None = None
    chat: lg.ChatResult | None = None
    api: lg.ApiResult | None = None
    rss_mb: tuple[float, float] | None = None  # the node's, before and after (idle)
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        if self.join is not None and (self.join.errors or self.join.joined < self.join.wanted):
            return False
        if self.chat is not None and (self.chat.errors or not self.chat.sent):
            return False
        return not (self.api is not None and (self.api.errors or not self.api.done))


class ServiceMinter:
    """Meetings (token holders skip the lobby) and guest tokens through the
    service API, ``parallel`` requests at a time, waiting out rate limits."""

    def __init__(self, svc: ServiceClient, organizer: str, parallel: int = 8) -> None:
        self.svc = svc
        self.organizer = organizer
        self.gate = asyncio.Semaphore(parallel)
        self.count = 0

    async def _one(self, call: Callable[[], Awaitable[T]]) -> T:
        async with self.gate:
            return await _polite(call)

    async def meetings(self, n: int) -> list[str]:
        async def create(i: int) -> str:
            meeting = await self._one(
                functools.partial(
                    self.svc.create_meeting,
                    subject=f"load {i}",
                    organizer=self.organizer,
                    access_policy="direct",
                    lobby_bypass="token_holders",
                )
            )
            return meeting.id

        first = self.count
        self.count += n
        return list(await asyncio.gather(*(create(first + i) for i in range(n))))

    async def tokens(self, meeting_ids: Sequence[str], per_meeting: int) -> list[list[str]]:
        async def mint(mid: str, name: str) -> str:
            grant = await self._one(
                # long enough to outlive minting many of them under the rate limit
                functools.partial(self.svc.create_guest_token, mid, display_name=name, ttl_s=3600)
            )
            return grant.token

        flat = await asyncio.gather(
            *(
                mint(mid, f"Load {m}.{g}")
                for m, mid in enumerate(meeting_ids)
                for g in range(per_meeting)
            )
        )
        return [list(flat[i : i + per_meeting]) for i in range(0, len(flat), per_meeting)]


def _hist_line(name: str, h: lg.Hist) -> str:
    return (
        f"{name:<14} n={h.n:<7} p50={h.pct_ms(50):8.2f} ms p95={h.pct_ms(95):8.2f} "
        f"p99={h.pct_ms(99):8.2f} max={h.max_ms():8.2f}"
    )


def _errors(errors: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(errors.items())) or "none"


def _cpu_line(node_cpu: float, loop: float, wait: float, client: float, processes: int) -> str:
    line = f"clients: {processes} processes, {client:.0f}% CPU"
    if not math.isnan(node_cpu):
        line = (
            f"node: {node_cpu:.0f}% CPU (event loop {loop:.0f}%, which waited {wait:.0f}% "
            f"for a CPU); {line}"
        )
    return line


async def _access_token(url: str, client_id: str, client_secret: str) -> str:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        r = await http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, client_secret),
        )
        r.raise_for_status()
        return str(r.json()["access_token"])


async def run_shape(
    *,
    url: str,
    client_id: str,
    client_secret: str,
    organizer: str,
    shape: Shape,
    meetings: int,
    guests: int,
    rate: float,
    duration: float,
    processes: int,
    senders: int = 4,
    concurrency: int = 32,
    deflate: bool = True,
    node_pid: int | None = None,
) -> ShapeReport:
    """Run one shape with raw WebSocket clients over ``processes`` worker processes."""
    target = lg.Target.from_url(url)
    node = lg.NodeProc(node_pid) if node_pid else None
    report = ShapeReport(shape)
    out = report.lines
    async with (
        ServiceClient(base_url=url, client_id=client_id, client_secret=client_secret) as svc,
        lg.Fleet(processes) as fleet,
    ):
        minter = ServiceMinter(svc, organizer)
        if shape is Shape.api:
            token = await _access_token(url, client_id, client_secret)
            r = await lg.service_api(
                fleet, target, access_token=token, organizer=organizer, kind="pair",
                concurrency=concurrency, duration=duration, node=node,
            )  # fmt: skip
            report.api = r
            out.append(_hist_line("meeting+token", r.latency))
            out.append(f"created {r.done} meetings with a guest token each ({r.rate:.0f}/s), "
                       f"errors {_errors(r.errors)}")  # fmt: skip
            out.append(_cpu_line(r.node_cpu, r.node_loop_cpu, r.node_loop_wait, r.client_cpu,
                                 fleet.size))  # fmt: skip
            return report
        if shape is Shape.pairs:
            guests = 2
        if shape is Shape.room:
            meetings = 1
        rss_before = node.rss_mb() if node else math.nan
        specs = await lg.plan(minter, meetings, guests)
        wide = concurrency if shape in (Shape.joins, Shape.idle) else max(concurrency, 64)
        j = await lg.joins(fleet, target, specs, concurrency=wide, node=node, deflate=deflate)
        report.join = j
        out.append(_hist_line("join", j.latency))
        out.append(
            f"joined {j.joined} of {j.wanted} guests ({j.rate:.0f}/s, {j.concurrency} at a time), "
            f"errors {_errors(j.errors)}"
        )
        try:
            if shape is Shape.joins:
                out.append(_cpu_line(j.node_cpu, j.node_loop_cpu, j.node_loop_wait,
                                     j.client_cpu, fleet.size))  # fmt: skip
            elif shape is Shape.idle:
                window = lg.CpuWindow(node)
                window.start()
                await asyncio.sleep(duration)
                window.stop()
                if node is not None:
                    report.rss_mb = (rss_before, node.rss_mb())
                    per = (report.rss_mb[1] - rss_before) * 1024 / max(1, j.joined)
                    out.append(
                        f"node RSS {rss_before:.0f} MB before, {report.rss_mb[1]:.0f} MB with "
                        f"{j.joined} idle guests ({per:.0f} KB each) after {duration:g} s"
                    )
                out.append(_cpu_line(window.percent, window.loop_percent, window.wait_percent,
                                     math.nan, fleet.size).split("; ")[0])  # fmt: skip
            else:
                if shape is Shape.room:
                    talking = [sp.index for sp in specs[:senders]]
                    c = await lg.chat(
                        fleet, senders=talking, members=j.joined, duration=duration,
                        budget=9000 // max(1, len(talking)), node=node,
                    )  # fmt: skip
                else:
                    c = await lg.chat(
                        fleet, senders=[sp.index for sp in specs], members=guests,
                        duration=duration, rate=rate, node=node,
                    )  # fmt: skip
                report.chat = c
                out.append(_hist_line("chat ack", c.ack))
                out.append(_hist_line("chat delivery", c.delivery))
                out.append(
                    f"sent {c.sent} chat messages ({c.sent / duration:.0f}/s), "
                    f"{c.acked_in_window / duration:.0f}/s acknowledged, received {c.received} "
                    f"deliveries ({c.delivery_rate:.0f}/s), errors {_errors(c.errors)}"
                )
                out.append(_cpu_line(c.node_cpu, c.node_loop_cpu, c.node_loop_wait,
                                     c.client_cpu, fleet.size))  # fmt: skip
        finally:
            await lg.drop(fleet)
    return report


def loadtest(
    url: str = typer.Option(
        "http://127.0.0.1:8080", "--url", envvar="FRONTDESK_URL", help="The node to drive."
    ),
    client_id: str = typer.Option(
        ..., "--client-id", envvar="FRONTDESK_CLIENT_ID", help="An application's client_id."
    ),
    client_secret: str = typer.Option(
        ..., "--client-secret", envvar="FRONTDESK_CLIENT_SECRET", help="Its client secret."
    ),
    organizer: str = typer.Option(..., "--organizer", help="An existing Frontdesk user."),
    meetings: int = typer.Option(
        10, "--meetings", min=1, max=10_000, help="Meetings to run at once."
    ),
    guests: int = typer.Option(
        2, "--guests", min=1, max=1000, help="Guests per meeting (the SDK path: 50 at most)."
    ),
    rate: float = typer.Option(
        1.0,
        "--rate",
        min=0.1,
        max=1000.0,
        help="Messages/s per guest (above the node's FRONTDESK_WS_MESSAGES_PER_S, 20, "
        "it answers rate_limited).",
    ),
    duration: float = typer.Option(10.0, "--duration", min=1.0, max=600.0, help="Seconds."),
    shape: Shape = typer.Option(Shape.meetings, "--shape", help="What load (see the docs)."),
    processes: int | None = typer.Option(
        None,
        "--processes",
        min=0,
        max=64,
        help="Worker processes of raw WebSocket clients (0: App SDK clients in this "
        "process, the default for --shape meetings; 2 for the other shapes).",
    ),
    senders: int = typer.Option(4, "--senders", min=1, help="room: guests that send."),
    concurrency: int = typer.Option(
        32, "--concurrency", min=1, max=10_000, help="joins, idle, api: requests in flight."
    ),
    deflate: bool = typer.Option(
        True, "--deflate/--no-deflate", help="Raw clients offer permessage-deflate, as SDKs do."
    ),
    node_pid: int | None = typer.Option(
        None, "--node-pid", help="A node on this machine: report its CPU and memory."
    ),
) -> None:
    """Load a node with meetings and chatting guests; print latency percentiles."""
    if processes is None:
        processes = 0 if shape is Shape.meetings else 2
    if processes == 0:
        if shape is not Shape.meetings:
            raise typer.BadParameter(f"--shape {shape.value} needs --processes 1 or more")
        if guests > 50 or rate > 15:
            raise typer.BadParameter("App SDK clients: --guests 50 and --rate 15 at most")
        res = asyncio.run(
            run_loadtest(
                url=url,
                client_id=client_id,
                client_secret=client_secret,
                organizer=organizer,
                meetings=meetings,
                guests=guests,
                rate=rate,
                duration=duration,
            )
        )
        for line in summary(res):
            typer.echo(line)
        if res.errors or not res.sent:
            raise typer.Exit(1)
        return
    report = asyncio.run(
        run_shape(
            url=url,
            client_id=client_id,
            client_secret=client_secret,
            organizer=organizer,
            shape=shape,
            meetings=meetings,
            guests=guests,
            rate=rate,
            duration=duration,
            processes=processes,
            senders=senders,
            concurrency=concurrency,
            deflate=deflate,
            node_pid=node_pid,
        )
    )
    for line in report.lines:
        typer.echo(line)
    if not report.ok:
        raise typer.Exit(1)
