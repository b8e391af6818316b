"""Kill the host of a meeting in the middle of a chat burst, and check what the
clients saw: shared by the cluster test and ``bench/failover.py``.

Invariants on every client: every acknowledged message is stored; every
stored message reaches each client exactly once, in order; the roster is
whole again. The figure: from the kill to the first acknowledgement by the
new host (takeover time).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from frontdesk.client import Meeting, ReconnectPolicy, SessionState, join_as_user, join_with_token
from frontdesk.domain.model import AccessPolicy
from tests.support.cluster import PASSWORD, Cluster

__all__ = ["Round", "kill_host_mid_burst"]

# The SDK's own default back-off: the 5 s promise is made with default settings.
POLICY = ReconnectPolicy(give_up_after_s=30.0)


@dataclass(frozen=True)
class Round:
    takeover_s: float  # kill -> first ack on the new host
    acked: int
    stored: int
    old_host: str
    new_host: str


async def _until(pred, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.02)


async def kill_host_mid_burst(
    c: Cluster, rng: random.Random, *, messages: int = 40, restart: bool = True
) -> Round:
    m = await c.ops.meetings.create(
        subject="", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    session, _, _ = await c.ops.accounts.login("alice", PASSWORD)
    grant = await c.ops.guest_tokens.mint(m.id, display_name="Ann")
    agent = await join_as_user(c.public_url, m.id, session, reconnect=POLICY).connect()
    guest = await join_with_token(
        c.ops.meetings.discovery_uri(m.id), grant.token, reconnect=POLICY
    ).connect()
    clients: list[Meeting] = [agent, guest]
    host = await c.owner_of(m.id)
    before = await c.store.current_lease(m.id)
    assert host is not None and before is not None
    acks: list[tuple[float, int, str]] = []

    async def burst(client: Meeting, who: str) -> None:
        for i in range(messages):
            msg = await client.chat.send(f"{who} {i}")
            acks.append((time.monotonic(), msg.seq, msg.text))
            await asyncio.sleep(rng.uniform(0, 0.03))

    sending = [
        asyncio.create_task(burst(cl, who))
        for cl, who in zip(clients, ("agent", "ann"), strict=True)
    ]
    await asyncio.sleep(rng.uniform(0.05, 0.8))  # a random moment of the burst
    t_kill = time.monotonic()
    await host.kill()
    restarting = asyncio.create_task(host.start()) if restart else None
    await asyncio.gather(*sending)
    after = [t for t, _, _ in acks if t > t_kill]
    takeover = (min(after) - t_kill) if after else float("nan")
    new_host = await c.owner_of(m.id)
    after_kill = await c.store.current_lease(m.id)
    # Another process hosts it now (maybe the killed node, restarted).
    assert new_host is not None and after_kill is not None
    assert after_kill.owner != before.owner and after_kill.fence > before.fence
    # Invariants.
    stored = [
        (e.seq, e.data["text"])
        for e in await c.store.events_since(m.id, 0)
        if e.type == "chat_message"
    ]
    acked = sorted((seq, text) for _, seq, text in acks)
    assert len(acked) == 2 * messages
    assert set(acked) <= set(stored), "an acknowledged message is not stored"
    assert len({t for _, t in stored}) == len(stored), "a message was stored twice"
    for client in clients:
        await _until(lambda cl=client: len(cl.chat.history) >= len(stored))
        got = [(msg.seq, msg.text) for msg in client.chat.history]
        assert got == stored, "a client missed, doubled or reordered a message"
        await _until(
            lambda cl=client: (
                cl.state is SessionState.JOINED
                and sum(p.state is SessionState.JOINED for p in cl.roster.values()) == 2
            )
        )
    for client in clients:
        await client.leave()
    if restarting is not None:
        await restarting
    return Round(takeover, len(acked), len(stored), host.node_id, new_host.node_id)
