"""The baseline table: joins, chat, fan-out, memory and the service API of one
node, on SQLite and on PostgreSQL.

    .venv/bin/python bench/load.py [--quick] [--db sqlite,postgres] [--processes 2] [--json F]

The node is ``frontdesk serve`` in its own process (127.0.0.1, a free port; a
temporary SQLite file, or a scratch schema in ``FRONTDESK_TEST_POSTGRES_URL``,
dropped afterwards), with its rate limits raised so that the node, not a
limiter, is measured. Its CPU (user + system of all its threads, over the
measured window, as % of one core) and resident memory come from ``/proc``.
The load comes from ``--processes`` worker processes of raw WebSocket clients
(``frontdesk.cli.loadgen``); their own CPU is shown too, so that a run where the
clients ran short of CPU can be told apart. Meetings and guest tokens are made
directly in the store before each row (not measured), except in the
service API rows, which measure exactly that over HTTP.

Rows (``--quick`` shrinks every one to seconds):

* sequential join: guest token in hand → ``welcome`` (the join stored), one at
  a time, each into a fresh ad hoc meeting (token holders skip the lobby);
* joins per second: closed-loop joiners, 2 per meeting, concurrency doubling
  until the rate stops growing; the best rate and its latency;
* two-person meetings: 200 meetings x 2 guests, each guest sending at a fixed
  rate (open loop) so that 2,000 and 5,000 msg/s are offered in total;
* chat ceiling: one meeting of 4 guests, all sending as fast as acks allow;
* fan-out: one meeting of 50 (and of 100) guests, 4 of them sending as fast as
  acks allow; deliveries per second to the others;
* memory: a fresh node's RSS before the first client, then with N idle guests
  (pairs) connected and sending the protocol's heartbeat (on the first
  database only, unless ``--memory-every-db``: the figure is per guest);
* service API: meetings created per second, and meeting + guest token pairs
  per second, over keep-alive HTTP/1.1 connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))  # this checkout's code
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from bench.service_api import PASSWORD, free_port, machine

from frontdesk.cli import loadgen as lg
from frontdesk.config import Settings
from frontdesk.domain.model import AccessPolicy, LobbyBypass
from frontdesk.server.operations import Operations
from frontdesk.store.sql import SqlStore

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
GROUPS = ("joins", "pairs", "rooms", "api", "memory")
RAISED = {
    "FRONTDESK_WS_MESSAGES_PER_S": "1000000",
    "FRONTDESK_RATE_LIMIT_PER_MIN": "100000000",
    "FRONTDESK_URL_JOINS_PER_ADDRESS_PER_MIN": "1000000",
    "FRONTDESK_URL_JOINS_PER_MEETING_PER_MIN": "1000000",
    "FRONTDESK_MAX_PARTICIPANTS": "200",  # the 100-person fan-out row
}


@dataclass
class Row:
    """One line of the table (numbers already formatted)."""

    name: str
    db: str
    load: str = ""
    p50: float = math.nan
    p95: float = math.nan
    p99: float = math.nan
    rate: str = ""
    node_cpu: str = ""
    per_unit: str = ""
    rss: str = ""
    note: str = ""


@dataclass
class Sizes:
    seq_joins: int
    ramp: tuple[int, ...]
    ramp_joins: int  # per step: max(this, 12 x concurrency)
    pairs: int
    pair_rates: tuple[int, ...]
    chat_s: float
    room_s: float
    idle: int
    idle_hold_s: float
    idle_join_s: float  # no join is begun after this long: N is then what worked
    api_s: float

    @classmethod
    def of(cls, quick: bool, idle: int | None) -> Sizes:
        if quick:
            return cls(
                50, (8, 32), 150, 200, (2000, 5000), 2.0, 2.0, idle or 1000, 3.0, 30.0, 2.0
            )  # fmt: skip
        return cls(
            200, (2, 4, 8, 16, 32, 64, 128), 300, 200, (2000, 5000), 10.0, 5.0, idle or 10_000,
            20.0, 120.0, 5.0,
        )  # fmt: skip


def cpu(r: lg.JoinResult | lg.ChatResult | lg.ApiResult | lg.CpuWindow) -> str:
    """The node's CPU; in brackets its event loop's thread alone, and the share of
    the window that thread was ready to run but waited for a CPU."""
    if isinstance(r, lg.CpuWindow):
        total, loop, wait = r.percent, r.loop_percent, r.wait_percent
    else:
        total, loop, wait = r.node_cpu, r.node_loop_cpu, r.node_loop_wait
    return f"{total:.0f}% ({loop:.0f}/{wait:.0f})"


def fmt_errors(errors: dict[str, int]) -> str:
    return ", ".join(f"{k}x{v}" for k, v in sorted(errors.items()))


# --- the node ------------------------------------------------------------------------------------
class StoreMinter:
    """Meetings and guest tokens written and signed straight from the store (the
    node reads them as if its service API had made them)."""

    def __init__(self, ops: Operations) -> None:
        self.ops = ops
        self.count = 0

    async def meetings(self, n: int) -> list[str]:
        ids = []
        for _ in range(n):
            self.count += 1
            m = await self.ops.meetings.create(
                subject=f"load {self.count}",
                organizer="alice",
                access_policy=AccessPolicy.DIRECT,
                lobby_bypass=LobbyBypass.TOKEN_HOLDERS,
            )
            ids.append(m.id)
        return ids

    async def tokens(self, meeting_ids: Sequence[str], per_meeting: int) -> list[list[str]]:
        out = []
        for mid in meeting_ids:
            grants = [
                await self.ops.guest_tokens.mint(mid, display_name=f"Guest {g}", ttl_s=3600)
                for g in range(per_meeting)
            ]
            out.append([g.token for g in grants])
        return out


class Node:
    def __init__(self, database_url: str, workdir: Path) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.target = lg.Target("127.0.0.1", self.port)

    async def start(self) -> lg.NodeProc:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
        env |= RAISED | {
            "FRONTDESK_DATABASE_URL": self.database_url,
            "FRONTDESK_PORT": str(self.port),
            "FRONTDESK_LOG_LEVEL": "warning",
            "PYTHONPATH": os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")]),
        }
        self.proc = self._spawn(env)
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(base_url=self.base, timeout=5) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise SystemExit(f"the node exited with {self.proc.returncode}")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/readyz")).status_code == 200:
                        return lg.NodeProc(self.proc.pid)
                await asyncio.sleep(0.1)
        raise SystemExit("the node did not become ready in 30 s")

    def _spawn(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        exe = Path(sys.executable).with_name("frontdesk")
        log = (self.workdir / f"node-{self.port}.log").open("wb")
        return subprocess.Popen(
            [str(exe), "serve"], cwd=self.workdir, env=env, stdout=log, stderr=log,
            preexec_fn=_die_with_parent,
        )  # fmt: skip

    async def access_token(self, client_id: str, secret: str) -> str:
        async with httpx.AsyncClient(base_url=self.base, timeout=10) as http:
            r = await http.post(
                "/v1/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(client_id, secret),
            )
            r.raise_for_status()
            return str(r.json()["access_token"])

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_LIBC = ctypes.CDLL(None)  # loaded before any fork


def _die_with_parent() -> None:
    """In the node's process: SIGTERM when this benchmark dies, however it dies."""
    _LIBC.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


@contextlib.asynccontextmanager
async def database(kind: str, workdir: Path) -> AsyncIterator[tuple[str, str | None]]:
    """A database URL for the node (and the schema, on PostgreSQL)."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'bench.db'}", None
        return
    from tests.support.databases import schema_url, temp_schema

    url = os.environ.get("FRONTDESK_TEST_POSTGRES_URL", "").strip() or DEFAULT_PG
    async with temp_schema(url) as schema:
        yield schema_url(url, schema), schema


# --- the rows ------------------------------------------------------------------------------------
class Bench:
    def __init__(
        self, db: str, sizes: Sizes, processes: int, deflate: bool, groups: Sequence[str] = GROUPS
    ) -> None:
        self.groups = groups
        self.db = db
        self.sizes = sizes
        self.processes = processes
        self.deflate = deflate
        self.rows: list[Row] = []
        self.proc: lg.NodeProc | None = None

    async def settle(self, fleet: lg.Fleet) -> None:
        """Every guest leaves; then wait (30 s at most) until the node is quiet, so
        that a backlog left by one row is not measured in the next."""
        await lg.drop(fleet)
        if self.proc is None:
            return
        for _ in range(60):
            window = lg.CpuWindow(self.proc)
            window.start()
            await asyncio.sleep(0.5)
            window.stop()
            if window.percent < 15:
                return

    def row(self, row: Row) -> None:
        self.rows.append(row)
        print(
            f"  {row.name:<28} {row.load:<26} p50 {row.p50:8.2f} p95 {row.p95:8.2f} "
            f"p99 {row.p99:8.2f} ms | {row.rate:<22} | node {row.node_cpu:>6} "
            f"{row.per_unit:<16} {row.rss} {row.note}",
            flush=True,
        )

    async def run(self, workdir: Path) -> list[Row]:
        async with database(self.db, workdir) as (url, schema):
            store = await SqlStore.open(url, schema=schema) if schema else await SqlStore.open(url)
            try:
                node = Node(url, workdir)
                ops = Operations(Settings(database_url=url, port=node.port), store)
                await ops.start()
                creds = await ops.apps.create("Bench Bank")
                await ops.accounts.create("alice", "Alice Advisor", PASSWORD)
                minter = StoreMinter(ops)
                async with lg.Fleet(self.processes) as fleet:
                    try:
                        proc = self.proc = await node.start()
                        if "joins" in self.groups:
                            await self.joins(fleet, node, proc, minter)
                        if "pairs" in self.groups:
                            await self.pairs(fleet, node, proc, minter)
                        if "rooms" in self.groups:
                            await self.rooms(fleet, node, proc, minter)
                        if "api" in self.groups:
                            token = await node.access_token(creds.client_id, creds.client_secret)
                            await self.api(fleet, node, proc, token)
                    finally:
                        node.stop()
                    if "memory" not in self.groups:
                        return self.rows
                    fresh = Node(url, workdir)
                    ops2 = Operations(Settings(database_url=url, port=fresh.port), store)
                    await ops2.start()
                    try:
                        proc = await fresh.start()
                        await self.memory(fleet, fresh, proc, StoreMinter(ops2))
                    finally:
                        fresh.stop()
            finally:
                await store.close()
        return self.rows

    async def joins(
        self, fleet: lg.Fleet, node: Node, proc: lg.NodeProc, minter: StoreMinter
    ) -> None:
        s = self.sizes
        specs = await lg.plan(minter, s.seq_joins, 1)
        r = await lg.joins(
            fleet, node.target, specs, concurrency=1, node=proc, deflate=self.deflate, processes=1
        )
        await self.settle(fleet)
        self.row(
            Row(
                "sequential join", self.db, f"{r.joined}/{r.wanted} joins, 1 at a time",
                r.latency.pct_ms(50), r.latency.pct_ms(95), r.latency.pct_ms(99),
                f"{r.rate:.0f} joins/s", cpu(r), note=fmt_errors(r.errors),
            )
        )  # fmt: skip
        best: lg.JoinResult | None = None
        flat = 0
        for c in s.ramp:
            n = max(s.ramp_joins, 12 * c)
            n += n % 2
            specs = await lg.plan(minter, n // 2, 2)
            r = await lg.joins(fleet, node.target, specs, concurrency=c, node=proc)
            await self.settle(fleet)
            await asyncio.sleep(0.5)  # the leaves are stored; let the node settle
            print(
                f"    joins at concurrency {r.concurrency:>3}: {r.rate:6.0f}/s  "
                f"p50 {r.latency.pct_ms(50):7.1f}  p99 {r.latency.pct_ms(99):7.1f} ms  "
                f"node {r.node_cpu:4.0f}%  clients {r.client_cpu:4.0f}%  {fmt_errors(r.errors)}",
                flush=True,
            )
            if best is None or r.rate > best.rate:
                grew = best is None or r.rate > 1.05 * best.rate
                best = r
                flat = 0 if grew else flat + 1
            else:
                flat += 1
            if flat >= 2:
                break  # two doublings without 5 % more: saturated
        assert best is not None
        self.row(
            Row(
                "joins per second", self.db, f"concurrency {best.concurrency} (best of ramp)",
                best.latency.pct_ms(50), best.latency.pct_ms(95), best.latency.pct_ms(99),
                f"{best.rate:.0f} joins/s", cpu(best),
                f"{best.node_cpu / 100 / best.rate * 1e6:.0f} µs/join" if best.rate else "",
                note=fmt_errors(best.errors),
            )
        )  # fmt: skip

    async def pairs(
        self, fleet: lg.Fleet, node: Node, proc: lg.NodeProc, minter: StoreMinter
    ) -> None:
        s = self.sizes
        specs = await lg.plan(minter, s.pairs, 2)
        held = await lg.connect(fleet, node.target, specs, deflate=self.deflate)
        everyone = [sp.index for sp in specs]
        for total in s.pair_rates:
            r = await lg.chat(
                fleet, senders=everyone, members=2, duration=s.chat_s, rate=total / len(specs),
                node=proc,
            )  # fmt: skip
            self.chat_row(
                "two-person meetings", f"{s.pairs}x2, {total} msg/s offered", r, held, "msg"
            )
        await self.settle(fleet)

    def chat_row(
        self, name: str, load: str, r: lg.ChatResult, held: lg.JoinResult, unit: str
    ) -> None:
        rate = r.msg_rate if unit == "msg" else r.delivery_rate
        per = (
            r.node_cpu_s
            * 1e6
            / max(1, r.acked_in_window if unit == "msg" else r.received_in_window)
        )
        errors = dict(r.errors)
        if held.joined < held.wanted:
            errors["not joined"] = held.wanted - held.joined
        note = f"ack p99 {r.ack.pct_ms(99):.1f} ms, sent {r.sent / r.duration_s:.0f}/s"
        if unit == "delivery":
            note += f", {r.msg_rate:.0f} msg/s"
        if r.lost:
            note += f", {r.lost} deliveries missing"
        note += f", send lag p99 {r.lag.pct_ms(99):.1f} ms" if r.lag.n else ""
        note += f", clients {r.client_cpu:.0f}%"
        if errors:
            note += f", errors {fmt_errors(errors)}"
        self.row(
            Row(
                name, self.db, load, r.delivery.pct_ms(50), r.delivery.pct_ms(95),
                r.delivery.pct_ms(99), f"{rate:.0f} {'msg' if unit == 'msg' else 'deliveries'}/s",
                cpu(r), f"{per:.0f} µs/{unit}", note=note,
            )
        )  # fmt: skip

    async def rooms(
        self, fleet: lg.Fleet, node: Node, proc: lg.NodeProc, minter: StoreMinter
    ) -> None:
        s = self.sizes
        # one meeting's chat ceiling: a meeting holds at most 10,000 messages
        specs = await lg.plan(minter, 1, 4)
        held = await lg.connect(fleet, node.target, specs, deflate=self.deflate)
        r = await lg.chat(
            fleet, senders=[sp.index for sp in specs], members=4, duration=s.room_s,
            budget=9000 // len(specs), node=proc,
        )  # fmt: skip
        await self.settle(fleet)
        self.row(
            Row(
                "one meeting's chat ceiling", self.db, "4 guests, all sending, closed loop",
                r.ack.pct_ms(50), r.ack.pct_ms(95), r.ack.pct_ms(99),
                f"{r.msg_rate:.0f} msg/s acked", cpu(r),
                f"{r.node_cpu_s * 1e6 / max(1, r.acked_in_window):.0f} µs/msg",
                note=f"(ack latency) delivery p99 {r.delivery.pct_ms(99):.1f} ms, "
                f"clients {r.client_cpu:.0f}%"
                + (f", errors {fmt_errors(r.errors)}" if r.errors else ""),
            )
        )  # fmt: skip
        for size in (50, 100):
            specs = await lg.plan(minter, 1, size)
            held = await lg.connect(fleet, node.target, specs, concurrency=8, deflate=self.deflate)
            if held.joined < size:
                await self.settle(fleet)
                self.row(
                    Row(
                        f"fan-out, {size} guests", self.db, "4 senders, closed loop",
                        rate="not run", note=f"only {held.joined} of {size} joined: "
                        f"{fmt_errors(held.errors)} (FRONTDESK_MAX_PARTICIPANTS)",
                    )
                )  # fmt: skip
                continue
            r = await lg.chat(
                fleet, senders=[sp.index for sp in specs[:4]], members=size, duration=s.room_s,
                budget=9000 // 4, node=proc,
            )  # fmt: skip
            await self.settle(fleet)
            self.chat_row(f"fan-out, {size} guests", "4 senders, closed loop", r, held, "delivery")

    async def api(self, fleet: lg.Fleet, node: Node, proc: lg.NodeProc, token: str) -> None:
        for kind, label in (("meeting", "meetings created"), ("pair", "meeting + guest token")):
            r = await lg.service_api(
                fleet, node.target, access_token=token, organizer="alice", kind=kind,
                concurrency=8, duration=self.sizes.api_s, node=proc,
            )  # fmt: skip
            self.row(
                Row(
                    f"service API: {label}", self.db, "8 keep-alive connections",
                    r.latency.pct_ms(50), r.latency.pct_ms(95), r.latency.pct_ms(99),
                    f"{r.rate:.0f}/s", cpu(r),
                    f"{r.node_cpu / 100 / r.rate * 1e6:.0f} µs each" if r.rate else "",
                    note=f"clients {r.client_cpu:.0f}%"
                    + (f", errors {fmt_errors(r.errors)}" if r.errors else ""),
                )
            )  # fmt: skip

    async def memory(
        self, fleet: lg.Fleet, node: Node, proc: lg.NodeProc, minter: StoreMinter
    ) -> None:
        s = self.sizes
        before = proc.rss_mb()
        specs = await lg.plan(minter, s.idle // 2, 2)
        held = await lg.connect(
            fleet, node.target, specs, concurrency=64, deflate=self.deflate, limit_s=s.idle_join_s
        )
        joined_rss = proc.rss_mb()
        window = lg.CpuWindow(proc)
        window.start()
        await asyncio.sleep(s.idle_hold_s)
        window.stop()
        after = proc.rss_mb()
        per = (after - before) * 1024 / max(1, held.joined)
        self.row(
            Row(
                "memory: idle guests", self.db,
                f"{held.joined} connected ({s.idle // 2} meetings)",
                held.latency.pct_ms(50), held.latency.pct_ms(95), held.latency.pct_ms(99),
                f"{held.rate:.0f} joins/s (64 at once)", cpu(window), "idle, heartbeats",
                f"{before:.0f} → {after:.0f} MB",
                note=f"(join latency) {per:.0f} KB/guest; {joined_rss:.0f} MB right after "
                f"joining; held {s.idle_hold_s:g} s"
                + (f"; {held.joined} of {len(specs)} in {s.idle_join_s:g} s"
                   if held.joined < len(specs) else "")
                + (f"; errors {fmt_errors(held.errors)}" if held.errors else ""),
            )
        )  # fmt: skip
        node.stop()  # faster than 10,000 leaves, and this node is done
        await lg.drop(fleet, wait_s=2)


# --- the table ------------------------------------------------------------------------------------
def cells(r: Row, ms: Callable[[float], str]) -> list[str]:
    p = [ms(r.p50), ms(r.p95), ms(r.p99)]
    return [r.name, r.db, r.load, *p, r.rate, r.node_cpu, r.per_unit, r.rss, r.note]


def table(rows: Sequence[Row]) -> list[str]:
    def ms(v: float) -> str:
        return "" if math.isnan(v) else f"{v:.1f}" if v < 100 else f"{v:.0f}"

    head = ("row", "db", "load", "p50 ms", "p95 ms", "p99 ms", "rate", "node CPU (loop/wait)",
            "CPU/unit", "RSS", "notes")  # fmt: skip
    body = [cells(r, ms) for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head) - 1)]
    right = {3, 4, 5, 7}

    def line(cells: Sequence[str]) -> str:
        out = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=False))
        ]
        return "  ".join([*out, cells[-1]]).rstrip()

    return [line(head), line(["-" * w for w in widths] + ["-----"]), *(line(b) for b in body)]


async def reachable_postgres() -> str | None:
    """None when the PostgreSQL for tests answers, else why not."""
    from tests.support.databases import _probe

    url = os.environ.get("FRONTDESK_TEST_POSTGRES_URL", "").strip() or DEFAULT_PG
    return await _probe(url)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def write_json(path: str, data: object) -> None:
    Path(path).write_text(json.dumps(data, indent=1))


async def main(args: argparse.Namespace) -> int:
    # bench/run.py stops a script with SIGTERM: clean up (node, workers, schema) then
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    sizes = Sizes.of(args.quick, args.idle)
    rows: list[Row] = []
    load_before = loadavg()
    t0 = time.monotonic()
    for db in args.db.split(","):
        if db == "postgres" and (why := await reachable_postgres()) is not None:
            print(f"postgres: skipped ({why})")
            rows.append(Row("(all rows)", "postgres", note="skipped: PostgreSQL unreachable"))
            continue
        print(f"== {db} ==", flush=True)
        with tempfile.TemporaryDirectory(prefix="frontdesk-load-") as tmp:
            groups = args.rows.split(",")
            if db != args.db.split(",")[0] and not args.memory_every_db:
                groups = [g for g in groups if g != "memory"]  # per guest, not per database
            bench = Bench(db, sizes, args.processes, not args.no_deflate, groups)
            rows += await bench.run(Path(tmp))
    load_after = loadavg()
    header = [
        machine(),
        f"mode: {'quick' if args.quick else 'full'}; {args.processes} client processes "
        f"(raw WebSocket, permessage-deflate {'off' if args.no_deflate else 'on'}); "
        f"node: frontdesk serve, one process; {time.monotonic() - t0:.0f} s",
        f"load average before {load_before}, after {load_after}",
    ]
    if not args.json:  # bench/run.py prints the table at its very end
        print()
        for line in [*header, *table(rows)]:
            print(line)
    if args.json:
        write_json(args.json, {"header": header, "rows": [asdict(r) for r in rows]})
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="seconds per row instead of the full run")
    ap.add_argument("--db", default="sqlite,postgres", help="databases, comma-separated")
    ap.add_argument(
        "--rows", default=",".join(GROUPS), help=f"groups of rows (default {','.join(GROUPS)})"
    )
    ap.add_argument("--processes", type=int, default=2, help="client worker processes (2)")
    ap.add_argument("--idle", type=int, default=None, help="idle guests for the memory row")
    ap.add_argument(
        "--memory-every-db",
        action="store_true",
        help="the memory row on every database (default: the first only)",
    )
    ap.add_argument("--no-deflate", action="store_true", help="clients do not offer compression")
    ap.add_argument("--json", help="also write the rows to this file (bench/run.py reads it)")
    sys.exit(asyncio.run(main(ap.parse_args())))
