"""A node configured for Janus that cannot reach it starts all the same, with
media as a mesh only, and refuses the SFU messages with a typed error."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from frontdesk.client import join_with_token
from frontdesk.config import Settings
from frontdesk.domain import AccessPolicy
from frontdesk.errors import IllegalState
from tests.support.live_server import free_port, live_server


async def test_unreachable_janus_leaves_the_node_mesh_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db",
        janus_url=f"http://127.0.0.1:{free_port()}/janus",  # nobody listens
        janus_token_secret="t",
        janus_admin_key="k",
    )
    with caplog.at_level(logging.ERROR, logger="frontdesk.server.app"):
        async with live_server(settings) as srv:
            assert srv.app.state.sfu is None
            await srv.ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
            m = await srv.ops.meetings.create(
                subject="Mesh", organizer="alice", access_policy=AccessPolicy.DIRECT
            )
            grant = await srv.ops.guest_tokens.mint(m.id, display_name="Ann")
            ann = await join_with_token(grant.discovery_uri, grant.token).connect()
            try:
                await ann.admitted(timeout=5)
                assert ann.media_route == "mesh"
                with pytest.raises(IllegalState, match="no SFU"):
                    await ann._request("sfu_subscribe", {"feed": "p_x"})
            finally:
                await ann.leave()
    assert any("media is mesh only" in r.getMessage() for r in caplog.records)
