"""``frontdesk loadtest``: many meetings with chatting guests against a node.

It acts as a business back end (client credentials) and as visitors (the App
SDK): creates ``--meetings`` meetings, joins ``--guests`` token guests to each,
and has every guest send chat at ``--rate`` messages per second for
``--duration`` seconds. It reports join time and chat latency percentiles:
*ack* (sent → stored and acknowledged) and *delivery* (sent → received by the
other guests of the meeting). Bounded in count and time; loopback by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import typer

from frontdesk.client import Meeting, MeetingEvent, join_with_token
from frontdesk.errors import FrontdeskError, RateLimited
from frontdesk.service_client import ServiceClient

__all__ = ["loadtest", "run_loadtest"]

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


def loadtest(
    url: str = typer.Option("http://127.0.0.1:8080", "--url", envvar="FRONTDESK_URL"),
    client_id: str = typer.Option(..., "--client-id", envvar="FRONTDESK_CLIENT_ID"),
    client_secret: str = typer.Option(..., "--client-secret", envvar="FRONTDESK_CLIENT_SECRET"),
    organizer: str = typer.Option(..., "--organizer", help="An existing Frontdesk user."),
    meetings: int = typer.Option(10, "--meetings", min=1, max=10_000),
    guests: int = typer.Option(2, "--guests", min=1, max=50, help="Guests per meeting."),
    rate: float = typer.Option(1.0, "--rate", min=0.1, max=15.0, help="Messages/s per guest."),
    duration: float = typer.Option(10.0, "--duration", min=1.0, max=600.0, help="Seconds."),
) -> None:
    """Load a node with meetings and chatting guests; print latency percentiles."""
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
