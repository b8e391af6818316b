"""Random command sequences against the router, checking its invariants after each step.

* a visit is never offered to two agents at once (and an agent holds one offer);
* no agent goes over its capacity;
* first come, first served within a queue: an offer never skips an older
  waiting visit of the same line that the agent could take;
* an offer that times out goes back to the head (it keeps its rank);
* away and offline agents get nothing; a closed queue takes nothing;
* nothing is left waiting that a free agent could take (work conserving);
* ``Router.restore`` of the stored views equals the live router.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from frontdesk.domain.helpdesk import (
    Abandon,
    Accept,
    AgentPresence,
    AgentProfile,
    Capacity,
    Complete,
    Decline,
    Enqueue,
    Medium,
    OpeningHours,
    PutAgent,
    PutQueue,
    Queue,
    Router,
    RouterCommand,
    RouterLimits,
    SetPresence,
    Tick,
    Transfer,
    VisitState,
    VisitView,
)
from frontdesk.domain.helpdesk import events as ev
from frontdesk.errors import FrontdeskError, QueueClosed

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
HOURS = OpeningHours.from_dict(
    "UTC", {d: [("10:00", "10:04"), ("10:06", "10:10"), ("10:12", "24:00")] for d in ("mon", "tue")}
)
AGENTS = {
    "a1": AgentProfile("a1", Capacity(1, 0), languages=frozenset({"en"})),
    "a2": AgentProfile("a2", Capacity(0, 2)),
    "a3": AgentProfile("a3", Capacity(1, 3), languages=frozenset({"fr"})),
    "a4": AgentProfile("a4", Capacity(1, 1)),
}
QUEUES = {
    "a": Queue("a", hours=HOURS, agents=frozenset({"a1", "a2", "a3"})),
    "b": Queue("b", agents=frozenset({"a3", "a4"})),
}
LIMITS = RouterLimits(offer_timeout=timedelta(seconds=10), pass_cooldown=timedelta(seconds=15))
steps = st.integers(0, 12)
_BACK_IN_LINE = (
    ev.VisitQueued,
    ev.OfferDeclined,
    ev.OfferExpired,
    ev.OfferRevoked,
    ev.VisitTransferred,
)
agents = st.sampled_from(sorted(AGENTS))


class RouterMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.router = Router(LIMITS)
        self.now = T0
        self.counter = 0
        self.known: list[str] = []
        self.queued: dict[str, VisitView] = {}  # as the events told, to check FCFS
        self.ranks: dict[str, int] = {}
        for queue in QUEUES.values():
            self.router.handle(PutQueue(queue), T0)
        for profile in AGENTS.values():
            self.router.handle(PutAgent(profile), T0)

    # --- driving ----------------------------------------------------------------
    def run(self, command: RouterCommand, dt: int) -> list[ev.RouterEvent] | None:
        self.now += timedelta(seconds=dt)
        before = self.picture()
        try:
            events = self.router.handle(command, self.now)
        except FrontdeskError:
            assert self.picture() == before, "a refused command changed the router"
            self.now -= timedelta(seconds=dt)  # the router never saw that time
            return None
        self.follow(events)
        return events

    def picture(self) -> object:
        return (sorted(self.router.visits(), key=lambda v: v.visit_id), self.router.agents())

    def follow(self, events: list[ev.RouterEvent]) -> None:
        for event in events:
            if isinstance(event, ev.VisitOffered):
                self.check_first_come(event)
                self.queued.pop(event.visit.visit_id, None)
            elif isinstance(event, _BACK_IN_LINE):
                self.queued[event.visit.visit_id] = event.visit
            elif isinstance(event, (ev.VisitAbandoned, ev.VisitAccepted, ev.VisitCompleted)):
                self.queued.pop(event.visit.visit_id, None)
            if isinstance(event, ev.OfferExpired):
                assert event.visit.rank == self.ranks[event.visit.visit_id], "not back at the head"
                assert event.visit.state is VisitState.QUEUED
            if isinstance(event, ev.VisitQueued):
                self.ranks[event.visit.visit_id] = event.visit.rank

    def check_first_come(self, offer: ev.VisitOffered) -> None:
        v, agent = offer.visit, offer.agent
        profile = self.router.agent(agent).profile
        for w in self.queued.values():
            if w.visit_id == v.visit_id or w.rank > v.rank or w.medium is not v.medium:
                continue
            if (w.target_agent, w.queue) != (v.target_agent, v.queue) and w.target_agent != agent:
                continue
            if w.target_agent is not None and w.target_agent != agent:
                continue
            until = dict(w.passed).get(agent)
            if until is not None and until > self.now:
                continue
            if profile.skilled_for(w.topic, w.language):
                raise AssertionError(f"{v.visit_id} offered to {agent} before older {w.visit_id}")

    # --- rules ------------------------------------------------------------------
    @rule(
        queue=st.sampled_from(["a", "b"]),
        medium=st.sampled_from(list(Medium)),
        language=st.sampled_from([None, "en", "fr"]),
        dt=steps,
    )
    def enqueue(self, queue: str, medium: Medium, language: str | None, dt: int) -> None:
        self.counter += 1
        visit_id = f"v{self.counter}"
        closed = not QUEUES[queue].is_open(self.now + timedelta(seconds=dt))
        try:
            self.now += timedelta(seconds=dt)
            events = self.router.handle(
                Enqueue(visit_id, queue, "Ann", medium, language=language), self.now
            )
        except QueueClosed:
            assert closed
            self.now -= timedelta(seconds=dt)
            return
        assert not closed, "a closed queue took a visit"
        self.known.append(visit_id)
        self.follow(events)

    @rule(agent=agents, presence=st.sampled_from(list(AgentPresence)), dt=steps)
    def presence(self, agent: str, presence: AgentPresence, dt: int) -> None:
        self.run(SetPresence(agent, presence), dt)

    @rule(agent=agents, accept=st.booleans(), dt=steps)
    def answer(self, agent: str, accept: bool, dt: int) -> None:
        offer = self.router.offer_of(agent)
        visit_id = offer.visit_id if offer else (self.known[-1] if self.known else "v0")
        self.run(Accept(agent, visit_id) if accept else Decline(agent, visit_id), dt)

    @rule(
        agent=agents,
        to_queue=st.sampled_from([None, "a", "b"]),
        to_agent=st.sampled_from([None, *AGENTS]),
        dt=steps,
    )
    def transfer(self, agent: str, to_queue: str | None, to_agent: str | None, dt: int) -> None:
        serving = self.router.serving(agent)
        if serving:
            self.run(Transfer(agent, serving[0].visit_id, to_queue, to_agent, "note"), dt)

    @rule(agent=agents, dt=steps)
    def complete(self, agent: str, dt: int) -> None:
        serving = self.router.serving(agent)
        if serving:
            self.run(Complete(agent, serving[0].visit_id), dt)

    @rule(index=st.integers(0, 50), dt=steps)
    def abandon(self, index: int, dt: int) -> None:
        if self.known:
            self.run(Abandon(self.known[index % len(self.known)]), dt)

    @rule(dt=st.integers(0, 30))
    def tick(self, dt: int) -> None:
        self.run(Tick(), dt)

    @rule(queue=st.sampled_from(["a", "b"]), members=st.sets(agents, max_size=4))
    def members(self, queue: str, members: set[str]) -> None:
        q = self.router.queue(queue)
        self.run(PutQueue(Queue(q.name, hours=q.hours, agents=frozenset(members))), 0)

    # --- invariants -------------------------------------------------------------
    def load(self) -> dict[str, list[VisitView]]:
        held: dict[str, list[VisitView]] = {a: [] for a in AGENTS}
        for v in self.router.visits():
            if v.state in (VisitState.OFFERED, VisitState.ACCEPTED):
                assert v.agent is not None
                held[v.agent].append(v)
        return held

    @invariant()
    def one_offer_per_visit_and_per_agent(self) -> None:
        offered = [v for v in self.router.visits() if v.state is VisitState.OFFERED]
        holders = [v.agent for v in offered]
        assert len(holders) == len(set(holders)), "an agent holds two offers"
        for v in offered:
            offer = self.router.offer_of(v.agent or "")
            assert offer is not None and offer.visit_id == v.visit_id

    @invariant()
    def nobody_over_capacity(self) -> None:
        for agent, visits in self.load().items():
            capacity = self.router.agent(agent).profile.capacity
            videos = sum(1 for v in visits if v.medium is Medium.VIDEO)
            chats = len(visits) - videos
            assert videos <= capacity.video and chats <= capacity.chats
            assert not (videos and chats)

    @invariant()
    def away_and_offline_hold_no_offer(self) -> None:
        for a in self.router.agents():
            if a.presence is not AgentPresence.AVAILABLE:
                assert self.router.offer_of(a.agent_id) is None

    @invariant()
    def lines_are_in_rank_order(self) -> None:
        for queue in QUEUES:
            ranks = [self.router.visit(v).rank for v in self.router.waiting(queue)]
            assert ranks == sorted(ranks)

    @invariant()
    def nothing_waits_that_a_free_agent_could_take(self) -> None:
        held = self.load()
        for a in self.router.agents():
            if a.presence is not AgentPresence.AVAILABLE or self.router.offer_of(a.agent_id):
                continue
            videos = sum(1 for v in held[a.agent_id] if v.medium is Medium.VIDEO)
            chats = len(held[a.agent_id]) - videos
            for v in self.router.visits():
                if v.state is not VisitState.QUEUED:
                    continue
                if v.target_agent is not None and v.target_agent != a.agent_id:
                    continue
                if v.target_agent is None and a.agent_id not in self.router.queue(v.queue).agents:
                    continue
                until = dict(v.passed).get(a.agent_id)
                if until is not None and until > self.now:
                    continue
                if a.profile.capacity.fits(v.medium, videos, chats) and a.profile.skilled_for(
                    v.topic, v.language
                ):
                    raise AssertionError(f"{v.visit_id} waits while {a.agent_id} is free")

    @invariant()
    def restore_equals_live(self) -> None:
        r = self.router
        handled = {q.name: r.handle_times(q.name) for q in r.queues()}
        outcomes = {q.name: r.outcomes(q.name) for q in r.queues()}
        copy = Router.restore(r.queues(), r.agents(), r.visits(), handled, outcomes, LIMITS)
        key = lambda v: v.visit_id  # noqa: E731
        assert sorted(copy.visits(), key=key) == sorted(r.visits(), key=key)
        assert copy.agents() == r.agents()
        assert copy.next_deadline() == r.next_deadline()
        for queue in QUEUES:
            assert copy.waiting(queue) == r.waiting(queue)
            assert copy.board(queue, self.now) == r.board(queue, self.now)
        for a in AGENTS:
            assert copy.offer_of(a) == r.offer_of(a)
            assert copy.serving(a) == r.serving(a)
        for v in r.visits():
            assert copy.position(v.visit_id) == r.position(v.visit_id)
            assert copy.estimate(v.visit_id) == r.estimate(v.visit_id)


RouterMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRouterMachine = RouterMachine.TestCase
