"""Time-driven rules over a real socket: lobby timeout, reconnect grace, webhooks."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from frontdesk.config import Settings
from frontdesk.domain.model import AccessPolicy
from frontdesk.protocol.codes import CloseCode
from frontdesk.service_client import verify_webhook
from tests.server.test_rtc import agent, rtc_url
from tests.support.live_server import live_server
from tests.support.rtc import RawClient


@pytest.fixture
async def fast_node(tmp_path: Path):
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db",
        lobby_timeout_s=1,
        reconnect_grace_s=1,
    )
    async with live_server(settings) as srv:
        await srv.ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        yield srv


async def test_lobby_timeout_tells_the_guest(fast_node) -> None:
    ops = fast_node.ops
    m = await ops.meetings.create(subject="", organizer="alice")
    grant = await ops.guest_tokens.mint(m.id, display_name="Ann")
    ann = await RawClient.connect(rtc_url(fast_node), {"kind": "token", "token": grant.token})
    assert ann.welcome["state"] == "lobby"
    assert ann.welcome["snapshot"]["organizer_present"] is False
    assert ann.welcome["snapshot"]["timeout_at"]
    bye = await ann.wait_for(lambda msg: msg["type"] == "bye", timeout=5)
    assert bye["reason"] == "lobby_timeout" and bye["code"] == 4013
    with pytest.raises(ConnectionClosed):
        await ann.recv()


async def test_reconnect_grace_then_connection_lost(fast_node) -> None:
    ops = fast_node.ops
    m = await ops.meetings.create(subject="", organizer="alice", access_policy=AccessPolicy.DIRECT)
    alice = await agent(fast_node, m.id)
    ann = await RawClient.connect(
        rtc_url(fast_node),
        {"kind": "url", "join_url": ops.meetings.join_url(m), "display_name": "Ann"},
    )
    await alice.event("participant_joined")
    token = ann.welcome["resume_token"]
    ann.ws.transport.abort()
    await alice.event("participant_reconnecting")
    left = await alice.event("participant_left", timeout=5)
    assert left["data"]["participant_id"] == ann.pid
    assert left["data"]["reason"] == "connection_lost"
    # Too late to resume: the server says why and closes.
    late = await RawClient.connect(
        rtc_url(fast_node), {"kind": "resume", "token": token, "last_seq": 0}
    )
    bye = await late.wait_for(lambda msg: msg["type"] == "bye")
    assert bye["reason"] == "connection_lost"
    await alice.close()


async def test_webhooks_from_a_live_meeting(tmp_path: Path) -> None:
    received: list[tuple[dict, bytes]] = []
    got = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
        body = await reader.readexactly(int(headers["content-length"]))
        received.append((headers, body))
        got.set()
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    receiver = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = receiver.sockets[0].getsockname()[1]
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db",
        webhook_allowed_networks=("127.0.0.1/32",),  # the loopback receiver
    )
    async with receiver, live_server(settings) as srv:
        ops = srv.ops
        await ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        creds = await ops.apps.create("Harbor Bank")
        hook = await ops.webhooks.create(
            creds.client_id,
            f"http://127.0.0.1:{port}/hook",
            ["lobby.waiting", "participant.joined"],
        )
        m = await ops.meetings.create(subject="", organizer="alice", app_id=creds.client_id)
        grant = await ops.guest_tokens.mint(m.id, display_name="Ann Visitor")
        ann = await RawClient.connect(rtc_url(srv), {"kind": "token", "token": grant.token})
        await asyncio.wait_for(got.wait(), 10)
        headers, body = received[0]
        payload = verify_webhook(hook.secret, body, headers)
        assert payload["type"] == "lobby.waiting"
        assert json.dumps(payload["data"]).count("Ann Visitor") == 1
        assert payload["data"]["meeting_id"] == m.id
        await ann.close()


async def test_a_silent_client_is_closed_for_missing_heartbeats(tmp_path: Path) -> None:
    """No message for three heartbeats (plus 5 s): the node closes with 4014,
    while a client that keeps pinging stays."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db", heartbeat_s=0.2)
    async with live_server(settings) as srv:
        await srv.ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        m = await srv.ops.meetings.create(subject="", organizer="alice")
        silent = await agent(srv, m.id)
        grant = await srv.ops.guest_tokens.mint(m.id, display_name="Ann")
        pinging = await RawClient.connect(rtc_url(srv), {"kind": "token", "token": grant.token})

        async def keep_pinging() -> None:
            while True:
                await pinging.send({"type": "ping"})
                await asyncio.sleep(0.2)

        pinger = asyncio.create_task(keep_pinging())
        try:
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await silent.recv(timeout=30)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == int(CloseCode.HEARTBEAT_TIMEOUT)
            pong = await pinging.wait_for(lambda msg: msg["type"] == "pong")
            assert pong["type"] == "pong" and pinging.ws.close_code is None
        finally:
            pinger.cancel()
        await pinging.close()
