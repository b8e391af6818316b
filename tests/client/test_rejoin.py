"""One person, one row, against a real node: the Python SDK's URL join with a
client key, a token used again, and an agent's second session."""

from __future__ import annotations

import asyncio
import secrets

from frontdesk.client import Meeting, join, join_as_user, join_with_token
from frontdesk.domain import SessionState
from tests.support.live_server import LiveServer

from .conftest import FAST

PASSWORD = "correct horse battery"


def _roster_names(meeting: Meeting) -> list[str]:
    return sorted(p.display_name for p in meeting.roster.values())


async def test_a_url_guest_with_its_key_replaces_its_own_seat(server: LiveServer) -> None:
    m = await server.ops.meetings.create(subject="Rejoin", organizer="alice")
    token, _, _ = await server.ops.accounts.login("alice", PASSWORD)
    key = secrets.token_urlsafe(18)
    url = server.ops.meetings.join_url(m)
    async with join_as_user(server.base_url, m.id, token, reconnect=FAST) as alice:
        first = await join(url, display_name="Ann", client_key=key, reconnect=FAST).connect()
        assert first.state is SessionState.LOBBY
        for _ in range(100):
            if alice.lobby:
                break
            await asyncio.sleep(0.05)
        await alice.admit(first.participant_id or "")
        await first.admitted(timeout=5)

        second = await join(url, display_name="Ann", client_key=key, reconnect=FAST).connect()
        assert second.state is SessionState.JOINED  # admitted before: straight back in
        async with asyncio.timeout(5):
            assert await first.wait_closed() == "replaced"
            while first.participant_id in alice.roster:
                await asyncio.sleep(0.02)
        assert _roster_names(alice) == ["Alice Advisor", "Ann"]
        # Another key is another person: in the lobby, next to Ann.
        other = await join(url, display_name="Ann", reconnect=FAST).connect()
        assert other.state is SessionState.LOBBY
        await other.leave()
        await second.leave()


async def test_a_token_used_twice_and_a_second_agent_session_keep_one_row(
    server: LiveServer,
) -> None:
    m = await server.ops.meetings.create(subject="Tabs", organizer="alice")
    token, _, _ = await server.ops.accounts.login("alice", PASSWORD)
    grant = await server.ops.guest_tokens.mint(m.id, display_name="Tom Token")
    tab1 = await join_as_user(server.base_url, m.id, token, reconnect=FAST).connect()
    tab2 = await join_as_user(server.base_url, m.id, token, reconnect=FAST).connect()
    async with asyncio.timeout(5):
        assert await tab1.wait_closed() == "replaced"
    guest = await join_with_token(grant.discovery_uri, grant.token, reconnect=FAST).connect()
    await tab2.admit(guest.participant_id or "")
    await guest.admitted(timeout=5)
    again = await join_with_token(grant.discovery_uri, grant.token, reconnect=FAST).connect()
    assert again.state is SessionState.JOINED
    async with asyncio.timeout(5):
        assert await guest.wait_closed() == "replaced"
        while guest.participant_id in tab2.roster:
            await asyncio.sleep(0.02)
    assert _roster_names(tab2) == ["Alice Advisor", "Tom Token"]
    await again.leave()
    await tab2.leave()
