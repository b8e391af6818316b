"""The Python SDK and supervisors: monitor, whisper, barge against a real node;
what a guest cannot do is refused cleanly, before anything is sent."""

from __future__ import annotations

import pytest

from frontdesk.client import SessionState, join_as_user, join_with_token
from frontdesk.domain import LobbyBypass, SupervisorMode
from frontdesk.errors import IllegalState, PermissionDenied
from tests.client.test_against_server import FAST, PASSWORD, _agent, _next
from tests.support.live_server import LiveServer


async def test_monitor_whisper_barge_with_the_sdk(server: LiveServer) -> None:
    ops = server.ops
    await ops.accounts.create("sam", "Sam Supervisor", PASSWORD, "supervisor")
    m = await ops.meetings.create(
        subject="Mortgage", organizer="alice", lobby_bypass=LobbyBypass.TOKEN_HOLDERS
    )
    alice = await _agent(server, m.id)
    agent_events = alice.events()
    grant = await ops.guest_tokens.mint(m.id, display_name="Ann Visitor")
    ann = await join_with_token(grant.discovery_uri, grant.token, reconnect=FAST).connect()
    assert ann.state is SessionState.JOINED

    token, _, _ = await ops.accounts.login("sam", PASSWORD)
    sam = await join_as_user(server.base_url, m.id, token, reconnect=FAST, monitor=True).connect()
    assert sam.monitoring and sam.me is not None
    joined = await _next(agent_events, "participant_joined")
    while joined.data["participant"]["id"] != sam.participant_id:
        joined = await _next(agent_events, "participant_joined")
    assert alice.roster[sam.participant_id or ""].supervisor is SupervisorMode.MONITOR
    assert sam.participant_id not in ann.roster

    sent = await sam.whisper("Offer the fixed rate")
    got = await _next(agent_events, "whisper")
    assert got.data["text"] == "Offer the fixed rate"
    assert [w.seq for w in alice.whispers] == [sent.seq]

    # A guest cannot whisper nor barge: refused by the SDK, nothing sent.
    with pytest.raises(PermissionDenied):
        await ann.whisper("let me in on it")
    with pytest.raises(IllegalState):
        await ann.barge()
    with pytest.raises(IllegalState):
        await alice.barge()
    assert ann.whispers == []

    await sam.barge()
    await _next(agent_events, "supervisor_barged")
    assert alice.roster[sam.participant_id or ""].supervisor is SupervisorMode.BARGED
    await ann.chat.send("hello")  # after the barge's join, in order
    assert sam.participant_id in ann.roster
    assert ann.roster[sam.participant_id or ""].supervisor is None
    for meeting in (sam, ann, alice):
        await meeting.leave()


async def test_only_a_supervisor_monitors(server: LiveServer) -> None:
    m = await server.ops.meetings.create(subject="Savings", organizer="alice")
    await server.ops.accounts.create("bob", "Bob Agent", PASSWORD)
    token, _, _ = await server.ops.accounts.login("bob", PASSWORD)
    with pytest.raises(PermissionDenied):
        await join_as_user(server.base_url, m.id, token, reconnect=FAST, monitor=True).connect()
