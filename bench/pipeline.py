"""One meeting's chat ceiling: several senders, each as fast as its acks allow.

    PYTHONPATH=src .venv/bin/python bench/pipeline.py [--senders 4 8 16] [--seconds 5]
        [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test]

Starts ``frontdesk serve`` as its own process (SQLite in a temporary directory, or
a scratch schema on PostgreSQL), joins ``senders`` token guests to one meeting,
and has each send chat messages back to back: the next one as soon as the ``ok``
(stored, acknowledged) for the previous one arrives. Every participant receives
every message (the meeting's fan-out). Prints acknowledged messages per second,
ack latency percentiles, the node's CPU per message and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.service_api import free_port, machine, percentile, stop_process
from websockets.asyncio.client import ClientConnection, connect

from frontdesk.config import Settings
from frontdesk.domain.model import LobbyBypass
from frontdesk.server.operations import Operations
from frontdesk.store import open_store

#: A meeting holds at most 10,000 chat messages (the domain's limit): the socket
#: run stops short of it.
CHAT_BUDGET = 9_500
LOADAVG = Path("/proc/loadavg")
SPY: str | None = None  # --py-spy: record the node's stacks (collapsed) to this file


async def seed(database_url: str, senders: int, port: int) -> list[str]:
    store = await open_store(database_url)
    try:
        ops = Operations(Settings(database_url=database_url, port=port), store)
        await ops.start()
        await ops.accounts.create("alice", "Alice Advisor", "bench-password-1")
        m = await ops.meetings.create(
            subject="busy", organizer="alice", lobby_bypass=LobbyBypass.TOKEN_HOLDERS
        )
        tokens = []
        for i in range(senders):
            grant = await ops.guest_tokens.mint(m.id, display_name=f"Sender {i}")
            tokens.append(grant.token)
        return tokens
    finally:
        await store.close()


def start_node(database_url: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env["FRONTDESK_DATABASE_URL"] = database_url
    env["FRONTDESK_WS_MESSAGES_PER_S"] = "1000000"  # measure the node, not the limiter
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src")
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from frontdesk.cli.main import app; app()",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "node.log").open("wb"),
    )


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the node exited with {proc.returncode}")
        try:
            ws = await connect(url)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        await ws.close()
        return
    raise SystemExit("the node did not become ready in 30 s")


async def run(url: str, tokens: list[str], seconds: float, pid: int) -> str:
    conns: list[ClientConnection] = []
    for token in tokens:
        ws = await connect(url, max_size=None)
        hello = {"type": "hello", "v": 1, "auth": {"kind": "token", "token": token}}
        await ws.send(json.dumps(hello))
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "welcome":
                break
            if msg["type"] == "error":
                raise SystemExit(f"join failed: {msg}")
        conns.append(ws)
    await asyncio.sleep(0.5)  # the joins' events have been delivered
    ack_ms: list[float] = []
    errors: list[str] = []
    stop = time.monotonic() + seconds
    warm = time.monotonic() + min(1.0, seconds / 5)  # not measured: warm-up

    sent = 0

    async def sender(i: int, ws: ClientConnection) -> None:
        nonlocal sent
        n = 0
        last_ping = time.monotonic()
        while (now := time.monotonic()) < stop and sent < CHAT_BUDGET:
            sent += 1
            if now - last_ping > 5:
                await ws.send('{"type":"ping"}')
                last_ping = now
            ref = f"r{n}"
            t0 = time.perf_counter()
            await ws.send(json.dumps({"type": "chat", "id": f"c{i}-{n}", "text": "hi", "ref": ref}))
            while True:
                raw = await ws.recv()
                if raw.startswith('{"type":"event"'):
                    continue
                msg = json.loads(raw)
                if msg.get("ref") != ref:
                    continue
                if msg["type"] == "error":
                    errors.append(msg.get("code", "?"))
                    await asyncio.sleep(0.05)
                    break
                if msg["type"] == "ok":
                    if now >= warm:
                        ack_ms.append((time.perf_counter() - t0) * 1000)
                    break
            n += 1

    t0 = time.monotonic()
    cpu0 = None
    cpu_task_started = False

    async def sample_cpu() -> None:
        nonlocal cpu0, cpu_task_started
        await asyncio.sleep(max(0.0, warm - time.monotonic()))
        cpu0 = cpu_s(pid)
        cpu_task_started = True

    sampler = asyncio.create_task(sample_cpu())
    spy = None
    if SPY:
        spy = subprocess.Popen(  # noqa: ASYNC220 - a tool beside the run
            [
                str(shutil.which("py-spy") or Path(sys.executable).with_name("py-spy")),
                "record",
                "-p",
                str(pid),
                "-d",
                str(int(seconds)),
                "-f",
                "raw",
                "-o",
                SPY,
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    await asyncio.gather(*(sender(i, ws) for i, ws in enumerate(conns)))
    cpu1 = cpu_s(pid)
    ended = time.monotonic()
    await sampler
    if spy is not None:
        spy.wait()
    measured = max(1e-9, ended - max(warm, t0))
    for ws in conns:
        with contextlib.suppress(Exception):
            await ws.close()
    ms = sorted(ack_ms)
    rate = len(ms) / measured
    node_cpu = (cpu1 - (cpu0 or 0.0)) / max(1, len(ms)) * 1e6
    return (
        f"senders={len(tokens):<3} acked {rate:8.0f} msg/s  ack p50 {percentile(ms, 50):6.2f}  "
        f"p99 {percentile(ms, 99):6.2f} ms  node CPU {node_cpu:5.0f} us/msg  "
        f"errors {len(errors)}  load {LOADAVG.read_text().split()[0]}"
    )


@contextlib.asynccontextmanager
async def database(postgres: str | None, workdir: Path) -> AsyncIterator[str]:
    if postgres is None:
        yield f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        return
    from tests.support.databases import schema_url, temp_schema

    async with temp_schema(postgres) as schema:
        yield schema_url(postgres, schema)


async def main(senders: list[int], seconds: float, postgres: str | None) -> None:
    print(f"one meeting, chat back to back per sender; {'PostgreSQL' if postgres else 'SQLite'}")
    for k in senders:
        with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp:
            workdir = Path(tmp)
            async with database(postgres, workdir) as database_url:
                port = free_port()
                tokens = await seed(database_url, k, port)
                url = f"ws://127.0.0.1:{port}/v1/rtc"
                proc = start_node(database_url, port, workdir)
                try:
                    await wait_ready(url, proc)
                    print(await run(url, tokens, seconds, proc.pid), flush=True)
                finally:
                    stop_process(proc)
                    log = (workdir / "node.log").read_text().strip()
                    if log:
                        print("node log:", log[-2000:])
    print(machine())


# --- the commit path alone: the node's live layer in this process, no sockets ------------
class _NullConn:
    """A connection that takes frames and drops them (fan-out without a socket)."""

    def __init__(self, pid: str) -> None:
        self.participant_id = pid
        self.last_state = None
        self.frames = 0

    def send(self, frame: str) -> None:
        self.frames += 1

    def close(self, code: int, reason: str) -> None:
        pass

    def end_session(self, bye: str, code: int, reason: str) -> None:
        pass


async def core(database_url: str, senders: int, seconds: float) -> str:
    """``senders`` coroutines call ``LiveMeetings.execute(SendChat)`` back to back in one
    meeting: the room, the writer and the store, without WebSocket or JSON."""
    from frontdesk.domain import commands as cmd
    from frontdesk.domain.model import AccessPolicy, Role
    from frontdesk.domain.participants import JoinMethod
    from frontdesk.server.app import create_app

    app = create_app(Settings(database_url=database_url))
    async with app.router.lifespan_context(app):
        ops, live = app.state.ops, app.state.live
        live.limits = dataclasses.replace(live.limits, max_chat_messages=10_000_000)
        await ops.accounts.create("alice", "Alice Advisor", "bench-password-1")
        m = await ops.meetings.create(
            subject="busy", organizer="alice", access_policy=AccessPolicy.DIRECT
        )
        lr = await live.room(m.id)
        pids = [f"p_{i}" for i in range(senders)]
        for pid in pids:
            await live.execute(lr, cmd.Join(pid, pid, Role.GUEST, JoinMethod.TOKEN))
            live.attach(lr, _NullConn(pid))
        ack_ms: list[float] = []
        stop = time.monotonic() + seconds
        warm = time.monotonic() + min(1.0, seconds / 5)

        async def sender(pid: str) -> None:
            n = 0
            while (now := time.monotonic()) < stop:
                t0 = time.perf_counter()
                await live.execute(lr, cmd.SendChat(pid, f"c{n}", "hi"))
                if now >= warm:
                    ack_ms.append((time.perf_counter() - t0) * 1000)
                n += 1

        b0, r0 = live.writer.batches, live.writer.records
        cpu0 = time.process_time()
        t0 = time.monotonic()
        await asyncio.gather(*(sender(pid) for pid in pids))
        elapsed = time.monotonic() - t0
        cpu = time.process_time() - cpu0
        batches, records = live.writer.batches - b0, live.writer.records - r0
        for pid in pids:
            await live.execute(lr, cmd.Leave(pid))
    ms = sorted(ack_ms)
    rate = len(ms) / (seconds - min(1.0, seconds / 5))
    return (
        f"core senders={senders:<3} acked {rate:8.0f} msg/s  ack p50 {percentile(ms, 50):6.2f}  "
        f"p99 {percentile(ms, 99):6.2f} ms  CPU {cpu / max(1, records) * 1e6:5.0f} us/msg  "
        f"{records / max(1, batches):5.1f} events/commit ({records / elapsed:6.0f} events/s)  "
        f"load {LOADAVG.read_text().split()[0]}"
    )


async def main_core(senders: list[int], seconds: float, postgres: str | None) -> None:
    print(f"one meeting, commit path in process; {'PostgreSQL' if postgres else 'SQLite'}")
    for k in senders:
        with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp:
            async with database(postgres, Path(tmp)) as database_url:
                print(await core(database_url, k, seconds), flush=True)
    print(machine())


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--senders", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--postgres", default=None, help="a PostgreSQL URL (default: SQLite)")
    ap.add_argument("--core", action="store_true", help="the commit path alone, in process")
    ap.add_argument("--py-spy", default=None, help="record the node with py-spy (raw) here")
    args = ap.parse_args()
    SPY = args.py_spy
    if args.core:
        asyncio.run(main_core(args.senders, args.seconds, args.postgres))
    else:
        asyncio.run(main(args.senders, args.seconds, args.postgres))
