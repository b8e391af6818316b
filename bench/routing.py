"""Routing decisions of the helpdesk router, in process (no I/O).

    PYTHONPATH=src .venv/bin/python bench/routing.py [--waiting 1000] [--agents 200]

The helpdesk at its busiest: every agent serves a visit and ``--waiting``
visitors wait, spread over ``--queues`` queues, in two languages (a third of
the agents speak only one of them). Then, ``--rounds`` times: a random agent
completes its visit (the router offers it the oldest visit it can take), the
agent accepts, and a new visitor arrives (all agents busy: it waits). Each
``Router.handle`` call is timed; the table shows p50 / p99 / max per command.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from frontdesk.domain.helpdesk import (
    Accept,
    AgentPresence,
    AgentProfile,
    Complete,
    Enqueue,
    Medium,
    PutAgent,
    PutQueue,
    Queue,
    Router,
    SetPresence,
    Tick,
)
from frontdesk.domain.helpdesk import events as ev


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--queues", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    router = Router()
    names = [f"agent{i}" for i in range(args.agents)]
    queues = [f"q{i}" for i in range(args.queues)]
    for i, q in enumerate(queues):
        members = frozenset(n for j, n in enumerate(names) if j % args.queues == i or j % 7 == 0)
        router.handle(PutQueue(Queue(q, agents=members)), now)
    for i, name in enumerate(names):
        languages = frozenset({"en", "fr"}) if i % 3 else frozenset({("en", "fr")[i % 2]})
        router.handle(PutAgent(AgentProfile(name, languages=languages)), now)
        router.handle(SetPresence(name, AgentPresence.AVAILABLE), now)
    counter = 0

    def arrive() -> list[ev.RouterEvent]:
        nonlocal counter
        counter += 1
        return router.handle(
            Enqueue(
                f"v{counter}",
                rng.choice(queues),
                f"Visitor {counter}",
                Medium.VIDEO,
                language=rng.choice(["en", "fr"]),
            ),
            now,
        )

    def accept_offers(events: list[ev.RouterEvent]) -> None:
        for e in events:
            if isinstance(e, ev.VisitOffered):
                router.handle(Accept(e.agent, e.visit.visit_id), now)

    while sum(len(router.serving(n)) for n in names) < args.agents and counter < 10 * args.agents:
        accept_offers(arrive())
    while sum(len(router.waiting(q)) for q in queues) < args.waiting:
        now += timedelta(milliseconds=50)
        arrive()
    busy = [n for n in names if router.serving(n)]
    print(
        f"{args.agents} agents ({len(busy)} busy), {args.waiting} waiting in {args.queues} queues"
    )

    timings: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.rounds):
        now += timedelta(seconds=1)
        agent = rng.choice(busy)
        served = router.serving(agent)
        if not served:
            continue
        visit = served[0].visit_id
        t = time.perf_counter()
        events = router.handle(Complete(agent, visit), now)
        timings["Complete → next offer"].append(time.perf_counter() - t)
        for e in events:
            if isinstance(e, ev.VisitOffered):
                t = time.perf_counter()
                router.handle(Accept(e.agent, e.visit.visit_id), now)
                timings["Accept"].append(time.perf_counter() - t)
        t = time.perf_counter()
        arrive()
        timings["Enqueue (all busy)"].append(time.perf_counter() - t)
        t = time.perf_counter()
        router.handle(Tick(), now)
        timings["Tick"].append(time.perf_counter() - t)
    waiting = sum(len(router.waiting(q)) for q in queues)
    print(f"after {args.rounds} rounds: {waiting} waiting")
    print(f"{'command':<24}{'p50 µs':>10}{'p99 µs':>10}{'max µs':>10}{'n':>8}")
    for name, values in timings.items():
        values.sort()
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        print(
            f"{name:<24}{statistics.median(values) * 1e6:>10.1f}{p99 * 1e6:>10.1f}"
            f"{values[-1] * 1e6:>10.1f}{len(values):>8}"
        )


if __name__ == "__main__":
    main()
