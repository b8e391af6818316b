"""What the transports ask the router to do.

``agent`` is always the signed-in agent who sent the command (the transport
authenticates, the router decides); ``Tick`` is the host's timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from frontdesk.domain.helpdesk.model import AgentPresence, AgentProfile, Medium, Queue

__all__ = [
    "Abandon",
    "Accept",
    "Complete",
    "Decline",
    "DeleteQueue",
    "Enqueue",
    "PutAgent",
    "PutQueue",
    "RouterCommand",
    "SetPresence",
    "Tick",
    "Transfer",
]


@dataclass(frozen=True, slots=True)
class PutQueue:
    """Create or replace a queue (members without a profile get a default one)."""

    queue: Queue


@dataclass(frozen=True, slots=True)
class DeleteQueue:
    name: str


@dataclass(frozen=True, slots=True)
class PutAgent:
    """Create or replace an agent's profile (capacity, skills)."""

    profile: AgentProfile


@dataclass(frozen=True, slots=True)
class SetPresence:
    agent: str
    presence: AgentPresence


@dataclass(frozen=True, slots=True)
class Enqueue:
    """A visitor asks for the next available agent of ``queue``."""

    visit_id: str
    queue: str
    display_name: str
    medium: Medium = Medium.VIDEO
    topic: str | None = None
    language: str | None = None
    context: str = ""


@dataclass(frozen=True, slots=True)
class Accept:
    agent: str
    visit_id: str


@dataclass(frozen=True, slots=True)
class Decline:
    agent: str
    visit_id: str


@dataclass(frozen=True, slots=True)
class Transfer:
    """Hand an accepted visit to another queue and/or a named agent."""

    agent: str
    visit_id: str
    to_queue: str | None = None
    to_agent: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Complete:
    """The agent is done (``agent`` ``None``: the system, e.g. the meeting ended)."""

    agent: str | None
    visit_id: str


@dataclass(frozen=True, slots=True)
class Abandon:
    """The visitor left before an agent took the visit."""

    visit_id: str
    reason: str = "left"


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: expire offers, end cooldowns, offer again."""


RouterCommand: TypeAlias = (
    PutQueue
    | DeleteQueue
    | PutAgent
    | SetPresence
    | Enqueue
    | Accept
    | Decline
    | Transfer
    | Complete
    | Abandon
    | Tick
)
