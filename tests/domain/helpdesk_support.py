"""Shared set-up of the helpdesk router tests."""

from __future__ import annotations

from datetime import UTC, datetime

from frontdesk.domain.helpdesk import (
    AgentPresence,
    AgentProfile,
    Capacity,
    Enqueue,
    Medium,
    PutAgent,
    PutQueue,
    Queue,
    Router,
    RouterLimits,
    SetPresence,
)
from frontdesk.domain.helpdesk import events as ev

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday


def router_with(
    agents: dict[str, Capacity] | list[str],
    queue: Queue | None = None,
    limits: RouterLimits = RouterLimits(),
    available: bool = True,
) -> Router:
    router = Router(limits)
    names = list(agents)
    router.handle(PutQueue(queue or Queue("advice", agents=frozenset(names))), T0)
    for i, name in enumerate(names):
        capacity = agents[name] if isinstance(agents, dict) else Capacity()
        router.handle(PutAgent(AgentProfile(name, capacity)), T0)
        if available:
            # idle order = list order: the first is the longest idle
            router.handle(SetPresence(name, AgentPresence.AVAILABLE), T0.replace(second=i))
    return router


def enqueue(router: Router, visit_id: str, at: datetime, **kw: object) -> list[ev.RouterEvent]:
    args: dict[str, object] = {
        "queue": "advice",
        "display_name": "Ann Visitor",
        "medium": Medium.VIDEO,
    }
    args.update(kw)
    return router.handle(Enqueue(visit_id, **args), at)  # type: ignore[arg-type]


def offers(events: list[ev.RouterEvent]) -> list[tuple[str, str]]:
    return [(e.visit.visit_id, e.agent) for e in events if isinstance(e, ev.VisitOffered)]
