"""Webhooks and participant lists never cross applications: two real applications on
a live node, each with its own loopback receiver, and guests joining over the RTC."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from frontdesk.config import Settings
from frontdesk.service_client import verify_webhook
from tests.support.live_server import LiveServer, live_server
from tests.support.rtc import RawClient

EVENTS = ["participant.joined", "participant.left", "lobby.waiting", "chat.message"]


@dataclass
class Inbox:
    """A loopback webhook receiver for one application."""

    secret: str = ""
    bodies: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (x.partition(":") for x in lines[1:] if x)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.bodies.append((headers, body))
            writer.write(
                b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def payloads(self) -> list[dict[str, Any]]:
        return [verify_webhook(self.secret, body, headers) for headers, body in self.bodies]

    def text(self) -> str:
        return "\n".join(body.decode() for _, body in self.bodies)


@dataclass
class Tenant:
    """An application: its service API client and its webhook receiver."""

    http: httpx.AsyncClient
    inbox: Inbox


@dataclass
class Node:
    srv: LiveServer
    a: Tenant
    b: Tenant

    @property
    def rtc_url(self) -> str:
        return self.srv.base_url.replace("http://", "ws://") + "/v1/rtc"

    async def settle(self) -> None:
        await self.srv.app.state.webhooks.drain(10)


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db",
        webhook_allowed_networks=("127.0.0.1/32",),  # the receivers are on loopback
    )
    async with contextlib.AsyncExitStack() as stack:
        srv = await stack.enter_async_context(live_server(settings))
        await srv.ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        tenants = []
        for name in ("Alpha Bank", "Beta Bank"):
            inbox = Inbox()
            receiver = await asyncio.start_server(inbox.handle, "127.0.0.1", 0)
            await stack.enter_async_context(receiver)
            port = receiver.sockets[0].getsockname()[1]
            creds = await srv.ops.apps.create(name)
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=srv.base_url))
            r = await http.post(
                "/v1/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(creds.client_id, creds.client_secret),
            )
            http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            r = await http.post(
                "/v1/webhooks", json={"url": f"http://127.0.0.1:{port}/hook", "events": EVENTS}
            )
            assert r.status_code == 201, r.text
            inbox.secret = r.json()["secret"]
            tenants.append(Tenant(http, inbox))
        yield Node(srv, tenants[0], tenants[1])


async def guest(node: Node, tenant: Tenant, meeting_id: str, name: str) -> RawClient:
    """The tenant's customer, vouched for with the tenant's own guest token."""
    r = await tenant.http.post(
        f"/v1/meetings/{meeting_id}/guest-tokens", json={"display_name": name}
    )
    assert r.status_code == 201, r.text
    c = await RawClient.connect(node.rtc_url, {"kind": "token", "token": r.json()["token"]})
    assert c.welcome["state"] == "joined", c.inbox
    return c


async def chat(client: RawClient, text: str) -> None:
    sent = await client.request({"type": "chat", "id": text[:16], "text": text})
    assert sent["type"] == "ok", sent


def names(r: httpx.Response) -> set[str]:
    assert r.status_code == 200, r.text
    return {p["display_name"] for p in r.json()["items"]}


async def test_an_apps_meeting_goes_to_that_app_alone(node: Node) -> None:
    r = await node.a.http.post(
        "/v1/meetings", json={"organizer": "alice", "access_policy": "direct"}
    )
    meeting_id = r.json()["id"]
    ann = await guest(node, node.a, meeting_id, "Ann Alpha")
    await chat(ann, "my account number is 1234")
    await ann.close()
    await node.settle()

    got = node.a.inbox.payloads()
    assert {p["type"] for p in got} == {"participant.joined", "chat.message"}
    assert all(p["data"]["meeting_id"] == meeting_id for p in got)
    assert "Ann Alpha" in node.a.inbox.text() and "1234" in node.a.inbox.text()
    assert node.b.inbox.bodies == []  # nothing at all of A's meeting
    # B cannot read it through the API either (it does not even see it)
    r = await node.b.http.get(f"/v1/meetings/{meeting_id}/participants")
    assert r.status_code == 404 and r.json()["code"] == "meeting_not_found"


async def test_an_agents_meeting_goes_to_the_apps_that_vouched_a_guest(node: Node) -> None:
    from frontdesk.domain import AccessPolicy

    m = await node.srv.ops.meetings.create(
        subject="Walk-in", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    # Any application may see an agent's meeting (and mint tokens for it) ...
    assert (await node.b.http.get(f"/v1/meetings/{m.id}")).status_code == 200
    ann = await guest(node, node.a, m.id, "Ann Alpha")
    await chat(ann, "my account number is 1234")
    await node.settle()

    # ... but only A, whose customer is in it, hears what happens there.
    assert "Ann Alpha" in node.a.inbox.text() and "1234" in node.a.inbox.text()
    assert {p["type"] for p in node.a.inbox.payloads()} == {"participant.joined", "chat.message"}
    assert node.b.inbox.bodies == []
    assert names(await node.a.http.get(f"/v1/meetings/{m.id}/participants")) == {"Ann Alpha"}
    r = await node.b.http.get(f"/v1/meetings/{m.id}/participants")
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert "Ann Alpha" not in r.text

    # A token B merely minted vouches for nobody: still nothing for B.
    r = await node.b.http.post(
        f"/v1/meetings/{m.id}/guest-tokens", json={"display_name": "Nobody Yet"}
    )
    assert r.status_code == 201
    await chat(ann, "second message")
    await node.settle()
    assert node.b.inbox.bodies == []

    # Once B's own customer is let in, B reads the meeting as its customer does.
    bob = await guest(node, node.b, m.id, "Bob Beta")
    await node.settle()
    joined = [p for p in node.b.inbox.payloads() if p["type"] == "participant.joined"]
    assert [p["data"]["display_name"] for p in joined] == ["Bob Beta"]
    assert names(await node.b.http.get(f"/v1/meetings/{m.id}/participants")) == {
        "Ann Alpha",
        "Bob Beta",
    }
    # Every delivery is still signed with the receiving hook's own secret.
    for tenant in (node.a, node.b):
        for headers, body in tenant.inbox.bodies:
            assert json.loads(body)["data"]["meeting_id"] == m.id
            verify_webhook(tenant.inbox.secret, body, headers)
    await ann.close()
    await bob.close()


async def test_an_agents_meeting_nobody_vouched_into_goes_to_no_app(node: Node) -> None:
    from frontdesk.domain import AccessPolicy

    m = await node.srv.ops.meetings.create(
        subject="Internal", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    # A guest with the bare join URL: no application vouched for them.
    join_url = node.srv.ops.meetings.join_url(m)
    walk_in = await RawClient.connect(
        node.rtc_url, {"kind": "url", "join_url": join_url, "display_name": "Wendy Walk-in"}
    )
    await chat(walk_in, "hello from the street")
    await node.settle()
    assert node.a.inbox.bodies == [] and node.b.inbox.bodies == []
    for tenant in (node.a, node.b):
        r = await tenant.http.get(f"/v1/meetings/{m.id}/participants")
        assert r.status_code == 403 and "Wendy" not in r.text
    await walk_in.close()
