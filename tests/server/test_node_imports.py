"""A node serves without loading what its configuration does not use: the
Redis client without Redis, httpx before a webhook is delivered, Alembic when
the schema is at head, the calendar library before an invitation is asked for,
the PostgreSQL driver on SQLite, and the SDKs the CLI's other commands use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from frontdesk.store.migrate import head_revision, script_head, upgrade
from tests.support.databases import sqlite_url

_NODE = """
import asyncio, json, sys
import frontdesk.cli.main  # what `frontdesk serve` imports
from frontdesk.server.app import create_app

async def main():
    app = create_app()
    async with app.router.lifespan_context(app):
        await asyncio.sleep(0.2)
        print(json.dumps(sorted(sys.modules)))

asyncio.run(main())
"""

#: Not loaded by a node on SQLite, without Redis, before any webhook or invitation.
ABSENT = (
    "alembic",
    "redis",
    "httpx",
    "icalendar",
    "asyncpg",
    "aiortc",
    "frontdesk.client",
    "frontdesk.service_client",
    "frontdesk.cli.loadgen",
)


def test_the_scripts_head_read_without_alembic_is_alembics() -> None:
    assert script_head() == head_revision()


def test_a_node_at_head_loads_only_what_it_uses(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "frontdesk.db")
    upgrade(url)  # a node's first start migrates; this is a later one
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env |= {"FRONTDESK_DATABASE_URL": url, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", _NODE],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "frontdesk.server.rtc" in modules  # it did start a node
    loaded = sorted(
        m for m in modules if any(m == name or m.startswith(name + ".") for name in ABSENT)
    )
    assert loaded == []
