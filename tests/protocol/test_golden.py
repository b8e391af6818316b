"""Today's frames and stored records, kept as golden files: the contract may be
re-typed, never silently changed. ``FRONTDESK_UPDATE_GOLDEN=1`` rewrites them
(review the diff: every change there is a wire or storage change)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from frontdesk.domain.events import Event
from frontdesk.domain.room import Room
from frontdesk.protocol.events import event_frame, event_from_record, event_to_record
from frontdesk.server.live import LiveRoom, wire_snapshot
from tests.protocol import scenario

GOLDEN = Path(__file__).parent / "golden"
SNAPSHOT_AT = {2: ("p_alice", "p_url", "p_ann"), 9: ("p_alice", "p_ann"), 17: ("p_alice",)}


def _frame(e: Event) -> dict[str, Any]:
    return json.loads(event_frame(e))


def _record(e: Event) -> dict[str, Any]:
    assert e.seq is not None
    return {"seq": e.seq, "type": str(e.type), "at": e.at.isoformat(), "data": event_to_record(e)}


def _produce() -> dict[str, Any]:
    records: list[dict[str, Any]] = []
    frames: list[dict[str, Any]] = []
    snapshots: dict[str, Any] = {}
    for i, (room, _command, events) in enumerate(scenario.run()):
        for e in events:
            assert isinstance(e, Event)
            frames.append({"to": sorted(e.to), "frame": _frame(e)})
            if e.seq is not None:
                records.append(_record(e))
        for pid in SNAPSHOT_AT.get(i, ()):
            lr = LiveRoom(room.meeting.id, room, organizer_name="Alice Advisor")
            snapshots[f"{i}:{pid}"] = wire_snapshot(lr, pid)
    return {"records": records, "frames": frames, "snapshots": snapshots}


def _check(name: str, value: Any) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(value, indent=1, ensure_ascii=False, sort_keys=False) + "\n"
    if os.environ.get("FRONTDESK_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == value, f"{name} changed"


def test_frames_records_and_snapshots_match_the_golden_files() -> None:
    produced = _produce()
    for name, value in produced.items():
        _check(name, value)


def test_golden_records_restore_the_same_room() -> None:
    """Event logs stored by earlier versions restore: the golden records fold
    into the room the live scenario ended with."""
    records = json.loads((GOLDEN / "records.json").read_text(encoding="utf-8"))
    live = list(scenario.run())[-1][0]
    events = [event_from_record(r["seq"], r["type"], _parse(r["at"]), r["data"]) for r in records]
    restored = Room.restore(scenario.MEETING, events)
    assert restored.last_seq == live.last_seq
    assert restored.ended == live.ended
    assert [p for p in restored.participants.values()] == list(live.participants.values())
    assert list(restored.chat) == list(live.chat)


def _parse(value: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value)
