"""A lobby flood: a thousand URL joins to one meeting from one address must not
bury real visitors nor freeze the organizer's console."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import httpx
from websockets.asyncio.client import connect

from tests.support.live_server import LiveServer
from tests.support.rtc import RawClient

PASSWORD = "correct horse battery"


def rtc_url(srv: LiveServer) -> str:
    return srv.base_url.replace("http://", "ws://") + "/v1/rtc"


async def _url_join(srv: LiveServer, join_url: str, i: int) -> dict[str, object]:
    hello = {
        "type": "hello",
        "v": 1,
        "auth": {"kind": "url", "join_url": join_url, "display_name": f"Bot {i}"},
    }
    async with connect(rtc_url(srv), open_timeout=10) as ws:
        await ws.send(json.dumps(hello))
        answer: dict[str, object] = json.loads(await ws.recv())
        return answer


async def test_a_thousand_url_joins_are_throttled_and_vouched_visitors_get_in(
    server: LiveServer,
) -> None:
    ops = server.ops
    m = await ops.meetings.create(subject="Flooded", organizer="alice")
    join_url = ops.meetings.join_url(m)
    gate = asyncio.Semaphore(50)

    async def one(i: int) -> dict[str, object]:
        async with gate:
            return await _url_join(server, join_url, i)

    answers = await asyncio.gather(*(one(i) for i in range(1000)))
    kinds = Counter(str(a["type"]) if a["type"] == "welcome" else str(a["code"]) for a in answers)
    limited = [a for a in answers if a.get("code") == "rate_limited"]
    assert kinds["welcome"] <= 12, kinds  # the burst (10), a little refill
    assert len(limited) >= 980, kinds
    assert all(float(a["retry_after"]) > 0 for a in limited)  # type: ignore[arg-type]

    # A visitor the bank vouched for still gets in, and the organizer sees them.
    grant = await ops.guest_tokens.mint(m.id, display_name="Ann Visitor")
    ann = await RawClient.connect(rtc_url(server), {"kind": "token", "token": grant.token})
    assert ann.welcome["state"] == "lobby", ann.inbox
    token, _, _ = await ops.accounts.login("alice", PASSWORD)
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        lobby = (await http.get("/v1/me/lobby")).json()["items"]
    assert "Ann Visitor" in [e["display_name"] for e in lobby]
    assert len(lobby) <= 13
    await ann.close()
