"""Run the Alembic migrations from code (no ``alembic.ini`` needed).

The scripts live in the ``migrations`` folder beside this module, so this works
from an installed package. Every upgrade runs in one transaction on a
connection configured like the store's own (see :mod:`frontdesk.store.engine`),
serialised between processes: a ``pg_advisory_xact_lock`` on PostgreSQL,
``BEGIN IMMEDIATE`` (the database write lock) on SQLite. Two nodes starting at
once therefore migrate once; the second finds the schema at head.

``upgrade(url)`` is for synchronous callers (the CLI); from a coroutine use
``await upgrade_async(url)`` or ``await upgrade_engine(engine)``, which run
Alembic through ``AsyncConnection.run_sync`` as in Alembic's asyncio cookbook.

Alembic is imported only when there is something to migrate: a database
already at the scripts' head (every start but the first after an upgrade) is
recognised from its ``alembic_version`` row and the scripts' file headers,
so a node does not carry Alembic's modules (about 10 MiB) while it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from frontdesk.store.engine import WRITE_OPTIONS, make_engine, translate_db_error

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "SCRIPT_LOCATION",
    "alembic_config",
    "current_revision",
    "head_revision",
    "lock_for_migration",
    "script_head",
    "upgrade",
    "upgrade_async",
    "upgrade_engine",
]

log = logging.getLogger(__name__)

SCRIPT_LOCATION = str(Path(__file__).resolve().with_name("migrations"))
# Key of the PostgreSQL advisory lock held while migrating ("frontdsk" in ASCII).
_ADVISORY_LOCK_KEY = int.from_bytes(b"frontdsk", "big") & 0x7FFF_FFFF_FFFF_FFFF
_ALEMBIC_LOCK = threading.Lock()


def alembic_config(url: str | None = None) -> Config:
    """An Alembic :class:`Config` pointing at the packaged migration scripts."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest revision the scripts know (as Alembic reads them)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


_REVISION = re.compile(r'^revision(?:: *str)? *= *"([^"]+)"', re.MULTILINE)
_DOWN = re.compile(r'^down_revision(?:: *[^=]+)? *= *(?:"([^"]+)"|None)', re.MULTILINE)


@functools.cache
def script_head() -> str | None:
    """The scripts' head read from their headers (``revision = "..."``, one
    ``down_revision`` each), without importing Alembic; ``None`` when the
    headers do not show a single head (then Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in Path(SCRIPT_LOCATION, "versions").glob("*.py"):
        text = script.read_text(encoding="utf-8")
        rev, down = _REVISION.search(text), _DOWN.search(text)
        if rev is None or down is None:
            return None
        revisions.add(rev.group(1))
        if down.group(1) is not None:
            parents.add(down.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


async def _at_head(engine: AsyncEngine) -> bool:
    """Whether the database's ``alembic_version`` is the scripts' head."""
    head = script_head()
    if head is None:
        return False
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).all()
    except (SQLAlchemyError, OSError, TimeoutError):
        return False  # no such table yet, say: Alembic finds out
    return [r[0] for r in rows] == [head]


def lock_for_migration(connection: sa.Connection) -> None:
    """Serialise migrations between processes for the rest of this transaction.

    On PostgreSQL this takes a transaction-level advisory lock (released at
    commit or rollback). On SQLite the transaction already holds the write lock
    when it was begun with ``BEGIN IMMEDIATE`` (:data:`WRITE_OPTIONS`).
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
        )


def _upgrade_on(connection: sa.Connection, revision: str) -> None:
    from alembic import command

    lock_for_migration(connection)
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


@contextlib.asynccontextmanager
async def _alembic_turn() -> AsyncIterator[None]:
    """One Alembic command at a time in this process.

    Alembic's ``context`` and ``op`` are module-global proxies, so two
    commands interleaved on one event loop (or in two threads) would trample
    each other. Polling keeps the wait cancellable and never blocks the loop.
    """
    while not _ALEMBIC_LOCK.acquire(blocking=False):  # noqa: ASYNC110 (a thread lock)
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        _ALEMBIC_LOCK.release()


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` (atomic, locked)."""
    if revision == "head" and await _at_head(engine):
        log.info("database schema at %s", script_head())
        return
    async with _alembic_turn():
        try:
            async with engine.connect() as conn:
                conn = await conn.execution_options(**WRITE_OPTIONS)
                async with conn.begin():
                    await conn.run_sync(_upgrade_on, revision)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise translate_db_error(exc, "database migration") from exc
    log.info("database schema at %s", revision)


async def upgrade_async(url: str, *, schema: str | None = None, revision: str = "head") -> None:
    """Upgrade the database at ``url`` from a coroutine."""
    engine = make_engine(url, schema=schema)
    try:
        await upgrade_engine(engine, revision)
    finally:
        await engine.dispose()


def upgrade(url: str, *, schema: str | None = None, revision: str = "head") -> None:
    """Upgrade the database at ``url`` (blocking). Safe to call inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(upgrade_async(url, schema=schema, revision=revision))
        return
    # A loop runs in this thread: run ours in a helper thread and wait for it.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="frontdesk-migrate") as pool:
        pool.submit(asyncio.run, upgrade_async(url, schema=schema, revision=revision)).result()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, ``None`` before the first migration."""

    def _current(connection: sa.Connection) -> str | None:
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise translate_db_error(exc) from exc
