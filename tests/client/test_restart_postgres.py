"""The node-restart guarantee with the store on PostgreSQL (the scale-out store)."""

from __future__ import annotations

from frontdesk.config import Settings
from tests.client.test_restart import scenario_restart_mid_meeting
from tests.support.databases import postgres_url_or_skip, schema_url, temp_schema


async def test_server_restart_mid_meeting_on_postgres() -> None:
    url = await postgres_url_or_skip()
    async with temp_schema(url) as schema:
        await scenario_restart_mid_meeting(Settings(database_url=schema_url(url, schema)))
