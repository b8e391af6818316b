"""A node that stops (SIGTERM) hands its meetings over before it exits; a node
cut off from PostgreSQL stops serving the meetings it can no longer fence."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
import websockets
from sqlalchemy.engine import make_url

from tests.cluster.test_routing import _discover, _grant, _hello
from tests.support.cluster import cluster
from tests.support.databases import postgres_url_or_skip
from tests.support.tcp_proxy import TcpProxy


async def _closed_with(ws: websockets.ClientConnection, timeout: float) -> tuple[int, str]:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    rcvd = closed.value.rcvd
    assert rcvd is not None
    return rcvd.code, rcvd.reason


async def test_sigterm_hands_meetings_over_before_exit(tmp_path: Path) -> None:
    async with cluster(tmp_path) as c:
        meeting_id, token, discovery_uri = await _grant(c)
        where = await _discover(discovery_uri, token)
        welcome, ws = await _hello(where["rtc_url"], {"kind": "token", "token": token})
        assert welcome["type"] == "welcome"
        host = c.node(where["node_id"])
        assert await c.owner_of(meeting_id) is host
        t0 = time.monotonic()
        stopping = asyncio.create_task(host.terminate())
        code, _ = await _closed_with(ws, 10)
        assert code == 1001  # resume elsewhere
        # The lease was released before the client was told: free at once.
        assert await c.store.current_lease(meeting_id) is None
        # uvicorn exits by the signal it was stopped with, once it has shut down.
        assert await stopping in (0, -15)
        # The client resumes on another node, which now hosts the meeting.
        back, ws2 = await _hello(
            c.settings.base_url.replace("http", "ws") + "/v1/rtc",
            {
                "kind": "resume",
                "token": welcome["resume_token"],
                "last_seq": welcome["snapshot"]["last_seq"],
            },
        )
        if back["type"] == "error":  # the balancer reached a node the lease is not on
            assert back["code"] == "wrong_node"
            back, ws2 = await _hello(
                back["rtc_url"],
                {
                    "kind": "resume",
                    "token": welcome["resume_token"],
                    "last_seq": welcome["snapshot"]["last_seq"],
                },
            )
        assert back["type"] == "welcome", back
        assert time.monotonic() - t0 < 10
        owner = await c.owner_of(meeting_id)
        assert owner is not None and owner is not host
        await ws2.close()


async def test_a_node_cut_off_from_the_database_stops_serving(tmp_path: Path) -> None:
    url = make_url(await postgres_url_or_skip())
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    async with cluster(tmp_path) as c:
        # Node 1 reaches the database only through the proxy the test can cut.
        n1 = c.nodes[0]
        n1.env["FRONTDESK_DATABASE_URL"] = (
            make_url(n1.env["FRONTDESK_DATABASE_URL"])
            .set(host="127.0.0.1", port=proxy.port)
            .render_as_string(hide_password=False)
        )
        await n1.kill()
        await n1.start()
        meeting_id, token, _ = await _grant(c)
        welcome, ws = await _hello(n1.rtc_url, {"kind": "token", "token": token})
        assert welcome["type"] == "welcome", welcome
        assert await c.owner_of(meeting_id) is n1
        await proxy.stop()
        t_cut = time.monotonic()
        code, reason = await _closed_with(ws, 10)
        stopped_after = time.monotonic() - t_cut
        assert code == 1001 and "moved" in reason
        assert stopped_after <= 3.0 + 1.0  # one lease period (and a renewal round)
        async with httpx.AsyncClient() as http:
            assert (await http.get(n1.base_url + "/readyz")).status_code == 503
        # Another node hosts it once the lease has run out.
        grant = await c.ops.guest_tokens.mint(meeting_id, display_name="Bob")
        other = c.nodes[1]
        deadline = time.monotonic() + 10
        while True:
            answer, ws2 = await _hello(other.rtc_url, {"kind": "token", "token": grant.token})
            if answer["type"] == "welcome" or time.monotonic() > deadline:
                break
            assert answer["code"] == "wrong_node"
            await ws2.close()
            await asyncio.sleep(0.2)
        assert answer["type"] == "welcome", answer
        assert await c.owner_of(meeting_id) is other
        await ws2.close()
        await proxy.start()
    await proxy.stop()
