"""The SDK against a real Frontdesk node on 127.0.0.1 port 0 (uvicorn, SQLite)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from frontdesk.client import (
    Connection,
    DeniedAtLobby,
    Meeting,
    MeetingEvent,
    ReconnectPolicy,
    SessionState,
    join,
    join_as_user,
    join_with_token,
    websocket_connection,
)
from frontdesk.domain import Role
from frontdesk.errors import PermissionDenied, TokenInvalid
from tests.support.live_server import LiveServer

PASSWORD = "correct horse battery"
FAST = ReconnectPolicy(initial_delay_s=0.02, max_delay_s=0.2, give_up_after_s=5.0)


async def _agent(server: LiveServer, meeting_id: str) -> Meeting:
    token, _, _ = await server.ops.accounts.login("alice", PASSWORD)
    return await join_as_user(server.base_url, meeting_id, token, reconnect=FAST).connect()


async def _next(events: Any, name: str, timeout: float = 5.0) -> MeetingEvent:
    async with asyncio.timeout(timeout):
        async for event in events:
            if event.name == name:
                return event  # type: ignore[no-any-return]
    raise AssertionError(f"no {name} event")


async def test_token_join_lobby_admit_chat_and_late_joiner_history(server: LiveServer) -> None:
    ops = server.ops
    m = await ops.meetings.create(subject="Mortgage advice", organizer="alice")
    alice = await _agent(server, m.id)
    agent_events = alice.events()
    assert alice.state is SessionState.JOINED
    assert alice.me is not None and alice.me.role is Role.ORGANIZER

    grant = await ops.guest_tokens.mint(m.id, display_name="Ann Visitor")
    ann = await join_with_token(grant.discovery_uri, grant.token, reconnect=FAST).connect()
    ann_events = ann.events()
    assert ann.state is SessionState.LOBBY
    assert ann.lobby_position == 1 and ann.organizer_present is True

    waiting = await _next(agent_events, "participant_waiting")
    assert waiting.data["participant"]["display_name"] == "Ann Visitor"
    entry = alice.lobby[ann.participant_id or ""]
    assert entry.display_name == "Ann Visitor" and entry.vouched is True

    with pytest.raises(PermissionDenied):
        await ann.admit(alice.participant_id or "")  # a guest never admits

    await alice.admit(ann.participant_id or "")
    await ann.admitted(timeout=5)
    assert set(ann.roster) == {alice.participant_id, ann.participant_id}
    assert alice.lobby == {}

    sent = await ann.chat.send("Hello, I have a question")
    got = await _next(agent_events, "chat_message")
    assert got.message == sent
    reply = await alice.chat.send("Hello Ann, go ahead")
    got = await _next(ann_events, "chat_message")
    while got.seq == sent.seq:  # Ann's own message comes back to her too
        got = await _next(ann_events, "chat_message")
    assert got.message == reply

    late = await join(ops.meetings.join_url(m), display_name="Late Larry", reconnect=FAST).connect()
    assert late.state is SessionState.LOBBY
    assert late.chat.history == []  # nothing before admission
    waiting = await _next(agent_events, "participant_waiting")
    assert waiting.data["participant"]["vouched"] is False
    await alice.admit(late.participant_id or "")
    await late.admitted(timeout=5)
    assert [msg.text for msg in late.chat.history] == [sent.text, reply.text]
    assert late.chat.history == alice.chat.history == ann.chat.history

    await ann.leave()
    left = await _next(agent_events, "participant_left")
    assert left.data["participant_id"] == ann.participant_id
    for meeting in (late, alice):
        await meeting.leave()


async def test_deny_ends_the_guest_session(server: LiveServer) -> None:
    ops = server.ops
    m = await ops.meetings.create(subject="Advice", organizer="alice")
    alice = await _agent(server, m.id)
    grant = await ops.guest_tokens.mint(m.id, display_name="Dan")
    async with join_with_token(grant.discovery_uri, grant.token, reconnect=FAST) as dan:
        await alice.deny(dan.participant_id or "")
        with pytest.raises(DeniedAtLobby):
            await dan.admitted(timeout=5)
        assert dan.left_reason == "denied"
    await alice.leave()


def _chat_seqs(events: list[MeetingEvent]) -> list[int]:
    return [e.seq or 0 for e in events if e.name == "chat_message"]


def _recording(meeting: Meeting) -> list[MeetingEvent]:
    """Every ``chat_message`` event the application gets, duplicates included
    (``chat.history`` keys by seq, so it would hide a second delivery)."""
    got: list[MeetingEvent] = []
    meeting.on("chat_message", got.append)
    return got


async def _until_chats(recorded: list[list[MeetingEvent]], n: int) -> None:
    async with asyncio.timeout(10):
        while any(len(_chat_seqs(r)) < n for r in recorded):
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # room for a late duplicate to show up


async def test_dropped_connection_mid_burst_loses_nothing(server: LiveServer) -> None:
    """Cut the guest's TCP connection while sends are in flight: every send resolves
    once, each message is stored exactly once, and every client gets each
    acknowledged message's event exactly once, in order."""
    ops = server.ops
    m = await ops.meetings.create(subject="Burst", organizer="alice")
    alice = await _agent(server, m.id)
    alice_got = _recording(alice)
    conns: list[Any] = []

    async def tracking(url: str) -> Connection:
        conn = await websocket_connection(url)
        conns.append(conn)
        return conn

    grant = await ops.guest_tokens.mint(m.id, display_name="Bea")
    bea = join_with_token(
        grant.discovery_uri, grant.token, reconnect=FAST, open_connection=tracking
    )
    bea_got = _recording(bea)
    async with bea:
        await alice.admit(bea.participant_id or "")
        await bea.admitted(timeout=5)
        sends = [asyncio.create_task(bea.chat.send(f"msg {i}")) for i in range(20)]
        await asyncio.sleep(0.005)
        conns[0].transport.abort()
        stored = await asyncio.wait_for(asyncio.gather(*sends), 15)
        assert len(conns) >= 2  # it resumed on a new connection
        assert bea.state is SessionState.JOINED
        seqs = [msg.seq for msg in stored]
        assert len(set(seqs)) == 20
        texts = {msg.text for msg in stored}
        assert texts == {f"msg {i}" for i in range(20)}
        await _until_chats([alice_got, bea_got], 20)
        assert _chat_seqs(alice_got) == sorted(seqs)  # each once, in order
        assert _chat_seqs(bea_got) == sorted(seqs)
        history = alice.chat.history
        assert [msg.seq for msg in history] == sorted(seqs)
        assert sorted(msg.text for msg in history) == sorted(texts)
        assert bea.chat.history == history
    await alice.leave()


async def test_receiver_cut_mid_burst_gets_each_message_once_in_order(
    server: LiveServer,
) -> None:
    """Cut a *receiver's* connection while another participant sends a burst: after
    resuming, the receiver has every acknowledged message exactly once, in order."""
    ops = server.ops
    m = await ops.meetings.create(subject="Burst to a receiver", organizer="alice")
    conns: list[Any] = []

    async def tracking(url: str) -> Connection:
        conn = await websocket_connection(url)
        conns.append(conn)
        return conn

    token, _, _ = await ops.accounts.login("alice", PASSWORD)
    alice = await join_as_user(
        server.base_url, m.id, token, reconnect=FAST, open_connection=tracking
    ).connect()
    alice_got = _recording(alice)
    grant = await ops.guest_tokens.mint(m.id, display_name="Cy")
    async with join_with_token(grant.discovery_uri, grant.token, reconnect=FAST) as cy:
        cy_got = _recording(cy)
        await alice.admit(cy.participant_id or "")
        await cy.admitted(timeout=5)
        sends = [asyncio.create_task(cy.chat.send(f"msg {i}")) for i in range(30)]
        async with asyncio.timeout(5):
            while len(alice_got) < 5:  # the burst is reaching Alice
                await asyncio.sleep(0.001)
        conns[0].transport.abort()
        at_cut = len(alice_got)
        stored = await asyncio.wait_for(asyncio.gather(*sends), 15)
        seqs = sorted(msg.seq for msg in stored)
        assert len(set(seqs)) == 30
        await _until_chats([alice_got, cy_got], 30)
        assert at_cut < 30  # the cut was mid-burst: the rest came after resuming
        assert len(conns) >= 2  # Alice resumed on a new connection
        assert alice.state is SessionState.JOINED
        assert _chat_seqs(alice_got) == seqs  # each once, in order, none lost
        assert _chat_seqs(cy_got) == seqs
        assert [msg.seq for msg in alice.chat.history] == seqs
    await alice.leave()


async def test_bad_token_is_a_typed_error(server: LiveServer) -> None:
    m = await server.ops.meetings.create(subject="Advice", organizer="alice")
    grant = await server.ops.guest_tokens.mint(m.id, display_name="Eve")
    rtc = server.base_url.replace("http://", "ws://") + "/v1/rtc"
    meeting = join_with_token(grant.discovery_uri, grant.token[:-4] + "AAAA")
    with pytest.raises(TokenInvalid):
        await meeting.connect()
    # The same refusal straight at the rtc endpoint (no discovery).
    with pytest.raises(TokenInvalid):
        await join_as_user(server.base_url, m.id, "not-a-token", rtc_url=rtc).connect()
