"""The SDK against a real node: server frames far over the 64 KiB client-frame cap
(snapshots and history with long messages), and idempotent chat retries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from frontdesk.client import (
    Chat,
    ChatMessage,
    Connection,
    Meeting,
    MeetingEvent,
    ReconnectPolicy,
    SessionState,
    join_as_user,
    join_with_token,
    websocket_connection,
)
from frontdesk.config import Settings
from frontdesk.errors import LimitExceeded, Unavailable
from frontdesk.protocol import MAX_FRAME_BYTES
from frontdesk.protocol.messages import MAX_SERVER_FRAME, decode_client, decode_server
from tests.support.live_server import LiveServer, live_server

PASSWORD = "correct horse battery"
FAST = ReconnectPolicy(initial_delay_s=0.02, max_delay_s=0.2, give_up_after_s=5.0)
LONG = 4000  # the domain's longest chat message


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db",
        ws_messages_per_s=1000.0,  # the tests send bursts; rate limits are tested elsewhere
    )
    async with live_server(settings) as srv:
        await srv.ops.accounts.create("alice", "Alice Advisor", PASSWORD)
        yield srv


class Tap:
    """A real connection the test can cut, and whose chat acknowledgements it can
    swallow (the server stored the message, the SDK never hears so)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.transport = ws.transport  # the session aborts a dead connection by it
        self.swallow_chat_acks = False
        self.chat_refs: set[str] = set()
        self.swallowed = 0
        self.received_bytes: list[int] = []

    async def send(self, message: str) -> None:
        if self.swallow_chat_acks:
            frame = json.loads(message)
            if frame.get("type") == "chat":
                self.chat_refs.add(frame["ref"])
        await self.ws.send(message)

    async def recv(self) -> str | bytes:
        while True:
            raw: str | bytes = await self.ws.recv()
            self.received_bytes.append(len(raw.encode() if isinstance(raw, str) else raw))
            if self.chat_refs:
                frame = json.loads(raw)
                if frame.get("type") == "ok" and frame.get("ref") in self.chat_refs:
                    self.chat_refs.discard(frame["ref"])
                    self.swallowed += 1
                    continue
            return raw

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)

    def cut(self) -> None:
        self.transport.abort()


def tapping(taps: list[Tap]) -> Callable[[str], Any]:
    async def open_connection(url: str) -> Connection:
        tap = Tap(await websocket_connection(url))
        taps.append(tap)
        return tap

    return open_connection


async def _agent(server: LiveServer, meeting_id: str) -> Meeting:
    token, _, _ = await server.ops.accounts.login("alice", PASSWORD)
    return await join_as_user(server.base_url, meeting_id, token, reconnect=FAST).connect()


async def _server_history(meeting: Meeting) -> list[ChatMessage]:
    """Every stored message, straight from the server's ``history`` answers (a fresh
    Chat on the meeting's session, so nothing the SDK saw earlier hides a gap)."""
    fresh = Chat(meeting._request)
    while True:
        older = await fresh.load_older(200)
        if not older:
            return fresh.history


def _chat_seqs(events: list[MeetingEvent]) -> list[int]:
    return [e.seq or 0 for e in events if e.name == "chat_message"]


def test_server_frames_have_their_own_larger_cap() -> None:
    assert MAX_SERVER_FRAME > 200 * LONG * 4  # 200 messages of 4,000 four-byte characters
    big = json.dumps({"type": "pong", "pad": "x" * (MAX_FRAME_BYTES * 4)})
    assert decode_server(big)["type"] == "pong"
    with pytest.raises(LimitExceeded):
        decode_server(json.dumps({"type": "pong", "pad": "x" * MAX_SERVER_FRAME}))
    with pytest.raises(LimitExceeded):  # client frames keep the 64 KiB cap
        decode_client(json.dumps({"type": "ping", "ref": "r", "pad": "x" * MAX_FRAME_BYTES}))


async def test_long_chat_join_admit_resume_and_history(server: LiveServer) -> None:
    """40 messages of 4,000 characters: the state snapshot at admission, the resume
    welcome and the history answers are all far over 64 KiB, and all get through."""
    ops = server.ops
    m = await ops.meetings.create(subject="Long talk", organizer="alice")
    alice = await _agent(server, m.id)
    sent = []
    for i in range(40):
        text = f"{i:02d} " + chr(ord("a") + i % 26) * (LONG - 3)
        sent.append(await alice.chat.send(text))
    assert all(len(msg.text) == LONG for msg in sent)

    taps: list[Tap] = []
    grant = await ops.guest_tokens.mint(m.id, display_name="Gus")
    gus = join_with_token(
        grant.discovery_uri, grant.token, reconnect=FAST, open_connection=tapping(taps)
    )
    async with gus:
        assert gus.state is SessionState.LOBBY
        await alice.admit(gus.participant_id or "")
        await gus.admitted(timeout=10)
        assert max(taps[0].received_bytes) > MAX_FRAME_BYTES  # the snapshot was big

        resumed = asyncio.Event()
        gus.on("state_changed", lambda e: resumed.set() if e.data.get("resumed") else None)
        taps[0].cut()
        await asyncio.wait_for(resumed.wait(), 10)
        assert len(taps) == 2 and gus.state is SessionState.JOINED
        assert max(taps[1].received_bytes) > MAX_FRAME_BYTES  # the resume welcome too

        # However many messages a snapshot carries, the history answers give the rest.
        while len(gus.chat) < len(sent):
            assert await gus.chat.load_older(200), "history ended before all messages"
        assert gus.chat.history == sent
        assert await _server_history(gus) == sent
        answer = await gus._request("history", {"before_seq": 2**53, "limit": 200}, True)
        assert len(json.dumps(answer)) > MAX_FRAME_BYTES and len(answer["messages"]) == 40
    await alice.leave()


async def test_timed_out_send_retried_with_its_id_is_stored_once(server: LiveServer) -> None:
    """The server stores a message but its ack is lost: the send times out with the
    id; a retry with that id returns the same stored message; stored once. Then an
    ack lost with the connection cut: the SDK re-sends with the same id itself."""
    ops = server.ops
    m = await ops.meetings.create(subject="Retry", organizer="alice")
    alice = await _agent(server, m.id)
    alice_events: list[MeetingEvent] = []
    alice.on("chat_message", alice_events.append)
    taps: list[Tap] = []
    grant = await ops.guest_tokens.mint(m.id, display_name="Rita")
    rita = join_with_token(
        grant.discovery_uri,
        grant.token,
        reconnect=FAST,
        open_connection=tapping(taps),
        request_timeout=1.0,
    )
    async with rita:
        rita_events: list[MeetingEvent] = []
        rita.on("chat_message", rita_events.append)
        await alice.admit(rita.participant_id or "")
        await rita.admitted(timeout=5)

        taps[0].swallow_chat_acks = True
        with pytest.raises(Unavailable) as caught:
            await rita.chat.send("Did this arrive?")
        cmid = caught.value.client_msg_id  # type: ignore[attr-defined]
        assert isinstance(cmid, str) and cmid and taps[0].swallowed == 1
        taps[0].swallow_chat_acks = False
        retried = await rita.chat.send("Did this arrive?", client_msg_id=cmid)
        assert retried.client_msg_id == cmid and retried.text == "Did this arrive?"

        # Ack lost and the connection cut before it: resent after resuming, same id.
        taps[0].swallow_chat_acks = True
        pending = asyncio.create_task(rita.chat.send("And this?", client_msg_id="rita-2"))
        async with asyncio.timeout(5):
            while taps[0].swallowed < 2:
                await asyncio.sleep(0.01)
        taps[0].cut()
        second = await asyncio.wait_for(pending, 10)
        assert len(taps) == 2 and second.client_msg_id == "rita-2"

        stored = await _server_history(alice)
        assert [msg.client_msg_id for msg in stored] == [cmid, "rita-2"]
        assert [msg.seq for msg in stored] == [retried.seq, second.seq]
        async with asyncio.timeout(5):
            while len(alice_events) < 2 or len(rita_events) < 2:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # room for a duplicate to show up
        assert _chat_seqs(alice_events) == _chat_seqs(rita_events) == [retried.seq, second.seq]
    await alice.leave()


async def test_error_without_ack_carries_the_client_msg_id(server: LiveServer) -> None:
    """When the session ends before the ack, the error names the id it was sent with,
    and each of several failed sends names its own."""
    ops = server.ops
    m = await ops.meetings.create(subject="Gone", organizer="alice")
    alice = await _agent(server, m.id)
    taps: list[Tap] = []
    grant = await ops.guest_tokens.mint(m.id, display_name="Lou")
    never = ReconnectPolicy(initial_delay_s=0.05, max_delay_s=0.05, give_up_after_s=0.0)
    lou = join_with_token(
        grant.discovery_uri, grant.token, reconnect=never, open_connection=tapping(taps)
    )
    async with lou:
        await alice.admit(lou.participant_id or "")
        await lou.admitted(timeout=5)
        taps[0].swallow_chat_acks = True
        sends = [
            asyncio.create_task(lou.chat.send(f"m{i}", client_msg_id=f"lou-{i}")) for i in range(3)
        ]
        async with asyncio.timeout(5):
            while taps[0].swallowed < 3:
                await asyncio.sleep(0.01)
        taps[0].cut()
        results = await asyncio.gather(*sends, return_exceptions=True)
        assert [getattr(r, "client_msg_id", None) for r in results] == ["lou-0", "lou-1", "lou-2"]
        assert all(getattr(r, "code", None) == "connection_lost" for r in results)
    await alice.leave()
