"""``frontdesk loadtest`` against a real node: every sent message is acked and
delivered to the other guests of its meeting."""

from __future__ import annotations

from pathlib import Path

from frontdesk.cli.loadtest import run_loadtest, summary
from frontdesk.config import Settings
from tests.support.live_server import live_server


async def test_loadtest_small_run(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/lt.db")
    async with live_server(settings) as srv:
        ops = srv.ops
        await ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        creds = await ops.apps.create("load")
        res = await run_loadtest(
            url=srv.base_url,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            organizer="alice",
            meetings=3,
            guests=3,
            rate=4,
            duration=1.5,
        )
    assert res.errors == {}
    assert len(res.join_ms) == 9
    assert res.sent >= 9 * 4
    assert len(res.ack_ms) == res.sent
    # each message reaches the two other guests of its meeting
    assert res.received == 2 * res.sent
    assert any("chat delivery" in line for line in summary(res))
