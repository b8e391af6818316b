"""A paused owner (SIGSTOP past its lease) can never write after a new owner
took over: what it does when it wakes is refused by the fence."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

from tests.cluster.test_drain_and_cutoff import _closed_with
from tests.cluster.test_routing import _grant, _hello
from tests.support.cluster import cluster


async def test_a_paused_owner_cannot_write_after_a_takeover(tmp_path: Path) -> None:
    async with cluster(tmp_path) as c:
        meeting_id, token, _ = await _grant(c)
        a, b = c.nodes[0], c.nodes[1]
        welcome, ws_a = await _hello(a.rtc_url, {"kind": "token", "token": token})
        assert welcome["type"] == "welcome"
        assert await c.owner_of(meeting_id) is a
        a.signal(signal.SIGSTOP)
        try:
            # Sent to the paused owner: it sits in the socket until A wakes.
            await ws_a.send(json.dumps({"type": "chat", "id": "c1", "text": "to A", "ref": "r1"}))
            await asyncio.sleep(3.0 + 1.0)  # past the lease
            grant = await c.ops.guest_tokens.mint(meeting_id, display_name="Bob")
            answer, ws_b = await _hello(b.rtc_url, {"kind": "token", "token": grant.token})
            assert answer["type"] == "welcome", answer
            assert await c.owner_of(meeting_id) is b
            await ws_b.send(json.dumps({"type": "chat", "id": "c2", "text": "to B", "ref": "r2"}))
            async with asyncio.timeout(5):
                while True:
                    frame = json.loads(await ws_b.recv())
                    if frame["type"] == "ok" and frame.get("ref") == "r2":
                        break
        finally:
            a.signal(signal.SIGCONT)
        t_wake = time.monotonic()
        # A wakes: its write of "to A" is refused by the fence; its client is sent away.
        code, _ = await _closed_with(ws_a, 10)
        assert code == 1001
        assert time.monotonic() - t_wake < 5
        texts = [
            e.data.get("text")
            for e in await c.store.events_since(meeting_id, 0)
            if e.type == "chat_message"
        ]
        assert texts == ["to B"]
        assert await c.owner_of(meeting_id) is b
        await ws_b.close()
