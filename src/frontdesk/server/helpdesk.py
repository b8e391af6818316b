"""The helpdesk host: runs the router of one node, its timer, its persistence.

:class:`frontdesk.domain.helpdesk.Router` decides; this service only feeds it
commands one at a time (a lock), stores each decision's changes in one
transaction before anyone hears of them, wakes itself for the next offer
deadline, and tells the outside (webhooks, metrics). A decision that could not
be stored is not half-kept: the router is rebuilt from the store.

A visit is a meeting made for it (lobby, created by the calling application)
plus a guest token for the visitor, so the visitor joins exactly as with the
token flow and waits in the lobby; the agent who accepts becomes the
meeting's organizer and joins it from the console.

In a cluster the router runs on the node holding the lease
:data:`~frontdesk.store.helpdesk.HELPDESK_LEASE` (the meetings' lease table and
fencing); every write is fenced by it. Another node answers ``wrong_node``
naming the owner, until the lease expires and it may take it over.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from frontdesk.config import Settings
from frontdesk.domain.helpdesk import (
    Abandon,
    Accept,
    AgentBoard,
    AgentPresence,
    AgentProfile,
    AgentState,
    Complete,
    Decline,
    DeleteQueue,
    Enqueue,
    Medium,
    PutAgent,
    PutQueue,
    Queue,
    QueueBoard,
    Router,
    RouterCommand,
    RouterLimits,
    SetPresence,
    Tick,
    Transfer,
    VisitState,
    VisitView,
    new_visit_id,
)
from frontdesk.domain.helpdesk import events as ev
from frontdesk.domain.helpdesk.model import check_text
from frontdesk.domain.model import App, Meeting, User
from frontdesk.domain.names import check_display_name
from frontdesk.errors import (
    FrontdeskError,
    QueueNotFound,
    Unavailable,
    ValidationFailed,
    VisitNotFound,
    WrongNode,
)
from frontdesk.protocol.messages import encode
from frontdesk.server.guest_tokens import GuestGrant, GuestTokens
from frontdesk.server.meetings import Meetings
from frontdesk.store.base import Fence, LeaseHeld, Store
from frontdesk.store.helpdesk import (
    HELPDESK_LEASE,
    Callback,
    HelpdeskChanges,
    StoredVisit,
    VisitEventRecord,
)

__all__ = ["Helpdesk", "VisitGrant", "VisitStatus"]

log = logging.getLogger(__name__)

#: Router events that become webhooks (name on the wire).
WEBHOOK_EVENTS: dict[type[Any], str] = {
    ev.VisitQueued: "visit.queued",
    ev.VisitOffered: "visit.offered",
    ev.VisitAccepted: "visit.accepted",
    ev.VisitAbandoned: "visit.abandoned",
    ev.VisitTransferred: "visit.transferred",
    ev.VisitCompleted: "visit.completed",
}
_HISTORY = 100
POSITION_REFRESH_S = 15.0
MAX_MESSAGE = 2000
MAX_CONTACT = 200


@dataclass(frozen=True, slots=True)
class VisitGrant:
    """What ``POST /v1/visits`` answers: the join material and the visit."""

    visit: VisitView
    grant: GuestGrant
    join_url: str
    position: int | None
    estimate: timedelta | None


@dataclass(frozen=True, slots=True)
class VisitStatus:
    visit: VisitView
    meeting_id: str
    app_id: str | None
    position: int | None
    estimate: timedelta | None


def router_limits(settings: Settings) -> RouterLimits:
    """The router's limits as this node is configured (offer timeout, missed offers)."""
    return RouterLimits(
        offer_timeout=timedelta(seconds=settings.helpdesk_offer_timeout),
        max_missed_offers=settings.helpdesk_missed_offers,
    )


def _visit_of(event: ev.RouterEvent) -> VisitView | None:
    visit = getattr(event, "visit", None)
    return visit if isinstance(visit, VisitView) else None


def event_data(event: ev.RouterEvent) -> dict[str, Any]:
    """The JSON of a router event for the visit log and the webhooks."""
    data: dict[str, Any] = {}
    visit = _visit_of(event)
    if visit is not None:
        data.update(visit_json(visit))
    for name in ("agent", "reason", "note", "from_agent", "to_queue", "to_agent"):
        value = getattr(event, name, None)
        if isinstance(value, str):
            data[name] = value
    for name in ("waited", "handled"):
        value = getattr(event, name, None)
        if isinstance(value, timedelta):
            data[f"{name}_s"] = round(value.total_seconds(), 3)
    if isinstance(event, ev.VisitOffered):
        data["deadline"] = event.deadline.isoformat()
    return data


def visit_json(v: VisitView) -> dict[str, Any]:
    return {
        "visit_id": v.visit_id,
        "queue": v.queue,
        "state": v.state.value,
        "display_name": v.display_name,
        "medium": v.medium.value,
        "topic": v.topic,
        "language": v.language,
        "context": v.context,
        "agent": v.agent,
        "target_agent": v.target_agent,
        "note": v.note,
        "transfers": v.transfers,
        "created_at": v.created_at.isoformat(),
        "queued_at": v.queued_at.isoformat(),
        "accepted_at": v.accepted_at.isoformat() if v.accepted_at else None,
        "ended_at": v.ended_at.isoformat() if v.ended_at else None,
        "offer_deadline": v.offer_deadline.isoformat() if v.offer_deadline else None,
    }


class Helpdesk:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Callable[[], datetime],
        meetings: Meetings,
        guest_tokens: GuestTokens,
        *,
        publish: Callable[[str, dict[str, Any], str], None] | None = None,
        observe: Callable[[ev.RouterEvent], None] | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._meetings = meetings
        self._guest_tokens = guest_tokens
        self._publish = publish
        self._observe = observe
        #: Decisions taken, not yet stored (with the future their caller awaits).
        self._unsaved: list[tuple[HelpdeskChanges, asyncio.Future[None]]] = []
        self._save_now = asyncio.Event()
        self._saver: asyncio.Task[None] | None = None
        self._reloading = False
        self._background: set[asyncio.Task[None]] = set()
        #: Meeting id -> the guests' participant ids seen in it (the visitor's sessions).
        self._visitors: dict[str, set[str]] = {}
        self._limits = router_limits(settings)
        self._router = Router(self._limits)
        self._meeting_of: dict[str, str] = {}  # open visit -> its meeting
        #: The index the other way (meeting -> its open visits), kept with
        #: ``_meeting_of`` by ``_bind``/``_unbind`` only: a meeting's events look
        #: up their visits without scanning every open visit.
        self._visits_in: dict[str, set[str]] = {}
        self._fence: Fence | None = None
        self._owner_url: str | None = None
        self._wake = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None
        #: Sends a frame to the visitor(s) of a meeting hosted here (set by the app).
        self.notify: Callable[[str, str], int] | None = None
        #: Each agent's revision: bumped by every decision that changes what
        #: :meth:`agent_status` says, so a console waits for the next one
        #: (:meth:`agent_status_after`) instead of asking again and again. The
        #: node's start time prefixes it: a revision from before a restart is
        #: never taken for a current one.
        self._boot = format(time.time_ns(), "x")
        self._agent_rev: dict[str, int] = {}
        self._agent_waiters: dict[str, set[asyncio.Future[None]]] = {}

    @property
    def router(self) -> Router:
        return self._router

    # --- life --------------------------------------------------------------------
    async def start(self) -> None:
        if self._store.shared:
            await self._take_lease()
        if not self._store.shared or self._fence is not None:
            await self._load()
        self._timer = asyncio.create_task(self._run_timer(), name="frontdesk-helpdesk")

    async def stop(self) -> None:
        self._new_revisions()  # consoles waiting: answered now
        for task in (self._timer, self._saver):
            if task is None:
                continue
            if task is self._saver:
                pending = [f for _, f in self._unsaved]
                if pending:  # what was decided is stored before the node goes
                    await asyncio.wait(pending, timeout=5)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._fence is not None:
            with contextlib.suppress(FrontdeskError):
                await self._store.release_lease(HELPDESK_LEASE, self._fence)

    async def _take_lease(self) -> None:
        try:
            lease = await self._store.acquire_lease(
                HELPDESK_LEASE,
                self._settings.node_id,
                self._settings.base_url,
                self._settings.lease_ttl_s,
            )
        except LeaseHeld as held:
            self._fence, self._owner_url = None, held.lease.node_url
            return
        if self._fence is None or self._fence.number != lease.fence:
            self._fence = lease.as_fence
            await self._load()
        self._owner_url = None

    async def _load(self) -> None:
        hd = self._store.helpdesk
        queues = await hd.list_queues()
        visits = await hd.open_visits()
        handled: dict[str, list[float]] = {}
        outcomes: dict[str, list[bool]] = {}
        for q in queues:
            handled[q.name], outcomes[q.name] = await hd.history(q.name, q.service_level, _HISTORY)
        self._router = Router.restore(
            queues,
            await hd.list_agents(),
            [v.visit for v in visits],
            handled,
            outcomes,
            self._limits,
        )
        self._meeting_of, self._visits_in = {}, {}
        for v in visits:
            self._bind(v.visit.visit_id, v.meeting_id)
        self._new_revisions()
        self._wake.set()

    def _new_revisions(self) -> None:
        """A router rebuilt from the store: every agent's revision is new."""
        self._boot = format(time.time_ns(), "x")
        self._agent_rev = {}
        waiting, self._agent_waiters = self._agent_waiters, {}
        for waiters in waiting.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _bind(self, visit_id: str, meeting_id: str) -> None:
        self._unbind(visit_id)
        self._meeting_of[visit_id] = meeting_id
        self._visits_in.setdefault(meeting_id, set()).add(visit_id)

    def _unbind(self, visit_id: str) -> None:
        """The visit ended (or moves): forget it, and once its meeting holds no
        open visit, the meeting's visitors too."""
        meeting_id = self._meeting_of.pop(visit_id, None)
        if meeting_id is None:
            return
        held = self._visits_in.get(meeting_id)
        if held is not None:
            held.discard(visit_id)
            if not held:
                del self._visits_in[meeting_id]
                self._visitors.pop(meeting_id, None)

    def visits_in(self, meeting_id: str) -> frozenset[str]:
        """The open visits held in a meeting (usually one)."""
        return frozenset(self._visits_in.get(meeting_id, ()))

    def _ensure_owner(self) -> None:
        if self._store.shared and self._fence is None:
            raise WrongNode("the helpdesk router runs on another node", rtc_url=self._owner_url)

    async def _run_timer(self) -> None:
        """Tick at the router's next deadline (and keep the lease in a cluster)."""
        renew_every = self._settings.lease_ttl_s / 3
        last_renew = last_refresh = time.monotonic()
        while True:
            deadline = self._router.next_deadline()
            # Waiting visitors hear again now and then: estimates move, and a
            # visitor who just connected learns its place.
            wait = (
                min(renew_every, POSITION_REFRESH_S) if self._store.shared else POSITION_REFRESH_S
            )
            if deadline is not None:
                wait = min(wait, max(0.0, (deadline - self._clock()).total_seconds()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            # A wake-up is a decision made (a new deadline, maybe): the lease and
            # the refresh keep their own pace, not one per decision.
            try:
                if self._store.shared and time.monotonic() - last_renew >= renew_every:
                    last_renew = time.monotonic()
                    await self._keep_lease()
                if self._fence is not None or not self._store.shared:
                    due = self._router.next_deadline()
                    if due is not None and due <= self._clock():
                        await self.run(Tick())
                    if time.monotonic() - last_refresh >= POSITION_REFRESH_S:
                        last_refresh = time.monotonic()
                        await self.sync_settings()
                        self.push_positions()
            except FrontdeskError:
                log.exception("helpdesk timer: will try again")
            except Exception:  # a database hiccup must not end the loop
                log.exception("helpdesk timer failed; will try again")

    async def _keep_lease(self) -> None:
        if self._fence is None:
            await self._take_lease()
            return
        renewed = await self._store.renew_leases(
            self._fence.owner, {HELPDESK_LEASE: self._fence.number}, self._settings.lease_ttl_s
        )
        if HELPDESK_LEASE not in renewed:
            log.warning("helpdesk lease lost; another node runs the router now")
            self._fence = None

    # --- deciding ------------------------------------------------------------------
    async def run(
        self,
        command: RouterCommand,
        *,
        new_visit: tuple[str, str | None] | None = None,
        new_meeting: Meeting | None = None,
        hand_over: tuple[str, str] | None = None,
    ) -> list[ev.RouterEvent]:
        """One decision: decide, store, then tell. ``new_visit`` is the
        (meeting id, app id) of an ``Enqueue``, ``new_meeting`` the meeting
        made for it, ``hand_over`` the (meeting id, organizer) an ``Accept``
        gives its meeting: stored in the decision's own transaction.

        The decision is taken at once (``Router.handle`` never awaits, so
        decisions are one at a time by construction); its changes join the
        next group commit, and the caller hears back, and the outside is told,
        only once they are stored. A failed commit fails every decision not
        yet stored, and the router is rebuilt from the store."""
        self._ensure_owner()
        if self._reloading:
            raise Unavailable("the helpdesk is reloading; try again")
        now = self._clock()
        events = self._router.handle(command, now)
        new = {}
        if new_visit is not None and isinstance(command, Enqueue):
            new[command.visit_id] = new_visit
            self._bind(command.visit_id, new_visit[0])
        changes = HelpdeskChanges(
            agents=[e.agent for e in events if isinstance(e, ev.AgentChanged)],
            visits=[v for e in events if (v := _visit_of(e)) is not None],
            new_visits=new,
            events=[
                VisitEventRecord(v.visit_id, e.NAME.value, event_data(e), now)
                for e in events
                if (v := _visit_of(e)) is not None
            ],
            meetings=[new_meeting] if new_meeting is not None else [],
            organizers=dict([hand_over]) if hand_over is not None else {},
        )
        stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._unsaved.append((changes, stored))
        self._save_now.set()
        if self._saver is None or self._saver.done():
            self._saver = asyncio.create_task(self._save_loop(), name="frontdesk-helpdesk-save")
        await stored
        self._tell(events)
        self._wake.set()
        return events

    async def _save_loop(self) -> None:
        """Group commit: every decision taken while the last commit ran goes
        into the next one, in order."""
        while True:
            await self._save_now.wait()
            self._save_now.clear()
            while self._unsaved:
                batch, self._unsaved = self._unsaved, []
                merged = HelpdeskChanges(
                    agents=[a for c, _ in batch for a in c.agents],
                    visits=[v for c, _ in batch for v in c.visits],
                    new_visits={k: m for c, _ in batch for k, m in c.new_visits.items()},
                    events=[e for c, _ in batch for e in c.events],
                    meetings=[m for c, _ in batch for m in c.meetings],
                    organizers={k: o for c, _ in batch for k, o in c.organizers.items()},
                )
                try:
                    await self._store.helpdesk.save(merged, self._fence)
                except Exception as exc:
                    failed, self._unsaved = batch + self._unsaved, []
                    self._reloading = True
                    try:
                        await self._reload_after_failure()
                    finally:
                        self._reloading = False
                    for _, fut in failed:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                for _, fut in batch:
                    if not fut.done():
                        fut.set_result(None)

    async def _reload_after_failure(self) -> None:
        with contextlib.suppress(Exception):
            await self._load()

    def _tell(self, events: Sequence[ev.RouterEvent]) -> None:
        self._bump(events)
        touched: set[str] = set()
        for event in events:
            visit = _visit_of(event)
            if visit is not None:
                touched.add(visit.queue)
                if isinstance(event, ev.VisitTransferred) or not visit.state.open:
                    touched.update(q.name for q in self._router.queues())
                self._push(visit)
        for queue in sorted(touched):
            self.push_positions(queue)
        for event in events:
            if self._observe is not None:
                self._observe(event)
            name = WEBHOOK_EVENTS.get(type(event))
            visit = _visit_of(event)
            if visit is None:
                continue
            meeting_id = self._meeting_of.get(visit.visit_id)
            if name is not None and meeting_id is not None and self._publish is not None:
                self._publish(name, event_data(event) | {"meeting_id": meeting_id}, meeting_id)
            if not visit.state.open:
                self._unbind(visit.visit_id)

    async def sync_settings(self) -> int:
        """Take queues and agents' profiles changed in the store by someone else
        (the CLI) into the router; how many changed."""
        hd = self._store.helpdesk
        changed = 0
        # Profiles first: a queue naming an agent the router does not know yet
        # would give it a default profile (and store it over the one set).
        for agent in await hd.list_agents():
            has = self._router.has_agent(agent.agent_id)
            if not has or self._router.agent(agent.agent_id).profile != agent.profile:
                await self.run(PutAgent(agent.profile))
                changed += 1
        stored = {q.name: q for q in await hd.list_queues()}
        live = {q.name: q for q in self._router.queues()}
        for name, queue in stored.items():
            if live.get(name) != queue:
                await self.run(PutQueue(queue))
                changed += 1
        for name in live.keys() - stored.keys():
            with contextlib.suppress(FrontdeskError):  # open visits: it stays until they end
                await self.run(DeleteQueue(name))
                changed += 1
        return changed

    def _push(self, v: VisitView) -> None:
        """Tell the visitor where the visit stands (``visit_position`` frame)."""
        meeting_id = self._meeting_of.get(v.visit_id)
        if self.notify is None or meeting_id is None:
            return
        fields: dict[str, Any] = {"visit_id": v.visit_id, "state": v.state.value}
        if v.state is VisitState.QUEUED:
            position = self._router.position(v.visit_id)
            estimate = self._router.estimate(v.visit_id)
            if position is not None:
                fields["position"] = position
            if estimate is not None:
                fields["estimated_wait_s"] = math.ceil(estimate.total_seconds())
        try:
            self.notify(meeting_id, encode("visit_position", **fields))
        except Exception:  # telling is best effort; the decision stands
            log.exception("could not tell visit %s its position", v.visit_id)

    def push_positions(self, queue: str | None = None) -> None:
        """Tell every waiting visitor of ``queue`` its place; with no queue, every
        visitor of an open visit where it stands (the periodic refresh)."""
        for v in self._router.visits():
            if queue is None or (v.state is VisitState.QUEUED and v.queue == queue):
                self._push(v)

    def meeting_event(self, name: str, data: Mapping[str, Any], meeting_id: str) -> None:
        """A meeting's webhook event (from the live rooms): the visitor of a visit
        not yet taken left (``visit.abandoned``), or the meeting of a visit ended
        (abandoned, or completed if an agent served it). Never blocks nor raises."""
        if name in ("lobby.waiting", "participant.joined"):
            if data.get("role") == "guest" and meeting_id in self._visits_in:
                self._visitors.setdefault(meeting_id, set()).add(str(data.get("participant_id")))
            return
        if name == "participant.left":
            # Only the visitor leaving abandons (an agent who transferred it may go).
            if str(data.get("participant_id")) not in self._visitors.get(meeting_id, set()):
                return
        elif name != "meeting.ended":
            return
        else:
            self._visitors.pop(meeting_id, None)
        for visit_id in sorted(self._visits_in.get(meeting_id, ())):
            with contextlib.suppress(FrontdeskError):
                state = self._router.visit(visit_id).state
                if state in (VisitState.QUEUED, VisitState.OFFERED):
                    reason = "left" if name == "participant.left" else "meeting_ended"
                    self._later(Abandon(visit_id, reason))
                elif state is VisitState.ACCEPTED and name == "meeting.ended":
                    self._later(Complete(None, visit_id))

    def _later(self, command: RouterCommand) -> None:
        async def go() -> None:
            try:
                await self.run(command)
            except FrontdeskError as err:  # decided otherwise meanwhile: nothing to do
                log.debug("helpdesk: %s not applied: %s", type(command).__name__, err)
            except Exception:
                log.exception("helpdesk: %s failed", type(command).__name__)

        task = asyncio.create_task(go(), name="frontdesk-helpdesk-meeting-event")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- queues (operators: the service API and the CLI) -----------------------------
    async def put_queue(self, queue: Queue) -> Queue:
        self._ensure_owner()
        await self._store.helpdesk.put_queue(queue, self._clock())
        await self.run(PutQueue(queue))
        return queue

    async def delete_queue(self, name: str) -> None:
        self._ensure_owner()
        self._router.queue(name)
        await self.run(DeleteQueue(name))
        await self._store.helpdesk.delete_queue(name)

    def queues(self) -> list[Queue]:
        return sorted(self._router.queues(), key=lambda q: q.name)

    def queue(self, name: str) -> Queue:
        return self._router.queue(name)

    def board(self, name: str) -> QueueBoard:
        return self._router.board(name, self._clock())

    # --- agents ----------------------------------------------------------------------
    async def put_agent(self, profile: AgentProfile) -> None:
        await self.run(PutAgent(profile))

    async def set_presence(self, agent: str, presence: AgentPresence) -> None:
        if not self._router.has_agent(agent):
            await self.run(PutAgent(AgentProfile(agent)))
        await self.run(SetPresence(agent, presence))

    def _bump(self, events: Sequence[ev.RouterEvent]) -> None:
        """Move the revision of every agent these decisions concern, and wake
        the consoles waiting for one."""
        agents: set[str] = set()
        for event in events:
            if isinstance(event, ev.QueueUpdated | ev.QueueDeleted):
                # Membership may have changed (rare): everyone who may be concerned.
                agents.update(self._agent_waiters)
                agents.update(
                    event.queue.agents if isinstance(event, ev.QueueUpdated) else self._agent_rev
                )
                continue
            if isinstance(event, ev.AgentChanged):
                agents.add(event.agent.agent_id)
            for name in ("agent", "from_agent", "to_agent"):
                value = getattr(event, name, None)
                if isinstance(value, str):
                    agents.add(value)
            visit = _visit_of(event)
            if visit is not None:
                agents.update(a for a in (visit.agent, visit.target_agent) if a)
        for agent in agents:
            self._agent_rev[agent] = self._agent_rev.get(agent, 0) + 1
            for waiter in self._agent_waiters.pop(agent, ()):
                if not waiter.done():
                    waiter.set_result(None)

    def agent_rev(self, agent: str) -> str:
        """The agent's revision (opaque): it changes when its status may have."""
        return f"{self._boot}.{self._agent_rev.get(agent, 0)}"

    async def agent_status_after(self, agent: str, after: str, wait_s: float) -> dict[str, Any]:
        """The agent's status once its revision is no longer ``after``, or after
        ``wait_s`` seconds, whichever comes first: offers reach a waiting
        console as they are made (a long poll)."""
        if after == self.agent_rev(agent) and wait_s > 0:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._agent_waiters.setdefault(agent, set()).add(waiter)
            try:
                await asyncio.wait_for(waiter, timeout=wait_s)
            except TimeoutError:
                pass
            finally:
                waiters = self._agent_waiters.get(agent)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self._agent_waiters[agent]
        return self.agent_status(agent)

    def agent_status(self, agent: str) -> dict[str, Any]:
        if not self._router.has_agent(agent):
            return {
                "rev": self.agent_rev(agent),
                "agent": agent,
                "state": AgentState.OFFLINE.value,
                "queues": [],
                "offer": None,
                "visits": [],
            }
        view = self._router.agent(agent)
        offer = self._router.offer_of(agent)
        return {
            "rev": self.agent_rev(agent),
            "agent": agent,
            "state": self._router.agent_state(agent).value,
            "presence": view.presence.value,
            "capacity": {
                "video": view.profile.capacity.video,
                "chats": view.profile.capacity.chats,
            },
            "languages": sorted(view.profile.languages),
            "topics": sorted(view.profile.topics),
            "queues": sorted(q.name for q in self._router.queues() if agent in q.agents),
            "offer": None if offer is None else self._with_meeting(offer),
            "visits": [self._with_meeting(v) for v in self._router.serving(agent)],
        }

    def _with_meeting(self, v: VisitView) -> dict[str, Any]:
        waited = (self._clock() - v.queued_at).total_seconds()
        return visit_json(v) | {
            "meeting_id": self._meeting_of.get(v.visit_id),
            "waiting_s": round(waited, 1),
        }

    async def accept(self, user: User, visit_id: str) -> dict[str, Any]:
        """The agent takes the visit and becomes its meeting's organizer."""
        meeting_id = self._meeting_of.get(visit_id)
        hand_over = (meeting_id, user.username) if meeting_id is not None else None
        await self.run(Accept(user.username, visit_id), hand_over=hand_over)
        if meeting_id is not None:
            self._meetings.changed_elsewhere(meeting_id)
        return self._with_meeting(self._router.visit(visit_id))

    async def decline(self, user: User, visit_id: str) -> None:
        await self.run(Decline(user.username, visit_id))

    async def transfer(
        self, user: User, visit_id: str, *, to_queue: str | None, to_agent: str | None, note: str
    ) -> None:
        await self.run(Transfer(user.username, visit_id, to_queue, to_agent, note))

    async def complete(self, user: User | None, visit_id: str) -> None:
        await self.run(Complete(user.username if user else None, visit_id))

    # --- visits (the service API) ----------------------------------------------------
    async def create_visit(
        self,
        app: App,
        *,
        queue: str,
        display_name: str,
        medium: Medium,
        topic: str | None,
        language: str | None,
        context: str,
        ttl_s: int | None = None,
    ) -> VisitGrant:
        self._ensure_owner()
        q = self._router.queue(queue)
        organizer = await self._placeholder_organizer(q)
        # Refused here (closed, full, bad topic) before a meeting is made for nothing.
        probe = Enqueue("probe", queue, display_name, medium, topic, language, context)
        self._router.check(probe, self._clock())
        # The meeting is stored with the visit, in the decision's transaction.
        meeting = self._meetings.prepare(
            subject=f"{queue}: {display_name}"[:200], organizer=organizer, app_id=app.client_id
        )
        visit_id = new_visit_id()
        grant = await self._guest_tokens.mint_for(
            meeting, display_name=display_name, ttl_s=ttl_s, app=app, visit_id=visit_id
        )
        command = dataclasses.replace(probe, visit_id=visit_id)
        await self.run(command, new_visit=(meeting.id, app.client_id), new_meeting=meeting)
        self._meetings.stored(meeting)
        return VisitGrant(
            visit=self._router.visit(visit_id),
            grant=grant,
            join_url=self._meetings.join_url(meeting),
            position=self._router.position(visit_id),
            estimate=self._router.estimate(visit_id),
        )

    async def _placeholder_organizer(self, q: Queue) -> str:
        """A meeting needs an organizer before an agent takes the visit: a member
        of the queue (the agent who accepts replaces it)."""
        for agent in sorted(q.agents):
            with contextlib.suppress(FrontdeskError):
                await self._store.get_user(agent)
                return agent
        raise ValidationFailed(f"queue {q.name!r} has no agent who is a Frontdesk user")

    async def status(self, visit_id: str, app: App | None = None) -> VisitStatus:
        stored: StoredVisit = await self._store.helpdesk.get_visit(visit_id)
        if app is not None and stored.app_id != app.client_id:
            raise VisitNotFound(f"no visit {visit_id[:64]!r}")  # another app's: not found
        try:
            live = self._router.visit(visit_id)
        except FrontdeskError:
            live = stored.visit
        return VisitStatus(
            live,
            stored.meeting_id,
            stored.app_id,
            self._router.position(visit_id) if live.state is VisitState.QUEUED else None,
            self._router.estimate(visit_id) if live.state is VisitState.QUEUED else None,
        )

    async def abandon(self, visit_id: str, app: App | None, reason: str = "cancelled") -> None:
        await self.status(visit_id, app)
        await self.run(Abandon(visit_id, reason))

    # --- callbacks -------------------------------------------------------------------
    async def leave_message(
        self, app: App | None, *, queue: str, display_name: str, message: str, contact: str
    ) -> Callback:
        if queue not in {q.name for q in self._router.queues()}:
            raise QueueNotFound(f"no queue {queue[:64]!r}")
        callback = Callback(
            id="cb_" + secrets.token_urlsafe(12),
            queue=queue,
            display_name=check_display_name(display_name),
            message=check_text(message, "message", MAX_MESSAGE),
            contact=check_text(contact, "contact", MAX_CONTACT),
            created_at=self._clock(),
            app_id=app.client_id if app else None,
        )
        if not callback.message:
            raise ValidationFailed("the message is empty")
        await self._store.helpdesk.add_callback(callback)
        return callback

    async def callbacks(self, queue: str | None, open_only: bool) -> Sequence[Callback]:
        return await self._store.helpdesk.list_callbacks(queue=queue, open_only=open_only)

    async def resolve_callback(self, callback_id: str, by: str) -> Callback:
        return await self._store.helpdesk.resolve_callback(callback_id, by, self._clock())

    def agent_boards(self, name: str) -> tuple[AgentBoard, ...]:
        return self._router.board(name, self._clock()).agents
