"""The service API flow over real HTTP with the node's store on PostgreSQL.

Skips when PostgreSQL is not reachable; fails instead when
``FRONTDESK_TEST_POSTGRES_URL`` or ``FRONTDESK_REQUIRE_SERVICES=1`` says it must run
(see :mod:`tests.support.databases`).
"""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.server.test_live_server import node_settings, run_core_flow
from tests.support.databases import postgres_url_or_skip, schema_url, temp_schema
from tests.support.live_server import live_server

pytestmark = pytest.mark.postgres


async def test_core_flow_on_postgres() -> None:
    url = await postgres_url_or_skip()
    async with temp_schema(url) as schema:
        async with live_server(node_settings(schema_url(url, schema))) as node:
            assert node.settings.database_url.startswith("postgresql")
            await run_core_flow(node)
        # The rows landed in the scratch schema, not in public.
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            tables = await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
            )
            names = {r["table_name"] for r in tables}
            assert {"apps", "meetings"} <= names, names
            meetings = await conn.fetchval(f'SELECT count(*) FROM "{schema}".meetings')
            ended = await conn.fetchval(
                f"SELECT count(*) FROM \"{schema}\".meetings WHERE state = 'ended'"
            )
        finally:
            await conn.close()
    assert (meetings, ended) == (2, 1)
