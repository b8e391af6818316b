"""The router's own mutable records of agents, visits and queues.

Only :mod:`router` changes them; everyone else reads the frozen views they
produce (:class:`AgentView`, :class:`VisitView`).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from frontdesk.domain.helpdesk.model import (
    AgentPresence,
    AgentProfile,
    AgentState,
    AgentView,
    Medium,
    Queue,
    VisitState,
    VisitView,
)

__all__ = ["AgentRecord", "QueueRecord", "VisitRecord", "WaitingLine"]


class WaitingLine:
    """Visits waiting, ordered by rank (first come, first served): a sorted list,
    so a position is a binary search and an insert a short memmove."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: list[tuple[int, str]] = []

    def add(self, rank: int, visit_id: str) -> None:
        insort(self._items, (rank, visit_id))

    def remove(self, rank: int, visit_id: str) -> None:
        i = bisect_left(self._items, (rank, visit_id))
        if i < len(self._items) and self._items[i] == (rank, visit_id):
            del self._items[i]

    def position(self, rank: int, visit_id: str) -> int | None:
        """1-based place in the line, ``None`` if not in it."""
        i = bisect_left(self._items, (rank, visit_id))
        if i < len(self._items) and self._items[i] == (rank, visit_id):
            return i + 1
        return None

    def ids(self) -> list[str]:
        return [visit_id for _rank, visit_id in self._items]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[tuple[int, str]]:
        """In order, over a copy (the caller may change the line meanwhile)."""
        return iter(list(self._items))


@dataclass(slots=True)
class AgentRecord:
    profile: AgentProfile
    presence: AgentPresence
    idle_since: datetime
    missed: int = 0
    offer: str | None = None  # the one visit offered to this agent, if any
    videos: int = 0  # load: accepted + offered
    chats: int = 0
    serving: set[str] = field(default_factory=set)
    queues: set[str] = field(default_factory=set)
    targeted: WaitingLine = field(default_factory=WaitingLine)

    @property
    def agent_id(self) -> str:
        return self.profile.agent_id

    def fits(self, medium: Medium) -> bool:
        return self.profile.capacity.fits(medium, self.videos, self.chats)

    @property
    def free(self) -> bool:
        """Could take some offer now: available, no open offer, room for something."""
        return (
            self.presence is AgentPresence.AVAILABLE
            and self.offer is None
            and (self.fits(Medium.VIDEO) or self.fits(Medium.CHAT))
        )

    def load(self, medium: Medium, delta: int) -> None:
        if medium is Medium.VIDEO:
            self.videos += delta
        else:
            self.chats += delta

    @property
    def state(self) -> AgentState:
        if self.presence is not AgentPresence.AVAILABLE:
            return AgentState(self.presence.value)
        if self.fits(Medium.VIDEO) or self.fits(Medium.CHAT):
            return AgentState.AVAILABLE
        return AgentState.BUSY

    def view(self) -> AgentView:
        return AgentView(self.profile, self.presence, self.idle_since, self.missed)


@dataclass(slots=True)
class VisitRecord:
    visit_id: str
    queue: str
    display_name: str
    medium: Medium
    state: VisitState
    rank: int
    created_at: datetime
    queued_at: datetime
    topic: str | None = None
    language: str | None = None
    context: str = ""
    agent: str | None = None
    offer_deadline: datetime | None = None
    target_agent: str | None = None
    note: str = ""
    transfers: int = 0
    accepted_at: datetime | None = None
    ended_at: datetime | None = None
    passed: dict[str, datetime] = field(default_factory=dict)

    def view(self) -> VisitView:
        return VisitView(
            visit_id=self.visit_id,
            queue=self.queue,
            display_name=self.display_name,
            medium=self.medium,
            state=self.state,
            rank=self.rank,
            created_at=self.created_at,
            queued_at=self.queued_at,
            topic=self.topic,
            language=self.language,
            context=self.context,
            agent=self.agent,
            offer_deadline=self.offer_deadline,
            target_agent=self.target_agent,
            note=self.note,
            transfers=self.transfers,
            accepted_at=self.accepted_at,
            ended_at=self.ended_at,
            passed=tuple(sorted(self.passed.items())),
        )

    @classmethod
    def of(cls, v: VisitView) -> VisitRecord:
        return cls(
            visit_id=v.visit_id,
            queue=v.queue,
            display_name=v.display_name,
            medium=v.medium,
            state=v.state,
            rank=v.rank,
            created_at=v.created_at,
            queued_at=v.queued_at,
            topic=v.topic,
            language=v.language,
            context=v.context,
            agent=v.agent,
            offer_deadline=v.offer_deadline,
            target_agent=v.target_agent,
            note=v.note,
            transfers=v.transfers,
            accepted_at=v.accepted_at,
            ended_at=v.ended_at,
            passed=dict(v.passed),
        )


@dataclass(slots=True)
class QueueRecord:
    queue: Queue
    waiting: WaitingLine = field(default_factory=WaitingLine)
    handled: deque[float] = field(default_factory=lambda: deque(maxlen=20))
    #: Recent outcomes for the service level: answered within target or not.
    outcomes: deque[bool] = field(default_factory=lambda: deque(maxlen=100))

    def handle_time(self) -> timedelta | None:
        if not self.handled:
            return None
        return timedelta(seconds=sum(self.handled) / len(self.handled))
