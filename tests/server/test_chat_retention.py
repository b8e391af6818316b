"""Chat retention on a live node, on SQLite and PostgreSQL, with the node's clock
moved on (no sleeping): old chat loses its text everywhere it can be read —
the transcript, a client's history, a resumed session's catch-up, a room
restored after a restart — and shows as removed, while who wrote when stays."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from frontdesk.config import Settings
from frontdesk.domain import AccessPolicy
from frontdesk.errors import ValidationFailed
from frontdesk.server.app import run_chat_retention
from frontdesk.server.retention import ChatRetention
from tests.support.databases import postgres_url_or_skip, schema_url, temp_schema
from tests.support.live_server import LiveServer, live_server
from tests.support.rtc import RawClient

PASSWORD = "correct horse battery"


class Clock:
    """The retention policy's clock, set by the test (the node's own clock, which
    tokens expire by, runs on as usual)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/fd.db"
        return
    url = await postgres_url_or_skip()
    async with temp_schema(url) as schema:
        yield schema_url(url, schema)


def rtc_url(srv: LiveServer) -> str:
    return srv.base_url.replace("http://", "ws://") + "/v1/rtc"


async def agent(srv: LiveServer, meeting_id: str) -> RawClient:
    token, _, _ = await srv.ops.accounts.login("alice", PASSWORD)
    return await RawClient.connect(
        rtc_url(srv), {"kind": "session", "token": token, "meeting_id": meeting_id}
    )


async def chat(c: RawClient, cid: str, text: str) -> dict[str, Any]:
    got = await c.request({"type": "chat", "id": cid, "text": text})
    assert got["type"] == "ok", got
    message: dict[str, Any] = got["result"]["message"]
    return message


async def transcript(srv: LiveServer, meeting_id: str) -> list[dict[str, Any]]:
    token, _, _ = await srv.ops.accounts.login("alice", PASSWORD)
    async with httpx.AsyncClient(
        base_url=srv.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        r = await http.get(f"/v1/me/meetings/{meeting_id}/transcript")
    assert r.status_code == 200, r.text
    return [e for e in r.json()["entries"] if e["kind"] == "chat"]


async def test_old_chat_is_removed_everywhere_and_the_trail_stays(database_url: str) -> None:
    clock = Clock()
    settings = Settings(database_url=database_url, chat_retention_days=30)
    async with contextlib.AsyncExitStack() as stack:
        srv = await stack.enter_async_context(live_server(settings))
        srv.ops.retention = ChatRetention(srv.ops.store, clock, settings.chat_retention_days)
        live = srv.app.state.live
        await srv.ops.accounts.create("alice", "Alice Advisor", PASSWORD)
        m = await srv.ops.meetings.create(
            subject="Card blocked", organizer="alice", access_policy=AccessPolicy.DIRECT
        )
        alice = await agent(srv, m.id)
        ann = await RawClient.connect(
            rtc_url(srv),
            {"kind": "url", "join_url": srv.ops.meetings.join_url(m), "display_name": "Ann"},
        )
        old = await chat(ann, "c1", "my card number is 4111")
        # Nothing is old enough yet: a run changes nothing.
        clock.now = datetime.now(UTC) + timedelta(days=29)
        assert (await run_chat_retention(srv.ops, live)).redacted == 0

        # 30 days after a moment between the two messages: the older one goes.
        clock.now = datetime.now(UTC) + timedelta(days=30)
        fresh = await chat(alice, "a1", "It is unblocked now.")
        done = await run_chat_retention(srv.ops, live)
        assert (done.redacted, done.meetings, done.complete) == (1, 1, True)
        assert done.cutoff is not None
        assert datetime.fromisoformat(old["at"]) < done.cutoff < datetime.fromisoformat(fresh["at"])
        assert (await run_chat_retention(srv.ops, live)).redacted == 0  # idempotent

        # The transcript: the message is there, from Ann, at its time, removed.
        removed, kept = await transcript(srv, m.id)
        assert (removed["seq"], removed["actor"]["display_name"]) == (old["seq"], "Ann")
        assert datetime.fromisoformat(removed["at"]) == datetime.fromisoformat(old["at"])
        assert (removed["text"], removed["removed"]) == (None, True)
        assert removed["removed_at"] is not None
        assert (kept["text"], kept["removed"]) == ("It is unblocked now.", False)

        # A client's history (from the live room's memory) shows it removed.
        got = await alice.request({"type": "history", "before_seq": fresh["seq"] + 1})
        assert got["type"] == "ok", got
        messages = got["result"]["messages"]
        assert [(x["seq"], x["text"], x.get("redacted", False)) for x in messages] == [
            (old["seq"], "", True),
            (fresh["seq"], "It is unblocked now.", False),
        ]

        # A session that resumes from before the message catches up on it removed.
        resume = ann.welcome["resume_token"]
        ann.ws.transport.abort()
        back = await RawClient.connect(
            rtc_url(srv), {"kind": "resume", "token": resume, "last_seq": old["seq"] - 1}
        )
        replayed = await back.wait_for(
            lambda x: x.get("type") == "event" and x["name"] == "chat_message"
        )
        assert replayed["seq"] == old["seq"]
        assert (replayed["data"]["text"], replayed["data"]["redacted"]) == ("", True)
        for c in (alice, back):
            await c.close()

    # Restarted on the same database: the room restored from the redacted log works.
    async with live_server(settings) as srv:
        alice = await agent(srv, m.id)
        chat_log = alice.welcome["snapshot"]["chat"]
        assert [(x["seq"], x["text"], x.get("redacted", False)) for x in chat_log] == [
            (old["seq"], "", True),
            (fresh["seq"], "It is unblocked now.", False),
        ]
        again = await chat(alice, "a2", "Anything else?")
        assert again["seq"] > fresh["seq"]
        await alice.close()


def test_retention_is_off_unless_set_and_never_negative() -> None:
    now = datetime(2026, 1, 31, tzinfo=UTC)
    off = ChatRetention(store=None, clock=lambda: now, days=0)  # type: ignore[arg-type]
    assert not off.enabled and off.cutoff() is None
    on = ChatRetention(store=None, clock=lambda: now, days=30)  # type: ignore[arg-type]
    assert on.cutoff() == datetime(2026, 1, 1, tzinfo=UTC)
    assert on.cutoff(days=1) == datetime(2026, 1, 30, tzinfo=UTC)
    with pytest.raises(ValidationFailed):
        ChatRetention(store=None, clock=lambda: now, days=-1)  # type: ignore[arg-type]
    assert Settings.from_env({"FRONTDESK_CHAT_RETENTION_DAYS": "14"}).chat_retention_days == 14
    assert Settings.from_env({}).chat_retention_days == 0


async def test_a_run_forgets_finished_webhook_deliveries_past_the_retention(
    tmp_path: Path,
) -> None:
    """A ``chat.message`` delivery holds the text: once delivered (or failed) and
    older than the chat retention, it goes, even within the webhook retention."""
    import sqlalchemy as sa

    from frontdesk.store import tables as t
    from frontdesk.store.outbox import WebhookDelivery
    from frontdesk.store.sql import SqlStore
    from tests.store import samples as s

    store = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path}/fd.db")
    try:
        await store.create_app(s.app("app_1"))
        await store.create_webhook(s.webhook("wh_1"))
        now = datetime.now(UTC)
        payload = {"meeting_id": "m_1", "text": "my card number is 4111"}
        deliveries = [
            WebhookDelivery(id=f"d_{i}", webhook_id="wh_1", app_id="app_1", event="chat.message",
                            payload=payload, meeting_id="m_1", created_at=now)
            for i in range(3)
        ]  # fmt: skip
        await store.enqueue_webhook_deliveries(deliveries)
        await store.claim_webhook_deliveries("node-a", limit=2, claim_s=30)
        assert await store.mark_webhook_delivered("d_0")
        assert await store.mark_webhook_delivered("d_1")
        async with store.engine.begin() as conn:  # d_0 was delivered three days ago
            await conn.execute(
                sa.update(t.webhook_deliveries)
                .where(t.webhook_deliveries.c.id.in_(["d_0", "d_2"]))
                .values(next_attempt_at=now - timedelta(days=3))
            )
        done = await ChatRetention(store, lambda: now, days=2).run()
        assert done.webhook_deliveries == 1
        left = {d.id for d in await store.list_webhook_deliveries()}
        assert left == {"d_1", "d_2"}  # recent, and still pending however old
    finally:
        await store.close()
