"""What a live room does when the store fails under it, and when it is dropped
while a join is on its way in: never an acknowledgement for what is not stored,
never two rooms for one meeting."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed

from frontdesk.domain.model import AccessPolicy
from tests.server.test_rtc import agent, rtc_url
from tests.support.live_server import LiveServer
from tests.support.rtc import RawClient


async def _chat_ids(srv: LiveServer, meeting_id: str) -> list[tuple[int, str]]:
    records = await srv.ops.store.events_since(meeting_id, 0)
    return [(r.seq, r.data["client_msg_id"]) for r in records if r.type == "chat_message"]


async def test_a_failed_write_is_never_acknowledged_and_the_retry_is_stored_once(
    server: LiveServer,
) -> None:
    ops, live = server.ops, server.app.state.live
    m = await ops.meetings.create(subject="x", organizer="alice", access_policy=AccessPolicy.DIRECT)
    alice = await agent(server, m.id)
    ok = await alice.request({"type": "chat", "id": "c1", "text": "stored"})
    assert ok["type"] == "ok"

    real_write = live.writer.write

    async def failing(records):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    live.writer.write = failing
    await alice.send({"type": "chat", "id": "c2", "text": "not stored", "ref": "r-c2"})
    # no ok for c2: the room is abandoned and the connection closed to resume
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            msg = await alice.recv()
            assert not (msg.get("ref") == "r-c2" and msg["type"] == "ok"), msg
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert live.loaded(m.id) is None

    live.writer.write = real_write
    resume_token = alice.welcome["resume_token"]
    again = await RawClient.connect(
        rtc_url(server), {"kind": "resume", "token": resume_token, "last_seq": 0}
    )
    assert again.welcome.get("resumed") is True, again.inbox
    retry = await again.request({"type": "chat", "id": "c2", "text": "not stored"})
    assert retry["type"] == "ok", retry
    dup = await again.request({"type": "chat", "id": "c2", "text": "not stored"})
    assert dup["type"] == "ok" and dup["result"] == retry["result"]
    ids = await _chat_ids(server, m.id)
    assert [cid for _, cid in ids] == ["c1", "c2"]  # each once
    seqs = [r.seq for r in await ops.store.events_since(m.id, 0)]
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, no collision


async def test_a_join_racing_the_drop_of_an_idle_room_lands_in_the_one_room(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The join fetched the room, then awaited a store write (noting the vouching
    application) while the room was dropped as idle: it must join that room
    (served again), not an orphan."""
    from frontdesk.server import audience

    ops, live = server.ops, server.app.state.live
    m = await ops.meetings.create(subject="x", organizer="alice", access_policy=AccessPolicy.DIRECT)
    first = await agent(server, m.id)
    await first.request({"type": "leave"})
    await asyncio.sleep(0.1)
    lr = await live.room(m.id)

    real_note = audience.note_guest_app
    checking = asyncio.Event()
    proceed = asyncio.Event()

    async def slow_note(*args):  # type: ignore[no-untyped-def]
        await real_note(*args)
        checking.set()
        await proceed.wait()

    monkeypatch.setattr(audience, "note_guest_app", slow_note)
    grant = await ops.guest_tokens.mint(m.id, display_name="Ann")
    joining = asyncio.create_task(
        RawClient.connect(rtc_url(server), {"kind": "token", "token": grant.token})
    )
    await checking.wait()
    live._drop(lr)  # what detach/tick do to an idle room
    assert live.loaded(m.id) is None
    proceed.set()
    ann = await joining
    assert ann.welcome["state"] == "joined", ann.inbox
    assert live.loaded(m.id) is lr
    bob = await agent(server, m.id)  # a later join finds the same room
    assert live.loaded(m.id) is lr
    joined = await bob.request({"type": "chat", "id": "b1", "text": "hello"})
    assert joined["type"] == "ok"
    seen = await ann.event("chat_message")
    assert seen["data"]["text"] == "hello"


async def test_long_chat_history_fits_in_frames_and_pages_back_completely(
    server: LiveServer,
) -> None:
    """60 messages of 4,000 non-ASCII characters (about 1.4 MB as JSON): a late
    joiner's welcome stays under the frame budget and history pages reach all."""
    from frontdesk.server.live import CHAT_FRAME_BYTES

    ops = server.ops
    m = await ops.meetings.create(subject="x", organizer="alice", access_policy=AccessPolicy.DIRECT)
    alice = await agent(server, m.id)
    text = "é" * 4000
    for i in range(60):
        await asyncio.sleep(0.06)  # under the per-connection rate limit
        ok = await alice.request({"type": "chat", "id": f"c{i}", "text": text})
        assert ok["type"] == "ok", ok
    late = await agent(server, m.id)
    snap = late.welcome["snapshot"]
    assert snap["chat_truncated"] is True and 0 < len(snap["chat"]) < 60
    assert len(json.dumps(snap["chat"])) <= CHAT_FRAME_BYTES
    seen = {c["client_msg_id"] for c in snap["chat"]}
    before = snap["chat"][0]["seq"]
    while True:
        page = await late.request({"type": "history", "before_seq": before, "limit": 200})
        assert page["type"] == "ok", page
        messages = page["result"]["messages"]
        assert len(json.dumps(messages)) <= CHAT_FRAME_BYTES
        seen |= {c["client_msg_id"] for c in messages}
        if not page["result"]["more"]:
            break
        before = messages[0]["seq"]
    assert seen == {f"c{i}" for i in range(60)}


async def test_a_resume_that_wins_the_lock_is_not_undone_by_the_old_connection(
    server: LiveServer,
) -> None:
    """The old connection's close and the new connection's resume race: when the
    resume takes the room first, the late close must not mark the participant
    reconnecting (its chat would then be refused)."""
    ops, live = server.ops, server.app.state.live
    m = await ops.meetings.create(subject="x", organizer="alice", access_policy=AccessPolicy.DIRECT)
    alice = await agent(server, m.id)
    lr = live.loaded(m.id)
    old = lr.conns[alice.pid]

    class Resumed:
        participant_id = alice.pid
        last_state = None

        def send(self, frame: str) -> None:
            pass

        def close(self, code: int, reason: str) -> None:
            pass

        def end_session(self, bye: str, code: int, reason: str) -> None:
            pass

    async with lr.lock:  # the resume holds the room ...
        closing = asyncio.create_task(live.detach(lr, old))  # ... when the old one closes
        await asyncio.sleep(0.05)
        lr.conns[alice.pid] = Resumed()  # the resume attaches its connection
    await closing
    assert lr.room.participant(alice.pid).state.value == "joined"
    lr.conns.pop(alice.pid, None)
