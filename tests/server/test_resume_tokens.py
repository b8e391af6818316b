"""Resume tokens are single use, short-lived, refreshed while connected, and die
with the application that vouched for the guest; revoking it ends its guests'
sessions. Through a real node on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from frontdesk.config import Settings
from frontdesk.domain.model import AccessPolicy
from tests.support.live_server import LiveServer, live_server
from tests.support.rtc import RawClient


def rtc_url(srv: LiveServer) -> str:
    return srv.base_url.replace("http://", "ws://") + "/v1/rtc"


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[LiveServer]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db",
        resume_token_ttl_s=4,
        revocation_poll_s=0.2,
        clock_leeway_s=0,
    )
    async with live_server(settings) as srv:
        await srv.ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        yield srv


async def _guest(srv: LiveServer) -> tuple[RawClient, str]:
    ops = srv.ops
    app = await ops.apps.create("Harbor Bank")
    m = await ops.meetings.create(
        subject="Advice", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    from frontdesk.domain.model import App

    record: App = await ops.store.get_app(app.client_id)
    grant = await ops.guest_tokens.mint(m.id, display_name="Ann", app=record)
    ann = await RawClient.connect(rtc_url(srv), {"kind": "token", "token": grant.token})
    assert ann.welcome["state"] == "joined", ann.inbox
    return ann, app.client_id


async def _resume(srv: LiveServer, token: str, last_seq: int = 0) -> RawClient:
    return await RawClient.connect(
        rtc_url(srv), {"kind": "resume", "token": token, "last_seq": last_seq}
    )


async def test_a_resume_token_is_good_for_one_resume(node: LiveServer) -> None:
    ann, _ = await _guest(node)
    first = ann.welcome["resume_token"]
    await ann.ws.close()
    back = await _resume(node, first)
    assert back.welcome["resumed"] is True and back.welcome["participant_id"] == ann.pid
    second = back.welcome["resume_token"]
    assert second != first
    await back.ws.close()
    # The spent one is refused, even though the seat is there to take back ...
    again = await _resume(node, first)
    assert again.welcome == {}
    assert again.inbox[0]["code"] == "token_used", again.inbox
    # ... and the fresh one takes it.
    third = await _resume(node, second)
    assert third.welcome["resumed"] is True
    await third.close()


async def test_a_connected_client_gets_a_fresh_token_before_its_own_expires(
    node: LiveServer,
) -> None:
    ann, _ = await _guest(node)
    await ann.send({"type": "ping", "ref": "early"})
    pong = await ann.wait_for(lambda f: f["type"] == "pong")
    assert "resume_token" not in pong  # still fresh
    await asyncio.sleep(2.2)  # past half of the 4 s life
    await ann.send({"type": "ping", "ref": "late"})
    pong = await ann.wait_for(lambda f: f["type"] == "pong")
    fresh = pong["resume_token"]
    await asyncio.sleep(2.2)  # the welcome's token has expired by now
    await ann.ws.close()
    expired = await _resume(node, ann.welcome["resume_token"])
    assert expired.inbox[0]["code"] == "token_expired", expired.inbox
    back = await _resume(node, fresh)
    assert back.welcome["resumed"] is True
    await back.close()


async def test_revoking_the_application_ends_its_guests_and_their_resumes(
    node: LiveServer,
) -> None:
    ann, client_id = await _guest(node)
    token = ann.welcome["resume_token"]
    await node.ops.store.revoke_app(client_id, node.ops.clock())
    bye = await ann.wait_for(lambda f: f["type"] == "bye", timeout=3)
    assert bye["reason"] == "revoked" and bye["code"] == 4016
    # A resume token minted before the revocation does not bring the seat back.
    back = await _resume(node, token)
    assert back.welcome == {}
    assert back.inbox[0]["code"] == "token_invalid", back.inbox


async def test_a_resume_after_the_application_was_revoked_is_refused(
    node: LiveServer,
) -> None:
    """Cut before the revocation: the watcher has no connection to end, the
    resume token is what must stop working."""
    ann, client_id = await _guest(node)
    token = ann.welcome["resume_token"]
    await ann.ws.close()
    await asyncio.sleep(0.1)
    await node.ops.store.revoke_app(client_id, node.ops.clock())
    back = await _resume(node, token)
    assert back.welcome == {}
    assert back.inbox[0]["code"] == "token_invalid", back.inbox
