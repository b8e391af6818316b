"""The admin CLI against a SQLite file in the test's temporary directory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner, Result

from frontdesk.cli._common import operations
from frontdesk.cli.main import app
from frontdesk.server.operations import Operations
from frontdesk.store.migrate import upgrade
from tests.support.databases import sqlite_url

T = TypeVar("T")


@dataclass
class Cli:
    """Runs ``frontdesk ...`` in-process with ``FRONTDESK_DATABASE_URL`` set."""

    runner: CliRunner
    database_url: str

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, list(args), input=input, catch_exceptions=False)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return result

    def json(self, *args: str, input: str | None = None) -> Any:
        return json.loads(self.ok(*args, "--json", input=input).stdout)

    def with_ops(self, fn: Callable[[Operations], Awaitable[T]]) -> T:
        """Run ``fn`` on the same database, the way the CLI opens it."""

        async def main() -> T:
            async with operations() as ops:
                return await fn(ops)

        return asyncio.run(main())


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    url = sqlite_url(tmp_path / "cli.db")
    upgrade(url)  # as `frontdesk serve` would: the admin commands never create a database
    for name in ("FRONTDESK_PUBLIC_URL", "FRONTDESK_HOST", "FRONTDESK_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", url)
    monkeypatch.setenv("FRONTDESK_PUBLIC_URL", "http://frontdesk.test")
    return Cli(CliRunner(), url)
