"""Shared helpers for the live-meeting domain tests (no fixtures, plain functions)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from frontdesk.domain import (
    AccessPolicy,
    Admit,
    Event,
    Join,
    JoinMethod,
    Limits,
    LobbyBypass,
    Meeting,
    Role,
    Room,
    UserRole,
)
from frontdesk.protocol.events import (
    event_from_record,
    event_to_record,
    payload_to_wire,
    snapshot_to_wire,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_meeting(
    policy: AccessPolicy = AccessPolicy.LOBBY,
    bypass: LobbyBypass = LobbyBypass.NONE,
    *,
    start: datetime | None = None,
) -> Meeting:
    return Meeting(
        id="m_test",
        join_code="code",
        subject="Mortgage advice",
        organizer="alice",
        created_at=T0,
        access_policy=policy,
        lobby_bypass=bypass,
        start=start,
    )


def make_room(
    policy: AccessPolicy = AccessPolicy.LOBBY,
    bypass: LobbyBypass = LobbyBypass.NONE,
    limits: Limits = Limits(),
) -> Room:
    return Room(make_meeting(policy, bypass), limits)


def organizer(pid: str = "org") -> Join:
    return Join(pid, "Alice Agent", Role.ORGANIZER, JoinMethod.USER, username="alice")


def presenter(pid: str = "pres") -> Join:
    return Join(pid, "Pat Presenter", Role.PRESENTER, JoinMethod.USER, username="pat")


def attendee(pid: str = "att") -> Join:
    return Join(pid, "Ada Attendee", Role.ATTENDEE, JoinMethod.USER, username="ada")


def supervisor(pid: str = "sup", *, monitor: bool = True) -> Join:
    """A signed-in supervisor; by default watching unseen (monitor mode)."""
    return Join(
        pid,
        "Sam Supervisor",
        Role.PRESENTER,
        JoinMethod.USER,
        username="sam",
        user_role=UserRole.SUPERVISOR,
        monitor=monitor,
    )


def url_guest(pid: str = "g1", name: str = "Ann Visitor") -> Join:
    return Join(pid, name, Role.GUEST, JoinMethod.URL)


def token_guest(pid: str = "t1", name: str = "Tom Token", role: Role = Role.GUEST) -> Join:
    return Join(pid, name, role, JoinMethod.TOKEN)


def admitted_guest(room: Room, pid: str, now: datetime = T0, actor: str = "org") -> list[Event]:
    """Join a URL guest to a lobby meeting and admit it."""
    return room.handle(url_guest(pid), now) + room.handle(Admit(actor, pid), now)


def types(events: Iterable[Event]) -> list[str]:
    return [e.type for e in events]


def of_type(events: Iterable[Event], type_: str) -> list[Event]:
    return [e for e in events if e.type == type_]


def state_key(room: Room) -> tuple[Any, ...]:
    """Everything observable about a room, copied, for before/after comparisons."""
    return (
        room.last_seq,
        room.ended,
        room.meeting,
        {pid: dataclasses.replace(p) for pid, p in room.participants.items()},
        tuple(room.chat),
        tuple(p.id for p in room.lobby()),
        room.next_deadline(),
        {pid: room.snapshot_for(pid) for pid in room.participants},
    )


def through_store(events: Iterable[Event]) -> list[Event]:
    """Sequenced events as they come back from a store (JSON round trip of the data)."""
    out = []
    for e in events:
        if e.seq is None:
            continue
        data = json.loads(json.dumps(event_to_record(e)))
        out.append(event_from_record(e.seq, e.type, e.at, data))
    return out


def wire(e: Event) -> dict[str, Any]:
    """An event's data as clients see it (the protocol's codec)."""
    return payload_to_wire(e.payload)


def snapshot(room: Room, pid: str) -> dict[str, Any]:
    """A participant's snapshot as clients see it (the protocol's codec)."""
    return snapshot_to_wire(room.snapshot_for(pid))
