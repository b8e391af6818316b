"""The direct SQLite primary-key reads (application, user, meeting) give what
the SQLAlchemy path gives, see every committed write, and step aside (to the
usual path) when they cannot read."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from frontdesk.domain.model import AccessPolicy, LobbyBypass, MeetingState
from frontdesk.errors import AlreadyExists, AppNotFound, MeetingNotFound, Unavailable, UserNotFound
from frontdesk.store.sql import _APPS, _FALL_BACK, SqlStore
from tests.store import samples as s
from tests.support.databases import sqlite_url


@pytest.fixture
async def lite(tmp_path: Path) -> AsyncIterator[SqlStore]:
    store = await SqlStore.open(sqlite_url(tmp_path / "db" / "frontdesk.db"))
    assert store._lookups is not None
    yield store
    await store.close()


async def usual(store: SqlStore, what: str, key: str) -> object:
    lookups, store._lookups = store._lookups, None
    try:
        return await getattr(store, what)(key)
    finally:
        store._lookups = lookups


async def test_direct_reads_equal_the_usual_ones(lite: SqlStore) -> None:
    await lite.create_app(s.app("app_1"))
    await lite.create_app(
        s.app(
            "app_2",
            revoked_at=s.at(5),
            previous_secret_hash="argon2$old",
            previous_secret_until=s.at(9),
        )
    )
    await lite.create_user(s.user("alice"))
    await lite.create_user(s.user("bob", disabled=True))
    await lite.create_meeting(s.meeting("m_1"))
    await lite.create_meeting(
        s.meeting(
            "m_2",
            start=s.at(60),
            end=s.at(3600),
            state=MeetingState.SCHEDULED,
            access_policy=AccessPolicy.DIRECT,
            lobby_bypass=LobbyBypass.TOKEN_HOLDERS,
            created_by_app="app_1",
        )
    )
    for what, key in [
        ("get_app", "app_1"),
        ("get_app", "app_2"),
        ("get_user", "alice"),
        ("get_user", "bob"),
        ("get_meeting", "m_1"),
        ("get_meeting", "m_2"),
    ]:
        direct = await getattr(lite, what)(key)
        assert direct == await usual(lite, what, key), (what, key)
    app = await lite.get_app("app_2")
    assert app.revoked_at == s.at(5) and app.revoked_at.tzinfo is not None
    assert (await lite.get_user("bob")).disabled is True


async def test_direct_event_and_used_token_reads_equal_the_usual_ones(lite: SqlStore) -> None:
    """What a join reads (spent tokens) and a room restores or a resume replays
    (the events since a seq), with JSON data and UTC times as SQLAlchemy reads them."""
    await lite.create_meeting(s.meeting("m_1"))
    await lite.create_meeting(s.meeting("m_2"))
    await lite.append_events(
        [s.event("m_1", n, text="é ✓ \u2028", nested={"a": [1, None, True]}) for n in (1, 2, 3)]
        + [s.event("m_2", 1)]
    )
    await lite.consume_token("spent", "m_1", s.at(600))
    for what, args in [
        ("events_since", ("m_1", 0)),
        ("events_since", ("m_1", 2)),
        ("events_since", ("m_1", 3)),
        ("events_since", ("m_2", 0)),
        ("events_since", ("nope", 0)),
        ("is_token_used", ("spent",)),
        ("is_token_used", ("fresh",)),
    ]:
        direct = await getattr(lite, what)(*args)
        lookups, lite._lookups = lite._lookups, None
        try:
            assert direct == await getattr(lite, what)(*args), (what, args)
        finally:
            lite._lookups = lookups
    events = await lite.events_since("m_1", 0)
    assert [e.seq for e in events] == [1, 2, 3] and events[0].at.tzinfo is not None
    assert events[0].data["nested"] == {"a": [1, None, True]}


async def test_missing_rows_raise_as_usual(lite: SqlStore) -> None:
    with pytest.raises(AppNotFound):
        await lite.get_app("nope")
    with pytest.raises(UserNotFound):
        await lite.get_user("nope")
    with pytest.raises(MeetingNotFound):
        await lite.get_meeting("nope")


async def test_direct_reads_see_writes_at_once(lite: SqlStore) -> None:
    await lite.create_app(s.app("app_1"))
    assert (await lite.get_app("app_1")).active
    await lite.revoke_app("app_1", s.at(1))
    assert not (await lite.get_app("app_1")).active  # a revocation counts at once
    await lite.create_meeting(s.meeting("m_1"))
    ended = (await lite.get_meeting("m_1")).ended_copy(s.at(2))
    await lite.update_meeting(ended)
    assert (await lite.get_meeting("m_1")).state is MeetingState.ENDED


async def test_a_write_from_another_connection_is_seen(lite: SqlStore, tmp_path: Path) -> None:
    other = await SqlStore.open(sqlite_url(tmp_path / "db" / "frontdesk.db"), migrate=False)
    try:
        with pytest.raises(AppNotFound):
            await lite.get_app("app_1")
        await other.create_app(s.app("app_1"))
        assert (await lite.get_app("app_1")).client_id == "app_1"
    finally:
        await other.close()


class _Failing:
    def __init__(self, message: str) -> None:
        self.message = message
        self.closed = False

    def execute(self, *_args: object) -> None:
        raise sqlite3.OperationalError(self.message)

    def close(self) -> None:
        self.closed = True


async def test_a_locked_database_falls_back_to_the_usual_path(lite: SqlStore) -> None:
    await lite.create_app(s.app("app_1"))
    lookups = lite._lookups
    assert lookups is not None
    lookups.close()
    lookups._conn = _Failing("database is locked")  # type: ignore[assignment]
    assert lookups.one(_APPS.sql, "app_1") is _FALL_BACK
    assert (await lite.get_app("app_1")).client_id == "app_1"  # the usual way
    assert not lookups._broken  # and directly again next time


async def test_other_errors_turn_direct_reads_off(lite: SqlStore) -> None:
    await lite.create_app(s.app("app_1"))
    lookups = lite._lookups
    assert lookups is not None
    lookups.close()
    failing = _Failing("disk I/O error")
    lookups._conn = failing  # type: ignore[assignment]
    assert (await lite.get_app("app_1")).client_id == "app_1"
    assert lookups._broken and failing.closed
    assert lookups.one(_APPS.sql, "app_1") is _FALL_BACK
    with pytest.raises(AppNotFound):
        await lite.get_app("nope")


async def test_meetings_created_together_are_inserted_together(lite: SqlStore) -> None:
    await lite.create_meeting(s.meeting("m_0"))
    meetings = [s.meeting(f"m_{i}") for i in range(1, 20)]
    meetings.append(s.meeting("m_dup", join_code="code-m_3"))  # a join code taken
    meetings.append(s.meeting("m_0", join_code="fresh"))  # an id taken
    results = await asyncio.gather(
        *(lite.create_meeting(m) for m in meetings), return_exceptions=True
    )
    assert results[:19] == [None] * 19
    assert isinstance(results[19], AlreadyExists) and isinstance(results[20], AlreadyExists)
    for m in meetings[:19]:
        assert await lite.get_meeting(m.id) == m
    with pytest.raises(MeetingNotFound):
        await lite.get_meeting("m_dup")
    assert (await lite.get_meeting("m_0")).join_code == "code-m_0"


async def test_a_cancelled_creation_does_not_stop_the_others(lite: SqlStore) -> None:
    first = asyncio.ensure_future(lite.create_meeting(s.meeting("m_1")))
    second = asyncio.ensure_future(lite.create_meeting(s.meeting("m_2")))
    await asyncio.sleep(0)
    first.cancel()
    await second
    assert (await lite.get_meeting("m_2")).id == "m_2"


async def test_the_event_connection_is_replaced_after_a_failure(lite: SqlStore) -> None:
    """Event batches go over one held connection; one that broke is not reused."""
    await lite.create_meeting(s.meeting("m_1"))
    await lite.append_events([s.event("m_1", 1)])
    held = lite._event_conn
    assert held is not None
    with pytest.raises(AlreadyExists):  # a refused row keeps the connection
        await lite.append_events([s.event("m_1", 1)])
    assert lite._event_conn is held
    held.driver_connection._conn.close()  # type: ignore[union-attr]
    with pytest.raises(Unavailable):
        await lite.append_events([s.event("m_1", 2)])
    assert lite._event_conn is None
    await lite.append_events([s.event("m_1", 2)])
    assert [e.seq for e in await lite.events_since("m_1", 0)] == [1, 2]
