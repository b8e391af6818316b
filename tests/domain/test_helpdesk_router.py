"""The router's rules, one example each."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpdesk_support import T0, enqueue, offers, router_with

from frontdesk.domain.helpdesk import (
    Abandon,
    Accept,
    AgentPresence,
    AgentProfile,
    AgentState,
    Capacity,
    Complete,
    Decline,
    DeleteQueue,
    Medium,
    OpeningHours,
    PutAgent,
    PutQueue,
    Queue,
    RouterLimits,
    SetPresence,
    Tick,
    Transfer,
    VisitState,
)
from frontdesk.domain.helpdesk import events as ev
from frontdesk.errors import (
    IllegalState,
    PermissionDenied,
    QueueClosed,
    QueueFull,
    QueueNotFound,
    ValidationFailed,
)

S = timedelta(seconds=1)


def test_a_visit_goes_to_the_longest_idle_available_agent() -> None:
    router = router_with(["ann", "bob"])
    assert offers(enqueue(router, "v1", T0 + S)) == [("v1", "ann")]
    assert offers(enqueue(router, "v2", T0 + 2 * S)) == [("v2", "bob")]
    assert router.visit("v1").state is VisitState.OFFERED


def test_the_next_visit_waits_first_come_first_served() -> None:
    router = router_with(["ann"])
    enqueue(router, "v1", T0 + S)
    enqueue(router, "v2", T0 + 2 * S)
    enqueue(router, "v3", T0 + 3 * S)
    assert router.waiting("advice") == ["v2", "v3"]
    assert router.position("v3") == 2
    router.handle(Accept("ann", "v1"), T0 + 4 * S)
    events = router.handle(Complete("ann", "v1"), T0 + 64 * S)
    assert offers(events) == [("v2", "ann")]


def test_an_agent_holds_one_offer_and_never_goes_over_capacity() -> None:
    router = router_with({"ann": Capacity(video=0, chats=2)})
    enqueue(router, "c1", T0 + S, medium=Medium.CHAT)
    enqueue(router, "c2", T0 + S, medium=Medium.CHAT)
    assert router.visit("c2").state is VisitState.QUEUED  # ann holds an offer
    events = router.handle(Accept("ann", "c1"), T0 + 2 * S)
    assert offers(events) == [("c2", "ann")]
    router.handle(Accept("ann", "c2"), T0 + 3 * S)
    enqueue(router, "c3", T0 + 4 * S, medium=Medium.CHAT)
    assert router.visit("c3").state is VisitState.QUEUED
    assert router.agent_state("ann") is AgentState.BUSY
    enqueue(router, "v1", T0 + 4 * S, medium=Medium.VIDEO)  # video capacity 0
    assert router.visit("v1").state is VisitState.QUEUED


def test_a_decline_passes_the_visit_to_the_next_agent() -> None:
    router = router_with(["ann", "bob"])
    router.handle(SetPresence("bob", AgentPresence.AWAY), T0)
    enqueue(router, "v1", T0 + S)
    enqueue(router, "v2", T0 + S)
    router.handle(SetPresence("bob", AgentPresence.AVAILABLE), T0 + 2 * S)
    events = router.handle(Decline("ann", "v1"), T0 + 3 * S)
    # bob held v2; v1 is back at the head and waits: ann passed, bob is taken
    assert [type(e) for e in events][:1] == [ev.OfferDeclined]
    assert router.waiting("advice") == ["v1"]
    assert offers(events) == []  # ann may not get v1 again, and nobody else is free
    router.handle(Decline("bob", "v2"), T0 + 4 * S)
    # bob is free again: v1 is older than v2 and bob has not passed on it
    assert router.visit("v1").agent == "bob"


def test_an_unanswered_offer_goes_back_to_the_head_and_on_to_the_next_agent() -> None:
    limits = RouterLimits(offer_timeout=20 * S, max_missed_offers=2)
    router = router_with(["ann", "bob"], limits=limits)
    router.handle(SetPresence("bob", AgentPresence.AWAY), T0)
    enqueue(router, "v1", T0 + S)
    enqueue(router, "v2", T0 + 2 * S)
    router.handle(SetPresence("bob", AgentPresence.AVAILABLE), T0 + 3 * S)  # takes v2
    router.handle(Accept("bob", "v2"), T0 + 4 * S)
    assert router.next_deadline() == T0 + 21 * S
    events = router.handle(Tick(), T0 + 21 * S)
    assert [type(e) for e in events] == [ev.OfferExpired, ev.AgentChanged]  # ann: free again
    assert router.waiting("advice") == ["v1"]  # ann passed: nobody else free
    events = router.handle(Complete("bob", "v2"), T0 + 30 * S)
    assert offers(events) == [("v1", "bob")]


def test_an_agent_who_misses_offers_is_set_away() -> None:
    router = router_with(["ann"], limits=RouterLimits(offer_timeout=10 * S, pass_cooldown=5 * S))
    enqueue(router, "v1", T0 + S)
    router.handle(Tick(), T0 + 11 * S)  # first miss
    events = router.handle(Tick(), T0 + 16 * S)  # cooldown over: offered again
    assert offers(events) == [("v1", "ann")]
    events = router.handle(Tick(), T0 + 26 * S)  # second miss
    changed = [e for e in events if isinstance(e, ev.AgentChanged)]
    assert changed[0].reason == "missed_offers" and changed[0].state is AgentState.AWAY
    assert router.visit("v1").state is VisitState.QUEUED
    assert offers(router.handle(Tick(), T0 + 60 * S)) == []


def test_accepting_an_expired_offer_is_refused() -> None:
    router = router_with(["ann"], limits=RouterLimits(offer_timeout=10 * S))
    enqueue(router, "v1", T0 + S)
    with pytest.raises(IllegalState):
        router.handle(Accept("ann", "v1"), T0 + 11 * S)
    with pytest.raises(IllegalState):
        router.handle(Accept("bob", "v1"), T0 + 2 * S)


def test_away_and_offline_agents_get_nothing_and_their_offer_returns() -> None:
    router = router_with(["ann", "bob"])
    enqueue(router, "v1", T0 + S)
    events = router.handle(SetPresence("ann", AgentPresence.OFFLINE), T0 + 2 * S)
    assert any(isinstance(e, ev.OfferRevoked) for e in events)
    assert offers(events) == [("v1", "bob")]
    router.handle(SetPresence("bob", AgentPresence.AWAY), T0 + 3 * S)
    assert router.visit("v1").state is VisitState.QUEUED


def test_skills_decide_who_may_take_a_visit() -> None:
    router = router_with(
        ["ann", "bob"],
        queue=Queue("advice", languages=frozenset({"en", "fr"}), agents=frozenset({"ann", "bob"})),
    )
    router.handle(PutAgent(AgentProfile("ann", languages=frozenset({"en"}))), T0)
    assert offers(enqueue(router, "v1", T0 + S, language="fr")) == [("v1", "bob")]
    with pytest.raises(ValidationFailed):
        enqueue(router, "v2", T0 + S, language="de")


def test_a_closed_queue_refuses_with_the_next_opening_time() -> None:
    hours = OpeningHours.from_dict(
        "Europe/Paris", {"mon": [("09:00", "12:00")], "wed": [("14:00", "18:00")]}
    )
    router = router_with(["ann"], queue=Queue("advice", hours=hours, agents=frozenset({"ann"})))
    enqueue(router, "v1", T0)  # Monday 11:00 in Paris
    with pytest.raises(QueueClosed) as refused:
        enqueue(router, "v2", T0 + timedelta(hours=2))
    assert refused.value.extra["next_opening"] == "2026-03-04T13:00:00+00:00"
    with pytest.raises(QueueNotFound):
        enqueue(router, "v3", T0, queue="nope")


def test_the_wait_estimate_comes_from_handling_times_or_is_unknown() -> None:
    router = router_with(
        ["ann"], queue=Queue("advice", max_wait=timedelta(minutes=5), agents=frozenset({"ann"}))
    )
    queued = [e for e in enqueue(router, "v1", T0 + S) if isinstance(e, ev.VisitQueued)]
    assert queued[0].estimate is None  # nothing handled yet
    router.handle(Accept("ann", "v1"), T0 + 2 * S)
    enqueue(router, "v2", T0 + 3 * S)
    assert router.estimate("v2") is None
    router.handle(Complete("ann", "v1"), T0 + 122 * S)  # two minutes
    router.handle(Accept("ann", "v2"), T0 + 123 * S)
    enqueue(router, "v3", T0 + 124 * S)
    enqueue(router, "v4", T0 + 124 * S)
    assert router.position("v4") == 2
    assert router.estimate("v4") == timedelta(minutes=4)
    with pytest.raises(QueueFull) as full:
        enqueue(router, "v5", T0 + 125 * S)  # third: six minutes > five
    assert full.value.extra["estimated_wait_s"] == 360


def test_transfer_to_a_named_agent_falls_back_to_the_queue() -> None:
    router = router_with(["ann", "bob", "cy"])
    enqueue(router, "v1", T0 + S)
    router.handle(Accept("ann", "v1"), T0 + 2 * S)
    events = router.handle(Transfer("ann", "v1", to_agent="cy", note="fixed rates"), T0 + 3 * S)
    assert offers(events) == [("v1", "cy")]
    assert router.visit("v1").note == "fixed rates"
    events = router.handle(Decline("cy", "v1"), T0 + 4 * S)
    assert offers(events) == [("v1", "bob")]  # ann passed it on; cy declined


def test_transfer_to_another_queue_and_rules_of_who_may() -> None:
    router = router_with(["ann", "bob"])
    router.handle(PutQueue(Queue("loans", agents=frozenset({"bob"}))), T0)
    enqueue(router, "v1", T0 + S)
    with pytest.raises(IllegalState):
        router.handle(Transfer("ann", "v1", to_queue="loans"), T0 + S)  # not accepted yet
    router.handle(Accept("ann", "v1"), T0 + 2 * S)
    with pytest.raises(PermissionDenied):
        router.handle(Transfer("bob", "v1", to_queue="loans"), T0 + 3 * S)
    with pytest.raises(IllegalState):
        router.handle(DeleteQueue("advice"), T0 + 3 * S)
    events = router.handle(Transfer("ann", "v1", to_queue="loans"), T0 + 3 * S)
    assert offers(events) == [("v1", "bob")]
    assert router.visit("v1").queue == "loans" and router.visit("v1").transfers == 1


def test_abandon_cancels_the_offer_and_frees_the_agent() -> None:
    router = router_with(["ann"])
    enqueue(router, "v1", T0 + S)
    enqueue(router, "v2", T0 + S)
    events = router.handle(Abandon("v1"), T0 + 2 * S)
    assert isinstance(events[0], ev.VisitAbandoned) and events[0].agent == "ann"
    assert offers(events) == [("v2", "ann")]
    router.handle(Accept("ann", "v2"), T0 + 3 * S)
    with pytest.raises(IllegalState):
        router.handle(Abandon("v2"), T0 + 4 * S)


def test_the_board_shows_waiting_longest_wait_and_agents() -> None:
    router = router_with(["ann"])
    enqueue(router, "v1", T0 + S)
    enqueue(router, "v2", T0 + 2 * S)
    router.handle(Accept("ann", "v1"), T0 + 3 * S)
    board = router.board("advice", T0 + 10 * S)
    assert (board.waiting, board.offered, board.longest_wait) == (1, 0, 8 * S)
    assert board.service_level == 1.0
    assert [(a.agent_id, a.state, a.visits) for a in board.agents] == [
        ("ann", AgentState.BUSY, ("v1",))
    ]


def test_a_refused_command_changes_nothing() -> None:
    router = router_with(["ann"])
    enqueue(router, "v1", T0 + S)
    before = (router.visits(), router.agents())
    for command in (
        Complete("ann", "v1"),
        Transfer("ann", "v1", to_queue="x"),
        Accept("bob", "v1"),
    ):
        with pytest.raises(Exception):
            router.handle(command, T0 + 2 * S)
    assert (router.visits(), router.agents()) == before
