"""Join time, sequential and under load: guest token in hand → ``welcome`` (stored).

    .venv/bin/python bench/join.py [--seq 300] [--rate 1000] [--seconds 3]
                                   [--clients 1] [--cold] [--profile out.svg]

The node runs as its own process (``python -m frontdesk.cli.main serve``, SQLite in
a temporary directory, 127.0.0.1), so the figures are the node's, not a client
sharing its loop. Meetings and guest tokens are made in the node's database
before it starts (same keys, same issuer). The client is a minimal WebSocket
client (upgrade, one masked ``hello`` frame, read one frame), cheap enough that
a few client processes can offer 1,000+ joins/s on a small machine.

* *sequential, live room*: a meeting whose room is already live (one guest stays
  connected); ``--seq`` joins one after another, each closes after its welcome
  (sending ``leave``).
* *sequential, fresh meeting* (``--cold``): each join is the first of a meeting
  made for it (the B2C flow: one ad hoc meeting per visitor), so the node loads
  the room.
* *open loop*: ``--rate`` joins/s for ``--seconds``, spread over meetings of 20
  guests each (under the per-meeting cap), from ``--clients`` processes; every
  joiner stays connected until the end. Latency is measured from the moment the
  join was due, so a node that falls behind shows it.

Prints percentiles, achieved rate, ``/proc/loadavg`` and the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing as mp
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.service_api import free_port, machine, percentile, stop_process

from frontdesk.config import Settings
from frontdesk.domain.model import LobbyBypass
from frontdesk.server.operations import Operations
from frontdesk.store import open_store

GUESTS_PER_MEETING = 20


# --- a minimal WebSocket client --------------------------------------------------------


def _frame(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


async def _read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    return b0 & 0x0F, await reader.readexactly(n)


class Joiner:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.writer: asyncio.StreamWriter | None = None

    async def join(self, token: str) -> dict:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.writer = writer
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /v1/rtc HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head.decode(errors="replace"))
        hello = {"type": "hello", "v": 1, "auth": {"kind": "token", "token": token}}
        writer.write(_frame(json.dumps(hello)))
        op, data = await _read_frame(reader)
        while op != 0x1:  # a ping (or other control frame) before the welcome
            op, data = await _read_frame(reader)
        msg = json.loads(data)
        if msg.get("type") != "welcome":
            raise RuntimeError(msg)
        return msg

    async def leave_and_close(self) -> None:
        if self.writer is None:
            return
        with contextlib.suppress(Exception):
            self.writer.write(_frame('{"type":"leave"}'))
            await self.writer.drain()
            self.writer.close()
            await self.writer.wait_closed()

    def drop(self) -> None:
        if self.writer is not None:
            self.writer.close()


# --- setting up --------------------------------------------------------------------------


async def seed(
    database_url: str, port: int, meetings: int, tokens_per_meeting: int
) -> list[list[str]]:
    """Meetings (token holders skip the lobby) and guest tokens for each."""
    store = await open_store(database_url)
    try:
        settings = Settings(database_url=database_url, host="127.0.0.1", port=port)
        ops = Operations(settings, store)
        await ops.start()
        await ops.accounts.create("alice", "Alice Advisor", "bench-password-1")
        out: list[list[str]] = []
        for _ in range(meetings):
            m = await ops.meetings.create(
                subject="bench", organizer="alice", lobby_bypass=LobbyBypass.TOKEN_HOLDERS
            )
            toks = []
            for i in range(tokens_per_meeting):
                grant = await ops.guest_tokens.mint(
                    m.id, display_name=f"Guest {i}", single_use=True, ttl_s=3600
                )
                toks.append(grant.token)
            out.append(toks)
        return out
    finally:
        await store.close()


def start_node(database_url: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env["FRONTDESK_DATABASE_URL"] = database_url
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src")
    return subprocess.Popen(
        [sys.executable, "-m", "frontdesk.cli.main", "serve", "--port", str(port)]
        + ["--log-level", "warning"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "node.log").open("wb"),
    )


async def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the node exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            status = await r.readline()
            w.close()
            if b" 200 " in status:
                return
        await asyncio.sleep(0.1)
    raise SystemExit("the node did not become ready in 30 s")


def _py_spy() -> str:
    """py-spy beside this interpreter, else the one on ``PATH``."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else (shutil.which("py-spy") or str(beside))


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(label: str, ms: list[float]) -> str:
    ms = sorted(ms)
    return (
        f"{label:<34} n={len(ms):<5} p50 {percentile(ms, 50):7.2f}  p90 {percentile(ms, 90):7.2f}  "
        f"p99 {percentile(ms, 99):7.2f}  max {ms[-1]:7.2f} ms"
    )


# --- the scenarios --------------------------------------------------------------------------


async def sequential(port: int, tokens: list[str], anchor: str | None) -> list[float]:
    keep = None
    if anchor is not None:
        keep = Joiner("127.0.0.1", port)
        await keep.join(anchor)
    out = []
    for tok in tokens:
        j = Joiner("127.0.0.1", port)
        t0 = time.perf_counter()
        await j.join(tok)
        out.append((time.perf_counter() - t0) * 1000)
        await j.leave_and_close()
    if keep is not None:
        await keep.leave_and_close()
    return out


def _client_proc(port: int, tokens: list[str], rate: float, start_at: float, q: mp.Queue) -> None:
    async def run() -> None:
        joiners: list[Joiner] = []
        lat: list[float] = []
        errors: list[str] = []

        async def one(tok: str, due: float) -> None:
            j = Joiner("127.0.0.1", port)
            joiners.append(j)
            try:
                await j.join(tok)
                lat.append((time.time() - due) * 1000)
            except Exception as exc:
                errors.append(repr(exc)[:200])

        tasks = []
        delay = start_at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        for i, tok in enumerate(tokens):
            due = start_at + i / rate
            wait = due - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(one(tok, due)))
        await asyncio.gather(*tasks)
        done_at = time.time()
        q.put((lat, errors, done_at))
        for j in joiners:
            j.drop()

    asyncio.run(run())


def open_loop(
    port: int, tokens: list[str], rate: float, clients: int
) -> tuple[list[float], list[str], float]:
    ctx = mp.get_context("fork")
    q: mp.Queue = ctx.Queue()
    start_at = time.time() + 1.0
    # Interleave: client k takes tokens k, k+clients, ... at rate/clients each.
    procs = [
        ctx.Process(
            target=_client_proc,
            args=(port, tokens[k::clients], rate / clients, start_at + k / rate, q),
        )
        for k in range(clients)
    ]
    for p in procs:
        p.start()
    lat: list[float] = []
    errors: list[str] = []
    end = start_at
    for _ in procs:
        l, e, done_at = q.get()
        lat += l
        errors += e
        end = max(end, done_at)
    for p in procs:
        p.join()
    return lat, errors, end - start_at


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="frontdesk-join-") as tmp:
        workdir = Path(tmp)
        database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        port = free_port()
        n_open = int(args.rate * args.seconds)
        open_meetings = -(-n_open // GUESTS_PER_MEETING)
        seq_meetings = args.seq if args.cold else 1
        seq_per = 1 if args.cold else args.seq + 1
        t0 = time.perf_counter()
        seeded = await seed(database_url, port, seq_meetings + open_meetings, 0)
        # mint: tokens per meeting (kept separate to size them)
        store = await open_store(database_url)
        try:
            ops = Operations(
                Settings(database_url=database_url, host="127.0.0.1", port=port), store
            )
            await ops.start()
            meeting_ids = [m.id for m in await ops.meetings.find(limit=100000)]
            assert len(meeting_ids) == len(seeded)
            seq_ids, open_ids = meeting_ids[:seq_meetings], meeting_ids[seq_meetings:]

            async def mint(mid: str, n: int) -> list[str]:
                return [
                    (
                        await ops.guest_tokens.mint(
                            mid, display_name=f"G{i}", single_use=True, ttl_s=3600
                        )
                    ).token
                    for i in range(n)
                ]

            seq_tokens = [t for mid in seq_ids for t in await mint(mid, seq_per)]
            open_tokens_by_m = [await mint(mid, GUESTS_PER_MEETING) for mid in open_ids]
        finally:
            await store.close()
        # round-robin over meetings, so joins of one meeting are spread out in time
        open_tokens = [toks[i] for i in range(GUESTS_PER_MEETING) for toks in open_tokens_by_m][
            :n_open
        ]
        print(f"seeded {len(meeting_ids)} meetings, tokens in {time.perf_counter() - t0:.1f} s")
        proc = start_node(database_url, port, workdir)
        spy = None
        try:
            await wait_ready(port, proc)
            if args.profile:
                spy = subprocess.Popen(
                    [
                        _py_spy(),
                        "record",
                        "-p",
                        str(proc.pid),
                        "-o",
                        args.profile,
                        "-r",
                        "250",
                        "--gil",
                    ]
                    + (["-f", "raw"] if not args.profile.endswith(".svg") else []),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                await asyncio.sleep(1.0)
            lines = []
            if args.seq:
                c0 = cpu_s(proc.pid)
                if args.cold:
                    ms = await sequential(port, seq_tokens, None)
                    label = "sequential, fresh meeting"
                else:
                    ms = await sequential(port, seq_tokens[1:], seq_tokens[0])
                    label = "sequential, live room"
                warm = ms[min(20, len(ms) // 10) :]
                lines.append(summary(label, warm))
                cpu = (cpu_s(proc.pid) - c0) * 1000 / len(ms)
                lines.append(f"  node CPU {cpu:.2f} ms per join (leave included)")
            if n_open:
                c0 = cpu_s(proc.pid)
                lat, errors, took = await asyncio.to_thread(
                    open_loop, port, open_tokens, args.rate, args.clients
                )
                lines.append(summary(f"open loop {args.rate:g}/s offered", lat))
                lines.append(
                    f"  {len(lat)} joined in {took:.2f} s = {len(lat) / took:.0f} joins/s; "
                    f"{len(errors)} errors {errors[:3]}; "
                    f"node CPU {(cpu_s(proc.pid) - c0) * 1000 / max(1, len(lat)):.2f} ms per join"
                )
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=30)
            stop_process(proc)
        log = (workdir / "node.log").read_text()
        if log.strip():
            print("node log (tail):", log[-1500:])
    print(
        "node in its own process, SQLite (WAL), 127.0.0.1; loadavg",
        Path("/proc/loadavg").read_text().strip(),
    )
    for line in lines:
        print(line)
    print(machine())


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seq", type=int, default=300, help="sequential joins (300; 0: none)")
    ap.add_argument(
        "--cold", action="store_true", help="sequential joins each into a fresh meeting"
    )
    ap.add_argument("--rate", type=float, default=0, help="open-loop joins/s offered (0: none)")
    ap.add_argument("--seconds", type=float, default=3.0, help="open-loop duration (3)")
    ap.add_argument("--clients", type=int, default=1, help="client processes for the open loop (1)")
    ap.add_argument("--profile", help="py-spy the node into this file (.svg, else raw)")
    asyncio.run(main(ap.parse_args()))
