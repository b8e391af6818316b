"""Single-use token records and signing keys."""

from __future__ import annotations

import asyncio

import pytest

from frontdesk.errors import AlreadyExists
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
