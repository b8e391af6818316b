"""The meeting event log and webhook registrations."""

from __future__ import annotations

import pytest

from frontdesk.errors import AlreadyExists, AppNotFound, MeetingNotFound, NotFound
from frontdesk.store.base import EventRecord
from frontdesk.store.sql import SqlStore
from tests.store import samples as s
from tests.store.samples import T0, at


@pytest.fixture
async def meetings(store: SqlStore) -> SqlStore:
    await store.create_meeting(s.meeting("m_1"))
    await store.create_meeting(s.meeting("m_2"))
    return store


async def test_events_round_trip_in_order(meetings: SqlStore) -> None:
    store = meetings
    assert await store.last_seq("m_1") == 0
    assert await store.events_since("m_1", 0) == []
    nested = {"text": "Grüße 👋", "to": None, "list": [1, 2.5, True], "obj": {"a": {"b": []}}}
    # Out of order within the batch, and across two batches.
    await store.append_events([s.event("m_1", 3), s.event("m_1", 1, **nested)])
    await store.append_events([s.event("m_1", 2), s.event("m_2", 1)])

    got = await store.events_since("m_1", 0)
    assert [e.seq for e in got] == [1, 2, 3]
    assert got[0] == EventRecord("m_1", 1, "chat", {"n": 1, **nested}, at(1))
    assert got[0].at.utcoffset() is not None
    assert await store.last_seq("m_1") == 3
    assert await store.last_seq("m_2") == 1
    assert await store.last_seq("m_none") == 0


async def test_events_since_after_and_limit(meetings: SqlStore) -> None:
    store = meetings
    await store.append_events([s.event("m_1", n) for n in range(1, 21)])
    assert [e.seq for e in await store.events_since("m_1", 15)] == [16, 17, 18, 19, 20]
    assert [e.seq for e in await store.events_since("m_1", 5, limit=3)] == [6, 7, 8]
    assert await store.events_since("m_1", 20) == []
    assert await store.events_since("m_1", 0, limit=0) == []
    assert await store.events_since("m_2", 0) == []


async def test_events_since_of_some_types(meetings: SqlStore) -> None:
    store = meetings
    events = [s.event("m_1", n) for n in range(1, 7)]
    events = [EventRecord(e.meeting_id, e.seq, "joined" if e.seq % 3 else "chat", e.data, e.at)
              for e in events]  # fmt: skip
    await store.append_events(events)
    assert [e.seq for e in await store.events_since("m_1", 0, types={"chat"})] == [3, 6]
    assert [e.seq for e in await store.events_since("m_1", 1, types=["joined", "x"])] == [2, 4, 5]
    assert await store.events_since("m_1", 0, types=()) == []


async def test_duplicate_event_stores_nothing_of_the_batch(meetings: SqlStore) -> None:
    store = meetings
    await store.append_events([s.event("m_1", 1), s.event("m_1", 2)])
    with pytest.raises(AlreadyExists):
        await store.append_events([s.event("m_1", 3), s.event("m_1", 4), s.event("m_1", 2)])
    with pytest.raises(AlreadyExists):  # duplicate inside one batch
        await store.append_events([s.event("m_1", 5), s.event("m_1", 5)])
    assert [e.seq for e in await store.events_since("m_1", 0)] == [1, 2]
    assert await store.last_seq("m_1") == 2
    # The store is still usable after the failed transactions.
    await store.append_events([s.event("m_1", 3)])
    assert await store.last_seq("m_1") == 3


async def test_events_for_unknown_meeting(meetings: SqlStore) -> None:
    with pytest.raises(MeetingNotFound):
        await meetings.append_events([s.event("m_1", 1), s.event("m_ghost", 1)])
    assert await meetings.last_seq("m_1") == 0
    await meetings.append_events([])  # an empty batch is a no-op


async def test_webhooks_crud(store: SqlStore) -> None:
    await store.create_app(s.app("app_1"))
    await store.create_app(s.app("app_2"))
    h1 = s.webhook("wh_1", extra={"chat": True, "retries": 5})
    h2 = s.webhook("wh_2", "app_2", created_at=at(1), events=())
    h3 = s.webhook("wh_3", created_at=at(2))
    for hook in (h3, h1, h2):
        await store.create_webhook(hook)

    assert await store.list_webhooks() == [h1, h2, h3]
    assert await store.list_webhooks("app_1") == [h1, h3]
    assert await store.list_webhooks("app_none") == []
    got = (await store.list_webhooks("app_2"))[0]
    assert got.events == () and isinstance(got.events, tuple)
    assert (await store.list_webhooks("app_1"))[0].events == ("participant.joined", "meeting.ended")
    assert got.created_at.utcoffset() is not None and h1.created_at == T0

    with pytest.raises(AlreadyExists):
        await store.create_webhook(s.webhook("wh_1", "app_2"))
    with pytest.raises(AppNotFound):
        await store.create_webhook(s.webhook("wh_9", "app_ghost"))

    with pytest.raises(NotFound):  # another app's hook is not yours to delete
        await store.delete_webhook("wh_1", "app_2")
    await store.delete_webhook("wh_1", "app_1")
    with pytest.raises(NotFound):
        await store.delete_webhook("wh_1", "app_1")
    assert [h.id for h in await store.list_webhooks()] == ["wh_2", "wh_3"]


async def test_meeting_guest_apps(meetings: SqlStore) -> None:
    store = meetings
    for app_id in ("app_1", "app_2"):
        await store.create_app(s.app(app_id))
    assert await store.meeting_guest_apps("m_1") == frozenset()
    await store.add_meeting_guest_app("m_1", "app_1", T0)
    await store.add_meeting_guest_app("m_1", "app_1", at(1))  # idempotent
    await store.add_meeting_guest_app("m_2", "app_2", T0)
    assert await store.meeting_guest_apps("m_1") == frozenset({"app_1"})
    assert await store.meeting_guest_apps("m_2") == frozenset({"app_2"})
    assert await store.meeting_guest_apps("m_none") == frozenset()
    with pytest.raises(NotFound):
        await store.add_meeting_guest_app("m_none", "app_1", T0)
