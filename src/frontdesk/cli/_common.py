"""Shared pieces of the CLI: settings, the store, output as table or JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from frontdesk.config import Settings
from frontdesk.errors import FrontdeskError
from frontdesk.server.operations import Operations
from frontdesk.store import open_store

__all__ = ["JsonOpt", "emit", "fail", "operations", "run"]

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


def fail(err: FrontdeskError, *, as_json: bool) -> None:
    if as_json:
        sys.stderr.write(json.dumps(err.to_dict()) + "\n")
    else:
        err_console.print(f"[red]error[/red] ({err.code}): {err.detail}")
    raise typer.Exit(2)


@asynccontextmanager
async def operations() -> AsyncIterator[Operations]:
    settings = Settings.from_env()
    store = await open_store(settings.database_url)
    try:
        ops = Operations(settings, store)
        await ops.start()
        yield ops
    finally:
        await store.close()


def run(fn: Callable[[Operations], Awaitable[T]], *, as_json: bool) -> T:
    async def main() -> T:
        async with operations() as ops:
            return await fn(ops)

    try:
        return asyncio.run(main())
    except FrontdeskError as err:
        fail(err, as_json=as_json)
        raise  # unreachable: fail() exits
