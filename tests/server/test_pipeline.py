"""One room's commands pipelined through the group commit: decided in order,
stored in order, delivered and answered in seq order, and after a failed write
nothing later of the room is stored, delivered or acknowledged."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from frontdesk.config import Settings
from frontdesk.domain import commands as cmd
from frontdesk.domain.model import AccessPolicy, Role
from frontdesk.domain.participants import JoinMethod
from frontdesk.errors import Unavailable
from frontdesk.server.app import create_app


class Conn:
    def __init__(self, pid: str) -> None:
        self.participant_id = pid
        self.last_state = None
        self.frames: list[dict[str, Any]] = []
        self.closed: int | None = None

    def send(self, frame: str) -> None:
        self.frames.append(json.loads(frame))

    def close(self, code: int, reason: str) -> None:
        self.closed = code

    def end_session(self, bye: str, code: int, reason: str) -> None:
        self.close(code, reason)

    def chat_seqs(self) -> list[int]:
        return [
            f["seq"] for f in self.frames if f["type"] == "event" and f["name"] == "chat_message"
        ]


async def test_pipelined_chats_share_commits_and_a_failure_stops_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/p.db"))
    async with app.router.lifespan_context(app):
        ops, live = app.state.ops, app.state.live
        await ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        m = await ops.meetings.create(
            subject="x", organizer="alice", access_policy=AccessPolicy.DIRECT
        )
        lr = await live.room(m.id)
        conns = {}
        for pid in ("p_a", "p_b", "p_c"):
            await live.execute(lr, cmd.Join(pid, pid, Role.GUEST, JoinMethod.TOKEN))
            conns[pid] = Conn(pid)
            live.attach(lr, conns[pid])
        batches0 = live.writer.batches

        # Many chats at once: stored in fewer transactions, delivered in seq order.
        await asyncio.gather(
            *(
                live.execute(lr, cmd.SendChat(pid, f"c{i}", "hi"))
                for i in range(10)
                for pid in conns
            )
        )
        assert live.writer.batches - batches0 < 30
        seqs = conns["p_a"].chat_seqs()
        assert len(seqs) == 30 and seqs == sorted(seqs)
        stored = [r.seq for r in await ops.store.events_since(m.id, 0)]
        assert stored == list(range(1, len(stored) + 1))
        last = stored[-1]

        # The write of seq last+2 fails: last+1 is stored and delivered, nothing after.
        store = ops.store
        real = store.append_events

        async def failing(events, fences=None):  # type: ignore[no-untyped-def]
            if any(e.seq == last + 2 for e in events):
                raise OSError("disk full")
            await real(events, fences)

        monkeypatch.setattr(store, "append_events", failing)
        results = await asyncio.gather(
            *(
                live.execute(lr, cmd.SendChat(pid, f"d{i}", "hi"))
                for i in range(3)
                for pid in conns
            ),
            return_exceptions=True,
        )
        ok = [r for r in results if not isinstance(r, BaseException)]
        failed = [r for r in results if isinstance(r, BaseException)]
        assert all(isinstance(r, Unavailable) for r in failed) and len(failed) == 8
        assert len(ok) == 1
        assert [r.seq for r in await store.events_since(m.id, 0)] == [*stored, last + 1]
        assert conns["p_a"].chat_seqs()[-1] == last + 1
        assert all(c.closed == 1001 for c in conns.values())
        assert live.loaded(m.id) is None and lr.abandoned
