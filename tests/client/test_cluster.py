"""The App SDK in a cluster: it follows ``wrong_node`` redirects, and finds the
meeting's node again (discovery, or the public address) when its node dies.

The "cluster" is real nodes on loopback behind :mod:`tests.support.balancer`, a
protocol peer that answers every hello with ``wrong_node`` pointing at the node
that hosts the meeting, as any other node of a cluster would.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from frontdesk.client import (
    ReconnectPolicy,
    SessionState,
    TooManyRedirects,
    join,
    join_as_user,
    join_with_token,
)
from frontdesk.client._session import MAX_REDIRECTS, OPEN_RETRIES, redirect_target
from frontdesk.config import Settings
from frontdesk.domain.model import AccessPolicy
from frontdesk.errors import ProtocolError, Unavailable, WrongNode
from tests.support.balancer import running_balancer
from tests.support.live_server import LiveServer, live_server

from .conftest import FAST
from .fake_rtc import FakeRtc, running, until

PASSWORD = "correct horse battery"
QUICK = ReconnectPolicy(initial_delay_s=0.02, max_delay_s=0.2, give_up_after_s=20.0)


def rtc_of(node: LiveServer) -> str:
    return node.base_url.replace("http://", "ws://") + "/v1/rtc"


async def _joined(*clients: Any, timeout: float = 15.0) -> None:
    await until(lambda: all(c.state is SessionState.JOINED for c in clients), timeout)


async def test_the_first_join_follows_a_redirect(server: LiveServer) -> None:
    m = await server.ops.meetings.create(
        subject="", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    async with running_balancer(rtc_of(server)) as front:
        # the join URL as the cluster publishes it: on the public address
        join_url = front.join_url(m.join_code)
        async with join(join_url, display_name="Ann", reconnect=FAST) as ann:
            await ann.admitted(timeout=5)
            assert ann.rtc_url == rtc_of(server)  # the hosting node is the current one
            assert (await ann.chat.send("hello")).text == "hello"
        assert front.hello_kinds() == ["url"]


async def test_a_redirect_to_anything_but_a_websocket_url_is_refused() -> None:
    for target in ("https://127.0.0.1:9/v1/rtc", "javascript:alert(1)", "/v1/rtc", "ws://"):
        async with running_balancer(target) as front:
            meeting = join(front.join_url("AbCdEf"), display_name="Ann", reconnect=FAST)
            with pytest.raises(ProtocolError, match="only ws:// and wss://"):
                await meeting.connect()
            assert len(front.hellos) == 1, target  # not followed, not tried again
            assert meeting.state is SessionState.LEFT


def test_a_redirect_never_leaves_tls() -> None:
    moved = WrongNode("elsewhere", rtc_url="ws://node-2.example/v1/rtc")
    with pytest.raises(ProtocolError, match="wss:// to ws://"):
        redirect_target(moved, "wss://fd.example/v1/rtc")
    assert redirect_target(moved, "ws://fd.example/v1/rtc") == "ws://node-2.example/v1/rtc"
    secure = WrongNode("elsewhere", rtc_url="wss://node-2.example/v1/rtc")
    assert redirect_target(secure, "ws://fd.example/v1/rtc") == "wss://node-2.example/v1/rtc"
    with pytest.raises(Unavailable):  # no rtc_url: try again from home
        redirect_target(WrongNode("elsewhere"), "wss://fd.example/v1/rtc")


async def test_a_redirect_loop_stops_at_the_hop_limit() -> None:
    async with running_balancer() as front:
        front.target = front.rtc_url  # every node says another one hosts it
        meeting = join(front.join_url("AbCdEf"), display_name="Ann", reconnect=FAST)
        with pytest.raises(TooManyRedirects) as caught:
            await meeting.connect()
    err = caught.value
    assert isinstance(err, Unavailable) and err.code == "unavailable"
    assert len(err.extra["rtc_urls"]) == MAX_REDIRECTS + 2
    # each attempt is one hello and MAX_REDIRECTS redirects; the join tries
    # OPEN_RETRIES more times (nodes that disagree settle after a takeover)
    assert len(front.hellos) == (MAX_REDIRECTS + 1) * (OPEN_RETRIES + 1)


async def test_the_room_moving_mid_session_resumes_where_it_went() -> None:
    async with running(FakeRtc()) as old, running(FakeRtc()) as new:
        async with join(old.join_url, display_name="Ann", reconnect=FAST) as ann:
            errors: list[Any] = []
            ann.on("error", errors.append)
            await ann.chat.send("before")
            new.events, new.chat = old.events, old.chat  # the room, taken over
            assert old.conn is not None
            await old.send(
                {
                    "type": "error",
                    "code": "wrong_node",
                    "message": "moved",
                    "rtc_url": new.rtc_url,
                }
            )
            await old.conn.close(1001, "wrong_node")
            await until(lambda: new.resumes == 1)
            await _joined(ann)
            assert ann.rtc_url == new.rtc_url
            assert (await ann.chat.send("after")).seq == 2
            assert errors == []  # a routing detail, handled: not the program's concern
        assert len(old.hellos) == 1  # the resume went straight to the new node


@pytest.mark.parametrize("discovery_refuses", [False, True], ids=["discovery", "public-url"])
async def test_a_resume_whose_node_died_finds_the_node_that_took_over(
    tmp_path: Path, discovery_refuses: bool
) -> None:
    """The node hosting the meeting stops; another (same database, another
    address) takes the meeting over. The clients try the dead node's URL once,
    then find the meeting again: the token guest by discovery (or, once
    discovery refuses the spent guest token, by the public address), the agent
    by the public address; both through the front door's redirect. Every
    acknowledged chat message is there exactly once, in order, for both."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db")
    async with running_balancer() as front:
        async with live_server(settings, public_url=front.base_url) as first:
            front.target = rtc_of(first)
            ops = first.ops
            await ops.accounts.create("alice", "Alice Advisor", PASSWORD)
            m = await ops.meetings.create(
                subject="", organizer="alice", access_policy=AccessPolicy.DIRECT
            )
            session_token, _, _ = await ops.accounts.login("alice", PASSWORD)
            grant = await ops.guest_tokens.mint(m.id, display_name="Ann Visitor")
            alice = await join_as_user(
                front.base_url, m.id, session_token, reconnect=QUICK
            ).connect()
            assert grant.discovery_uri == front.discovery_uri(m.id)
            ann = await join_with_token(grant.discovery_uri, grant.token, reconnect=QUICK).connect()
            assert alice.rtc_url == ann.rtc_url == rtc_of(first)
            acked = [await ann.chat.send(f"before {i}") for i in range(3)]
            acked += [await alice.chat.send(f"agent before {i}") for i in range(2)]
            inflight = [asyncio.create_task(ann.chat.send(f"during {i}")) for i in range(3)]
            await asyncio.sleep(0)
        # The node is gone; its URL refuses connections. The front door still
        # points there until another node takes the meeting over:
        front.discovery_refuses = discovery_refuses
        hellos_before = len(front.hellos)
        discoveries_before = len(front.discoveries)
        await asyncio.sleep(0.5)
        async with live_server(settings, public_url=front.base_url) as second:
            assert rtc_of(second) != rtc_of(first)
            front.target = rtc_of(second)
            acked += await asyncio.gather(*inflight)
            await _joined(alice, ann)
            assert alice.rtc_url == ann.rtc_url == rtc_of(second)
            acked += [await alice.chat.send(f"agent after {i}") for i in range(2)]
            want = sorted((msg.seq, msg.text) for msg in acked)
            assert len({seq for seq, _ in want}) == len(acked) == 10
            for client in (alice, ann):
                await until(lambda c=client: len(c.chat.history) >= len(want), 10)
                assert [(msg.seq, msg.text) for msg in client.chat.history] == want
            await ann.leave()
            await alice.leave()
    resumes = [h for h in front.hellos[hellos_before:] if h["auth"]["kind"] == "resume"]
    assert resumes, "the clients came back through the front door"
    # the guest re-ran discovery; when it refused, she came back by the public URL
    assert len(front.discoveries) > discoveries_before


async def test_with_the_default_back_off_a_takeover_after_3s_is_found_within_5s(
    tmp_path: Path,
) -> None:
    """The node dies; another takes the meeting over 3 s later (a lease running
    out). With the default ReconnectPolicy the clients are back before 5 s."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db")
    loop = asyncio.get_running_loop()
    async with running_balancer() as front:
        async with live_server(settings, public_url=front.base_url) as first:
            front.target = rtc_of(first)
            await first.ops.accounts.create("alice", "Alice Advisor", PASSWORD)
            m = await first.ops.meetings.create(
                subject="", organizer="alice", access_policy=AccessPolicy.DIRECT
            )
            session_token, _, _ = await first.ops.accounts.login("alice", PASSWORD)
            grant = await first.ops.guest_tokens.mint(m.id, display_name="Ann Visitor")
            alice = await join_as_user(front.base_url, m.id, session_token).connect()
            ann = await join_with_token(grant.discovery_uri, grant.token).connect()
            killed = loop.time()  # the node shuts down from here (closing with 1012)
        await asyncio.sleep(3.0 - (loop.time() - killed))
        async with live_server(settings, public_url=front.base_url) as second:
            front.target = rtc_of(second)
            await _joined(alice, ann, timeout=5.0)
            back_after = loop.time() - killed
            assert back_after < 5.0, back_after
            await ann.leave()
            await alice.leave()
