"""Shared pieces of the CLI: settings, the store, output as table or JSON.

The admin commands act on an existing database only: the one named by
``FRONTDESK_DATABASE_URL``, else the embedded default that ``frontdesk serve``
uses from the same folder (:func:`frontdesk.config.default_database_path`).
They never create one (a typo or another working directory would otherwise
give an empty database and puzzling answers), and every error says which
database the command looked at.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url

from frontdesk.config import DEFAULT_DATABASE, Settings
from frontdesk.errors import FrontdeskError, NotFound
from frontdesk.server.operations import Operations
from frontdesk.store import Store

__all__ = ["JsonOpt", "database_label", "emit", "fail", "open_existing", "operations", "run"]

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)

JsonOpt = typer.Option(False, "--json", help="Print JSON for scripts.")


def _default(o: Any) -> Any:
    if isinstance(o, datetime):
        return o.isoformat()
    return str(o)


def emit(
    data: Any, *, as_json: bool, columns: Sequence[str] | None = None, title: str = ""
) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, default=_default, indent=2) + "\n")
        return
    rows = data if isinstance(data, list) else [data]
    if not rows:
        console.print("(none)")
        return
    cols = list(columns or rows[0].keys())
    table = Table(title=title or None)
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*("" if r.get(c) is None else str(_default(r.get(c))) for c in cols))
    console.print(table)


def fail(err: FrontdeskError, *, as_json: bool, database: str | None = None) -> None:
    """Print ``err`` (problem+json on stderr with ``--json``) and exit with 2."""
    if as_json:
        body = err.to_dict()
        if database is not None:
            body["database"] = database
        sys.stderr.write(json.dumps(body) + "\n")
    else:
        err_console.print(f"[red]error[/red] ({err.code}): {escape(err.detail)}")
        if database is not None:
            sys.stderr.write(f"  database: {database}\n")  # unwrapped: a path to copy
    raise typer.Exit(2)


def database_label(url: str) -> str:
    """The database as a person recognises it: a SQLite file's absolute path, or
    the URL without its password."""
    try:
        parsed = make_url(url)
    except Exception:
        return "(unparsable database URL)"
    if parsed.drivername.startswith("sqlite") and parsed.database:
        return str(Path(parsed.database).resolve())
    return parsed.render_as_string(hide_password=True)


def _missing(settings: Settings, what: str) -> NotFound:
    if os.environ.get("FRONTDESK_DATABASE_URL"):
        hint = "check FRONTDESK_DATABASE_URL, or start `frontdesk serve` with it first"
    else:
        hint = (
            f"looked for {DEFAULT_DATABASE} in {Path.cwd()} and up to its project's root; run "
            "this where `frontdesk serve` runs (it creates the database), or set "
            "FRONTDESK_DATABASE_URL"
        )
    return NotFound(f"{what} {database_label(settings.database_url)}: {hint}")


def _check_sqlite_file(settings: Settings) -> None:
    parsed = make_url(settings.database_url)
    if parsed.drivername.startswith("sqlite") and not (
        parsed.database and Path(parsed.database).is_file()
    ):
        raise _missing(settings, "no Frontdesk database at")


async def open_existing(settings: Settings) -> Store:
    """Open the database of ``settings`` if it holds Frontdesk's schema (and bring
    it to the newest one); ``NotFound`` if it does not exist or holds no Frontdesk
    schema. Never creates a database."""
    from frontdesk.store.migrate import current_revision, upgrade_engine
    from frontdesk.store.sql import SqlStore

    _check_sqlite_file(settings)
    store = await SqlStore.open(settings.database_url, migrate=False)
    try:
        if await current_revision(store.engine) is None:
            raise _missing(settings, "no Frontdesk schema in")
        await upgrade_engine(store.engine)
    except BaseException:
        await store.close()
        raise
    return store


@asynccontextmanager
async def operations(settings: Settings | None = None) -> AsyncIterator[Operations]:
    settings = settings or Settings.from_env()
    store = await open_existing(settings)
    try:
        ops = Operations(settings, store)
        await ops.start()
        yield ops
    finally:
        await store.close()


def run(fn: Callable[[Operations], Awaitable[T]], *, as_json: bool) -> T:
    """Run ``fn`` on the admin commands' database; a ``FrontdeskError`` is printed
    with the database it concerns, and exits with 2."""
    database: str | None = None

    async def main() -> T:
        nonlocal database
        settings = Settings.from_env()
        database = database_label(settings.database_url)
        async with operations(settings) as ops:
            return await fn(ops)

    try:
        return asyncio.run(main())
    except FrontdeskError as err:
        fail(err, as_json=as_json, database=database)
        raise  # unreachable: fail() exits
