"""The chat retention policy in the store: content deleted, audit trail kept."""

from __future__ import annotations

import asyncio

from frontdesk.store.base import EventRecord
from frontdesk.store.sql import SqlStore
from tests.store import samples as s
from tests.store.conftest import Target
from tests.store.samples import at


def _chat(meeting_id: str, seq: int, text: str) -> EventRecord:
    data = {
        "participant_id": "p_1",
        "display_name": "Ann Visitor",
        "text": text,
        "client_msg_id": f"c{seq}",
        "to": ["p_1", "p_2"],
    }
    return EventRecord(meeting_id, seq, "chat_message", data, at(seq))


def _joined(meeting_id: str, seq: int) -> EventRecord:
    return EventRecord(meeting_id, seq, "participant_joined", {"participant": {}}, at(seq))


async def test_old_chat_loses_its_text_and_keeps_the_rest(store: SqlStore) -> None:
    await store.create_meeting(s.meeting("m_1"))
    await store.append_events(
        [_joined("m_1", 1), _chat("m_1", 2, "my account is 123"), _chat("m_1", 5, "newer")]
    )
    done = await store.redact_events(before=at(4), now=at(100), limit=10)
    assert done == [("m_1", 2)]

    joined, old, new = await store.events_since("m_1", 0)
    assert joined.data == {"participant": {}} and joined.redacted_at is None
    assert old.data == {
        "participant_id": "p_1",
        "display_name": "Ann Visitor",
        "text": "",
        "client_msg_id": "c2",
        "to": ["p_1", "p_2"],
        "redacted": True,
    }
    assert (old.type, old.at, old.redacted_at) == ("chat_message", at(2), at(100))
    assert new.data["text"] == "newer" and new.redacted_at is None
    # Idempotent: nothing is left older than the cut-off.
    assert await store.redact_events(before=at(4), now=at(200), limit=10) == []
    assert (await store.events_since("m_1", 1, limit=1))[0].redacted_at == at(100)


async def test_batches_are_bounded_and_drain(store: SqlStore) -> None:
    await store.create_meeting(s.meeting("m_1"))
    await store.create_meeting(s.meeting("m_2"))
    await store.append_events([_chat("m_1", n, f"a{n}") for n in range(1, 8)])
    await store.append_events([_chat("m_2", n, f"b{n}") for n in range(1, 4)])
    first = await store.redact_events(before=at(50), now=at(60), limit=4)
    assert len(first) == 4
    rest = await store.redact_events(before=at(50), now=at(60), limit=100)
    assert len(rest) == 6 and not set(first) & set(rest)
    for meeting_id in ("m_1", "m_2"):
        assert all(e.data["text"] == "" for e in await store.events_since(meeting_id, 0))


async def test_nodes_redacting_at_once_redact_each_row_once(target: Target) -> None:
    """Two stores on one database (two nodes) run batches at the same time:
    every row is redacted, by exactly one of them."""
    a, b = await target.open(), await target.open()
    try:
        await a.create_meeting(s.meeting("m_1"))
        await a.append_events([_chat("m_1", n, f"t{n}") for n in range(1, 61)])

        async def drain(store: SqlStore) -> list[tuple[str, int]]:
            got: list[tuple[str, int]] = []
            while batch := await store.redact_events(before=at(1000), now=at(2000), limit=7):
                got.extend(batch)
            return got

        one, two = await asyncio.gather(drain(a), drain(b))
        assert sorted(one + two) == [("m_1", n) for n in range(1, 61)]
        assert not set(one) & set(two)
    finally:
        await a.close()
        await b.close()
