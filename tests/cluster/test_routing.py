"""Discovery routes to the meeting's host; any other node answers a typed
redirect; two nodes racing for one meeting never both host it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import websockets

from frontdesk.domain.model import AccessPolicy
from frontdesk.protocol import PROTOCOL_VERSION
from tests.support.cluster import Cluster, cluster


async def _hello(rtc_url: str, auth: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    ws = await websockets.connect(rtc_url)
    await ws.send(json.dumps({"type": "hello", "v": PROTOCOL_VERSION, "auth": auth, "ref": "1"}))
    return json.loads(await asyncio.wait_for(ws.recv(), 5)), ws


async def _grant(c: Cluster, name: str = "Ann") -> tuple[str, str, str]:
    m = await c.ops.meetings.create(
        subject="Mortgage", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    grant = await c.ops.guest_tokens.mint(m.id, display_name=name)
    return m.id, grant.token, c.ops.meetings.discovery_uri(m.id)


async def _discover(url: str, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        r = await http.get(url, headers={"Authorization": f"Bearer {token}"})
        r.raise_for_status()
        return dict(r.json())


async def test_discovery_routes_and_other_nodes_redirect(tmp_path: Path) -> None:
    async with cluster(tmp_path) as c:
        meeting_id, token, discovery_uri = await _grant(c)
        first = await _discover(discovery_uri, token)
        host = c.node(first["node_id"])
        assert first["rtc_url"] == host.rtc_url
        welcome, ws = await _hello(first["rtc_url"], {"kind": "token", "token": token})
        assert welcome["type"] == "welcome", welcome
        owner = await c.owner_of(meeting_id)
        assert owner is host
        # Discovery through any node now answers the host.
        for node in c.nodes:
            path = discovery_uri.removeprefix(c.public_url)
            again = await _discover(node.base_url + path, token)
            assert (again["rtc_url"], again["node_id"]) == (host.rtc_url, host.node_id)
        # A second visitor who reaches another node is redirected, not given a copy.
        other = next(n for n in c.nodes if n is not host)
        grant2 = await c.ops.guest_tokens.mint(meeting_id, display_name="Bob")
        answer, ws2 = await _hello(other.rtc_url, {"kind": "token", "token": grant2.token})
        assert answer["type"] == "error" and answer["code"] == "wrong_node", answer
        assert answer["rtc_url"] == host.rtc_url
        await ws2.close()
        await ws.close()


async def test_racing_joins_on_every_node_make_one_host(tmp_path: Path) -> None:
    async with cluster(tmp_path) as c:
        for _ in range(5):
            meeting_id, _, _ = await _grant(c)
            grants = [
                await c.ops.guest_tokens.mint(meeting_id, display_name=f"G{i}") for i in range(3)
            ]
            answers = await asyncio.gather(
                *(
                    _hello(node.rtc_url, {"kind": "token", "token": g.token})
                    for node, g in zip(c.nodes, grants, strict=True)
                )
            )
            kinds = sorted(a["type"] for a, _ in answers)
            assert kinds.count("welcome") >= 1
            hosts = {
                n.node_id
                for n, (a, _) in zip(c.nodes, answers, strict=True)
                if a["type"] == "welcome"
            }
            assert len(hosts) == 1, answers
            owner = await c.owner_of(meeting_id)
            assert owner is not None and {owner.node_id} == hosts
            for a, ws in answers:
                if a["type"] == "error":
                    assert a["code"] in ("wrong_node", "unavailable"), a
                await ws.close()
