"""Ad hoc meetings expire after the idle time on a running node, also when their
room is not loaded (nobody came back, or the node restarted)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from frontdesk.domain.model import AccessPolicy, MeetingState
from tests.server.test_rtc import agent
from tests.support.live_server import LiveServer


async def test_idle_ad_hoc_meetings_end_and_others_stay(server: LiveServer) -> None:
    ops, live = server.ops, server.app.state.live
    used = await ops.meetings.create(
        subject="used", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    never = await ops.meetings.create(subject="never used", organizer="alice")
    soon = ops.clock() + timedelta(days=1)
    scheduled = await ops.meetings.create(
        subject="office hours", organizer="alice", start=soon, end=soon + timedelta(hours=1)
    )
    alice = await agent(server, used.id)
    await alice.request({"type": "chat", "id": "c1", "text": "hi"})
    await alice.request({"type": "leave"})
    for _ in range(100):  # the room is dropped once nobody can come back
        if live.loaded(used.id) is None:
            break
        await asyncio.sleep(0.02)
    assert live.loaded(used.id) is None

    real = ops.clock
    ops.clock = lambda: real() + timedelta(hours=7)
    assert await live.expire_idle() == 0  # not idle long enough yet
    ops.clock = lambda: real() + timedelta(hours=8, minutes=5)
    assert await live.expire_idle() == 2
    states = {m: (await ops.meetings.get(m)).state for m in (used.id, never.id, scheduled.id)}
    assert states == {
        used.id: MeetingState.ENDED,
        never.id: MeetingState.ENDED,
        scheduled.id: MeetingState.SCHEDULED,
    }
    assert await live.expire_idle() == 0  # nothing left to end
    assert live.loaded(used.id) is None and live.loaded(never.id) is None


async def test_a_meeting_in_use_is_not_expired(server: LiveServer) -> None:
    ops, live = server.ops, server.app.state.live
    m = await ops.meetings.create(subject="busy", organizer="alice")
    await agent(server, m.id)  # stays connected: its room is loaded
    real = ops.clock
    ops.clock = lambda: real() + timedelta(hours=9)
    assert await live.expire_idle() == 0
    assert (await ops.meetings.get(m.id)).state is not MeetingState.ENDED
