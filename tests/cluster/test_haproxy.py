"""Two real nodes behind a real HAProxy (TLS terminated there, WebSockets
upgraded through it), driven only through the balancer with the Python SDKs:
a back end makes a meeting and a guest token over the service API, an agent
and a guest join and chat; the host node is stopped (SIGTERM, a rolling
restart's stop) and both clients come back through HAProxy on the other node
and chat again, nothing lost or doubled."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import websockets

from frontdesk.client import (
    Meeting,
    MeetingEvent,
    ReconnectPolicy,
    SessionState,
    join_as_user,
    join_with_token,
)
from frontdesk.protocol import PROTOCOL_VERSION, encode
from frontdesk.service_client import ServiceClient
from tests.support.cluster import PASSWORD, cluster
from tests.support.haproxy import HAProxy, haproxy_or_skip, self_signed_pem
from tests.support.live_server import free_port

POLICY = ReconnectPolicy(give_up_after_s=30.0)


async def _until(pred: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.02)


def _texts(client: Meeting) -> list[str]:
    return [m.text for m in client.chat.history]


async def test_two_nodes_behind_haproxy_survive_a_rolling_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    haproxy_or_skip()
    pem = self_signed_pem(tmp_path / "site.pem")
    # The SDKs (httpx, websockets) trust the test's certificate as their CA.
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    ports = [free_port(), free_port()]
    lb = HAProxy(tmp_path, free_port(), [("node-1", ports[0]), ("node-2", ports[1])], pem=pem)
    public = lb.public_url
    async with cluster(
        tmp_path,
        ports=ports,
        public_url=public,
        node_urls=[lb.node_url("node-1"), lb.node_url("node-2")],
    ) as c:
        creds = await c.ops.apps.create("Harbor Bank")
        clients: list[Meeting] = []
        try:
            await lb.start()
            # The back end: service API on the public name (any node answers).
            async with ServiceClient(public, creds.client_id, creds.client_secret) as svc:
                m = await svc.create_meeting(subject="Mortgage advice", organizer="alice")
                grant = await svc.create_guest_token(m.id, display_name="Ann Visitor")
            assert m.join_url.startswith(public + "/j/")
            assert grant.discovery_uri == f"{public}/v1/discovery/{m.id}"
            # The agent signs in through the balancer and joins through it.
            async with httpx.AsyncClient() as http:
                r = await http.post(
                    public + "/v1/session", json={"username": "alice", "password": PASSWORD}
                )
                r.raise_for_status()
                session = r.json()["token"]
                # Metrics are for the operator, scraped from each node, not public.
                for path in ("/metrics", "/n/node-1/metrics"):
                    assert (await http.get(public + path)).status_code == 404
                assert (await http.get(c.nodes[0].base_url + "/metrics")).status_code == 200
            agent = await join_as_user(public, m.id, session, reconnect=POLICY).connect()
            clients.append(agent)
            guest = await join_with_token(
                grant.discovery_uri, grant.token, reconnect=POLICY
            ).connect()
            clients.append(guest)
            await _until(lambda: len(agent.lobby) == 1)
            await agent.admit(next(iter(agent.lobby)))
            await guest.admitted(timeout=10)

            host = await c.owner_of(m.id)
            assert host is not None
            ids = [client.participant_id for client in clients]
            resumed: list[str] = []

            def on_state(who: str) -> Callable[[MeetingEvent], None]:
                def note(e: MeetingEvent) -> None:
                    if e.data.get("resumed"):
                        resumed.append(who)

                return note

            agent.on("state_changed", on_state("agent"))
            guest.on("state_changed", on_state("guest"))
            # Both talk to the host through HAProxy (wss), never to a node's port:
            # the guest at the host's own URL, where discovery sent it; the agent
            # at the public name (the balancer picked the host) or, redirected
            # by wrong_node, at the host's own URL.
            public_rtc = f"wss://127.0.0.1:{lb.port}/v1/rtc"
            assert host.rtc_url == f"wss://127.0.0.1:{lb.port}/n/{host.node_id}/v1/rtc"
            assert guest.rtc_url == host.rtc_url
            assert agent.rtc_url in (public_rtc, host.rtc_url)
            # A hello reaching the other node through its own URL is redirected.
            other = next(n for n in c.nodes if n is not host)
            async with ServiceClient(public, creds.client_id, creds.client_secret) as svc:
                bob = await svc.create_guest_token(m.id, display_name="Bob Visitor")
            async with websockets.connect(other.rtc_url) as ws:
                hello = {"kind": "token", "token": bob.token}
                await ws.send(encode("hello", v=PROTOCOL_VERSION, auth=hello, ref="1"))
                answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert (answer["type"], answer["code"]) == ("error", "wrong_node"), answer
            assert answer["rtc_url"] == host.rtc_url

            await agent.chat.send("Hello Ann, how can I help?")
            await guest.chat.send("About my mortgage.")
            before = ["Hello Ann, how can I help?", "About my mortgage."]
            for client in clients:
                await _until(lambda cl=client: _texts(cl) == before)

            # A rolling restart's stop: the host hands over and closes with 1001.
            t_stop = time.monotonic()
            assert await host.terminate() in (0, -15)
            await _until(lambda: len(resumed) == 2)
            print(f"both clients resumed {time.monotonic() - t_stop:.2f} s after the SIGTERM")
            assert await c.owner_of(m.id) is other
            assert guest.rtc_url == other.rtc_url
            assert agent.rtc_url in (public_rtc, other.rtc_url)
            # Resumed, not joined afresh: the same participants, told "resumed".
            assert sorted(resumed) == ["agent", "guest"]
            assert [client.participant_id for client in clients] == ids

            await guest.chat.send("Still there?")
            await agent.chat.send("Yes, right here.")
            after = [*before, "Still there?", "Yes, right here."]
            stored = [
                e.data["text"]
                for e in await c.store.events_since(m.id, 0)
                if e.type == "chat_message"
            ]
            assert stored == after
            for client in clients:
                await _until(lambda cl=client: _texts(cl) == after)
                seqs = [msg.seq for msg in client.chat.history]
                assert seqs == sorted(set(seqs)), "a message came twice or out of order"
                await _until(
                    lambda cl=client: (
                        sum(p.state is SessionState.JOINED for p in cl.roster.values()) == 2
                    )
                )
        finally:
            for client in clients:
                await client.leave()
            await lb.stop()
