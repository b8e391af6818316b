"""Nothing lost across a node restart: SDK clients resume on the new process and
every acknowledged chat message is present exactly once, in order, everywhere."""

from __future__ import annotations

import asyncio
from pathlib import Path

from frontdesk.client import ReconnectPolicy, SessionState, join, join_as_user
from frontdesk.config import Settings
from frontdesk.domain.model import AccessPolicy
from tests.support.live_server import live_server

PASSWORD = "correct horse battery"
PATIENT = ReconnectPolicy(initial_delay_s=0.05, max_delay_s=0.3, give_up_after_s=20.0)


async def _until(pred, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.02)


async def test_server_restart_mid_meeting(tmp_path: Path) -> None:
    await scenario_restart_mid_meeting(
        Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db")
    )


async def scenario_restart_mid_meeting(settings: Settings) -> None:
    async with live_server(settings) as srv:
        port = srv.settings.port
        ops = srv.ops
        await ops.accounts.create("alice", "Alice Advisor", PASSWORD)
        m = await ops.meetings.create(
            subject="", organizer="alice", access_policy=AccessPolicy.DIRECT
        )
        token, _, _ = await ops.accounts.login("alice", PASSWORD)
        join_url = ops.meetings.join_url(m)
        alice = await join_as_user(srv.base_url, m.id, token, reconnect=PATIENT).connect()
        ann = await join(join_url, display_name="Ann", reconnect=PATIENT).connect()
        acked = [await ann.chat.send(f"before {i}") for i in range(5)]
        acked += [await alice.chat.send(f"agent before {i}") for i in range(3)]
        # Sends still in flight when the node goes away are retried after resume.
        inflight = [asyncio.create_task(ann.chat.send(f"during {i}")) for i in range(5)]
        await asyncio.sleep(0)
    # The node is gone; both clients are reconnecting. A new node, same database:
    assert ann.state in (SessionState.RECONNECTING, SessionState.JOINED)
    async with live_server(settings, port=port):
        acked += await asyncio.gather(*inflight)
        await _until(
            lambda: ann.state is SessionState.JOINED and alice.state is SessionState.JOINED
        )
        acked += [await alice.chat.send(f"agent after {i}") for i in range(3)]
        want = sorted((msg.seq, msg.text) for msg in acked)
        assert len({seq for seq, _ in want}) == len(acked) == 16
        for client in (alice, ann):
            await _until(lambda c=client: len(c.chat.history) >= len(want))
            got = [(msg.seq, msg.text) for msg in client.chat.history]
            assert got == want, client.participant_id
        await ann.leave()
        await alice.leave()
