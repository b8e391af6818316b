"""Async engines for the two supported databases, set up the same way everywhere.

``make_engine`` is used by :class:`~frontdesk.store.sql.SqlStore`, by
:mod:`frontdesk.store.migrate` and by the Alembic ``env.py``, so a migration
runs on a connection configured exactly like the ones the store uses.

SQLite (``sqlite+aiosqlite:///path/to.db``; the parent folder is created):
WAL journal (readers never block the writer), ``foreign_keys=ON``,
``busy_timeout=5000``. SQLAlchemy emits ``BEGIN`` itself (the sqlite3
driver's legacy mode would not for SELECT and DDL), so transactions are real,
DDL included; :data:`WRITE_OPTIONS` makes a connection begin with
``BEGIN IMMEDIATE`` so a writer takes the write lock up front and waits on
``busy_timeout`` instead of failing on a lock upgrade. In-memory SQLite is
not supported: every pooled connection would see a different database.

PostgreSQL (``postgresql+asyncpg://...``): pooled, pre-pinged connections;
``schema`` (or a ``search_path`` URL query parameter) sets the connection's
``search_path``, which is how tests isolate themselves in a scratch schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from frontdesk.domain.text import has_surrogate, maybe_escaped_surrogate, scrub, scrub_json
from frontdesk.errors import Unavailable, ValidationFailed
from frontdesk.store.errors import translate_db_error

__all__ = ["WRITE_OPTIONS", "make_engine", "normalize_url", "translate_db_error"]

_BEGIN_OPTION = "frontdesk_sqlite_begin"
#: Execution options for a connection that will write (``BEGIN IMMEDIATE`` on SQLite).
WRITE_OPTIONS: dict[str, Any] = {_BEGIN_OPTION: "BEGIN IMMEDIATE"}

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def normalize_url(url: str | URL, schema: str | None = None) -> tuple[URL, str | None]:
    """Check ``url``, pick the async driver, and pull out the PostgreSQL schema.

    ``sqlite:///x.db`` and ``postgresql://...`` are accepted and given their
    async driver. Returns the URL to hand to SQLAlchemy and the schema (from
    the argument, else from a ``search_path`` query parameter).
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValidationFailed(f"not a database URL: {exc}") from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ValidationFailed(
            f"unsupported database {parsed.drivername!r}: "
            "use sqlite+aiosqlite or postgresql+asyncpg"
        )
    parsed = parsed.set(drivername=driver)
    if driver.startswith("sqlite"):
        if schema is not None:
            raise ValidationFailed("schema is only supported on PostgreSQL")
        database = parsed.database or ""
        if database in ("", ":memory:") or "mode=memory" in str(parsed.query):
            raise ValidationFailed("in-memory SQLite is not supported: give a file path")
        return parsed, None
    query_schema = parsed.query.get("search_path")
    if query_schema is not None:
        parsed = parsed.difference_update_query(["search_path"])
        if schema is None:
            schema = query_schema if isinstance(query_schema, str) else query_schema[0]
    return parsed, schema


def make_engine(url: str | URL, *, schema: str | None = None) -> AsyncEngine:
    """An :class:`AsyncEngine` for ``url`` with the pragmas and pool settings above."""
    parsed, schema = normalize_url(url, schema)
    if parsed.drivername.startswith("sqlite"):
        return _sqlite_engine(parsed)
    return _postgres_engine(parsed, schema)


def _sqlite_engine(url: URL) -> AsyncEngine:
    database = url.database or ""
    if not database.startswith("file:"):
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise Unavailable(f"cannot create the database folder {folder}: {exc}") from exc
    # Many readers (WAL), one writer at a time: SqlStore serialises its own
    # writes with a lock, other processes wait on busy_timeout.
    engine = create_async_engine(
        url,
        pool_size=5,
        max_overflow=5,
        pool_timeout=30,
        connect_args={"timeout": 5.0},
        json_serializer=json_dumps,
        json_deserializer=json_loads,
    )

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get(_BEGIN_OPTION, "BEGIN"))

    return engine


def _postgres_engine(url: URL, schema: str | None) -> AsyncEngine:
    connect_args: dict[str, Any] = {"timeout": 10}
    if schema is not None:
        connect_args["server_settings"] = {"search_path": schema}
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args=connect_args,
        json_serializer=json_dumps,
        json_deserializer=json_loads,
    )


def json_dumps(value: Any) -> str:
    """JSON columns as written: a surrogate that slipped past the edges is
    repaired, never stored (it could be stored but never sent)."""
    text = json.dumps(value, ensure_ascii=False)
    return scrub(text) if has_surrogate(text) else text


def json_loads(text: str | bytes) -> Any:
    """JSON columns as read: rows written before text was checked at the edges
    may hold lone surrogates; they are read repaired (U+FFFD), so a meeting
    poisoned by an older version restores and lists again."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    value = json.loads(text)
    return scrub_json(value) if maybe_escaped_surrogate(text) else value
