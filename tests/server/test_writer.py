"""Group commit: concurrent rooms share transactions; one bad batch fails alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from frontdesk.domain.model import Meeting, User, new_join_code
from frontdesk.errors import AlreadyExists
from frontdesk.server.writer import EventWriter, WriteStream
from frontdesk.store import EventRecord, open_store
from frontdesk.store.base import TokenUse


async def test_group_commit_and_failure_isolation(tmp_path: Path) -> None:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path}/w.db")
    now = datetime.now(UTC)
    await store.create_user(User("alice", "Alice", "x", now))
    ids = [f"m_{i}" for i in range(20)]
    for mid in ids:
        await store.create_meeting(Meeting(mid, new_join_code(), "", "alice", now))
    writer = EventWriter(store)
    await writer.start()
    try:

        def rec(mid: str, seq: int) -> EventRecord:
            return EventRecord(mid, seq, "chat_message", {"text": str(seq), "to": []}, now)

        # 20 rooms write 5 events each, all at once.
        await asyncio.gather(*(writer.write([rec(mid, s)]) for mid in ids for s in range(1, 6)))
        assert writer.records == 100
        assert writer.batches < 100  # batched: fewer transactions than writes
        for mid in ids:
            assert [r.seq for r in await store.events_since(mid, 0)] == [1, 2, 3, 4, 5]

        # A duplicate seq in one room's batch fails that write only.
        results = await asyncio.gather(
            writer.write([rec("m_0", 6)]),
            writer.write([rec("m_1", 5)]),  # duplicate
            writer.write([rec("m_2", 6)]),
            return_exceptions=True,
        )
        assert results[0] == frozenset() and results[2] == frozenset()
        assert isinstance(results[1], AlreadyExists)
        assert (await store.last_seq("m_0"), await store.last_seq("m_2")) == (6, 6)
        with pytest.raises(AlreadyExists):
            await writer.write([rec("m_3", 1)])
    finally:
        await writer.stop()
        await store.close()


async def test_a_failed_batch_fails_every_later_batch_of_its_stream(tmp_path: Path) -> None:
    """Per room, durability order is decision order: once one of a room's batches
    fails, those queued after it are refused unstored (no seq gap), while other
    rooms' batches in the same transactions are stored."""
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path}/w.db")
    now = datetime.now(UTC)
    await store.create_user(User("alice", "Alice", "x", now))
    for mid in ("m_a", "m_b"):
        await store.create_meeting(Meeting(mid, new_join_code(), "", "alice", now))
    writer = EventWriter(store)
    await writer.start()
    try:

        def rec(mid: str, seq: int) -> EventRecord:
            return EventRecord(mid, seq, "chat_message", {"text": str(seq), "to": []}, now)

        await writer.write([rec("m_a", 1)])
        a, b = WriteStream(), WriteStream()
        # All queued at once (one room's later batches behind its failing one).
        futs = [
            writer.write([rec("m_a", 2)], stream=a),
            writer.write([rec("m_b", 1)], stream=b),
            writer.write([rec("m_a", 1)], stream=a),  # a duplicate: fails
            writer.write([rec("m_b", 2)], stream=b),
            writer.write([rec("m_a", 3)], stream=a),  # after the failure: refused
            writer.write([rec("m_a", 4)], stream=a),
        ]
        results = await asyncio.gather(*futs, return_exceptions=True)
        assert results[0] == results[1] == results[3] == frozenset()
        assert isinstance(results[2], AlreadyExists)
        assert all(isinstance(r, Exception) for r in results[4:])
        assert [r.seq for r in await store.events_since("m_a", 0)] == [1, 2]
        assert [r.seq for r in await store.events_since("m_b", 0)] == [1, 2]
        with pytest.raises(RuntimeError):  # the stream stays refused
            await writer.write([rec("m_a", 3)], stream=a)
        await writer.write([rec("m_a", 3)], stream=WriteStream())  # a restored room's
        assert await store.last_seq("m_a") == 3
    finally:
        await writer.stop()
        await store.close()


async def test_token_spends_ride_in_the_group_commit(tmp_path: Path) -> None:
    """Joins of several rooms spend their tokens in the shared transaction; each
    write is answered which of its own tokens were spent before, and a write
    that fails spends nothing, while the others in its group do."""
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path}/w.db")
    now = datetime.now(UTC)
    await store.create_user(User("alice", "Alice", "x", now))
    ids = [f"m_{i}" for i in range(6)]
    for mid in ids:
        await store.create_meeting(Meeting(mid, new_join_code(), "", "alice", now))
    await store.consume_token("j-m_1", "m_1", now)  # spent before (another node)
    await store.append_events([EventRecord("m_2", 1, "x", {"to": []}, now)])
    writer = EventWriter(store)
    await writer.start()
    try:
        results = await asyncio.gather(
            *(
                writer.write(
                    [EventRecord(mid, 1, "participant_joined", {"to": []}, now)],
                    spends=[TokenUse(f"j-{mid}", mid, now)],
                )
                for mid in ids
            ),
            return_exceptions=True,
        )
        assert results[0] == frozenset() and results[3:] == [frozenset()] * 3
        assert results[1] == {"j-m_1"}  # stored all the same
        assert isinstance(results[2], AlreadyExists)  # its seq 1 was taken
        assert [await store.is_token_used(f"j-{mid}") for mid in ids] == [True] * 2 + [False] + [
            True
        ] * 3
        assert await store.last_seq("m_1") == 1
    finally:
        await writer.stop()
        await store.close()
