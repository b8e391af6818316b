"""Latency of the back end's hot path, from a client on loopback to a real node.

    .venv/bin/python bench/service_api.py [-n 200] [--warmup 20]

Starts ``frontdesk serve`` as its own process (SQLite in a temporary directory,
127.0.0.1 on a free port), fetches one access token, then times ``n`` iterations
of ``POST /v1/meetings`` followed by ``POST /v1/meetings/{id}/guest-tokens`` over
one keep-alive HTTP connection. Prints median, p90, p99 and max in milliseconds
for the pair and for each call, and the machine it ran on.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from frontdesk.config import Settings
from frontdesk.server.operations import Operations
from frontdesk.store import open_store

PASSWORD = "bench-password-1"


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s: a node under test never outlives its run."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def percentile(sorted_ms: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    rank = max(1, math.ceil(p / 100 * len(sorted_ms)))
    return sorted_ms[rank - 1]


def summary(label: str, samples_s: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples_s)
    return (
        f"{label:<34} n={len(ms):<4} median {percentile(ms, 50):7.2f}  "
        f"p90 {percentile(ms, 90):7.2f}  p99 {percentile(ms, 99):7.2f}  max {ms[-1]:7.2f} ms"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def seed(database_url: str) -> tuple[str, str]:
    """An application and an organizer in the node's database; returns the credentials."""
    store = await open_store(database_url)
    try:
        ops = Operations(Settings(database_url=database_url), store)
        await ops.start()
        creds = await ops.apps.create("Bench Bank")
        await ops.accounts.create("alice", "Alice Advisor", PASSWORD)
        return creds.client_id, creds.client_secret
    finally:
        await store.close()


def start_node(database_url: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env["FRONTDESK_DATABASE_URL"] = database_url
    env["FRONTDESK_RATE_LIMIT_PER_MIN"] = "1000000"  # measure the node, not the limiter
    exe = Path(sys.executable).with_name("frontdesk")
    return subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--log-level", "warning"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "node.log").open("wb"),
    )


async def wait_ready(http: httpx.AsyncClient, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the node exited with {proc.returncode}")
        try:
            if (await http.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the node did not become ready in 30 s")


async def measure(base: str, client_id: str, secret: str, n: int, warmup: int) -> list[str]:
    pair: list[float] = []
    create: list[float] = []
    mint: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        token = await http.post(
            "/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
        token.raise_for_status()
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        for i in range(warmup + n):
            t0 = time.perf_counter()
            r = await http.post("/v1/meetings", json={"subject": "Bench", "organizer": "alice"})
            t1 = time.perf_counter()
            if r.status_code != 201:
                raise SystemExit(f"POST /v1/meetings -> {r.status_code}: {r.text}")
            g = await http.post(
                f"/v1/meetings/{r.json()['id']}/guest-tokens", json={"display_name": "Ann"}
            )
            t2 = time.perf_counter()
            if g.status_code != 201:
                raise SystemExit(f"POST guest-tokens -> {g.status_code}: {g.text}")
            if i >= warmup:
                create.append(t1 - t0)
                mint.append(t2 - t1)
                pair.append(t2 - t0)
    return [
        summary("meeting + guest token", pair),
        summary("  POST /v1/meetings", create),
        summary("  POST .../guest-tokens", mint),
    ]


async def main(n: int, warmup: int) -> None:
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp:
        workdir = Path(tmp)
        database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        client_id, secret = await seed(database_url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_node(database_url, port, workdir)
        try:
            async with httpx.AsyncClient(base_url=base, timeout=5) as probe:
                await wait_ready(probe, proc)
            lines = await measure(base, client_id, secret, n, warmup)
        finally:
            stop_process(proc)
    print(f"service API on loopback ({base}, SQLite, node in its own process, {warmup} warm-up)")
    for line in lines:
        print(line)
    print(machine())


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=200, help="measured iterations (200)")
    ap.add_argument("--warmup", type=int, default=20, help="iterations not measured (20)")
    args = ap.parse_args()
    asyncio.run(main(args.n, args.warmup))
