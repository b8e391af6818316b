"""The helpdesk store on SQLite and PostgreSQL (see :mod:`frontdesk.store.helpdesk`).

It borrows the transactions of its :class:`SqlStore` (one writer on SQLite,
the lease fencing on PostgreSQL) rather than opening its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping

from frontdesk.domain.helpdesk import (
    AgentPresence,
    AgentProfile,
    AgentView,
    Capacity,
    Medium,
    Queue,
    VisitState,
    VisitView,
)
from frontdesk.errors import NotFound, QueueNotFound, VisitNotFound
from frontdesk.store import tables as t
from frontdesk.store.base import Fence
from frontdesk.store.helpdesk import (
    HELPDESK_LEASE,
    Callback,
    HelpdeskChanges,
    HelpdeskStore,
    StoredVisit,
    VisitEventRecord,
    queue_config,
    queue_from_config,
)

if TYPE_CHECKING:
    from frontdesk.store.sql import SqlStore

__all__ = ["SqlHelpdeskStore"]

_OPEN = [VisitState.QUEUED.value, VisitState.OFFERED.value, VisitState.ACCEPTED.value]
_VISIT_FIELDS = (
    "queue",
    "state",
    "rank",
    "display_name",
    "medium",
    "topic",
    "language",
    "context",
    "agent",
    "offer_deadline",
    "target_agent",
    "note",
    "transfers",
    "passed",
    "created_at",
    "queued_at",
    "accepted_at",
    "ended_at",
)


def _visit_row(v: VisitView) -> dict[str, Any]:
    return {
        "id": v.visit_id,
        "queue": v.queue,
        "state": v.state.value,
        "rank": v.rank,
        "display_name": v.display_name,
        "medium": v.medium.value,
        "topic": v.topic,
        "language": v.language,
        "context": v.context,
        "agent": v.agent,
        "offer_deadline": v.offer_deadline,
        "target_agent": v.target_agent,
        "note": v.note,
        "transfers": v.transfers,
        "passed": [[agent, until.isoformat()] for agent, until in v.passed],
        "created_at": v.created_at,
        "queued_at": v.queued_at,
        "accepted_at": v.accepted_at,
        "ended_at": v.ended_at,
    }


def _visit(row: RowMapping) -> StoredVisit:
    view = VisitView(
        visit_id=row["id"],
        queue=row["queue"],
        display_name=row["display_name"],
        medium=Medium(row["medium"]),
        state=VisitState(row["state"]),
        rank=row["rank"],
        created_at=row["created_at"],
        queued_at=row["queued_at"],
        topic=row["topic"],
        language=row["language"],
        context=row["context"],
        agent=row["agent"],
        offer_deadline=row["offer_deadline"],
        target_agent=row["target_agent"],
        note=row["note"],
        transfers=row["transfers"],
        accepted_at=row["accepted_at"],
        ended_at=row["ended_at"],
        passed=tuple((a, datetime.fromisoformat(u)) for a, u in row["passed"]),
    )
    return StoredVisit(view, row["meeting_id"], row["app_id"])


_AGENT_FIELDS = (
    "capacity_video",
    "capacity_chats",
    "languages",
    "topics",
    "presence",
    "idle_since",
    "missed_offers",
)


def _agent_row(a: AgentView) -> dict[str, Any]:
    return {
        "agent_id": a.agent_id,
        "capacity_video": a.profile.capacity.video,
        "capacity_chats": a.profile.capacity.chats,
        "languages": sorted(a.profile.languages),
        "topics": sorted(a.profile.topics),
        "presence": a.presence.value,
        "idle_since": a.idle_since,
        "missed_offers": a.missed_offers,
    }


def _agent(row: RowMapping) -> AgentView:
    profile = AgentProfile(
        row["agent_id"],
        Capacity(row["capacity_video"], row["capacity_chats"]),
        frozenset(row["languages"]),
        frozenset(row["topics"]),
    )
    return AgentView(
        profile, AgentPresence(row["presence"]), row["idle_since"], row["missed_offers"]
    )


def _callback(row: RowMapping) -> Callback:
    return Callback(**dict(row))


class SqlHelpdeskStore(HelpdeskStore):
    def __init__(self, store: SqlStore) -> None:
        self._s = store
        self._insert = sqlite.insert if store.engine.dialect.name == "sqlite" else postgresql.insert
        # The decisions' upserts, built once and run with a list of rows
        # (executemany): a statement with the rows inlined as VALUES was
        # compiled again for every commit, a tenth of the node's CPU at 60
        # visits a second.
        agents = self._insert(t.helpdesk_agents)
        self._upsert_agents = agents.on_conflict_do_update(
            index_elements=[t.helpdesk_agents.c.agent_id],
            set_={k: agents.excluded[k] for k in _AGENT_FIELDS},
        )
        visits = self._insert(t.helpdesk_visits)
        self._upsert_visits = visits.on_conflict_do_update(
            index_elements=[t.helpdesk_visits.c.id],
            set_={k: visits.excluded[k] for k in _VISIT_FIELDS},
        )

    # --- queues ------------------------------------------------------------------
    async def put_queue(self, queue: Queue, now: datetime) -> None:
        c = t.helpdesk_queues.c
        ins = self._insert(t.helpdesk_queues).values(
            name=queue.name, config=queue_config(queue), created_at=now, updated_at=now
        )
        upsert = ins.on_conflict_do_update(
            index_elements=[c.name],
            set_={"config": ins.excluded.config, "updated_at": ins.excluded.updated_at},
        )
        members = t.helpdesk_queue_agents
        async with self._s._write(f"queue {queue.name!r}") as conn:
            await conn.execute(upsert)
            await conn.execute(sa.delete(members).where(members.c.queue == queue.name))
            if queue.agents:
                await conn.execute(
                    sa.insert(members),
                    [{"queue": queue.name, "agent_id": a} for a in sorted(queue.agents)],
                )

    async def delete_queue(self, name: str) -> None:
        members = t.helpdesk_queue_agents
        async with self._s._write(f"queue {name!r}") as conn:
            await conn.execute(sa.delete(members).where(members.c.queue == name))
            done = await conn.execute(
                sa.delete(t.helpdesk_queues).where(t.helpdesk_queues.c.name == name)
            )
            if done.rowcount == 0:
                raise QueueNotFound(f"no queue {name!r}")

    async def list_queues(self) -> Sequence[Queue]:
        rows = await self._s._all(sa.select(t.helpdesk_queues).order_by(t.helpdesk_queues.c.name))
        members: dict[str, list[str]] = {}
        for m in await self._s._all(sa.select(t.helpdesk_queue_agents)):
            members.setdefault(m["queue"], []).append(m["agent_id"])
        return [queue_from_config(r["name"], r["config"], members.get(r["name"], [])) for r in rows]

    # --- the router's state --------------------------------------------------------
    async def save(self, changes: HelpdeskChanges, fence: Any = None) -> None:
        if not (
            changes.agents
            or changes.visits
            or changes.events
            or changes.meetings
            or changes.organizers
        ):
            return
        async with self._s._write("helpdesk state") as conn:
            if isinstance(fence, Fence):
                await self._s._check_fences(conn, {HELPDESK_LEASE}, {HELPDESK_LEASE: fence})
            if changes.meetings:
                await self._s._insert_meetings_in(conn, changes.meetings)
            if changes.organizers:
                await self._s._hand_over_in(conn, changes.organizers)
            agents = {a.agent_id: a for a in changes.agents}  # the last view of each wins
            if agents:
                await conn.execute(self._upsert_agents, [_agent_row(a) for a in agents.values()])
            latest = {v.visit_id: v for v in changes.visits}  # the last view of each wins
            if latest:
                rows = []
                for v in latest.values():
                    meeting_id, app_id = changes.new_visits.get(v.visit_id, ("", None))
                    rows.append(_visit_row(v) | {"meeting_id": meeting_id, "app_id": app_id})
                await conn.execute(self._upsert_visits, rows)
            if changes.events:
                await conn.execute(
                    sa.insert(t.helpdesk_visit_events),
                    [
                        {"visit_id": e.visit_id, "type": e.type, "data": e.data, "at": e.at}
                        for e in changes.events
                    ],
                )

    async def list_agents(self) -> Sequence[AgentView]:
        rows = await self._s._all(
            sa.select(t.helpdesk_agents).order_by(t.helpdesk_agents.c.agent_id)
        )
        return [_agent(r) for r in rows]

    async def put_agent_profile(self, profile: AgentProfile, now: datetime) -> None:
        view = AgentView(profile, AgentPresence.OFFLINE, now)
        ins = self._insert(t.helpdesk_agents).values(_agent_row(view))
        keep = ("capacity_video", "capacity_chats", "languages", "topics")
        async with self._s._write(f"agent {profile.agent_id!r}") as conn:
            await conn.execute(
                ins.on_conflict_do_update(
                    index_elements=[t.helpdesk_agents.c.agent_id],
                    set_={k: ins.excluded[k] for k in keep},
                )
            )

    async def open_visits(self) -> Sequence[StoredVisit]:
        c = t.helpdesk_visits.c
        rows = await self._s._all(
            sa.select(t.helpdesk_visits).where(c.state.in_(_OPEN)).order_by(c.rank)
        )
        return [_visit(r) for r in rows]

    async def get_visit(self, visit_id: str) -> StoredVisit:
        row = await self._s._one(
            sa.select(t.helpdesk_visits).where(t.helpdesk_visits.c.id == visit_id)
        )
        if row is None:
            raise VisitNotFound(f"no visit {visit_id[:64]!r}")
        return _visit(row)

    async def visits_of_meeting(self, meeting_id: str) -> Sequence[StoredVisit]:
        c = t.helpdesk_visits.c
        rows = await self._s._all(
            sa.select(t.helpdesk_visits).where(c.meeting_id == meeting_id).order_by(c.created_at)
        )
        return [_visit(r) for r in rows]

    async def visit_events(self, visit_id: str) -> Sequence[VisitEventRecord]:
        c = t.helpdesk_visit_events.c
        rows = await self._s._all(
            sa.select(c.visit_id, c.type, c.data, c.at).where(c.visit_id == visit_id).order_by(c.id)
        )
        return [VisitEventRecord(r["visit_id"], r["type"], r["data"], r["at"]) for r in rows]

    async def history(
        self, queue: str, service_level: timedelta, limit: int
    ) -> tuple[list[float], list[bool]]:
        c = t.helpdesk_visits.c
        rows = await self._s._all(
            sa.select(c.state, c.queued_at, c.accepted_at, c.ended_at)
            .where(c.queue == queue, c.ended_at.is_not(None))
            .order_by(c.ended_at.desc())
            .limit(limit)
        )
        handled: list[float] = []
        outcomes: list[bool] = []
        for r in reversed(rows):
            if r["state"] == VisitState.COMPLETED.value and r["accepted_at"] is not None:
                handled.append((r["ended_at"] - r["accepted_at"]).total_seconds())
                outcomes.append(r["accepted_at"] - r["queued_at"] <= service_level)
            elif (
                r["state"] == VisitState.ABANDONED.value
                and r["ended_at"] - r["queued_at"] > service_level
            ):
                outcomes.append(False)
        return handled, outcomes

    # --- callbacks -----------------------------------------------------------------
    async def add_callback(self, callback: Callback) -> None:
        row = {f: getattr(callback, f) for f in Callback.__dataclass_fields__}
        async with self._s._write(f"callback {callback.id!r}") as conn:
            await conn.execute(sa.insert(t.helpdesk_callbacks).values(row))

    async def list_callbacks(
        self, *, queue: str | None = None, open_only: bool = True, limit: int = 100
    ) -> Sequence[Callback]:
        c = t.helpdesk_callbacks.c
        stmt = sa.select(t.helpdesk_callbacks).order_by(c.created_at, c.id).limit(limit)
        if queue is not None:
            stmt = stmt.where(c.queue == queue)
        if open_only:
            stmt = stmt.where(c.resolved_at.is_(None))
        return [_callback(r) for r in await self._s._all(stmt)]

    async def resolve_callback(self, callback_id: str, by: str, now: datetime) -> Callback:
        c = t.helpdesk_callbacks.c
        async with self._s._write(f"callback {callback_id!r}") as conn:
            await conn.execute(
                sa.update(t.helpdesk_callbacks)
                .where(c.id == callback_id, c.resolved_at.is_(None))
                .values(resolved_at=now, resolved_by=by)
            )
            row = (
                (await conn.execute(sa.select(t.helpdesk_callbacks).where(c.id == callback_id)))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"no callback {callback_id[:64]!r}")
        return _callback(row)
