"""Single-use token records and signing keys."""

from __future__ import annotations

import asyncio

import pytest

from frontdesk.errors import AlreadyExists
from frontdesk.store.base import TokenUse
from frontdesk.store.sql import SqlStore
from tests.store import samples as s
from tests.store.conftest import Target
from tests.store.samples import at


async def test_consume_token_once(store: SqlStore) -> None:
    assert not await store.is_token_used("j1")
    assert await store.consume_token("j1", "m_1", at(600)) is True
    assert await store.is_token_used("j1")
    assert await store.consume_token("j1", "m_1", at(600)) is False
    assert await store.consume_token("j1", "m_other", at(900)) is False
    assert not await store.is_token_used("j2")


async def test_concurrent_consumers_exactly_one_wins(store: SqlStore) -> None:
    results = await asyncio.gather(
        *(store.consume_token("race", "m_1", at(600)) for _ in range(10))
    )
    assert sorted(results) == [False] * 9 + [True]


async def test_concurrent_consumers_across_two_stores(target: Target) -> None:
    """Two engines (as two nodes would have) on one database: still one winner."""
    first, second = await target.open(), await target.open()
    try:
        for round_ in range(3):
            jti = f"race-{round_}"
            results = await asyncio.gather(
                *(
                    (first if i % 2 else second).consume_token(jti, "m_1", at(600))
                    for i in range(10)
                )
            )
            assert results.count(True) == 1, results
    finally:
        await first.close()
        await second.close()


async def test_a_token_spent_in_the_transaction_of_its_events(store: SqlStore) -> None:
    """A join and the single-use token that let it in: one commit. A token spent
    before is answered by id; the events are stored all the same."""
    await store.create_meeting(s.meeting("m_1"))
    join = TokenUse("j-join", "m_1", at(600))
    assert await store.append_events([s.event("m_1", 1)], spends=[join]) == frozenset()
    assert await store.is_token_used("j-join")
    assert await store.consume_token("j-join", "m_1", at(600)) is False
    other = TokenUse("j-other", "m_1", at(600))
    used = await store.append_events([s.event("m_1", 2)], spends=[join, other])
    assert used == {"j-join"}
    assert [e.seq for e in await store.events_since("m_1", 0)] == [1, 2]
    assert await store.is_token_used("j-other")
    # spent by consume_token first: the same answer
    assert await store.consume_token("j-third", "m_1", at(600)) is True
    third = TokenUse("j-third", "m_1", at(600))
    assert await store.append_events([s.event("m_1", 3)], spends=[third]) == {"j-third"}


async def test_a_failed_append_spends_no_token(store: SqlStore) -> None:
    await store.create_meeting(s.meeting("m_1"))
    await store.append_events([s.event("m_1", 1)])
    with pytest.raises(AlreadyExists):
        await store.append_events([s.event("m_1", 1)], spends=[TokenUse("j-lost", "m_1", at(600))])
    assert not await store.is_token_used("j-lost")
    assert await store.consume_token("j-lost", "m_1", at(600)) is True


async def test_spends_with_events_race_across_two_stores(target: Target) -> None:
    """Two engines (two nodes) spend one token, each with its own events: one
    of them spends it, every other is answered that it was spent."""
    first, second = await target.open(), await target.open()
    try:
        await first.create_meeting(s.meeting("m_1"))
        use = TokenUse("race-join", "m_1", at(600))
        results = await asyncio.gather(
            *(
                (first if i % 2 else second).append_events([s.event("m_1", i + 1)], spends=[use])
                for i in range(10)
            )
        )
        assert sorted(len(r) for r in results) == [0] + [1] * 9, results
        assert len(await first.events_since("m_1", 0)) == 10
    finally:
        await first.close()
        await second.close()


async def test_purge_used_tokens(store: SqlStore) -> None:
    for i in range(5):
        await store.consume_token(f"j{i}", "m_1", at(100 * i))  # expire at 0, 100, ..., 400
    assert await store.purge_used_tokens(at(200)) == 2  # j0, j1 expired before t=200
    assert [await store.is_token_used(f"j{i}") for i in range(5)] == [False, False] + [True] * 3
    assert await store.purge_used_tokens(at(200)) == 0
    assert await store.purge_used_tokens(at(1000)) == 3


async def test_signing_keys_round_trip_oldest_first(store: SqlStore) -> None:
    assert await store.list_signing_keys() == []
    await store.add_signing_key(s.key("k2", 20))
    await store.add_signing_key(s.key("k1", 10))
    keys = await store.list_signing_keys()
    assert [k.kid for k in keys] == ["k1", "k2"]
    assert keys[0] == s.key("k1", 10)
    assert keys[0].created_at.utcoffset() is not None
    assert keys[0].retired_at is None and keys[0].expires_at is None


async def test_duplicate_signing_key(store: SqlStore) -> None:
    await store.add_signing_key(s.key("k1", 10))
    with pytest.raises(AlreadyExists):
        await store.add_signing_key(s.key("k1", 11))
    assert [k.created_at for k in await store.list_signing_keys()] == [at(10)]


async def test_retire_and_delete_expired_keys(store: SqlStore) -> None:
    await store.add_signing_key(s.key("old", 0, retired_at=at(5), expires_at=at(50)))
    await store.add_signing_key(s.key("k1", 10))
    await store.add_signing_key(s.key("k2", 20))
    await store.add_signing_key(s.key("k3", 30))

    await store.retire_signing_keys(except_kid="k3", now=at(100), expires_at=at(200))
    keys = {k.kid: k for k in await store.list_signing_keys()}
    assert (keys["old"].retired_at, keys["old"].expires_at) == (at(5), at(50))  # untouched
    for kid in ("k1", "k2"):
        assert (keys[kid].retired_at, keys[kid].expires_at) == (at(100), at(200))
    assert keys["k3"].retired_at is None and keys["k3"].expires_at is None

    assert await store.delete_expired_signing_keys(at(49)) == 0
    assert await store.delete_expired_signing_keys(at(50)) == 1  # "old" expires at 50
    assert [k.kid for k in await store.list_signing_keys()] == ["k1", "k2", "k3"]
    assert await store.delete_expired_signing_keys(at(10_000)) == 2
    assert [k.kid for k in await store.list_signing_keys()] == ["k3"]
