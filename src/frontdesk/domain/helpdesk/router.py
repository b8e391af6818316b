"""The helpdesk router as a sans-I/O state machine: ``handle(command, now) -> events``.

Every rule of routing is decided here, once:

* a visit waits in its queue, first come, first served (``rank``; a visit that
  goes back after a decline, a missed offer or a revoked offer keeps its rank,
  so it is back at the head);
* it is offered to one agent at a time: the longest-idle available agent of
  the queue, with free capacity for the visit's medium and the skills for its
  topic and language, who holds no other offer and has not passed on this
  visit in the last ``pass_cooldown``;
* an agent who misses ``max_missed_offers`` offers in a row is set away;
* away and offline agents get nothing; a closed queue takes nothing.

``handle`` first checks the command and raises a :mod:`frontdesk.errors`
error without touching the state; then it brings time up to ``now`` (expired
offers go back, cooldowns end) and applies the command. After every call no
waiting visit is left that a free agent could take (the router is work
conserving), which is why a freed agent or a new visit only needs to be
matched on its own.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from frontdesk.domain.helpdesk import events as ev
from frontdesk.domain.helpdesk.commands import (
    Abandon,
    Accept,
    Complete,
    Decline,
    DeleteQueue,
    Enqueue,
    PutAgent,
    PutQueue,
    RouterCommand,
    SetPresence,
    Tick,
    Transfer,
)
from frontdesk.domain.helpdesk.model import (
    MAX_CONTEXT,
    MAX_NOTE,
    AgentPresence,
    AgentProfile,
    AgentState,
    AgentView,
    Medium,
    Queue,
    RouterLimits,
    VisitState,
    VisitView,
    check_agent_id,
    check_text,
)
from frontdesk.domain.helpdesk.records import AgentRecord, QueueRecord, VisitRecord, WaitingLine
from frontdesk.domain.names import check_display_name
from frontdesk.errors import (
    AlreadyExists,
    IllegalState,
    NotFound,
    PermissionDenied,
    QueueClosed,
    QueueFull,
    QueueNotFound,
    ValidationFailed,
    VisitNotFound,
)

__all__ = ["AgentBoard", "QueueBoard", "Router"]

_MAX_VISIT_ID = 64


@dataclass(frozen=True, slots=True)
class AgentBoard:
    agent_id: str
    state: AgentState
    visits: tuple[str, ...]  # served
    offer: str | None


@dataclass(frozen=True, slots=True)
class QueueBoard:
    """A supervisor's live view of one queue."""

    queue: str
    open: bool
    waiting: int
    offered: int
    longest_wait: timedelta | None
    service_level: float | None  # share of recent visits answered within target
    handle_time: timedelta | None
    agents: tuple[AgentBoard, ...]


class _Batch:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.events: list[ev.RouterEvent] = []
        #: Agents changed by this call, with their state and view before (or as
        #: last reported): each whose picture differs at the end is reported.
        self.touched: dict[str, tuple[AgentState, AgentView]] = {}

    def touch(self, agent: AgentRecord) -> None:
        if agent.agent_id not in self.touched:
            self.touched[agent.agent_id] = (agent.state, agent.view())

    def agent_changed(self, agent: AgentRecord, reason: str) -> None:
        view = agent.view()
        self.events.append(ev.AgentChanged(view, agent.state, reason))
        self.touched[agent.agent_id] = (agent.state, view)


class Router:
    """All queues of one helpdesk. Not thread-safe: one task owns it."""

    def __init__(self, limits: RouterLimits = RouterLimits()) -> None:
        self.limits = limits
        self._queues: dict[str, QueueRecord] = {}
        self._agents: dict[str, AgentRecord] = {}
        self._visits: dict[str, VisitRecord] = {}  # open visits only
        self._offers: list[tuple[datetime, str, str]] = []  # (deadline, visit, agent), lazy
        self._cooldowns: list[tuple[datetime, str, str]] = []  # (until, visit, agent), lazy
        self._next_rank = 1
        self._checks: dict[type[Any], Callable[[Any, datetime], None]] = {
            PutQueue: self._check_put_queue,
            DeleteQueue: self._check_delete_queue,
            PutAgent: lambda c, now: None,
            SetPresence: self._check_set_presence,
            Enqueue: self._check_enqueue,
            Accept: self._check_accept,
            Decline: self._check_decline,
            Transfer: self._check_transfer,
            Complete: self._check_complete,
            Abandon: self._check_abandon,
            Tick: lambda c, now: None,
        }
        self._doers: dict[type[Any], Callable[[Any, _Batch], None]] = {
            PutQueue: self._put_queue,
            DeleteQueue: self._delete_queue,
            PutAgent: self._put_agent,
            SetPresence: self._set_presence,
            Enqueue: self._enqueue,
            Accept: self._accept,
            Decline: self._decline,
            Transfer: self._transfer,
            Complete: self._complete,
            Abandon: self._abandon,
            Tick: lambda c, b: None,
        }

    # --- restore ---------------------------------------------------------------
    @classmethod
    def restore(
        cls,
        queues: Iterable[Queue],
        agents: Iterable[AgentView],
        visits: Iterable[VisitView],
        handled: Mapping[str, Iterable[float]] | None = None,
        outcomes: Mapping[str, Iterable[bool]] | None = None,
        limits: RouterLimits = RouterLimits(),
    ) -> Router:
        """Rebuild from stored state: queues, agents, open visits, and each
        queue's recent handling times (seconds, oldest first) for the estimate
        and recent outcomes (answered within the service level or not).
        No decision is taken here: the host sends a :class:`Tick` next."""
        router = cls(limits)
        for queue in queues:
            history = router._queues[queue.name] = QueueRecord(queue)
            history.handled.extend((handled or {}).get(queue.name, ()))
            history.outcomes.extend((outcomes or {}).get(queue.name, ()))
        for a in agents:
            router._agents[a.agent_id] = AgentRecord(
                a.profile, a.presence, a.idle_since, a.missed_offers
            )
        for q in router._queues.values():
            for agent_id in q.queue.agents:
                if agent_id in router._agents:
                    router._agents[agent_id].queues.add(q.queue.name)
        for v in visits:
            if not v.state.open:
                continue
            record = VisitRecord.of(v)
            router._visits[v.visit_id] = record
            router._next_rank = max(router._next_rank, v.rank + 1)
            agent = router._agents.get(v.agent) if v.agent else None
            if v.state is VisitState.QUEUED:
                router._line(record).add(record.rank, record.visit_id)
            elif agent is not None:
                agent.load(v.medium, 1)
                if v.state is VisitState.OFFERED and v.offer_deadline is not None:
                    agent.offer = v.visit_id
                    heapq.heappush(router._offers, (v.offer_deadline, v.visit_id, agent.agent_id))
                else:
                    agent.serving.add(v.visit_id)
            for agent_id, until in v.passed:
                heapq.heappush(router._cooldowns, (until, v.visit_id, agent_id))
        return router

    # --- reading ---------------------------------------------------------------
    def queues(self) -> list[Queue]:
        return [q.queue for q in self._queues.values()]

    def queue(self, name: str) -> Queue:
        return self._queue(name).queue

    def agents(self) -> list[AgentView]:
        return [a.view() for a in self._agents.values()]

    def agent(self, agent_id: str) -> AgentView:
        return self._agent(agent_id).view()

    def agent_state(self, agent_id: str) -> AgentState:
        return self._agent(agent_id).state

    def has_agent(self, agent_id: str) -> bool:
        return agent_id in self._agents

    def offer_of(self, agent_id: str) -> VisitView | None:
        agent = self._agents.get(agent_id)
        if agent is None or agent.offer is None:
            return None
        return self._visits[agent.offer].view()

    def serving(self, agent_id: str) -> list[VisitView]:
        agent = self._agents.get(agent_id)
        return [] if agent is None else [self._visits[v].view() for v in sorted(agent.serving)]

    def visits(self) -> list[VisitView]:
        """The open visits (queued, offered, accepted)."""
        return [v.view() for v in self._visits.values()]

    def visit(self, visit_id: str) -> VisitView:
        return self._visit(visit_id).view()

    def waiting(self, queue: str) -> list[str]:
        """Visit ids waiting in ``queue`` (not for a named agent), head first."""
        return self._queue(queue).waiting.ids()

    def position(self, visit_id: str) -> int | None:
        """1-based place of a waiting visit in its line (``None`` when not waiting)."""
        v = self._visits.get(visit_id)
        if v is None or v.state is not VisitState.QUEUED:
            return None
        return self._line(v).position(v.rank, v.visit_id)

    def estimate(self, visit_id: str) -> timedelta | None:
        """About how long a waiting visit still waits; ``None`` when unknown
        (no recent handling time, or nobody serving the queue)."""
        position = self.position(visit_id)
        if position is None:
            return None
        return self._estimate(self._visits[visit_id].queue, position)

    def handle_times(self, queue: str) -> list[float]:
        return list(self._queue(queue).handled)

    def outcomes(self, queue: str) -> list[bool]:
        return list(self._queue(queue).outcomes)

    def next_deadline(self) -> datetime | None:
        """When the host must send a :class:`Tick` at the latest."""
        self._prune()
        times = [h[0][0] for h in (self._offers, self._cooldowns) if h]
        return min(times) if times else None

    def board(self, queue: str, now: datetime) -> QueueBoard:
        q = self._queue(queue)
        open_visits = [v for v in self._visits.values() if v.queue == queue]
        waiting = [v for v in open_visits if v.state is VisitState.QUEUED]
        offered = sum(1 for v in open_visits if v.state is VisitState.OFFERED)
        pending = [v for v in open_visits if v.state in (VisitState.QUEUED, VisitState.OFFERED)]
        longest = max((now - v.queued_at for v in pending), default=None)
        level = sum(q.outcomes) / len(q.outcomes) if q.outcomes else None
        agents = tuple(
            AgentBoard(
                a,
                self._agents[a].state,
                tuple(sorted(self._agents[a].serving)),
                self._agents[a].offer,
            )
            for a in sorted(q.queue.agents)
            if a in self._agents
        )
        return QueueBoard(
            queue,
            q.queue.is_open(now),
            len(waiting),
            offered,
            longest,
            level,
            q.handle_time(),
            agents,
        )

    # --- handling --------------------------------------------------------------
    def check(self, command: RouterCommand, now: datetime) -> None:
        """Raise what :meth:`handle` would refuse ``command`` with; change nothing."""
        self._checks[type(command)](command, now)

    def handle(self, command: RouterCommand, now: datetime) -> list[ev.RouterEvent]:
        """Check, then bring time to ``now``, then apply. A refused command raises
        and changes nothing."""
        self._checks[type(command)](command, now)
        batch = _Batch(now)
        self._advance(batch)
        self._doers[type(command)](command, batch)
        for agent_id, before in list(batch.touched.items()):
            agent = self._agents.get(agent_id)
            if agent is not None and (agent.state, agent.view()) != before:
                batch.agent_changed(agent, "load")
        return batch.events

    # --- checks (no change) ----------------------------------------------------
    def _check_put_queue(self, c: PutQueue, now: datetime) -> None:
        if not isinstance(c.queue, Queue):
            raise ValidationFailed("not a queue")

    def _check_delete_queue(self, c: DeleteQueue, now: datetime) -> None:
        self._queue(c.name)
        if any(v.queue == c.name for v in self._visits.values()):
            raise IllegalState(f"queue {c.name!r} still has open visits")

    def _check_set_presence(self, c: SetPresence, now: datetime) -> None:
        self._agent(c.agent)
        AgentPresence(c.presence)

    def _check_enqueue(self, c: Enqueue, now: datetime) -> None:
        if not isinstance(c.visit_id, str) or not 0 < len(c.visit_id) <= _MAX_VISIT_ID:
            raise ValidationFailed("bad visit id")
        if c.visit_id in self._visits:
            raise AlreadyExists(f"visit {c.visit_id!r} exists")
        q = self._queue(c.queue)
        if not isinstance(c.medium, Medium):
            raise ValidationFailed("medium is chat or video")
        check_display_name(c.display_name)
        check_text(c.context, "context", MAX_CONTEXT)
        if c.topic is not None and q.queue.topics and c.topic not in q.queue.topics:
            raise ValidationFailed(f"queue {c.queue!r} does not serve that topic")
        if c.language is not None and q.queue.languages and c.language not in q.queue.languages:
            raise ValidationFailed(f"queue {c.queue!r} does not serve that language")
        self._check_open(q, now)
        if len(q.waiting) >= self.limits.max_waiting_per_queue:
            raise QueueFull("the queue is full", estimated_wait_s=None)
        if q.queue.max_wait is not None:
            estimate = self._estimate(c.queue, len(q.waiting) + 1)
            if estimate is not None and estimate > q.queue.max_wait:
                raise QueueFull(
                    "the wait would be longer than the queue's maximum",
                    estimated_wait_s=math.ceil(estimate.total_seconds()),
                )

    def _check_open(self, q: QueueRecord, now: datetime) -> None:
        if not q.queue.is_open(now):
            opening = q.queue.next_opening(now)
            raise QueueClosed(
                f"queue {q.queue.name!r} is closed",
                next_opening=opening.isoformat() if opening else None,
            )

    def _check_offer(self, agent_id: str, visit_id: str, now: datetime) -> None:
        v = self._visit(visit_id)
        if v.state is not VisitState.OFFERED or v.agent != agent_id:
            raise IllegalState("this visit is not offered to you")
        if v.offer_deadline is not None and now >= v.offer_deadline:
            raise IllegalState("the offer has expired")

    def _check_accept(self, c: Accept, now: datetime) -> None:
        self._check_offer(c.agent, c.visit_id, now)

    def _check_decline(self, c: Decline, now: datetime) -> None:
        self._check_offer(c.agent, c.visit_id, now)

    def _check_served_by(self, agent: str | None, visit_id: str) -> VisitRecord:
        v = self._visit(visit_id)
        if v.state is not VisitState.ACCEPTED:
            raise IllegalState("the visit is not being served")
        if agent is not None and v.agent != agent:
            raise PermissionDenied("another agent serves this visit")
        return v

    def _check_transfer(self, c: Transfer, now: datetime) -> None:
        self._check_served_by(c.agent, c.visit_id)
        if c.to_queue is None and c.to_agent is None:
            raise ValidationFailed("a transfer names a queue, an agent, or both")
        check_text(c.note, "note", MAX_NOTE)
        if c.to_queue is not None:
            self._check_open(self._queue(c.to_queue), now)
        if c.to_agent is not None:
            target = self._agents.get(check_agent_id(c.to_agent))
            if target is None:
                raise NotFound(f"no agent {c.to_agent!r}")
            if c.to_agent == c.agent:
                raise ValidationFailed("a transfer goes to someone else")
            if target.presence is AgentPresence.OFFLINE:
                raise IllegalState(f"agent {c.to_agent!r} is offline")

    def _check_complete(self, c: Complete, now: datetime) -> None:
        self._check_served_by(c.agent, c.visit_id)

    def _check_abandon(self, c: Abandon, now: datetime) -> None:
        v = self._visit(c.visit_id)
        if v.state is VisitState.ACCEPTED:
            raise IllegalState("an agent serves this visit: complete it")
        check_text(c.reason, "reason", 64)

    # --- doing -----------------------------------------------------------------
    def _put_queue(self, c: PutQueue, b: _Batch) -> None:
        name = c.queue.name
        old = self._queues.get(name)
        before = old.queue.agents if old else frozenset[str]()
        record = old or QueueRecord(c.queue)
        record.queue = c.queue
        self._queues[name] = record
        b.events.append(ev.QueueUpdated(c.queue))
        for agent_id in sorted(before - c.queue.agents):
            agent = self._agents.get(agent_id)
            if agent is None:
                continue
            agent.queues.discard(name)
            if agent.offer is not None:
                v = self._visits[agent.offer]
                if v.queue == name and v.target_agent is None:
                    self._take_back(v, agent, b, "left_queue")
                    self._match_visit(v, b)
                    self._match_agent(agent, b)
        for agent_id in sorted(c.queue.agents):
            agent = self._agents.get(agent_id)
            if agent is None:
                agent = AgentRecord(AgentProfile(agent_id), AgentPresence.OFFLINE, b.now)
                self._agents[agent_id] = agent
                b.agent_changed(agent, "created")
            agent.queues.add(name)
        for agent_id in sorted(c.queue.agents - before):
            self._match_agent(self._agents[agent_id], b)

    def _delete_queue(self, c: DeleteQueue, b: _Batch) -> None:
        q = self._queues.pop(c.name)
        for agent_id in q.queue.agents:
            if agent_id in self._agents:
                self._agents[agent_id].queues.discard(c.name)
        b.events.append(ev.QueueDeleted(c.name))

    def _put_agent(self, c: PutAgent, b: _Batch) -> None:
        agent = self._agents.get(c.profile.agent_id)
        if agent is None:
            agent = AgentRecord(c.profile, AgentPresence.OFFLINE, b.now)
            self._agents[c.profile.agent_id] = agent
            agent.queues.update(
                n for n, q in self._queues.items() if c.profile.agent_id in q.queue.agents
            )
        else:
            agent.profile = c.profile
        b.agent_changed(agent, "profile")
        self._match_agent(agent, b)

    def _set_presence(self, c: SetPresence, b: _Batch) -> None:
        agent = self._agents[c.agent]
        presence = AgentPresence(c.presence)
        if agent.presence is presence:
            return
        b.touch(agent)
        agent.presence = presence
        if presence is AgentPresence.AVAILABLE:
            agent.idle_since = b.now
            agent.missed = 0
        elif agent.offer is not None:
            v = self._visits[agent.offer]
            self._take_back(v, agent, b, presence.value)
            self._match_visit(v, b)
        b.agent_changed(agent, "presence")
        self._match_agent(agent, b)

    def _enqueue(self, c: Enqueue, b: _Batch) -> None:
        v = VisitRecord(
            visit_id=c.visit_id,
            queue=c.queue,
            display_name=check_display_name(c.display_name),
            medium=c.medium,
            state=VisitState.QUEUED,
            rank=self._next_rank,
            created_at=b.now,
            queued_at=b.now,
            topic=c.topic,
            language=c.language,
            context=check_text(c.context, "context", MAX_CONTEXT),
        )
        self._next_rank += 1
        self._visits[v.visit_id] = v
        q = self._queues[c.queue]
        q.waiting.add(v.rank, v.visit_id)
        position = len(q.waiting)
        b.events.append(ev.VisitQueued(v.view(), position, self._estimate(c.queue, position)))
        self._match_visit(v, b)

    def _accept(self, c: Accept, b: _Batch) -> None:
        v = self._visits[c.visit_id]
        agent = self._agents[c.agent]
        b.touch(agent)
        agent.offer = None
        agent.missed = 0
        agent.serving.add(v.visit_id)
        agent.idle_since = b.now
        v.state = VisitState.ACCEPTED
        v.offer_deadline = None
        v.target_agent = None
        v.accepted_at = b.now
        waited = b.now - v.queued_at
        q = self._queues.get(v.queue)
        if q is not None:
            q.outcomes.append(waited <= q.queue.service_level)
        b.events.append(ev.VisitAccepted(v.view(), agent.agent_id, waited))
        self._match_agent(agent, b)

    def _decline(self, c: Decline, b: _Batch) -> None:
        v = self._visits[c.visit_id]
        agent = self._agents[c.agent]
        self._take_back(v, agent, b, None)
        self._pass(v, agent.agent_id, b)
        b.events.append(ev.OfferDeclined(v.view(), agent.agent_id))
        self._match_visit(v, b)
        self._match_agent(agent, b)

    def _transfer(self, c: Transfer, b: _Batch) -> None:
        v = self._visits[c.visit_id]
        agent = self._agents[c.agent]
        self._release(v, agent, b)
        v.state = VisitState.QUEUED
        v.agent = None
        v.accepted_at = None
        v.queue = c.to_queue or v.queue
        v.target_agent = c.to_agent
        v.note = check_text(c.note, "note", MAX_NOTE)
        v.transfers += 1
        v.queued_at = b.now
        v.passed.clear()
        self._pass(v, agent.agent_id, b)
        self._line(v).add(v.rank, v.visit_id)
        b.events.append(ev.VisitTransferred(v.view(), agent.agent_id, v.queue, c.to_agent, v.note))
        self._match_visit(v, b)
        self._match_agent(agent, b)

    def _complete(self, c: Complete, b: _Batch) -> None:
        v = self._visits.pop(c.visit_id)
        agent = self._agents.get(v.agent or "")
        handled = b.now - (v.accepted_at or b.now)
        q = self._queues.get(v.queue)
        if q is not None:
            q.handled.append(handled.total_seconds())
        if agent is not None:
            self._release(v, agent, b)
        v.state = VisitState.COMPLETED
        v.ended_at = b.now
        b.events.append(ev.VisitCompleted(v.view(), v.agent, handled))
        if agent is not None:
            self._match_agent(agent, b)

    def _abandon(self, c: Abandon, b: _Batch) -> None:
        v = self._visits.pop(c.visit_id)
        agent = self._agents.get(v.agent or "") if v.state is VisitState.OFFERED else None
        if agent is not None:
            b.touch(agent)
            agent.offer = None
            agent.load(v.medium, -1)
        else:
            self._line(v).remove(v.rank, v.visit_id)
        held_by = v.agent
        v.state = VisitState.ABANDONED
        v.agent = None
        v.offer_deadline = None
        v.ended_at = b.now
        q = self._queues.get(v.queue)
        if q is not None and b.now - v.queued_at > q.queue.service_level:
            q.outcomes.append(False)
        b.events.append(ev.VisitAbandoned(v.view(), c.reason, held_by))
        if agent is not None:
            self._match_agent(agent, b)

    # --- time ------------------------------------------------------------------
    def _advance(self, b: _Batch) -> None:
        """Expire offers and end cooldowns due by ``b.now``, then offer again."""
        returned: list[VisitRecord] = []
        missed: list[AgentRecord] = []
        while self._offers and self._offers[0][0] <= b.now:
            deadline, visit_id, agent_id = heapq.heappop(self._offers)
            v = self._visits.get(visit_id)
            if v is None or v.state is not VisitState.OFFERED or v.agent != agent_id:
                continue
            if v.offer_deadline != deadline:
                continue
            agent = self._agents[agent_id]
            self._take_back(v, agent, b, None)
            self._pass(v, agent_id, b)
            b.events.append(ev.OfferExpired(v.view(), agent_id))
            agent.missed += 1
            if (
                agent.missed >= self.limits.max_missed_offers
                and agent.presence is AgentPresence.AVAILABLE
            ):
                agent.presence = AgentPresence.AWAY
                b.agent_changed(agent, "missed_offers")
            returned.append(v)
            missed.append(agent)
        while self._cooldowns and self._cooldowns[0][0] <= b.now:
            until, visit_id, agent_id = heapq.heappop(self._cooldowns)
            v = self._visits.get(visit_id)
            if v is None or v.passed.get(agent_id) != until:
                continue
            del v.passed[agent_id]
            if v.state is VisitState.QUEUED:
                returned.append(v)
        if returned or missed:
            queues = {v.queue for v in returned}
            for agent in missed:
                queues.update(agent.queues)
            self._rematch(queues, b)

    def _prune(self) -> None:
        while self._offers:
            deadline, visit_id, agent_id = self._offers[0]
            v = self._visits.get(visit_id)
            if (
                v is not None
                and v.state is VisitState.OFFERED
                and v.agent == agent_id
                and v.offer_deadline == deadline
            ):
                break
            heapq.heappop(self._offers)
        while self._cooldowns:
            until, visit_id, agent_id = self._cooldowns[0]
            v = self._visits.get(visit_id)
            if v is not None and v.passed.get(agent_id) == until:
                break
            heapq.heappop(self._cooldowns)

    # --- matching --------------------------------------------------------------
    def _eligible(self, agent: AgentRecord, v: VisitRecord, now: datetime) -> bool:
        if agent.presence is not AgentPresence.AVAILABLE or agent.offer is not None:
            return False
        if v.target_agent is not None:
            if v.target_agent != agent.agent_id:
                return False
        elif v.queue not in agent.queues:
            return False
        passed = v.passed.get(agent.agent_id)
        if passed is not None and passed > now:
            return False
        return agent.fits(v.medium) and agent.profile.skilled_for(v.topic, v.language)

    def _match_visit(self, v: VisitRecord, b: _Batch) -> None:
        """Offer one waiting visit to the longest-idle agent who can take it."""
        if v.target_agent is not None:
            target = self._agents.get(v.target_agent)
            candidates = [target] if target is not None else []
        else:
            q = self._queues.get(v.queue)
            if q is None:
                return
            candidates = [self._agents[a] for a in q.queue.agents if a in self._agents]
        best: AgentRecord | None = None
        for agent in candidates:
            if self._eligible(agent, v, b.now) and (
                best is None
                or (agent.idle_since, agent.agent_id) < (best.idle_since, best.agent_id)
            ):
                best = agent
        if best is not None:
            self._offer(v, best, b)

    def _rematch(self, queues: set[str], b: _Batch) -> None:
        """Several visits came back and several agents came free at once (time
        passed): offer the waiting visits of ``queues`` (and those meant for a
        free agent) in rank order, each to the longest-idle free agent who can
        take it, so that neither first come first served nor longest idle is
        bent by the order in which they came back."""
        free = [a for a in self._agents.values() if a.free]
        if not free:
            return
        lines: list[tuple[int, str]] = []
        for name in queues:
            q = self._queues.get(name)
            if q is not None:
                lines.extend(q.waiting)
        for agent in free:
            lines.extend(agent.targeted)
        for _rank, visit_id in sorted(lines):
            v = self._visits[visit_id]
            if v.state is not VisitState.QUEUED:
                continue
            best: AgentRecord | None = None
            for agent in free:
                if self._eligible(agent, v, b.now) and (
                    best is None
                    or (agent.idle_since, agent.agent_id) < (best.idle_since, best.agent_id)
                ):
                    best = agent
            if best is not None:
                self._offer(v, best, b)
                free = [a for a in free if a.free]
                if not free:
                    return

    def _match_agent(self, agent: AgentRecord, b: _Batch) -> None:
        """Offer a freed agent the oldest waiting visit it can take (named first)."""
        if not agent.free:
            return
        found: VisitRecord | None = None
        for _rank, visit_id in agent.targeted:
            v = self._visits[visit_id]
            if self._eligible(agent, v, b.now):
                found = v
                break
        for name in sorted(agent.queues):
            q = self._queues.get(name)
            if q is None:
                continue
            for rank, visit_id in q.waiting:
                if found is not None and rank >= found.rank:
                    break
                v = self._visits[visit_id]
                if self._eligible(agent, v, b.now):
                    found = v
                    break
        if found is not None:
            self._offer(found, agent, b)

    def _offer(self, v: VisitRecord, agent: AgentRecord, b: _Batch) -> None:
        b.touch(agent)
        self._line(v).remove(v.rank, v.visit_id)
        deadline = b.now + self.limits.offer_timeout
        v.state = VisitState.OFFERED
        v.agent = agent.agent_id
        v.offer_deadline = deadline
        agent.offer = v.visit_id
        agent.load(v.medium, 1)
        heapq.heappush(self._offers, (deadline, v.visit_id, agent.agent_id))
        b.events.append(ev.VisitOffered(v.view(), agent.agent_id, deadline))

    def _take_back(self, v: VisitRecord, agent: AgentRecord, b: _Batch, reason: str | None) -> None:
        """An open offer ends unanswered: the visit goes back with its rank (the
        head). A visit meant for this agent (a transfer) falls back to its queue."""
        b.touch(agent)
        if v.target_agent == agent.agent_id:
            v.target_agent = None
        agent.offer = None
        agent.load(v.medium, -1)
        v.state = VisitState.QUEUED
        v.agent = None
        v.offer_deadline = None
        if reason is not None:
            b.events.append(ev.OfferRevoked(v.view(), agent.agent_id, reason))
        self._line(v).add(v.rank, v.visit_id)

    def _release(self, v: VisitRecord, agent: AgentRecord, b: _Batch) -> None:
        b.touch(agent)
        agent.serving.discard(v.visit_id)
        agent.load(v.medium, -1)
        if not agent.serving and agent.offer is None:
            agent.idle_since = b.now

    def _pass(self, v: VisitRecord, agent_id: str, b: _Batch) -> None:
        until = b.now + self.limits.pass_cooldown
        v.passed[agent_id] = until
        heapq.heappush(self._cooldowns, (until, v.visit_id, agent_id))

    # --- helpers ---------------------------------------------------------------
    def _estimate(self, queue: str, position: int) -> timedelta | None:
        q = self._queues.get(queue)
        if q is None:
            return None
        handle = q.handle_time()
        serving = sum(
            1
            for a in q.queue.agents
            if a in self._agents and self._agents[a].presence is AgentPresence.AVAILABLE
        )
        if handle is None or serving == 0:
            return None
        return handle * position / serving

    def _line(self, v: VisitRecord) -> WaitingLine:
        if v.target_agent is not None and v.target_agent in self._agents:
            return self._agents[v.target_agent].targeted
        return self._queues[v.queue].waiting

    def _queue(self, name: str) -> QueueRecord:
        try:
            return self._queues[name]
        except (KeyError, TypeError):
            raise QueueNotFound(f"no queue {str(name)[:64]!r}") from None

    def _agent(self, agent_id: str) -> AgentRecord:
        try:
            return self._agents[agent_id]
        except (KeyError, TypeError):
            raise NotFound(f"no agent {str(agent_id)[:64]!r}") from None

    def _visit(self, visit_id: str) -> VisitRecord:
        try:
            return self._visits[visit_id]
        except (KeyError, TypeError):
            raise VisitNotFound(f"no open visit {str(visit_id)[:64]!r}") from None
