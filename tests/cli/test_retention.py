"""``frontdesk retention run`` on a SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from frontdesk.server.operations import Operations
from frontdesk.store.base import EventRecord
from tests.cli.conftest import Cli


def _chat(meeting_id: str, seq: int, text: str, at: datetime) -> EventRecord:
    data = {"participant_id": "p_1", "display_name": "Ann", "text": text, "client_msg_id": str(seq)}
    return EventRecord(meeting_id, seq, "chat_message", {**data, "to": ["p_1"]}, at)


def _meeting_with_chat(cli: Cli) -> str:
    async def go(ops: Operations) -> str:
        await ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        m = await ops.meetings.create(subject="Old", organizer="alice")
        now = datetime.now(UTC)
        await ops.store.append_events(
            [
                _chat(m.id, 1, "from last week", now - timedelta(days=8)),
                _chat(m.id, 2, "from yesterday", now - timedelta(days=1, hours=1)),
                _chat(m.id, 3, "from today", now - timedelta(hours=1)),
            ]
        )
        return m.id

    return cli.with_ops(go)


def _texts(cli: Cli, meeting_id: str) -> list[str]:
    async def go(ops: Operations) -> list[str]:
        return [e.data["text"] for e in await ops.store.events_since(meeting_id, 0)]

    return cli.with_ops(go)


def test_retention_run_deletes_old_chat_text_once(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    meeting_id = _meeting_with_chat(cli)
    monkeypatch.delenv("FRONTDESK_CHAT_RETENTION_DAYS", raising=False)
    off = cli.json("retention", "run")
    assert off == {"enabled": False, "redacted": 0, "meetings": 0, "cutoff": None}
    assert "retention is off" in cli.ok("retention", "run").stdout

    out = cli.json("retention", "run", "--days", "7")
    assert (out["enabled"], out["redacted"], out["meetings"]) == (True, 1, 1)
    assert _texts(cli, meeting_id) == ["", "from yesterday", "from today"]

    monkeypatch.setenv("FRONTDESK_CHAT_RETENTION_DAYS", "1")
    assert cli.json("retention", "run")["redacted"] == 1
    assert cli.json("retention", "run")["redacted"] == 0
    assert _texts(cli, meeting_id) == ["", "", "from today"]
    assert cli("retention", "run", "--days", "0").exit_code == 2  # not a retention
