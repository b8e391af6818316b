"""A PostgreSQL that refuses: 503 ``unavailable`` with Retry-After, no internals.

The node's store goes through a TCP proxy on 127.0.0.1 that the test stops
(refused connections, in-flight ones cut) and starts again; a backend is also
killed with ``pg_terminate_backend`` in the middle of a query. No mocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from frontdesk.client import ReconnectPolicy, join
from frontdesk.config import Settings
from frontdesk.domain.model import AccessPolicy
from frontdesk.errors import Unavailable
from frontdesk.protocol import urls
from frontdesk.service_client import RetryPolicy, ServiceClient
from frontdesk.store.sql import SqlStore
from tests.support.databases import postgres_url_or_skip, schema_url, temp_schema
from tests.support.live_server import LiveServer, live_server
from tests.support.rtc import RawClient
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres

PASSWORD = "correct horse battery"
FAST = ReconnectPolicy(initial_delay_s=0.05, max_delay_s=0.3, give_up_after_s=10)


@dataclass
class Outage:
    node: LiveServer
    proxy: TcpProxy
    schema: str
    client_id: str
    client_secret: str

    def leaks(self, text: str) -> list[str]:
        """Internal words that must never reach a caller."""
        words = ["127.0.0.1", str(self.proxy.port), "5432", "Errno", "asyncpg", "sqlalchemy"]
        words += [self.schema, "Connect call", "postgres"]
        return [w for w in words if w.lower() in text.lower()]


@pytest.fixture
async def outage() -> AsyncIterator[Outage]:
    url = await postgres_url_or_skip()
    target = make_url(url)
    async with temp_schema(url) as schema:
        proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
        await proxy.start()
        via_proxy = target.set(port=proxy.port).render_as_string(hide_password=False)
        try:
            settings = Settings(database_url=schema_url(via_proxy, schema))
            async with live_server(settings) as node:
                await node.ops.accounts.create("alice", "Alice Advisor", PASSWORD)
                creds = await node.ops.apps.create("Harbor Bank")
                yield Outage(node, proxy, schema, creds.client_id, creds.client_secret)
                await proxy.start()  # let the node shut down cleanly
        finally:
            await proxy.stop()


async def test_writes_answer_503_with_retry_after_and_no_internals(outage: Outage) -> None:
    base = outage.node.base_url
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(outage.client_id, outage.client_secret),
        )
        bearer = {"Authorization": f"Bearer {r.json()['access_token']}"}
        meeting = {"subject": "Mortgage advice", "organizer": "alice"}
        await outage.proxy.stop()

        answers = [
            await http.post("/v1/meetings", json=meeting, headers=bearer),
            await http.post("/v1/session", json={"username": "alice", "password": PASSWORD}),
            await http.get("/v1/meetings", headers=bearer),
        ]
        for r in answers:
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "unavailable"
            assert int(r.headers["Retry-After"]) >= 1
            assert outage.leaks(r.text) == [], r.text

        await outage.proxy.start()  # the node recovers by itself
        r = await http.post("/v1/meetings", json=meeting, headers=bearer)
        assert r.status_code == 201, r.text


async def test_rtc_join_gets_an_unavailable_error(outage: Outage) -> None:
    ops = outage.node.ops
    m = await ops.meetings.create(subject="s", organizer="alice", access_policy=AccessPolicy.DIRECT)
    await outage.proxy.stop()
    c = await RawClient.connect(
        urls.rtc_url(ops.settings.base_url),
        {"kind": "url", "join_url": ops.meetings.join_url(m), "display_name": "Ann"},
    )
    assert c.welcome == {}
    [err] = c.inbox
    assert err["type"] == "error" and err["code"] == "unavailable"
    assert outage.leaks(err["message"]) == [], err
    await c.ws.close()


async def test_sdk_join_and_chat_ride_out_a_short_outage(outage: Outage) -> None:
    ops = outage.node.ops
    m = await ops.meetings.create(subject="s", organizer="alice", access_policy=AccessPolicy.DIRECT)
    await outage.proxy.stop()
    loop = asyncio.get_running_loop()
    loop.call_later(0.4, lambda: asyncio.ensure_future(outage.proxy.start()))
    # The first join is answered "unavailable" and retried with back-off.
    async with join(ops.meetings.join_url(m), display_name="Ann", reconnect=FAST) as ann:
        await outage.proxy.stop()
        loop.call_later(0.4, lambda: asyncio.ensure_future(outage.proxy.start()))
        # The chat write fails, the room reloads, the SDK resumes (answered
        # "unavailable" until the database is back) and re-sends: stored once.
        sent = await asyncio.wait_for(ann.chat.send("hello", client_msg_id="m1"), 15)
        assert sent.text == "hello"
    events = await ops.store.events_since(m.id, 0)
    assert [e.data.get("text") for e in events if e.type == "chat_message"] == ["hello"]


async def test_service_client_retries_503_with_back_off(outage: Outage) -> None:
    base = outage.node.base_url
    async with ServiceClient(base, outage.client_id, outage.client_secret) as svc:
        await svc.list_meetings()  # has a token
        await outage.proxy.stop()
        loop = asyncio.get_running_loop()
        loop.call_later(0.5, lambda: asyncio.ensure_future(outage.proxy.start()))
        m = await svc.create_meeting(subject="Mortgage advice", organizer="alice")
        assert m.id
    once = RetryPolicy(retries=0)
    async with ServiceClient(base, outage.client_id, outage.client_secret, retry=once) as svc:
        await svc.list_meetings()
        await outage.proxy.stop()
        with pytest.raises(Unavailable) as caught:
            await svc.create_meeting(subject="Mortgage advice", organizer="alice")
        assert caught.value.extra.get("retry_after", 0) >= 1
        await outage.proxy.start()


async def test_terminated_backend_mid_query_is_unavailable_at_the_store() -> None:
    url = await postgres_url_or_skip()
    async with temp_schema(url) as schema:
        store = await SqlStore.open(url, schema=schema)
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        admin = await asyncpg.connect(dsn, timeout=5)
        try:

            async def slow() -> None:
                async with store._read() as conn:
                    await conn.execute(sa.text("SELECT pg_sleep(10) /* frontdesk-outage */"))

            task = asyncio.create_task(slow())
            for _ in range(100):
                killed = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE query LIKE '%frontdesk-outage%' AND pid <> pg_backend_pid()"
                )
                if killed:
                    break
                await asyncio.sleep(0.05)
            assert killed == 1
            with pytest.raises(Unavailable) as caught:
                await asyncio.wait_for(task, 10)
            assert caught.value.detail == "the database is unavailable; try again shortly"
            await store.ping()  # the pool replaces the dead connection
        finally:
            await admin.close()
            await store.close()
