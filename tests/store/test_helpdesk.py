"""The helpdesk's durable state: a router restored from the store equals the live one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from frontdesk.domain.helpdesk import (
    Accept,
    AgentPresence,
    AgentProfile,
    Capacity,
    Complete,
    Enqueue,
    Medium,
    OpeningHours,
    PutAgent,
    PutQueue,
    Queue,
    Router,
    SetPresence,
    Tick,
    Transfer,
    VisitState,
)
from frontdesk.domain.helpdesk import events as ev
from frontdesk.errors import QueueNotFound, VisitNotFound
from frontdesk.store.base import LeaseLost
from frontdesk.store.helpdesk import HELPDESK_LEASE, Callback, HelpdeskChanges, VisitEventRecord
from frontdesk.store.sql import SqlStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)
HOURS = OpeningHours.from_dict("Europe/Paris", {"mon": [("09:00", "17:00")]})


def changes_of(events: list[ev.RouterEvent], at: datetime) -> HelpdeskChanges:
    agents = [e.agent for e in events if isinstance(e, ev.AgentChanged)]
    visits = [e.visit for e in events if hasattr(e, "visit")]
    new = {
        e.visit.visit_id: (f"m_{e.visit.visit_id}", "app")
        for e in events
        if isinstance(e, ev.VisitQueued)
    }
    records = [
        VisitEventRecord(e.visit.visit_id, e.NAME.value, {}, at)
        for e in events
        if hasattr(e, "visit")
    ]
    return HelpdeskChanges(agents, visits, new, records)  # type: ignore[arg-type]


async def test_queues_round_trip_with_members_and_hours(store: SqlStore) -> None:
    queue = Queue(
        "advice",
        topics=frozenset({"mortgage"}),
        languages=frozenset({"en", "fr"}),
        hours=HOURS,
        max_wait=timedelta(minutes=10),
        agents=frozenset({"ann", "bob"}),
    )
    await store.helpdesk.put_queue(queue, T0)
    await store.helpdesk.put_queue(Queue("loans"), T0)
    assert await store.helpdesk.list_queues() == [queue, Queue("loans")]
    smaller = Queue("advice", agents=frozenset({"bob"}))
    await store.helpdesk.put_queue(smaller, T0 + S)
    assert (await store.helpdesk.list_queues())[0] == smaller
    await store.helpdesk.delete_queue("loans")
    with pytest.raises(QueueNotFound):
        await store.helpdesk.delete_queue("loans")


async def test_a_router_restored_from_the_store_equals_the_live_one(store: SqlStore) -> None:
    router = Router()
    queue = Queue("advice", agents=frozenset({"ann", "bob"}))
    await store.helpdesk.put_queue(queue, T0)
    now = T0
    script = [
        PutQueue(queue),
        PutAgent(AgentProfile("ann", Capacity(1, 0), languages=frozenset({"en"}))),
        PutAgent(AgentProfile("bob")),
        SetPresence("ann", AgentPresence.AVAILABLE),
        SetPresence("bob", AgentPresence.AVAILABLE),
        Enqueue("v1", "advice", "Ann Visitor", Medium.VIDEO, language="en", context="since 2014"),
        Enqueue("v2", "advice", "Bo Visitor", Medium.CHAT),
        Enqueue("v3", "advice", "Cy Visitor", Medium.VIDEO),
        Accept("ann", "v1"),
        Complete("ann", "v1"),
        Accept("bob", "v2"),
        Tick(),
        Transfer("bob", "v2", to_agent="ann", note="fixed rates"),
        Tick(),
    ]
    for command in script:
        now += 2 * S
        await store.helpdesk.save(changes_of(router.handle(command, now), now))
    stored = await store.helpdesk.open_visits()
    assert {v.visit.visit_id for v in stored} == {"v2", "v3"}
    assert stored[0].meeting_id == "m_v2" and stored[0].app_id == "app"
    handled, outcomes = await store.helpdesk.history("advice", queue.service_level, 20)
    assert handled == router.handle_times("advice") == [2.0]
    copy = Router.restore(
        await store.helpdesk.list_queues(),
        await store.helpdesk.list_agents(),
        [v.visit for v in stored],
        {"advice": handled},
        {"advice": outcomes},
    )
    assert sorted(copy.visits(), key=lambda v: v.visit_id) == sorted(
        router.visits(), key=lambda v: v.visit_id
    )
    assert copy.agents() == router.agents()
    assert copy.waiting("advice") == router.waiting("advice")
    assert copy.next_deadline() == router.next_deadline()
    assert copy.board("advice", now) == router.board("advice", now)
    done = await store.helpdesk.get_visit("v1")
    assert done.visit.state is VisitState.COMPLETED and done.visit.context == "since 2014"
    assert [e.type for e in await store.helpdesk.visit_events("v1")] == [
        "visit.queued",
        "visit.offered",
        "visit.accepted",
        "visit.completed",
    ]
    with pytest.raises(VisitNotFound):
        await store.helpdesk.get_visit("nope")


async def test_a_fenced_write_needs_the_helpdesk_lease(store: SqlStore) -> None:
    lease = await store.acquire_lease(HELPDESK_LEASE, "node-a", "ws://a/v1/rtc", 30)
    router = Router()
    events = router.handle(PutAgent(AgentProfile("ann")), T0)
    await store.helpdesk.save(changes_of(events, T0), lease.as_fence)
    await store.release_lease(HELPDESK_LEASE, lease.as_fence)
    taken = await store.acquire_lease(HELPDESK_LEASE, "node-b", "ws://b/v1/rtc", 30)
    assert taken.fence == lease.fence + 1
    events = router.handle(PutAgent(AgentProfile("bob")), T0)
    with pytest.raises(LeaseLost):
        await store.helpdesk.save(changes_of(events, T0), lease.as_fence)
    assert [a.agent_id for a in await store.helpdesk.list_agents()] == ["ann"]


async def test_callbacks_are_listed_until_resolved(store: SqlStore) -> None:
    for i in range(2):
        await store.helpdesk.add_callback(
            Callback(
                f"cb_{i}", "advice", "Ann", "Call me", "ann@example.com", T0 + i * S, app_id="app"
            )
        )
    assert [c.id for c in await store.helpdesk.list_callbacks(queue="advice")] == ["cb_0", "cb_1"]
    done = await store.helpdesk.resolve_callback("cb_0", "bob", T0 + 9 * S)
    assert (done.resolved_by, done.resolved_at) == ("bob", T0 + 9 * S)
    assert [c.id for c in await store.helpdesk.list_callbacks()] == ["cb_1"]
    assert len(await store.helpdesk.list_callbacks(open_only=False)) == 2


async def test_a_visit_its_meeting_and_the_hand_over_are_stored_with_the_decision(
    store: SqlStore,
) -> None:
    """The meeting made for a visit is inserted in the decision's transaction,
    and accepting hands the meeting to the agent in its own: both or nothing."""
    from dataclasses import replace

    from frontdesk.domain.model import MeetingState
    from frontdesk.errors import MeetingNotFound
    from tests.store.samples import meeting

    router = Router()
    router.handle(PutQueue(Queue("advice", agents=frozenset({"ann"}))), T0)
    router.handle(PutAgent(AgentProfile("ann")), T0)
    events = router.handle(Enqueue("v_1", "advice", "Vera", Medium.VIDEO, None, None, ""), T0)
    made = meeting("m_v_1", organizer="alice")
    await store.helpdesk.save(replace(changes_of(events, T0), meetings=[made]))
    assert (await store.get_meeting("m_v_1")).organizer == "alice"
    assert (await store.helpdesk.get_visit("v_1")).meeting_id == "m_v_1"

    await store.helpdesk.save(HelpdeskChanges(organizers={"m_v_1": "ann"}))
    handed = await store.get_meeting("m_v_1")
    assert (handed.organizer, handed.revision) == ("ann", made.revision + 1)
    await store.helpdesk.save(HelpdeskChanges(organizers={"m_v_1": "ann"}))  # no change
    assert (await store.get_meeting("m_v_1")).revision == made.revision + 1
    ended = replace(handed, state=MeetingState.ENDED, revision=handed.revision + 1)
    await store.update_meeting(ended)
    await store.helpdesk.save(HelpdeskChanges(organizers={"m_v_1": "bob"}))
    assert (await store.get_meeting("m_v_1")).organizer == "ann"  # an ended meeting keeps it

    # A decision refused by the fence stores neither the visit nor its meeting.
    lease = await store.acquire_lease(HELPDESK_LEASE, "node-a", "ws://a/v1/rtc", 30)
    await store.release_lease(HELPDESK_LEASE, lease.as_fence)
    await store.acquire_lease(HELPDESK_LEASE, "node-b", "ws://b/v1/rtc", 30)
    events = router.handle(Enqueue("v_2", "advice", "Walt", Medium.VIDEO, None, None, ""), T0)
    with pytest.raises(LeaseLost):
        await store.helpdesk.save(
            replace(changes_of(events, T0), meetings=[meeting("m_v_2")]), lease.as_fence
        )
    with pytest.raises(MeetingNotFound):
        await store.get_meeting("m_v_2")
    with pytest.raises(VisitNotFound):
        await store.helpdesk.get_visit("v_2")
