"""Meeting leases and fenced event writes: at most one node writes a meeting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from frontdesk.store.base import Fence, LeaseHeld, LeaseLost, TokenUse
from frontdesk.store.sql import SqlStore
from tests.store import samples as s
from tests.store.conftest import Target
from tests.support.databases import postgres_url_or_skip, temp_schema


@pytest.fixture
async def pg_target() -> AsyncIterator[Target]:
    url = await postgres_url_or_skip()
    async with temp_schema(url) as schema:
        yield Target(url, schema)


@pytest.fixture
async def meetings(store: SqlStore) -> SqlStore:
    await store.create_meeting(s.meeting("m_1"))
    await store.create_meeting(s.meeting("m_2"))
    return store


async def test_a_free_meeting_is_leased_and_others_are_refused(meetings: SqlStore) -> None:
    store = meetings
    assert await store.current_lease("m_1") is None
    lease = await store.acquire_lease("m_1", "a", "ws://a/v1/rtc", 30)
    assert (lease.owner, lease.fence, lease.node_url) == ("a", 1, "ws://a/v1/rtc")
    assert await store.current_lease("m_1") == lease
    with pytest.raises(LeaseHeld) as held:
        await store.acquire_lease("m_1", "b", "ws://b/v1/rtc", 30)
    assert held.value.lease.owner == "a"
    assert held.value.lease.node_url == "ws://a/v1/rtc"
    # The holder may take it again: a new fence, so its earlier writers are fenced off.
    again = await store.acquire_lease("m_1", "a", "ws://a/v1/rtc", 30)
    assert again.fence == 2


async def test_an_expired_lease_is_taken_over_with_a_greater_fence(meetings: SqlStore) -> None:
    store = meetings
    first = await store.acquire_lease("m_1", "a", "ws://a", 0.2)
    await asyncio.sleep(0.3)
    assert await store.current_lease("m_1") is None
    second = await store.acquire_lease("m_1", "b", "ws://b", 30)
    assert second.fence > first.fence and second.owner == "b"
    # The old owner cannot renew what was taken over, nor write.
    assert await store.renew_leases("a", {"m_1": first.fence}, 30) == set()
    with pytest.raises(LeaseLost) as lost:
        await store.append_events([s.event("m_1", 1)], {"m_1": first.as_fence})
    assert lost.value.meeting_ids == {"m_1"}
    await store.append_events([s.event("m_1", 1)], {"m_1": second.as_fence})
    assert [e.seq for e in await store.events_since("m_1", 0)] == [1]


async def test_an_expired_lease_nobody_took_is_renewed(meetings: SqlStore) -> None:
    """A paused owner whose lease lapsed but was not taken over may go on."""
    store = meetings
    lease = await store.acquire_lease("m_1", "a", "ws://a", 0.1)
    await asyncio.sleep(0.2)
    with pytest.raises(LeaseLost):  # expired: no write until renewed
        await store.append_events([s.event("m_1", 1)], {"m_1": lease.as_fence})
    assert await store.renew_leases("a", {"m_1": lease.fence, "m_2": 7}, 30) == {"m_1"}
    await store.append_events([s.event("m_1", 1)], {"m_1": lease.as_fence})


async def test_a_batch_with_one_lost_fence_stores_nothing(meetings: SqlStore) -> None:
    store = meetings
    l1 = await store.acquire_lease("m_1", "a", "ws://a", 30)
    await store.acquire_lease("m_2", "b", "ws://b", 30)
    with pytest.raises(LeaseLost) as lost:
        await store.append_events(
            [s.event("m_1", 1), s.event("m_2", 1)],
            {"m_1": l1.as_fence, "m_2": Fence("a", 1)},
        )
    assert lost.value.meeting_ids == {"m_2"}
    assert await store.last_seq("m_1") == 0
    with pytest.raises(LeaseLost):  # a meeting of the batch without a fence
        await store.append_events([s.event("m_1", 1), s.event("m_2", 1)], {"m_1": l1.as_fence})


async def test_a_fenced_write_that_lost_its_lease_spends_no_token(meetings: SqlStore) -> None:
    store = meetings
    first = await store.acquire_lease("m_1", "a", "ws://a", 0.2)
    await asyncio.sleep(0.3)
    second = await store.acquire_lease("m_1", "b", "ws://b", 30)
    use = TokenUse("j-1", "m_1", s.at(600))
    with pytest.raises(LeaseLost):
        await store.append_events([s.event("m_1", 1)], {"m_1": first.as_fence}, [use])
    assert not await store.is_token_used("j-1")
    used = await store.append_events([s.event("m_1", 1)], {"m_1": second.as_fence}, [use])
    assert used == frozenset() and await store.is_token_used("j-1")


async def test_release_lets_another_node_take_it_at_once(meetings: SqlStore) -> None:
    store = meetings
    lease = await store.acquire_lease("m_1", "a", "ws://a", 30)
    await store.release_lease("m_1", Fence("a", 99))  # not the holder's fence: no effect
    assert await store.current_lease("m_1") is not None
    await store.release_lease("m_1", lease.as_fence)
    assert await store.current_lease("m_1") is None
    assert (await store.acquire_lease("m_1", "b", "ws://b", 30)).owner == "b"


@pytest.mark.postgres
async def test_racing_nodes_get_one_lease_each_time(pg_target: Target) -> None:
    stores = [await pg_target.open() for _ in range(4)]
    try:
        await stores[0].create_meeting(s.meeting("m_1"))
        for round_ in range(6):
            results = await asyncio.gather(
                *(
                    st.acquire_lease("m_1", f"n{i}", f"ws://n{i}", 0.5)
                    for i, st in enumerate(stores)
                ),
                return_exceptions=True,
            )
            won = [r for r in results if not isinstance(r, BaseException)]
            assert len(won) == 1, (round_, results)
            assert all(isinstance(r, LeaseHeld) for r in results if isinstance(r, BaseException))
            await asyncio.sleep(0.55)
    finally:
        for st in stores:
            await st.close()


@pytest.mark.postgres
async def test_a_takeover_waits_for_a_write_in_flight(pg_target: Target) -> None:
    """The fence check share-locks the lease row: a takeover cannot slip between
    the check and the commit of an old owner's write."""
    a, b = await pg_target.open(), await pg_target.open()
    try:
        await a.create_meeting(s.meeting("m_1"))
        lease = await a.acquire_lease("m_1", "a", "ws://a", 0.5)
        stored = await asyncio.gather(
            *(a.append_events([s.event("m_1", n)], {"m_1": lease.as_fence}) for n in range(1, 6)),
            return_exceptions=True,
        )
        assert not [r for r in stored if isinstance(r, BaseException)]
        await asyncio.sleep(0.6)
        taken = await b.acquire_lease("m_1", "b", "ws://b", 30)
        with pytest.raises(LeaseLost):
            await a.append_events([s.event("m_1", 6)], {"m_1": lease.as_fence})
        await b.append_events([s.event("m_1", 6)], {"m_1": taken.as_fence})
        assert [e.seq for e in await b.events_since("m_1", 0)] == [1, 2, 3, 4, 5, 6]
    finally:
        await a.close()
        await b.close()
