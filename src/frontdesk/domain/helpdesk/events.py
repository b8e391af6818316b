"""What the router emits. Each event names the visit or agent it changed, so
the host knows what to store, whom to tell and which webhook to send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar, TypeAlias

from frontdesk.domain.helpdesk.model import AgentState, AgentView, Queue, VisitView

__all__ = [
    "AgentChanged",
    "OfferDeclined",
    "OfferExpired",
    "OfferRevoked",
    "QueueDeleted",
    "QueueUpdated",
    "RouterEvent",
    "RouterEventType",
    "VisitAbandoned",
    "VisitAccepted",
    "VisitCompleted",
    "VisitOffered",
    "VisitQueued",
    "VisitTransferred",
]


class RouterEventType(StrEnum):
    QUEUE_UPDATED = "queue.updated"
    QUEUE_DELETED = "queue.deleted"
    AGENT_CHANGED = "agent.changed"
    VISIT_QUEUED = "visit.queued"
    VISIT_OFFERED = "visit.offered"
    OFFER_DECLINED = "visit.offer_declined"
    OFFER_EXPIRED = "visit.offer_expired"
    OFFER_REVOKED = "visit.offer_revoked"
    VISIT_ACCEPTED = "visit.accepted"
    VISIT_TRANSFERRED = "visit.transferred"
    VISIT_COMPLETED = "visit.completed"
    VISIT_ABANDONED = "visit.abandoned"


@dataclass(frozen=True, slots=True)
class QueueUpdated:
    NAME: ClassVar[RouterEventType] = RouterEventType.QUEUE_UPDATED
    queue: Queue


@dataclass(frozen=True, slots=True)
class QueueDeleted:
    NAME: ClassVar[RouterEventType] = RouterEventType.QUEUE_DELETED
    name: str


@dataclass(frozen=True, slots=True)
class AgentChanged:
    """Profile, presence or derived state changed (``reason`` e.g. ``missed_offers``)."""

    NAME: ClassVar[RouterEventType] = RouterEventType.AGENT_CHANGED
    agent: AgentView
    state: AgentState
    reason: str = ""


@dataclass(frozen=True, slots=True)
class VisitQueued:
    """A visit entered a queue (first time: ``position`` and ``estimate`` for the visitor)."""

    NAME: ClassVar[RouterEventType] = RouterEventType.VISIT_QUEUED
    visit: VisitView
    position: int
    estimate: timedelta | None


@dataclass(frozen=True, slots=True)
class VisitOffered:
    NAME: ClassVar[RouterEventType] = RouterEventType.VISIT_OFFERED
    visit: VisitView
    agent: str
    deadline: datetime


@dataclass(frozen=True, slots=True)
class OfferDeclined:
    NAME: ClassVar[RouterEventType] = RouterEventType.OFFER_DECLINED
    visit: VisitView
    agent: str


@dataclass(frozen=True, slots=True)
class OfferExpired:
    """Not answered in time: the visit went back to the head of its queue."""

    NAME: ClassVar[RouterEventType] = RouterEventType.OFFER_EXPIRED
    visit: VisitView
    agent: str


@dataclass(frozen=True, slots=True)
class OfferRevoked:
    """The agent went away/offline or left the queue while the offer was open."""

    NAME: ClassVar[RouterEventType] = RouterEventType.OFFER_REVOKED
    visit: VisitView
    agent: str
    reason: str


@dataclass(frozen=True, slots=True)
class VisitAccepted:
    NAME: ClassVar[RouterEventType] = RouterEventType.VISIT_ACCEPTED
    visit: VisitView
    agent: str
    waited: timedelta


@dataclass(frozen=True, slots=True)
class VisitTransferred:
    NAME: ClassVar[RouterEventType] = RouterEventType.VISIT_TRANSFERRED
    visit: VisitView
    from_agent: str
    to_queue: str
    to_agent: str | None
    note: str


@dataclass(frozen=True, slots=True)
class VisitCompleted:
    NAME: ClassVar[RouterEventType] = RouterEventType.VISIT_COMPLETED
    visit: VisitView
    agent: str | None
    handled: timedelta


@dataclass(frozen=True, slots=True)
class VisitAbandoned:
    NAME: ClassVar[RouterEventType] = RouterEventType.VISIT_ABANDONED
    visit: VisitView
    reason: str
    agent: str | None  # who held the offer, if one was open


RouterEvent: TypeAlias = (
    QueueUpdated
    | QueueDeleted
    | AgentChanged
    | VisitQueued
    | VisitOffered
    | OfferDeclined
    | OfferExpired
    | OfferRevoked
    | VisitAccepted
    | VisitTransferred
    | VisitCompleted
    | VisitAbandoned
)
