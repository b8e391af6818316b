"""The helpdesk: queues, agents and the router that offers each visit to the
next available agent (sans-I/O, like :class:`frontdesk.domain.Room`)."""

from __future__ import annotations

from frontdesk.domain.helpdesk import events
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
from frontdesk.domain.helpdesk.hours import DAYS, OpeningHours
from frontdesk.domain.helpdesk.model import (
    AgentPresence,
    AgentProfile,
    AgentState,
    AgentView,
    Capacity,
    Medium,
    Queue,
    RouterLimits,
    VisitState,
    VisitView,
    new_visit_id,
)
from frontdesk.domain.helpdesk.router import AgentBoard, QueueBoard, Router

__all__ = [
    "DAYS",
    "Abandon",
    "Accept",
    "AgentBoard",
    "AgentPresence",
    "AgentProfile",
    "AgentState",
    "AgentView",
    "Capacity",
    "Complete",
    "Decline",
    "DeleteQueue",
    "Enqueue",
    "Medium",
    "OpeningHours",
    "PutAgent",
    "PutQueue",
    "Queue",
    "QueueBoard",
    "Router",
    "RouterCommand",
    "RouterLimits",
    "SetPresence",
    "Tick",
    "Transfer",
    "VisitState",
    "VisitView",
    "events",
    "new_visit_id",
]
