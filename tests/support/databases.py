"""Test databases: a reachable PostgreSQL (or a skip), scratch schemas, SQLite files.

PostgreSQL comes from ``FRONTDESK_TEST_POSTGRES_URL`` (default
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``). When the variable is
unset and the server does not answer, tests skip; when the variable is set, or
``FRONTDESK_REQUIRE_SERVICES=1`` (CI), they fail loudly instead.

Each test gets its own schema (``t_<random>``), dropped afterwards; pass it to
``SqlStore.open(url, schema=...)`` or use the URL from :func:`schema_url`
(a ``search_path`` query parameter the store understands) wherever only a
URL can go, such as ``Settings.database_url``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

__all__ = [
    "DEFAULT_POSTGRES_URL",
    "postgres_url_or_skip",
    "schema_url",
    "sqlite_url",
    "temp_schema",
]

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

_checked: dict[str, str | None] = {}  # url -> None when reachable, else the reason


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _probe(url: str) -> str | None:
    try:
        conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=3)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    try:
        await conn.execute("SELECT 1")
    finally:
        await conn.close()
    return None


async def postgres_url_or_skip() -> str:
    """The test PostgreSQL URL; skip (or fail, in CI) when the server is not reachable."""
    explicit = os.environ.get("FRONTDESK_TEST_POSTGRES_URL", "").strip()
    url = explicit or DEFAULT_POSTGRES_URL
    if url not in _checked:
        _checked[url] = await _probe(url)
    reason = _checked[url]
    if reason is not None:
        message = (
            f"PostgreSQL not reachable at {make_url(url).render_as_string()} ({reason}); "
            "start it or set FRONTDESK_TEST_POSTGRES_URL"
        )
        if explicit or os.environ.get("FRONTDESK_REQUIRE_SERVICES") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return url


@contextlib.asynccontextmanager
async def temp_schema(url: str) -> AsyncIterator[str]:
    """Create a fresh schema ``t_<random>`` in the database at ``url``; drop it after."""
    name = "t_" + secrets.token_hex(6)
    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=5)
    try:
        await conn.execute(f'CREATE SCHEMA "{name}"')
        try:
            yield name
        finally:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


def schema_url(url: str, schema: str) -> str:
    """``url`` with ``search_path=schema``, for places that take only a URL."""
    return (
        make_url(url)
        .update_query_dict({"search_path": schema})
        .render_as_string(hide_password=False)
    )


def sqlite_url(path: os.PathLike[str] | str) -> str:
    return f"sqlite+aiosqlite:///{os.fspath(path)}"
