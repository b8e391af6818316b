"""Throughput of the service API's hot path: many clients against one real node.

    .venv/bin/python bench/service_api_load.py [--mode pair|create|mint]
        [--processes 2] [--connections 16] [--seconds 10] [--profile out.txt]

Starts ``frontdesk serve`` as its own process (SQLite in a temporary directory,
127.0.0.1 on a free port, the rate limit raised so the node is measured and not
the limiter), fetches one access token, then runs ``--processes`` client
processes with ``--connections`` keep-alive connections each, every connection
looping for ``--seconds``:

* ``pair``: ``POST /v1/meetings`` then ``POST /v1/meetings/{id}/guest-tokens``
  (the back end's hot path: a meeting and its guest's token);
* ``create``: ``POST /v1/meetings`` only;
* ``mint``: ``POST .../guest-tokens`` into meetings made beforehand.

The clients speak HTTP/1.1 over raw asyncio streams (no HTTP library) so that
they leave the second core to the node. Prints the rate of each call, the
latency percentiles, the node's CPU per request (from ``/proc``) and
``/proc/loadavg``. ``--profile FILE`` runs ``py-spy record`` on the node during
the measured window and writes its collapsed stacks to FILE (summarised on
stdout by self and inclusive time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from service_api import (
    free_port,
    machine,
    percentile,
    seed,
    start_node,
    stop_process,
    wait_ready,
)

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Conn:
    """One keep-alive HTTP/1.1 connection, one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, auth: str):
        self.reader = reader
        self.writer = writer
        self.head = (
            f"Host: 127.0.0.1\r\nAuthorization: Bearer {auth}\r\nContent-Type: application/json\r\n"
        )

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(
            f"POST {path} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        for line in lines[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)


MEETING = json.dumps({"subject": "Bench", "organizer": "alice"}).encode()
GUEST = json.dumps({"display_name": "Ann"}).encode()


async def connection_loop(
    port: int, token: str, mode: str, meetings: list[str], start: float, stop: float, k: int
) -> tuple[list[float], list[float], int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = Conn(reader, writer, token)
    create: list[float] = []
    mint: list[float] = []
    errors = 0
    i = k
    while True:
        now = time.perf_counter()
        if now >= stop:
            break
        measured = now >= start
        if mode == "mint":
            meeting_id = meetings[i % len(meetings)]
            i += 1
        else:
            status, body = await conn.post("/v1/meetings", MEETING)
            t1 = time.perf_counter()
            if status != 201:
                errors += 1
                continue
            if measured:
                create.append(t1 - now)
            if mode == "create":
                continue
            meeting_id = json.loads(body)["id"]
            now = t1
        status, body = await conn.post(f"/v1/meetings/{meeting_id}/guest-tokens", GUEST)
        t2 = time.perf_counter()
        if status != 201:
            errors += 1
            continue
        if measured:
            mint.append(t2 - now)
    writer.close()
    return create, mint, errors


def worker(
    port: int,
    token: str,
    mode: str,
    meetings: list[str],
    connections: int,
    start: float,
    stop: float,
    out: mp.Queue,  # type: ignore[type-arg]
) -> None:
    async def run() -> tuple[list[float], list[float], int]:
        results = await asyncio.gather(
            *(
                connection_loop(port, token, mode, meetings, start, stop, k)
                for k in range(connections)
            )
        )
        create = [x for r in results for x in r[0]]
        mint = [x for r in results for x in r[1]]
        return create, mint, sum(r[2] for r in results)

    out.put(asyncio.run(run()))


def line(label: str, samples: list[float], seconds: float) -> str:
    if not samples:
        return f"{label:<24} none"
    ms = sorted(s * 1000 for s in samples)
    return (
        f"{label:<24} {len(ms) / seconds:8.0f}/s  p50 {percentile(ms, 50):6.2f}  "
        f"p90 {percentile(ms, 90):6.2f}  p99 {percentile(ms, 99):6.2f}  max {ms[-1]:7.2f} ms"
    )


def summarise_profile(path: Path, top: int = 40) -> list[str]:
    """Self and inclusive shares of the collapsed stacks py-spy wrote."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for row in path.read_text().splitlines():
        stack, _, count = row.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    out = [f"profile: {total} samples; self time"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    out.append("inclusive time")
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in incl.most_common(top + 20)]
    return out


async def prepare(base: str, client_id: str, secret: str, mode: str) -> tuple[str, list[str]]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        r = await http.post(
            "/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
        r.raise_for_status()
        token = r.json()["access_token"]
        meetings: list[str] = []
        if mode == "mint":
            headers = {"Authorization": f"Bearer {token}"}
            for _ in range(200):
                m = await http.post(
                    "/v1/meetings", json={"subject": "Bench", "organizer": "alice"}, headers=headers
                )
                m.raise_for_status()
                meetings.append(m.json()["id"])
        return token, meetings


def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp:
        workdir = Path(tmp)
        database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        client_id, secret = asyncio.run(seed(database_url))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_node(database_url, port, workdir)
        profiler: subprocess.Popen[bytes] | None = None
        try:

            async def ready() -> None:
                async with httpx.AsyncClient(base_url=base, timeout=5) as probe:
                    await wait_ready(probe, proc)

            asyncio.run(ready())
            token, meetings = asyncio.run(prepare(base, client_id, secret, args.mode))
            start = time.perf_counter() + 1.0 + args.warmup  # processes start within 1 s
            stop = start + args.seconds
            out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
            procs = [
                mp.Process(
                    target=worker,
                    args=(port, token, args.mode, meetings, args.connections, start, stop, out),
                )
                for _ in range(args.processes)
            ]
            for p in procs:
                p.start()
            time.sleep(max(0.0, start - time.perf_counter()))
            cpu0 = cpu_seconds(proc.pid)
            if args.profile:
                py_spy = Path(sys.executable).with_name("py-spy")
                if not py_spy.exists():  # else the one on PATH
                    py_spy = Path(shutil.which("py-spy") or py_spy)
                profiler = subprocess.Popen(
                    [
                        str(py_spy),
                        "record",
                        "--pid",
                        str(proc.pid),
                        "--format",
                        "raw",
                        "--rate",
                        "200",
                        "--duration",
                        str(max(1, int(args.seconds) - 1)),
                        "--output",
                        args.profile,
                        "--nonblocking",
                        "--gil",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            time.sleep(max(0.0, stop - time.perf_counter()))
            cpu1 = cpu_seconds(proc.pid)
            loadavg = Path("/proc/loadavg").read_text().strip()
            results = [out.get(timeout=60) for _ in procs]
            for p in procs:
                p.join()
            if profiler is not None:
                profiler.wait(timeout=60)
        finally:
            stop_process(proc)
    create = [x for r in results for x in r[0]]
    mint = [x for r in results for x in r[1]]
    errors = sum(r[2] for r in results)
    requests = len(create) + len(mint)
    print(
        f"service API throughput, mode {args.mode}: {args.processes} processes x "
        f"{args.connections} connections, {args.seconds:g} s measured after "
        f"{args.warmup:g} s warm-up (SQLite, node in its own process)"
    )
    print(line("POST /v1/meetings", create, args.seconds))
    print(line("POST .../guest-tokens", mint, args.seconds))
    cpu = cpu1 - cpu0
    print(
        f"node CPU {cpu:.2f} s of {args.seconds:g} s ({100 * cpu / args.seconds:.0f}% of a core), "
        f"{1e6 * cpu / max(1, requests):.0f} µs per request; errors {errors}"
    )
    print(f"loadavg {loadavg}")
    print(machine())
    if args.profile:
        for row in summarise_profile(Path(args.profile)):
            print(row)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mode", choices=("pair", "create", "mint"), default="pair")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--connections", type=int, default=16, help="per process (16)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--profile", help="write py-spy collapsed stacks of the node here")
    main(ap.parse_args())
