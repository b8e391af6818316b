"""Helpdesk visits accepted per second, end to end, on one node.

    .venv/bin/python bench/helpdesk_visits.py [--agents 20] [--producers 8] [--seconds 20]
        [--poll 0.2]

Starts ``frontdesk serve`` as its own process (SQLite in a temporary directory,
127.0.0.1 on a free port) with one queue served by ``--agents`` agents (one
video visit each). ``--producers`` back-end tasks create visits over the service
API (``POST /v1/visits``: a meeting, a guest token, the routing decision, all
stored) as fast as they are answered, while each agent's task polls its console
state (``GET /v1/me/helpdesk``), accepts the offer it finds and completes it
(``POST .../accept``, ``POST .../complete``). An idle console waits for its next
change (``?after=REV&wait_s=...``: offers pushed as they are made), or, with
``--poll S``, asks again every S seconds as consoles did before. Prints visits
created, accepted and completed per second over the measured window, the
accept latency, and the node's CPU per visit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_api import (
    PASSWORD,
    free_port,
    machine,
    start_node,
    stop_process,
    summary,
    wait_ready,
)

from frontdesk.config import Settings
from frontdesk.domain.helpdesk import AgentProfile, Capacity, Queue
from frontdesk.server.operations import Operations
from frontdesk.store import open_store


async def seed(database_url: str, agents: int) -> tuple[str, str, list[str]]:
    store = await open_store(database_url)
    try:
        ops = Operations(Settings(database_url=database_url), store)
        await ops.start()
        creds = await ops.apps.create("Bench Bank")
        names = [f"agent{i}" for i in range(agents)]
        for name in names:
            await ops.accounts.create(name, name.title(), PASSWORD)
            await ops.queues.set_profile(AgentProfile(name, Capacity(1, 0)))
        await ops.queues.create(Queue("advice", agents=frozenset(names)))
        return creds.client_id, creds.client_secret, names
    finally:
        await store.close()


args_poll_s = 0.0  # how often an idle agent's console asks (--poll); 0: it waits (pushed)


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(
    base: str,
    client_id: str,
    secret: str,
    names: list[str],
    producers: int,
    seconds: float,
    node_pid: int,
) -> list[str]:
    counts = {"created": 0, "accepted": 0, "completed": 0, "refused": 0}
    accept_s: list[float] = []
    stop = asyncio.Event()
    measuring = asyncio.Event()
    limits = httpx.Limits(max_connections=len(names) + producers + 4)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        t = await http.post(
            "/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
        t.raise_for_status()
        svc = {"Authorization": f"Bearer {t.json()['access_token']}"}
        sessions = {}
        for name in names:
            r = await http.post("/v1/session", json={"username": name, "password": PASSWORD})
            r.raise_for_status()
            sessions[name] = {"Authorization": f"Bearer {r.json()['token']}"}
            r = await http.put(
                "/v1/me/helpdesk/state", headers=sessions[name], json={"state": "available"}
            )
            r.raise_for_status()

        async def produce(i: int) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                r = await http.post(
                    "/v1/visits",
                    headers=svc,
                    json={"queue": "advice", "display_name": f"Visitor {i}-{n}"},
                )
                if r.status_code != 201:
                    counts["refused"] += 1
                    await asyncio.sleep(0.01)
                elif measuring.is_set():
                    counts["created"] += 1

        async def serve(name: str) -> None:
            h = sessions[name]
            rev = None
            while not stop.is_set():
                pushed = args_poll_s <= 0 and rev is not None
                params = {"after": rev, "wait_s": 2} if pushed else None
                r = await http.get("/v1/me/helpdesk", headers=h, params=params)
                rev, offer = r.json().get("rev"), r.json().get("offer")
                if not offer:
                    if args_poll_s > 0:
                        await asyncio.sleep(args_poll_s)
                    continue
                t0 = time.perf_counter()
                a = await http.post(f"/v1/me/helpdesk/visits/{offer['visit_id']}/accept", headers=h)
                if a.status_code != 200:
                    continue
                if measuring.is_set():
                    accept_s.append(time.perf_counter() - t0)
                    counts["accepted"] += 1
                c = await http.post(
                    f"/v1/me/helpdesk/visits/{offer['visit_id']}/complete", headers=h
                )
                if c.status_code == 204 and measuring.is_set():
                    counts["completed"] += 1

        tasks = [asyncio.create_task(produce(i)) for i in range(producers)]
        tasks += [asyncio.create_task(serve(n)) for n in names]
        await asyncio.sleep(2.0)  # warm-up
        measuring.set()
        t0, cpu0 = time.perf_counter(), cpu_s(node_pid)
        await asyncio.sleep(seconds)
        measuring.clear()
        elapsed, node_cpu = time.perf_counter() - t0, cpu_s(node_pid) - cpu0
        load = os.getloadavg()[0]
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    return [
        f"{len(names)} agents, {producers} producers, {elapsed:.1f} s measured: "
        f"{counts['created'] / elapsed:.1f} visits created/s, "
        f"{counts['accepted'] / elapsed:.1f} accepted/s, "
        f"{counts['completed'] / elapsed:.1f} completed/s, {counts['refused']} refused",
        summary("POST .../accept", accept_s) if accept_s else "no accept measured",
        f"node CPU {100 * node_cpu / elapsed:.0f} % of a core, "
        f"{1000 * node_cpu / max(1, counts['accepted']):.1f} ms per visit accepted; "
        f"loadavg {load:.2f}",
    ]


async def main(agents: int, producers: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp:
        workdir = Path(tmp)
        database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        client_id, secret, names = await seed(database_url, agents)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_node(database_url, port, workdir)
        try:
            async with httpx.AsyncClient(base_url=base, timeout=5) as probe:
                await wait_ready(probe, proc)
            lines = await run(base, client_id, secret, names, producers, seconds, proc.pid)
        finally:
            stop_process(proc)
    print(f"helpdesk visits end to end on one node ({base}, SQLite, node in its own process)")
    for line in lines:
        print(line)
    print(machine())


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--producers", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument(
        "--poll", type=float, default=0.0, help="idle console poll interval, s (0: pushed)"
    )
    args = ap.parse_args()
    args_poll_s = args.poll
    asyncio.run(main(args.agents, args.producers, args.seconds))
