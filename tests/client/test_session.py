"""Welcome, chat acknowledgement, exactly-once delivery and resume after a drop."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.server import ServerConnection

from frontdesk.client import MeetingEvent, SessionState
from frontdesk.domain import Role

from .conftest import join_fake
from .fake_rtc import PID, FakeRtc, until


async def test_welcome_sets_identity_roster_and_history(fake: FakeRtc) -> None:
    fake.store_chat({"id": "old1", "text": "earlier"})
    async with join_fake(fake) as meeting:
        assert meeting.state is SessionState.JOINED
        assert meeting.participant_id == PID
        assert meeting.meeting_id == "m_1"
        assert set(meeting.roster) == {"p_alice", PID}
        assert meeting.roster["p_alice"].role is Role.ORGANIZER
        assert [m.text for m in meeting.chat.history] == ["earlier"]
        assert meeting.last_seq == 1
    hello = fake.hellos[0]
    assert hello["type"] == "hello" and hello["v"] == 1
    assert hello["client"].startswith("frontdesk-py/")
    assert hello["auth"] == {"kind": "url", "join_url": fake.join_url, "display_name": "Ann"}
    assert fake.paths == ["/v1/rtc"]  # the rtc URL follows the join URL, no query string
    assert meeting.state.value == "left"
    assert meeting.left_reason == "left"


async def test_chat_send_returns_the_stored_message_once(fake: FakeRtc) -> None:
    async with join_fake(fake) as meeting:
        stream = meeting.events()
        message = await meeting.chat.send("Hello")
        assert message.seq == 1 and message.text == "Hello" and message.participant_id == PID
        assert len(message.client_msg_id) == 32
        event = await asyncio.wait_for(anext(stream), 2)
        assert event.name == "chat_message" and event.seq == 1
        assert event.message == message
        assert meeting.chat.history == [message]
    sent = [f for f in fake.frames if f["type"] == "chat"]
    assert sent == [
        {"type": "chat", "id": message.client_msg_id, "text": "Hello", "ref": sent[0]["ref"]}
    ]


async def test_replayed_events_are_delivered_once(fake: FakeRtc) -> None:
    async with join_fake(fake) as meeting:
        got: list[MeetingEvent] = []
        meeting.on("*", got.append)
        joined = await fake.emit("participant_joined", {"participant": _bob()})
        await fake.send(joined)  # the same seq again
        await fake.send({**joined, "seq": 0})  # and an older one
        await fake.emit(
            "participant_left",
            {"participant_id": "p_bob", "display_name": "Bob", "reason": "left", "by": None},
        )
        await until(lambda: len(got) >= 2)
        await asyncio.sleep(0.05)
        assert [(e.name, e.seq) for e in got] == [
            ("participant_joined", 1),
            ("participant_left", 2),
        ]
        assert "p_bob" not in meeting.roster


async def test_resume_after_drop_resends_pending_chat_with_same_id(fake: FakeRtc) -> None:
    """The server stores the message, then the TCP connection is cut before the
    ack: after resuming, the send resolves once with the stored message."""
    cut = {"done": False}

    async def hook(srv: FakeRtc, ws: ServerConnection, frame: dict[str, Any]) -> bool:
        if frame["type"] == "chat" and not cut["done"]:
            cut["done"] = True
            srv.store_chat(frame)  # stored, never acknowledged on this connection
            srv.add_event("participant_joined", {"participant": _bob()})  # missed while away
            srv.drop()
            return True
        return False

    fake.hook = hook
    async with join_fake(fake) as meeting:
        states: list[str] = []
        events: list[MeetingEvent] = []
        meeting.on("state_changed", lambda e: states.append(e.data["state"]))
        meeting.on("*", lambda e: events.append(e) if e.seq else None)
        message = await asyncio.wait_for(meeting.chat.send("Are you there?"), 5)
        assert message.seq == 1
        await until(lambda: len(events) >= 2)
        assert states == ["reconnecting", "joined"]
        assert fake.resumes == 1
        resume = fake.hellos[1]["auth"]
        assert resume == {"kind": "resume", "token": "resume-1", "last_seq": 0}
        chats = [f for f in fake.frames if f["type"] == "chat"]
        assert len(chats) == 2 and chats[0]["id"] == chats[1]["id"] == message.client_msg_id
        assert [(e.name, e.seq) for e in events] == [
            ("chat_message", 1),
            ("participant_joined", 2),
        ]
        assert meeting.chat.history == [message]
        assert "p_bob" in meeting.roster
        await asyncio.sleep(0.05)
        assert len(events) == 2  # the re-sent chat's ack brought no second event


async def test_heartbeat_silence_reconnects(fake: FakeRtc) -> None:
    fake.heartbeat_s = 0.1
    fake.answer_pings = False
    async with join_fake(fake) as meeting:
        await until(lambda: fake.resumes >= 1, timeout=3)
        pings = [f for f in fake.frames if f["type"] == "ping"]
        assert pings  # the client pinged every heartbeat
        fake.answer_pings = True
        fake.heartbeat_s = 5.0
        await until(lambda: meeting.state is SessionState.JOINED)


async def test_going_away_close_resumes(fake: FakeRtc) -> None:
    async with join_fake(fake) as meeting:
        assert fake.conn is not None
        await fake.conn.close(1001, "server shutting down")
        await until(lambda: fake.resumes == 1 and meeting.state is SessionState.JOINED)


async def test_history_loads_older_messages(fake: FakeRtc) -> None:
    for i in range(5):
        fake.store_chat({"id": f"m{i}", "text": f"text {i}"})
    recent = dict(list(fake.chat.items())[3:])
    older_msgs = dict(list(fake.chat.items())[:3])
    fake.chat = recent  # the snapshot holds only the last two
    async with join_fake(fake) as meeting:
        assert [m.seq for m in meeting.chat.history] == [4, 5]
        fake.chat = {**older_msgs, **recent}
        older = await meeting.chat.load_older(limit=2)
        assert [m.seq for m in older] == [2, 3]
        assert [m.seq for m in meeting.chat.history] == [2, 3, 4, 5]
    history = [f for f in fake.frames if f["type"] == "history"]
    assert history[0]["before_seq"] == 4 and history[0]["limit"] == 2


async def test_typing_and_signals_in_both_directions(fake: FakeRtc) -> None:
    async with join_fake(fake) as meeting:
        got: list[MeetingEvent] = []
        meeting.on("typing", got.append)
        meeting.on("signal", got.append)
        await meeting.typing(True)
        await meeting.send_signal("p_alice", "offer", {"sdp": "v=0"})
        await fake.send({"type": "typing", "participant_id": "p_alice", "typing": True})
        sig = {"type": "signal", "from": "p_alice", "kind": "answer", "data": {"sdp": "x"}}
        await fake.send(sig)
        await until(lambda: len(got) == 2)
        assert got[0].data == {"participant_id": "p_alice", "typing": True} and got[0].seq is None
        assert got[1].data == {"from": "p_alice", "kind": "answer", "data": {"sdp": "x"}}
        await until(lambda: len(fake.frames) >= 2)
        sent = [f for f in fake.frames if f["type"] in ("typing", "signal")]
        assert sent == [
            {"type": "typing", "typing": True},
            {"type": "signal", "to": "p_alice", "kind": "offer", "data": {"sdp": "v=0"}},
        ]


async def test_media_and_moderation_requests(fake: FakeRtc) -> None:
    async with join_fake(fake) as meeting:
        await meeting.set_media(audio_muted=True)
        await meeting.admit("p_x")
        await meeting.deny("p_y")
        await meeting.mute("p_alice")
        await meeting.remove("p_z")
        await meeting.end()
    sent = [{k: v for k, v in f.items() if k != "ref"} for f in fake.frames[:6]]
    assert sent == [
        {"type": "media", "audio_muted": True},
        {"type": "admit", "participant_id": "p_x"},
        {"type": "deny", "participant_id": "p_y"},
        {"type": "mute", "participant_id": "p_alice"},
        {"type": "remove", "participant_id": "p_z"},
        {"type": "end"},
    ]
    assert all(isinstance(f["ref"], str) for f in fake.frames[:6])
    assert json.dumps(fake.frames)  # plain JSON throughout


def _bob() -> dict[str, Any]:
    from .fake_rtc import participant

    return participant("p_bob", "Bob")
