"""A single-use guest token admits once in the whole cluster: the node that
hosts the meeting next, with nothing of the first node's memory, refuses it
from the store."""

from __future__ import annotations

import asyncio
from pathlib import Path

from frontdesk.domain.model import AccessPolicy
from tests.cluster.test_routing import _discover, _hello
from tests.support.cluster import cluster


async def test_a_spent_token_is_refused_by_the_next_host(tmp_path: Path) -> None:
    async with cluster(tmp_path, size=2) as c:
        m = await c.ops.meetings.create(
            subject="Mortgage", organizer="alice", access_policy=AccessPolicy.DIRECT
        )
        grant = await c.ops.guest_tokens.mint(m.id, display_name="Ann", single_use=True)
        discovery_uri = c.ops.meetings.discovery_uri(m.id)
        where = await _discover(discovery_uri, grant.token)
        welcome, ws = await _hello(where["rtc_url"], {"kind": "token", "token": grant.token})
        assert welcome["type"] == "welcome", welcome
        first = c.node(where["node_id"])
        # Replayed on the host: refused.
        again, ws_again = await _hello(first.rtc_url, {"kind": "token", "token": grant.token})
        assert again["type"] == "error" and again["code"] == "token_used", again
        await ws_again.close()
        # The host stops (hands the meeting over); the replay reaches the other node.
        await first.terminate()
        await ws.close()
        other = next(n for n in c.nodes if n is not first)
        for _ in range(50):
            answer, ws2 = await _hello(other.rtc_url, {"kind": "token", "token": grant.token})
            await ws2.close()
            if answer.get("code") != "wrong_node":
                break
            await asyncio.sleep(0.1)  # the old lease is still being released
        assert answer["type"] == "error" and answer["code"] == "token_used", answer
        # A fresh token still admits on the new host.
        fresh = await c.ops.guest_tokens.mint(m.id, display_name="Bob", single_use=True)
        ok, ws3 = await _hello(other.rtc_url, {"kind": "token", "token": fresh.token})
        assert ok["type"] == "welcome", ok
        assert await c.owner_of(m.id) is other
        # The spent token is refused by the new host too, with its room live.
        last, ws4 = await _hello(other.rtc_url, {"kind": "token", "token": grant.token})
        assert last["type"] == "error" and last["code"] == "token_used", last
        await ws4.close()
        await ws3.close()
