"""The helpdesk's part of the store: queues, agents, visits, their events and
callback requests (interface and records; ``helpdesk_sql`` implements it).

The router is restored from this after a restart: queues, agents, the open
visits, and each queue's recent history for the wait estimate and the service
level. In a cluster the router's writes are fenced by the lease
:data:`HELPDESK_LEASE` (the same lease table and fencing as a meeting's): the
router decides for every queue at once, because an agent serves several
queues and its capacity is one.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from frontdesk.domain.helpdesk import AgentProfile, AgentView, OpeningHours, Queue, VisitView
from frontdesk.domain.model import Meeting

__all__ = [
    "HELPDESK_LEASE",
    "Callback",
    "HelpdeskChanges",
    "HelpdeskStore",
    "StoredVisit",
    "VisitEventRecord",
    "queue_config",
    "queue_from_config",
]

#: The lease key (in the meetings' lease table) of the node that runs the router.
HELPDESK_LEASE = "helpdesk"


@dataclass(frozen=True, slots=True)
class StoredVisit:
    visit: VisitView
    meeting_id: str
    app_id: str | None


@dataclass(frozen=True, slots=True)
class VisitEventRecord:
    visit_id: str
    type: str
    data: dict[str, Any]
    at: datetime


@dataclass(frozen=True, slots=True)
class Callback:
    """A message a visitor left for a closed or full queue."""

    id: str
    queue: str
    display_name: str
    message: str
    contact: str
    created_at: datetime
    app_id: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None


@dataclass(frozen=True, slots=True)
class HelpdeskChanges:
    """What one router decision changed, stored in one transaction."""

    agents: Sequence[AgentView] = ()
    visits: Sequence[VisitView] = ()
    #: For visits not stored yet: visit id -> (meeting id, application id).
    new_visits: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    events: Sequence[VisitEventRecord] = ()
    #: Meetings made for new visits, inserted first, in the same transaction:
    #: a visit and its meeting are stored together or not at all.
    meetings: Sequence[Meeting] = ()
    #: Meeting id -> its new organizer (the agent who accepted its visit); an
    #: ended meeting keeps the one it had.
    organizers: Mapping[str, str] = field(default_factory=dict)


def queue_config(queue: Queue) -> dict[str, Any]:
    """The stored JSON of a queue's settings (members are rows of their own)."""
    return {
        "topics": sorted(queue.topics),
        "languages": sorted(queue.languages),
        "hours": None
        if queue.hours is None
        else {"time_zone": queue.hours.time_zone, "weekly": queue.hours.to_dict()},
        "max_wait_s": None if queue.max_wait is None else queue.max_wait.total_seconds(),
        "service_level_s": queue.service_level.total_seconds(),
    }


def queue_from_config(name: str, config: Mapping[str, Any], agents: Sequence[str]) -> Queue:
    hours = config.get("hours")
    max_wait = config.get("max_wait_s")
    return Queue(
        name=name,
        topics=frozenset(config.get("topics", ())),
        languages=frozenset(config.get("languages", ())),
        hours=None
        if hours is None
        else OpeningHours.from_dict(hours["time_zone"], hours["weekly"]),
        max_wait=None if max_wait is None else timedelta(seconds=max_wait),
        agents=frozenset(agents),
        service_level=timedelta(seconds=config.get("service_level_s", 60)),
    )


class HelpdeskStore(abc.ABC):
    """Methods raise only ``frontdesk.errors`` exceptions."""

    # --- queues (their settings; the router holds them live) -------------------
    @abc.abstractmethod
    async def put_queue(self, queue: Queue, now: datetime) -> None:
        """Create or replace a queue and its members."""

    @abc.abstractmethod
    async def delete_queue(self, name: str) -> None:
        """:class:`QueueNotFound` if there is none."""

    @abc.abstractmethod
    async def list_queues(self) -> Sequence[Queue]:
        """By name."""

    # --- the router's state --------------------------------------------------------
    @abc.abstractmethod
    async def save(self, changes: HelpdeskChanges, fence: Any = None) -> None:
        """Store one decision's changes atomically. With ``fence`` (a
        :class:`frontdesk.store.base.Fence`), only while it is the current
        unexpired lease :data:`HELPDESK_LEASE`, checked in the same transaction;
        else :class:`LeaseLost` and nothing is stored."""

    @abc.abstractmethod
    async def list_agents(self) -> Sequence[AgentView]: ...

    @abc.abstractmethod
    async def put_agent_profile(self, profile: AgentProfile, now: datetime) -> None:
        """Set an agent's capacity and skills, keeping its state (a new agent
        starts offline)."""

    @abc.abstractmethod
    async def open_visits(self) -> Sequence[StoredVisit]:
        """Visits queued, offered or accepted."""

    @abc.abstractmethod
    async def get_visit(self, visit_id: str) -> StoredVisit:
        """:class:`VisitNotFound` if there is none."""

    @abc.abstractmethod
    async def visits_of_meeting(self, meeting_id: str) -> Sequence[StoredVisit]:
        """The visits held in a meeting (one, or none), oldest first."""

    @abc.abstractmethod
    async def visit_events(self, visit_id: str) -> Sequence[VisitEventRecord]:
        """In order."""

    @abc.abstractmethod
    async def history(
        self, queue: str, service_level: timedelta, limit: int
    ) -> tuple[list[float], list[bool]]:
        """The queue's ``limit`` latest ended visits, oldest first: handling times
        (seconds, of those completed) and outcomes (answered within the service
        level, of those accepted or abandoned after it)."""

    # --- callback requests -------------------------------------------------------
    @abc.abstractmethod
    async def add_callback(self, callback: Callback) -> None: ...

    @abc.abstractmethod
    async def list_callbacks(
        self, *, queue: str | None = None, open_only: bool = True, limit: int = 100
    ) -> Sequence[Callback]:
        """Oldest first."""

    @abc.abstractmethod
    async def resolve_callback(self, callback_id: str, by: str, now: datetime) -> Callback:
        """Mark it handled by ``by``: :class:`NotFound` if there is none."""
