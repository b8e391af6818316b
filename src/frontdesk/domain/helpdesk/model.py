"""The values of the helpdesk: queues, agents' profiles and states, visits.

Values the outside gives or reads are frozen dataclasses validated in
``__post_init__``; the router keeps its own mutable records and hands out
these views, so a caller never changes the router's state by accident.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from frontdesk.domain.helpdesk.hours import OpeningHours
from frontdesk.domain.text import has_surrogate
from frontdesk.errors import ValidationFailed

__all__ = [
    "MAX_AGENT_ID",
    "MAX_CONTEXT",
    "MAX_NOTE",
    "AgentPresence",
    "AgentProfile",
    "AgentState",
    "AgentView",
    "Capacity",
    "Medium",
    "Queue",
    "RouterLimits",
    "VisitState",
    "VisitView",
    "check_agent_id",
    "check_text",
    "new_visit_id",
]

MAX_AGENT_ID = 64
MAX_CONTEXT = 2000
MAX_NOTE = 1000
MAX_LABEL = 64
MAX_LABELS = 50
MAX_QUEUE_AGENTS = 500
_QUEUE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def new_visit_id() -> str:
    return "v_" + secrets.token_urlsafe(12)


class Medium(StrEnum):
    """What the visitor asked for; it decides which capacity a visit takes."""

    CHAT = "chat"
    VIDEO = "video"


class AgentPresence(StrEnum):
    """What an agent sets in the console (``busy`` is derived, never set)."""

    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"


class AgentState(StrEnum):
    """What supervisors see: presence, with ``busy`` when at capacity."""

    AVAILABLE = "available"
    BUSY = "busy"
    AWAY = "away"
    OFFLINE = "offline"


class VisitState(StrEnum):
    QUEUED = "queued"  # waiting (again, after a timeout, decline or transfer)
    OFFERED = "offered"  # one agent holds the offer until it answers or times out
    ACCEPTED = "accepted"  # an agent serves it
    COMPLETED = "completed"
    ABANDONED = "abandoned"  # the visitor left (or was refused) before an agent took it

    @property
    def open(self) -> bool:
        return self in (VisitState.QUEUED, VisitState.OFFERED, VisitState.ACCEPTED)


def check_agent_id(value: object) -> str:
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= MAX_AGENT_ID
        or not all(c.isalnum() or c in "._-@" for c in value)
    ):
        raise ValidationFailed("an agent is named by a username (letters, digits, . _ - @)")
    return value


def check_text(value: object, what: str, limit: int) -> str:
    """Free text a person typed (context, note, message): bounded, no surrogates."""
    if not isinstance(value, str):
        raise ValidationFailed(f"{what} must be text")
    if len(value) > limit:
        raise ValidationFailed(f"{what} is longer than {limit} characters")
    if has_surrogate(value) or "\x00" in value:
        raise ValidationFailed(f"{what} holds characters that are not allowed")
    return value.strip()


def _labels(values: frozenset[str], what: str) -> None:
    if len(values) > MAX_LABELS:
        raise ValidationFailed(f"at most {MAX_LABELS} {what}")
    for value in values:
        if not isinstance(value, str) or not 0 < len(value) <= MAX_LABEL or value != value.strip():
            raise ValidationFailed(f"each of the {what} is 1 to {MAX_LABEL} characters, trimmed")
        if has_surrogate(value) or not value.isprintable():
            raise ValidationFailed(f"{what} hold characters that are not allowed")


@dataclass(frozen=True, slots=True)
class Capacity:
    """ "One video meeting or N chats": an agent in a video visit takes nothing
    else; an agent in chats takes more chats up to ``chats``, and no video."""

    video: int = 1
    chats: int = 3

    def __post_init__(self) -> None:
        if not (0 <= self.video <= 4 and 0 <= self.chats <= 20):
            raise ValidationFailed("capacity: video 0 to 4, chats 0 to 20")

    def fits(self, medium: Medium, videos: int, chats: int) -> bool:
        """Whether one more visit of ``medium`` fits on top of the current load."""
        if medium is Medium.VIDEO:
            return chats == 0 and videos < self.video
        return videos == 0 and chats < self.chats


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """What an agent can take: capacity and skills. Empty skills mean any."""

    agent_id: str
    capacity: Capacity = Capacity()
    languages: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        check_agent_id(self.agent_id)
        _labels(self.languages, "languages")
        _labels(self.topics, "topics")

    def skilled_for(self, topic: str | None, language: str | None) -> bool:
        return (not self.topics or topic is None or topic in self.topics) and (
            not self.languages or language is None or language in self.languages
        )


@dataclass(frozen=True, slots=True)
class Queue:
    """A queue as an operator defines it. Empty ``topics`` / ``languages`` take
    any; ``hours`` ``None`` is always open; ``max_wait`` ``None`` is no limit."""

    name: str
    topics: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    hours: OpeningHours | None = None
    max_wait: timedelta | None = None
    agents: frozenset[str] = frozenset()
    #: A visit answered within this time counts towards the service level.
    service_level: timedelta = timedelta(seconds=60)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _QUEUE_NAME.fullmatch(self.name):
            raise ValidationFailed(
                "a queue name is 1 to 63 of a-z 0-9 _ -, starting with a letter or digit"
            )
        _labels(self.topics, "topics")
        _labels(self.languages, "languages")
        if len(self.agents) > MAX_QUEUE_AGENTS:
            raise ValidationFailed(f"at most {MAX_QUEUE_AGENTS} agents in a queue")
        for agent in self.agents:
            check_agent_id(agent)
        if self.max_wait is not None and not timedelta(0) < self.max_wait <= timedelta(days=1):
            raise ValidationFailed("max_wait is more than 0 and at most a day")
        if not timedelta(0) < self.service_level <= timedelta(hours=1):
            raise ValidationFailed("service_level is more than 0 and at most an hour")

    def is_open(self, now: datetime) -> bool:
        return self.hours is None or self.hours.is_open(now)

    def next_opening(self, now: datetime) -> datetime | None:
        return None if self.hours is None else self.hours.next_opening(now)


@dataclass(frozen=True, slots=True)
class RouterLimits:
    offer_timeout: timedelta = timedelta(seconds=20)
    #: After a decline or a missed offer the visit skips that agent this long.
    pass_cooldown: timedelta = timedelta(seconds=60)
    #: Offers missed in a row before the agent is set away.
    max_missed_offers: int = 2
    max_waiting_per_queue: int = 5000
    #: Handling times kept per queue for the wait estimate.
    samples: int = 20


@dataclass(frozen=True, slots=True)
class AgentView:
    """An agent as the router holds it (stored and restored as this)."""

    profile: AgentProfile
    presence: AgentPresence
    idle_since: datetime
    missed_offers: int = 0

    @property
    def agent_id(self) -> str:
        return self.profile.agent_id


@dataclass(frozen=True, slots=True)
class VisitView:
    """A visit as the router holds it (stored and restored as this). ``rank``
    orders first come, first served; a visit keeps it when it goes back.
    Not validated again: the router checked it when it entered (``Enqueue``),
    and views are made on every change, so they must be cheap."""

    visit_id: str
    queue: str
    display_name: str
    medium: Medium
    state: VisitState
    rank: int
    created_at: datetime
    queued_at: datetime  # entered the current wait (first time, or the transfer)
    topic: str | None = None
    language: str | None = None
    context: str = ""
    agent: str | None = None  # who holds the offer, or serves it
    offer_deadline: datetime | None = None
    target_agent: str | None = None  # a transfer to a named agent
    note: str = ""  # the last transfer's note
    transfers: int = 0
    accepted_at: datetime | None = None
    ended_at: datetime | None = None
    passed: tuple[tuple[str, datetime], ...] = field(default=())
