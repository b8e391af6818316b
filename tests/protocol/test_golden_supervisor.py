"""The wire and stored form of supervisors' events, kept as a golden file: a
monitor's join, a whisper, a barge in (the agents' event and the guests' plain
join), and each participant's snapshot on the way. ``FRONTDESK_UPDATE_GOLDEN=1``
rewrites it (review the diff: every change there is a wire or storage change)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from frontdesk.domain import commands as cmd
from frontdesk.domain.model import LobbyBypass, Role, UserRole
from frontdesk.domain.participants import JoinMethod
from frontdesk.domain.room import Room
from frontdesk.protocol.events import event_from_record
from frontdesk.server.live import LiveRoom, wire_snapshot
from tests.protocol import scenario
from tests.protocol.test_golden import _check, _frame, _parse, _record

MEETING = scenario.MEETING.__class__(
    id="m_supervised",
    join_code="code2",
    subject="Mortgage advice",
    organizer="alice",
    created_at=scenario.T0,
    lobby_bypass=LobbyBypass.TOKEN_HOLDERS,
)


def commands() -> Iterator[cmd.Command]:
    yield cmd.Join("p_alice", "Alice Advisor", Role.ORGANIZER, JoinMethod.USER, username="alice")
    yield cmd.Join("p_ann", "Ann Visitor", Role.GUEST, JoinMethod.TOKEN)
    yield cmd.Join(
        "p_sam",
        "Sam Supervisor",
        Role.PRESENTER,
        JoinMethod.USER,
        username="sam",
        user_role=UserRole.SUPERVISOR,
        monitor=True,
    )
    yield cmd.Whisper("p_sam", "w1", "Offer the fixed rate")
    yield cmd.Whisper("p_alice", "w2", "Will do")
    yield cmd.Disconnect("p_sam")
    yield cmd.Reconnect("p_sam")
    yield cmd.Barge("p_sam")
    yield cmd.SendChat("p_sam", "c1", "Hello Ann")


def _produce() -> dict[str, Any]:
    room = Room(MEETING)
    records: list[dict[str, Any]] = []
    frames: list[dict[str, Any]] = []
    snapshots: dict[str, Any] = {}
    for i, command in enumerate(commands()):
        for e in room.handle(command, scenario.T0 + timedelta(seconds=i + 1)):
            frames.append({"to": sorted(e.to), "staff_only": e.staff_only, "frame": _frame(e)})
            if e.seq is not None:
                records.append(_record(e))
        if i in (4, 8):
            lr = LiveRoom(room.meeting.id, room, organizer_name="Alice Advisor")
            for pid in ("p_alice", "p_ann", "p_sam"):
                snapshots[f"{i}:{pid}"] = wire_snapshot(lr, pid)
    return {"records": records, "frames": frames, "snapshots": snapshots}


def test_supervisor_frames_records_and_snapshots_match_the_golden_file() -> None:
    _check("supervisor", _produce())


def test_supervisor_records_restore_the_same_room() -> None:
    produced = _produce()
    events = [
        event_from_record(r["seq"], r["type"], _parse(r["at"]), r["data"])
        for r in produced["records"]
    ]
    restored = Room.restore(MEETING, events)
    live = Room(MEETING)
    for i, command in enumerate(commands()):
        live.handle(command, scenario.T0 + timedelta(seconds=i + 1))
    assert list(restored.participants.values()) == list(live.participants.values())
    assert list(restored.whispers) == list(live.whispers)
    assert restored.snapshot_for("p_ann") == live.snapshot_for("p_ann")
