"""CPU of one store commit on SQLite: a one-event append, and a join's append
that spends its single-use token in the same transaction.

    .venv/bin/python bench/store_append.py [-n 2000]

The store runs in this process (no node, no WebSocket): CPU is this process's
user + system time (``getrusage``, the driver's thread included) per commit.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from frontdesk.domain.model import Meeting, User, new_join_code
from frontdesk.store import EventRecord, open_store
from frontdesk.store.base import TokenUse


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite+aiosqlite:///{tmp}/bench.db")
        now = datetime.now(UTC)
        await store.create_user(User("alice", "Alice", "x", now))
        await store.create_meeting(Meeting("m_1", new_join_code(), "", "alice", now))

        def rec(seq: int) -> EventRecord:
            return EventRecord("m_1", seq, "chat_message", {"text": "hi", "to": []}, now)

        for seq in range(1, 201):  # warm up
            await store.append_events([rec(seq)])
        c0 = cpu()
        for seq in range(201, 201 + n):
            await store.append_events([rec(seq)])
        one = (cpu() - c0) / n * 1e6
        c0 = cpu()
        later = now + timedelta(hours=1)
        for seq in range(201 + n, 201 + 2 * n):
            await store.append_events([rec(seq)], spends=[TokenUse(f"j{seq}", "m_1", later)])
        spend = (cpu() - c0) / n * 1e6
        c0 = cpu()
        for seq in range(201 + 2 * n, 201 + 3 * n):
            await store.consume_token(f"k{seq}", "m_1", later)
        consume = (cpu() - c0) / n * 1e6
        await store.close()
    print(f"one-event append: {one:.0f} µs CPU per commit")
    print(f"one-event append spending a token in it: {spend:.0f} µs CPU per commit")
    print(f"consume_token on its own (a second commit): {consume:.0f} µs CPU")
    print("loadavg", Path("/proc/loadavg").read_text().strip())


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=2000)
    asyncio.run(main(ap.parse_args().n))
