"""Fan-out, two-person chat CPU and idle memory of one node, on loopback.

    PYTHONPATH=src .venv/bin/python bench/fanout.py fanout [--people 100] [--senders 4]
    PYTHONPATH=src .venv/bin/python bench/fanout.py pairs [--pairs 20] [--rate 2000]
    PYTHONPATH=src .venv/bin/python bench/fanout.py memory [--conns 10000]

The node runs as ``frontdesk serve`` in its own process (SQLite in a temp dir);
the clients are raw WebSocket clients (a socket, the frame headers, no JSON on
the hot path) spread over several processes. Server CPU is read from
``/proc/<pid>/stat``, memory from ``/proc/<pid>/status`` (VmRSS).

- ``fanout``: one meeting of ``--people`` guests; ``--senders`` of them keep
  ``--window`` chats each in flight (a new one on every ``ok``); reports chats
  acknowledged/s, deliveries/s (every ``event`` frame received by anyone) and
  server CPU per delivery.
- ``pairs``: ``--pairs`` two-person meetings; every guest sends chats paced so
  that all together send ``--rate`` msg/s; reports ack latency percentiles and
  server CPU per message (µs and % of one core).
- ``memory``: RSS of the node before the first client, then with ``--conns``
  idle connected guests (meetings of ``--per-meeting``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.service_api import free_port, machine, stop_process

CLK = os.sysconf("SC_CLK_TCK")


# --- the node -------------------------------------------------------------------------
def start_node(
    db: str, port: int, workdir: Path, env_extra: dict[str, str]
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env.update(env_extra)
    env["FRONTDESK_DATABASE_URL"] = db
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "frontdesk.cli.main",
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


def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the node exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if b" 200 " in s.recv(100):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the node did not become ready")


def cpu_s(pid: int) -> float:
    user, system = cpu_split(pid)
    return user + system


def cpu_split(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK, int(fields[12]) / CLK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def seed(db: str, port: int, meetings: int, per_meeting: int) -> list[list[str]]:
    """Meetings (guests join directly) and a guest token for each seat."""
    from frontdesk.config import Settings
    from frontdesk.domain.model import LobbyBypass
    from frontdesk.server.operations import Operations
    from frontdesk.store import open_store

    store = await open_store(db)
    try:
        ops = Operations(Settings(database_url=db, port=port), store)
        await ops.start()
        await ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        out = []
        for _ in range(meetings):
            m = await ops.meetings.create(
                subject="bench", organizer="alice", lobby_bypass=LobbyBypass.TOKEN_HOLDERS
            )
            toks = []
            for i in range(per_meeting):
                g = await ops.guest_tokens.mint(m.id, display_name=f"Guest {i}", ttl_s=3600)
                toks.append(g.token)
            out.append(toks)
        return out
    finally:
        await store.close()


# --- raw WebSocket clients ---------------------------------------------------------------
def frame(text: str | bytes, opcode: int = 1) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    n = len(data)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + data  # a zero mask: the payload as is


class Conn:
    def __init__(self, port: int, token: str) -> None:
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(
            (
                f"GET /v1/rtc HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("handshake: closed")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(head.decode(errors="replace"))
        self.sock = s
        self.buf = bytearray(rest)
        s.sendall(
            frame(json.dumps({"type": "hello", "v": 1, "auth": {"kind": "token", "token": token}}))
        )
        while True:
            for op, payload in self.read_frames(blocking=True):
                if op == 1:
                    msg = json.loads(payload)
                    if msg["type"] != "welcome":
                        raise RuntimeError(str(msg))
                    self.pid = msg["participant_id"]
                    return

    def read_frames(self, blocking: bool = False) -> list[tuple[int, bytes]]:
        try:
            chunk = self.sock.recv(262144)
        except BlockingIOError:
            return []
        if not chunk:
            raise RuntimeError("connection closed by the node")
        self.buf += chunk
        out = []
        buf, pos, end = self.buf, 0, len(self.buf)
        while end - pos >= 2:
            op = buf[pos] & 0x0F
            ln = buf[pos + 1] & 0x7F
            hl = 2
            if ln == 126:
                if end - pos < 4:
                    break
                ln = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                hl = 4
            elif ln == 127:
                if end - pos < 10:
                    break
                ln = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                hl = 10
            if end - pos < hl + ln:
                break
            out.append((op, bytes(buf[pos + hl : pos + hl + ln])))
            pos += hl + ln
        del buf[:pos]
        return out


def worker(port: int, tokens: list[str], roles: list[dict[str, Any]], pipe: Any) -> None:
    """Connect ``tokens``; on "go", run for the given seconds and report counts."""
    conns = [Conn(port, t) for t in tokens]
    for c in conns:
        c.sock.setblocking(False)
    pipe.send("ready")
    cmd = pipe.recv()
    warm, dur = cmd["warmup"], cmd["duration"]
    sel = selectors.DefaultSelector()
    for i, c in enumerate(conns):
        sel.register(c.sock, selectors.EVENT_READ, i)
    t0 = time.perf_counter()
    t_measure, t_end = t0 + warm, t0 + warm + dur
    received = 0
    frames_all = 0
    acks = 0
    lat: list[float] = []
    sent_at: list[dict[int, float]] = [{} for _ in conns]
    seqno = [0] * len(conns)
    next_send = [t0] * len(conns)
    last_ping = t0

    def send_chat(i: int, now: float) -> None:
        n = seqno[i]
        seqno[i] += 1
        sent_at[i][n] = now
        msg = '{"type":"chat","id":"c%d","text":"hello %d from the bench","ref":"%d"}' % (n, n, n)
        conns[i].sock.sendall(frame(msg))

    for i, r in enumerate(roles):
        if r.get("window"):
            for _ in range(r["window"]):
                send_chat(i, t0)
    while True:
        now = time.perf_counter()
        if now >= t_end:
            break
        timeout = 0.005
        for i, r in enumerate(roles):
            rate = r.get("rate")
            if rate:
                while next_send[i] <= now:
                    send_chat(i, now)
                    next_send[i] += 1.0 / rate
        if now - last_ping > 10:  # the protocol heartbeat (idle limit)
            last_ping = now
            for c in conns:
                c.sock.sendall(frame('{"type":"ping"}'))
        for key, _ in sel.select(timeout):
            i = key.data
            c = conns[i]
            for op, payload in c.read_frames():
                now = time.perf_counter()
                if op == 9:
                    c.sock.sendall(frame(payload, 0xA))
                    continue
                if op == 8:
                    raise RuntimeError(f"closed by the node: {payload!r}")
                frames_all += 1
                if payload.startswith(b'{"type":"event"'):
                    if now >= t_measure:
                        received += 1
                elif payload.startswith(b'{"type":"ok"'):
                    ref = int(json.loads(payload)["ref"])
                    t = sent_at[i].pop(ref, None)
                    if t is not None and now >= t_measure:
                        acks += 1
                        lat.append((now - t) * 1000)
                    if roles[i].get("window") and now < t_end:
                        send_chat(i, now)
                elif payload.startswith(b'{"type":"error"'):
                    raise RuntimeError(payload.decode())
    pipe.send({"received": received, "acks": acks, "lat": lat, "dur": dur})
    for c in conns:
        c.sock.close()


def run_clients(
    port: int, tokens: list[str], roles: list[dict[str, Any]], procs: int
) -> list[tuple[mp.Process, Any]]:
    ctx = mp.get_context("fork")
    out = []
    for k in range(procs):
        idx = list(range(k, len(tokens), procs))
        a, b = ctx.Pipe()
        p = ctx.Process(
            target=worker, args=(port, [tokens[i] for i in idx], [roles[i] for i in idx], b)
        )
        p.start()
        out.append((p, a))
    for _, a in out:
        if a.recv() != "ready":
            raise SystemExit("a client process failed")
    return out


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else float("nan")


PROFILE: str | None = None


def measure(
    pid: int, clients: list[tuple[mp.Process, Any]], warmup: float, duration: float
) -> dict[str, Any]:
    for _, a in clients:
        a.send({"warmup": warmup, "duration": duration})
    time.sleep(warmup)
    if PROFILE:
        spy = shutil.which("py-spy") or Path(sys.executable).with_name("py-spy")
        subprocess.Popen(
            [
                str(spy),
                "record",
                "-p",
                str(pid),
                "-d",
                str(int(duration)),
                "-r",
                "200",
                "--format",
                "raw",
                "-o",
                PROFILE,
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    (u0, s0), w0 = cpu_split(pid), time.perf_counter()
    time.sleep(duration)
    (u1, s1), w1 = cpu_split(pid), time.perf_counter()
    results = [a.recv() for _, a in clients]
    for p, _ in clients:
        p.join(10)
    lat = [x for r in results for x in r["lat"]]
    return {
        "received": sum(r["received"] for r in results),
        "acks": sum(r["acks"] for r in results),
        "lat": lat,
        "cpu": (u1 - u0) + (s1 - s0),
        "sys": s1 - s0,
        "wall": w1 - w0,
        "dur": duration,
    }


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[0:3].__str__()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("mode", choices=["fanout", "pairs", "memory"])
    ap.add_argument("--people", type=int, default=100)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--rate", type=float, default=2000)
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--per-meeting", type=int, default=50)
    ap.add_argument("--procs", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--profile", help="py-spy the node during the run (collapsed stacks here)")
    args = ap.parse_args()
    global PROFILE
    PROFILE = args.profile
    with tempfile.TemporaryDirectory(prefix="frontdesk-fanout-") as tmp:
        workdir = Path(tmp)
        db = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        port = free_port()
        if args.mode == "fanout":
            seats = asyncio.run(seed(db, port, 1, args.people))
        elif args.mode == "pairs":
            seats = asyncio.run(seed(db, port, args.pairs, 2))
        else:
            n_meet = -(-args.conns // args.per_meeting)
            seats = asyncio.run(seed(db, port, n_meet, args.per_meeting))
        tokens = [t for m in seats for t in m]
        env = {
            "FRONTDESK_WS_MESSAGES_PER_S": "100000",
            "FRONTDESK_MAX_PARTICIPANTS": str(max(args.people, args.per_meeting) + 10),
        }
        proc = start_node(db, port, workdir, env)
        try:
            wait_ready(port, proc)
            time.sleep(0.5)
            if args.mode == "memory":
                print(f"idle node (before the first client): RSS {rss_mib(proc.pid):.1f} MiB")
                tokens = tokens[: args.conns]
                t0 = time.perf_counter()
                clients = run_clients(port, tokens, [{}] * len(tokens), args.procs)
                joined = time.perf_counter() - t0
                time.sleep(2)
                print(
                    f"{len(tokens)} idle guests connected ({joined:.1f} s to join): "
                    f"RSS {rss_mib(proc.pid):.1f} MiB"
                )
                r = measure(proc.pid, clients, 0.5, 5)
                print(f"idle CPU with them connected: {100 * r['cpu'] / r['wall']:.1f} % of a core")
            elif args.mode == "fanout":
                roles: list[dict[str, Any]] = [{} for _ in tokens]
                for i in range(args.senders):
                    roles[i * (len(tokens) // args.senders)] = {"window": args.window}
                clients = run_clients(port, tokens, roles, args.procs)
                r = measure(proc.pid, clients, args.warmup, args.duration)
                d = r["received"] / r["dur"]
                print(
                    f"fan-out, {args.people} people, {args.senders} senders x {args.window} in flight: "
                    f"{r['acks'] / r['dur']:.0f} chats acked/s, {d:,.0f} deliveries/s, "
                    f"node CPU {100 * r['cpu'] / r['wall']:.0f} % of a core, "
                    f"{1e6 * r['cpu'] / max(1, r['received']):.1f} µs CPU/delivery "
                    f"({100 * r['sys'] / max(1e-9, r['cpu']):.0f} % system); "
                    f"ack p50 {pct(r['lat'], 50):.1f} p99 {pct(r['lat'], 99):.1f} ms"
                )
            else:
                per = args.rate / len(tokens)
                clients = run_clients(port, tokens, [{"rate": per}] * len(tokens), args.procs)
                r = measure(proc.pid, clients, args.warmup, args.duration)
                msgs = r["acks"]
                print(
                    f"two-person meetings x {args.pairs}, {args.rate:g} msg/s offered: "
                    f"{msgs / r['dur']:.0f} acked/s, {r['received'] / r['dur']:.0f} deliveries/s, "
                    f"node CPU {100 * r['cpu'] / r['wall']:.0f} % of a core, "
                    f"{1e6 * r['cpu'] / max(1, msgs):.0f} µs CPU/message "
                    f"({100 * r['sys'] / max(1e-9, r['cpu']):.0f} % system); "
                    f"ack p50 {pct(r['lat'], 50):.1f} p99 {pct(r['lat'], 99):.1f} ms"
                )
            print(f"node RSS {rss_mib(proc.pid):.1f} MiB; loadavg {loadavg()}; {machine()}")
        finally:
            stop_process(proc)


if __name__ == "__main__":
    main()
