"""``store``: an opened :class:`SqlStore` on a SQLite file and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from frontdesk.store.sql import SqlStore
from tests.support.databases import postgres_url_or_skip, sqlite_url, temp_schema


@dataclass
class Target:
    """Where a test's database lives, so a test can open more stores on it."""

    url: str
    schema: str | None = None

    async def open(self, *, migrate: bool = True) -> SqlStore:
        return await SqlStore.open(self.url, migrate=migrate, schema=self.schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    if request.param == "sqlite":
        yield Target(sqlite_url(tmp_path / "db" / "frontdesk.db"))
        return
    url = await postgres_url_or_skip()
    async with temp_schema(url) as schema:
        yield Target(url, schema)


@pytest.fixture
async def store(target: Target) -> AsyncIterator[SqlStore]:
    s = await target.open()
    try:
        yield s
    finally:
        await s.close()
