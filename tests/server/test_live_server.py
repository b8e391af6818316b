"""The core flow over real HTTP: uvicorn on 127.0.0.1 port 0, the ServiceClient, discovery.

:func:`run_core_flow` is shared with the PostgreSQL variant of this test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from frontdesk.config import Settings
from frontdesk.domain.model import AccessPolicy, MeetingState
from frontdesk.errors import InvalidClient, MeetingEnded, MeetingNotFound, TokenWrongMeeting
from frontdesk.service_client import ServiceClient, discover
from tests.support.databases import sqlite_url
from tests.support.live_server import LiveServer, live_server

TURN_SECRET = "turn-shared-secret"
ICE = ({"urls": ["stun:127.0.0.1:3478"]}, {"urls": ["turn:127.0.0.1:3478?transport=udp"]})


def node_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, ice_servers=ICE, turn_secret=TURN_SECRET)


async def run_core_flow(node: LiveServer) -> None:
    """Token, meeting, invite, guest token, discovery, end: all over loopback HTTP."""
    base = node.base_url
    assert base.startswith("http://127.0.0.1:")
    creds = await node.ops.apps.create("Harbor Bank")
    await node.ops.accounts.create("alice", "Alice Advisor", "correct horse battery")

    async with ServiceClient(base, creds.client_id, creds.client_secret) as svc:
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        meeting = await svc.create_meeting(
            subject="Mortgage advice",
            organizer="alice",
            start=start,
            end=start + timedelta(hours=1),
        )
        assert meeting.state is MeetingState.SCHEDULED
        assert meeting.access_policy is AccessPolicy.LOBBY
        assert meeting.join_url.startswith(f"{base}/j/")
        # At least 128 bits of randomness in the join code (URL-safe base64: 6 bits a char).
        assert len(meeting.join_url.rsplit("/", 1)[1]) * 6 >= 128
        assert (await svc.get_meeting(meeting.id)).subject == "Mortgage advice"
        assert [m.id for m in await svc.list_meetings(organizer="alice")] == [meeting.id]
        patched = await svc.update_meeting(meeting.id, access_policy="direct")
        assert patched.access_policy is AccessPolicy.DIRECT
        assert await svc.join_url_from_invite(meeting.id) == meeting.join_url

        grant = await svc.create_guest_token(meeting.id, display_name="Ann Visitor")
        assert grant.discovery_uri == f"{base}/v1/discovery/{meeting.id}"
        assert (
            timedelta(seconds=590) <= grant.expires_at - datetime.now(UTC) <= timedelta(seconds=610)
        )
        found = await discover(grant.discovery_uri, grant.token)
        assert found.meeting_id == meeting.id
        assert found.rtc_url == "ws://" + base.removeprefix("http://") + "/v1/rtc"
        stun, turn = found.ice_servers
        assert "username" not in stun
        username = turn["username"]
        assert int(username.split(":", 1)[0]) > datetime.now(UTC).timestamp()
        expected = hmac.new(TURN_SECRET.encode(), username.encode(), hashlib.sha1).digest()
        assert turn["credential"] == base64.b64encode(expected).decode()

        # The guest token opens only its own meeting.
        other = await svc.create_meeting(organizer="alice")
        with pytest.raises(TokenWrongMeeting):
            await discover(f"{base}/v1/discovery/{other.id}", grant.token)
        with pytest.raises(MeetingNotFound):
            await svc.create_guest_token("m_nope", display_name="Ann")

        # Single-use tokens still discover (only joining consumes them).
        once = await svc.create_guest_token(meeting.id, display_name="Bo", single_use=True)
        assert (await discover(once.discovery_uri, once.token)).meeting_id == meeting.id

        ended = await svc.end_meeting(meeting.id)
        assert ended.state is MeetingState.ENDED
        with pytest.raises(MeetingEnded):
            await discover(grant.discovery_uri, grant.token)
        with pytest.raises(MeetingEnded):
            await svc.create_guest_token(meeting.id, display_name="Late")

    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert (await http.get("/readyz")).json()["status"] == "ready"
        jwks = (await http.get("/.well-known/jwks.json")).json()
        assert {k["alg"] for k in jwks["keys"]} == {"EdDSA"}
        metrics = (await http.get("/metrics")).text
        assert 'frontdesk_http_requests_total{method="POST"' in metrics
        assert 'status="201"' in metrics
        assert (await http.get("/docs")).status_code == 200
        assert "/v1/meetings" in (await http.get("/openapi.json")).json()["paths"]

    # A revoked application cannot get in any more.
    await node.ops.store.revoke_app(creds.client_id, node.ops.clock())
    async with ServiceClient(base, creds.client_id, creds.client_secret) as svc:
        with pytest.raises(InvalidClient):
            await svc.list_meetings()


async def test_core_flow_over_loopback(tmp_path: Path) -> None:
    async with live_server(node_settings(sqlite_url(tmp_path / "live.db"))) as node:
        await run_core_flow(node)
