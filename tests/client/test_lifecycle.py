"""Lobby, admission, the end of a session (bye, close codes, giving up) and typed errors."""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

import httpx
import pytest
from websockets.asyncio.server import ServerConnection

from frontdesk.client import (
    ConnectionLost,
    DeniedAtLobby,
    MeetingEvent,
    ReconnectPolicy,
    SessionEnded,
    SessionMeetingEnded,
    SessionState,
    join_as_user,
    join_with_token,
)
from frontdesk.errors import (
    MeetingEnded,
    PermissionDenied,
    TokenExpired,
    Unavailable,
    ValidationFailed,
)

from .conftest import FAST, join_fake
from .fake_rtc import PID, FakeRtc, running, until


async def test_lobby_then_admitted_by_state_message(fake: FakeRtc) -> None:
    fake.state = "lobby"
    async with join_fake(fake) as meeting:
        assert meeting.state is SessionState.LOBBY
        assert meeting.lobby_position == 1 and meeting.organizer_present is False
        assert meeting.roster == {}
        waiter = asyncio.create_task(meeting.admitted(timeout=3))
        await asyncio.sleep(0.02)
        assert not waiter.done()
        await fake.emit("participant_admitted", {"participant_id": PID, "by": "p_alice"})
        fake.state = "joined"
        await fake.send({"type": "state", "state": "joined", "snapshot": fake.snapshot()})
        await waiter
        assert meeting.state.value == "joined"
        assert set(meeting.roster) == {"p_alice", PID}


async def test_bye_is_final_and_admitted_raises_the_reason(fake: FakeRtc) -> None:
    fake.state = "lobby"
    meeting = await join_fake(fake).connect()
    stream = meeting.events()
    waiter = asyncio.create_task(meeting.admitted())
    await asyncio.sleep(0.02)
    await fake.emit("participant_denied", {"participant_id": PID, "by": "p_alice"})
    await fake.bye("denied", 4012)
    with pytest.raises(DeniedAtLobby) as info:
        await asyncio.wait_for(waiter, 3)
    assert info.value.code == "denied" and info.value.reason == "denied"
    assert isinstance(info.value, SessionEnded)
    assert meeting.state is SessionState.LEFT and meeting.left_reason == "denied"
    names = [e.name async for e in stream]  # the iterator ends with the session
    assert names == ["participant_denied", "state_changed"]
    await asyncio.sleep(0.1)
    assert len(fake.hellos) == 1  # no reconnect after a bye
    with pytest.raises(DeniedAtLobby):
        await meeting.chat.send("too late")
    await meeting.leave()  # harmless once left


async def test_final_close_code_without_bye_ends_the_session(fake: FakeRtc) -> None:
    meeting = await join_fake(fake).connect()
    assert fake.conn is not None
    await fake.conn.close(4010, "meeting_ended")
    reason = await asyncio.wait_for(meeting.wait_closed(), 3)
    assert reason == "meeting_ended"
    assert isinstance(meeting.error, SessionMeetingEnded)
    assert isinstance(meeting.error, MeetingEnded)  # catchable as the server's error too
    await asyncio.sleep(0.1)
    assert len(fake.hellos) == 1


async def test_refused_hello_raises_the_typed_error() -> None:
    async with running(FakeRtc(refuse=("token_expired", 4002))) as fake:
        meeting = join_fake(fake)
        with pytest.raises(TokenExpired):
            async with meeting:
                pass
        assert meeting.state is SessionState.LEFT and meeting.left_reason == "token_expired"


async def test_error_answer_raises_the_typed_error(fake: FakeRtc) -> None:
    async def hook(srv: FakeRtc, ws: ServerConnection, frame: dict[str, Any]) -> bool:
        if frame["type"] == "admit":
            await srv.send(
                {"type": "error", "ref": frame["ref"], "code": "forbidden", "message": "guest"}
            )
            return True
        return False

    fake.hook = hook
    async with join_fake(fake) as meeting:
        with pytest.raises(PermissionDenied, match="guest"):
            await meeting.admit("p_other")
        assert meeting.state is SessionState.JOINED  # an error answer ends nothing
        assert (await meeting.chat.send("still here")).seq == 1


async def test_gives_up_after_the_configured_time() -> None:
    policy = ReconnectPolicy(initial_delay_s=0.01, max_delay_s=0.05, give_up_after_s=0.3)
    async with running(FakeRtc()) as fake:
        meeting = await join_fake(fake, reconnect=policy).connect()
        fake.refuse = ("unavailable", 1013)  # later attempts fail as "try again"

        async def hook(srv: FakeRtc, ws: ServerConnection, frame: dict[str, Any]) -> bool:
            srv.drop()
            return True

        fake.hook = hook
        send = asyncio.create_task(meeting.chat.send("lost?"))
        with pytest.raises(ConnectionLost):
            await asyncio.wait_for(send, 3)
        assert meeting.state is SessionState.LEFT and meeting.left_reason == "connection_lost"
        assert len(fake.hellos) > 2  # it did retry


async def test_callback_errors_are_logged_not_fatal(
    fake: FakeRtc, caplog: pytest.LogCaptureFixture
) -> None:
    async with join_fake(fake) as meeting:
        seen: list[int | None] = []

        def broken(event: MeetingEvent) -> None:
            raise RuntimeError("user bug")

        async def broken_async(event: MeetingEvent) -> None:
            raise RuntimeError("async user bug")

        meeting.on("chat_message", broken)
        meeting.on("chat_message", broken_async)
        meeting.on("chat_message", lambda e: seen.append(e.seq))
        with caplog.at_level(logging.ERROR):
            await meeting.chat.send("one")
            await until(lambda: len(seen) == 1)
            await asyncio.sleep(0.02)
        assert meeting.state is SessionState.JOINED
        assert (await meeting.chat.send("two")).seq == 2
        await until(lambda: len(seen) == 2)
        messages = [r.getMessage() for r in caplog.records]
        assert any("callback for chat_message raised" in m for m in messages)
        assert any("async event callback raised" in m for m in messages)
        assert all("resume-" not in m for m in messages)  # no token in the logs


async def test_unknown_event_name_is_refused(fake: FakeRtc) -> None:
    async with join_fake(fake) as meeting:
        with pytest.raises(ValidationFailed):
            meeting.on("no_such_event", print)  # type: ignore[arg-type]


async def test_join_with_token_resolves_discovery(fake: FakeRtc) -> None:
    seen: list[httpx.Request] = []

    def discovery(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"rtc_url": fake.rtc_url, "meeting_id": "m_1", "ice_servers": [], "node_id": "n1"}
        return httpx.Response(200, json=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(discovery)) as http:
        meeting = join_with_token(
            "http://127.0.0.1:9/v1/discovery/m_1", "guest.jwt", http_client=http, reconnect=FAST
        )
        async with meeting:
            assert meeting.state is SessionState.JOINED
    assert seen[0].headers["Authorization"] == "Bearer guest.jwt"
    assert fake.hellos[0]["auth"] == {"kind": "token", "token": "guest.jwt"}
    assert fake.paths == ["/v1/rtc"]


async def test_join_as_user_sends_the_session_token(fake: FakeRtc) -> None:
    base = f"http://127.0.0.1:{fake.port}"
    async with join_as_user(base, "m_1", "session.jwt", reconnect=FAST) as meeting:
        assert meeting.participant_id == PID
    assert fake.hellos[0]["auth"] == {
        "kind": "session",
        "token": "session.jwt",
        "meeting_id": "m_1",
    }


async def test_unreachable_server_is_unavailable() -> None:
    async with running(FakeRtc()) as fake:
        url = fake.join_url
    with pytest.raises(Unavailable):
        await join_fake(FakeRtc(port=int(url.split(":")[2].split("/")[0]))).connect()


def test_bad_join_urls_are_refused() -> None:
    from frontdesk.client import join

    with pytest.raises(ValidationFailed):
        join("http://127.0.0.1/meeting", display_name="Ann")
    with pytest.raises(ValidationFailed):
        join("http://127.0.0.1/j/abc", display_name=" ")


def test_rtc_urls_follow_the_join_url_and_base() -> None:
    from frontdesk.client._join import rtc_url_for_base, rtc_url_for_join_url

    assert rtc_url_for_join_url("https://fd.example/j/AbC") == "wss://fd.example/v1/rtc"
    assert rtc_url_for_join_url("http://h:8080/desk/j/x?y=1") == "ws://h:8080/desk/v1/rtc"
    assert rtc_url_for_base("https://fd.example/") == "wss://fd.example/v1/rtc"
    with pytest.raises(ValidationFailed):
        rtc_url_for_base("ftp://fd.example")


def test_reconnect_policy_backs_off_with_jitter_and_a_cap() -> None:
    policy = ReconnectPolicy(initial_delay_s=0.1, max_delay_s=5.0, jitter=0.5)
    # the first seconds after a drop (a node takeover): capped at 1 s
    for attempt, base in [(0, 0.1), (1, 0.2), (3, 0.8), (10, 1.0), (200, 1.0)]:
        delay = policy.delay(attempt, elapsed=2.0)
        assert base * 0.5 <= delay <= base
    # a long outage: the attempts thin out to the 5 s cap
    for attempt, base in [(3, 0.8), (10, 5.0), (200, 5.0)]:
        delay = policy.delay(attempt, elapsed=12.0)
        assert base * 0.5 <= delay <= base
    with pytest.raises(ValidationFailed):
        ReconnectPolicy(initial_delay_s=0)
    with pytest.raises(ValidationFailed):
        ReconnectPolicy(fast_max_delay_s=0)


def test_default_back_off_finds_a_takeover_within_five_seconds() -> None:
    """A node dies at 0 s; another takes the meeting over once the lease runs out
    (~3 s). The default policy's next attempt must come before 5 s, whatever the
    jitter (without it the delays are longest)."""
    policy = ReconnectPolicy(jitter=0.0)
    t, attempts = 0.0, []
    for attempt in range(30):
        t += policy.delay(attempt, elapsed=t)
        attempts.append(t)
    after_takeover = min(a for a in attempts if a >= 3.0)
    assert after_takeover <= 4.0
    gaps = [b - a for a, b in itertools.pairwise(attempts) if a < 5.0]
    assert max(gaps) <= 1.0
