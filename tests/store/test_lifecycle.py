"""Opening, migrating, reopening and pinging stores; URL handling."""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from frontdesk.errors import Unavailable, ValidationFailed
from frontdesk.store import open_store
from frontdesk.store.migrate import alembic_config, current_revision, head_revision, upgrade
from frontdesk.store.sql import SqlStore
from frontdesk.store.tables import metadata
from tests.store import samples as s
from tests.store.conftest import Target
from tests.support.databases import postgres_url_or_skip, schema_url, sqlite_url, temp_schema

# Waits until all N processes are ready, then migrates: N nodes starting at once.
_RACE_SCRIPT = """
import os, pathlib, sys, time
from frontdesk.store.migrate import upgrade
folder, n, url, schema = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
(folder / f"ready-{os.getpid()}").touch()
deadline = time.monotonic() + 30
while len(list(folder.glob("ready-*"))) < n and time.monotonic() < deadline:
    time.sleep(0.002)
upgrade(url, schema=schema or None)
"""


async def table_names(store: SqlStore) -> set[str]:
    async with store.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))


async def test_open_migrates_to_head_and_again_is_a_no_op(target: Target) -> None:
    first = await target.open()
    try:
        assert await current_revision(first.engine) == head_revision() == "0010"
        await first.create_user(s.user())
    finally:
        await first.close()
    second = await target.open()  # migrates again: nothing to do, data intact
    try:
        assert await current_revision(second.engine) == head_revision()
        assert (await second.get_user("alice")).username == "alice"
        async with second.engine.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).all()
        assert [r[0] for r in rows] == [head_revision()]
    finally:
        await second.close()


async def test_open_without_migrate_leaves_schema_alone(target: Target) -> None:
    store = await target.open(migrate=False)
    try:
        assert await current_revision(store.engine) is None
        assert "meetings" not in await table_names(store)
    finally:
        await store.close()
    # The blocking entry point works even from inside a running event loop.
    upgrade(target.url, schema=target.schema)
    upgrade(target.url, schema=target.schema)
    store = await target.open(migrate=False)
    try:
        assert await current_revision(store.engine) == head_revision()
        await store.create_app(s.app())
    finally:
        await store.close()


async def test_migrated_schema_matches_tables(store: SqlStore) -> None:
    def diff(conn: sa.Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_downgrade_to_base_and_back(store: SqlStore) -> None:
    def run(conn: sa.Connection, revision: str) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        if revision == "base":
            command.downgrade(cfg, revision)
        else:
            command.upgrade(cfg, revision)

    async with store.engine.begin() as conn:
        await conn.run_sync(run, "base")
    assert await table_names(store) <= {"alembic_version"}
    async with store.engine.begin() as conn:
        await conn.run_sync(run, "head")
    assert {"apps", "meetings", "events", "webhooks"} <= await table_names(store)


async def test_users_of_earlier_versions_become_agents(store: SqlStore) -> None:
    """0008 gives every existing user the agent role (and takes it away again)."""

    def run(conn: sa.Connection, revision: str, down: bool) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)

    async with store.engine.begin() as conn:
        await conn.run_sync(run, "0006", True)
        await conn.execute(
            sa.text(
                "INSERT INTO users (username, display_name, password_hash, created_at, disabled)"
                " VALUES ('old', 'Old Agent', 'h', :at, false)"
            ),
            {"at": s.T0},
        )
        await conn.run_sync(run, "head", False)
    user = await store.get_user("old")
    assert user.role.value == "agent" and user.display_name == "Old Agent"


async def test_concurrent_opens_migrate_once(target: Target) -> None:
    stores = await asyncio.gather(*(target.open() for _ in range(4)))
    try:
        await stores[0].create_meeting(s.meeting())
        for store in stores:
            assert (await store.get_meeting("m_1")).id == "m_1"
    finally:
        for store in stores:
            await store.close()


async def test_processes_starting_at_once_migrate_safely(target: Target, tmp_path: Path) -> None:
    n = 3
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _RACE_SCRIPT,
            str(barrier),
            str(n),
            target.url,
            target.schema or "",
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(n)
    ]
    outcomes = [await asyncio.wait_for(p.communicate(), 60) for p in procs]
    for proc, (_, err) in zip(procs, outcomes, strict=True):
        assert proc.returncode == 0, err.decode()
    store = await target.open(migrate=False)
    try:
        assert await current_revision(store.engine) == head_revision()
        await store.create_app(s.app())
    finally:
        await store.close()


async def test_reopened_sqlite_file_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folders" / "fd.db"
    store = await open_store(sqlite_url(path))
    try:
        await store.create_meeting(s.meeting())
        await store.append_events([s.event("m_1", 1)])
    finally:
        await store.close()
    assert path.is_file()
    store = await open_store(f"sqlite:///{path}")  # the plain driver name is accepted
    try:
        assert (await store.get_meeting("m_1")).subject == "Mortgage advice"
        assert await store.last_seq("m_1") == 1
    finally:
        await store.close()


async def test_sqlite_pragmas(tmp_path: Path) -> None:
    store = await SqlStore.open(sqlite_url(tmp_path / "fd.db"))
    try:
        async with store.engine.connect() as conn:
            pragmas = {
                name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
        assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000}
    finally:
        await store.close()


async def test_ping(store: SqlStore) -> None:
    await store.ping()


async def test_unreachable_postgres_is_unavailable() -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"  # nothing listens on port 1
    store = await SqlStore.open(url, migrate=False)
    try:
        with pytest.raises(Unavailable):
            await store.ping()
        with pytest.raises(Unavailable):
            await store.get_meeting("m_1")
    finally:
        await store.close()
    with pytest.raises(Unavailable):
        await SqlStore.open(url)


async def test_sqlite_folder_that_cannot_exist_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(Unavailable):
        await SqlStore.open(sqlite_url(tmp_path / "file" / "fd.db"))


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///:memory:",
        "sqlite+aiosqlite://",
        "mysql+aiomysql://u@127.0.0.1/db",
        "not a url",
    ],
)
async def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationFailed):
        await SqlStore.open(url)


@pytest.mark.postgres
async def test_schema_in_url() -> None:
    url = await postgres_url_or_skip()
    async with temp_schema(url) as schema:
        store = await open_store(schema_url(url, schema))
        try:
            await store.create_user(s.user())
        finally:
            await store.close()
        explicit = await SqlStore.open(url, schema=schema, migrate=False)
        try:
            assert (await explicit.get_user("alice")).username == "alice"
        finally:
            await explicit.close()


def test_alembic_env_on_its_own(tmp_path: Path) -> None:
    """env.py without a given connection (the ``alembic`` command line path)."""
    url = sqlite_url(tmp_path / "cli.db")
    command.upgrade(alembic_config(url), "head")
    out = io.StringIO()
    cfg = alembic_config(url)
    cfg.stdout = out
    command.current(cfg)
    assert "0010 (head)" in out.getvalue()

    offline = alembic_config("postgresql+asyncpg://u@127.0.0.1/db")
    offline.output_buffer = io.StringIO()
    command.upgrade(offline, "head", sql=True)
    sql = offline.output_buffer.getvalue()
    assert "CREATE TABLE meetings" in sql and "TIMESTAMP WITH TIME ZONE" in sql
