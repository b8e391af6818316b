"""A small scripted RTC server (the wire protocol of ``/v1/rtc``) on 127.0.0.1 port 0.

It stores sequenced events, answers chat idempotently by client message id,
replays missed events on resume, and lets a test cut the TCP connection, go
silent, refuse, or say ``bye`` at chosen moments.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

PID = "p_ann"
AT = "2030-01-02T03:04:05+00:00"

Hook = Callable[["FakeRtc", ServerConnection, dict[str, Any]], Awaitable[bool]]


def participant(pid: str, name: str, role: str = "guest", state: str = "joined") -> dict[str, Any]:
    return {
        "id": pid,
        "display_name": name,
        "role": role,
        "method": "token",
        "state": state,
        "vouched": True,
        "lobby_since": None,
        "joined_at": AT,
        "audio_muted": False,
        "video_muted": False,
        "hand_raised": False,
        "left_reason": None,
        "reconnecting_since": None,
    }


@dataclass
class FakeRtc:
    state: str = "joined"
    heartbeat_s: float = 5.0
    display_name: str = "Ann"
    refuse: tuple[str, int] | None = None  # (error code, close code) for every hello
    hook: Hook | None = None  # runs first for each client frame; True = handled
    answer_pings: bool = True
    events: list[dict[str, Any]] = field(default_factory=list)
    chat: dict[str, dict[str, Any]] = field(default_factory=dict)
    hellos: list[dict[str, Any]] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    conn: ServerConnection | None = None
    port: int = 0
    resumes: int = 0

    @property
    def rtc_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/rtc"

    @property
    def join_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/j/AbCdEf"

    @property
    def last_seq(self) -> int:
        return len(self.events)

    def snapshot(self) -> dict[str, Any]:
        inside = self.state == "joined"
        me = participant(PID, self.display_name, state=self.state)
        return {
            "meeting": {
                "id": "m_1",
                "subject": "Advice",
                "access_policy": "lobby",
                "lobby_bypass": "none",
                "state": "active",
                "ended": False,
                "organizer_display_name": "Alice",
            },
            "me": me,
            "roster": [participant("p_alice", "Alice", "organizer"), me] if inside else [],
            "lobby": [],
            "chat": list(self.chat.values()) if inside else [],
            "lobby_position": None if inside else 1,
            "organizer_present": None if inside else False,
            "timeout_at": None,
            "last_seq": self.last_seq,
        }

    # --- scripting --------------------------------------------------------------
    def add_event(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        event = {"type": "event", "seq": self.last_seq + 1, "name": name, "at": AT, "data": data}
        self.events.append(event)
        return event

    async def send(self, frame: dict[str, Any]) -> None:
        assert self.conn is not None
        with contextlib.suppress(ConnectionClosed):
            await self.conn.send(json.dumps(frame))

    async def emit(self, name: str, data: dict[str, Any]) -> dict[str, Any]:
        event = self.add_event(name, data)
        await self.send(event)
        return event

    async def bye(self, reason: str, code: int) -> None:
        await self.send({"type": "bye", "reason": reason, "code": code})
        assert self.conn is not None
        await self.conn.close(code, reason)

    def drop(self) -> None:
        """Cut the TCP connection: no close frame (the client sees 1006)."""
        assert self.conn is not None
        self.conn.transport.abort()

    def store_chat(self, frame: dict[str, Any]) -> dict[str, Any]:
        stored = self.chat.get(frame["id"])
        if stored is None:
            event = self.add_event(
                "chat_message",
                {
                    "participant_id": PID,
                    "display_name": self.display_name,
                    "text": frame["text"],
                    "client_msg_id": frame["id"],
                },
            )
            stored = {**event["data"], "seq": event["seq"], "at": AT}
            self.chat[frame["id"]] = stored
        return stored

    # --- serving ----------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        self.paths.append(ws.request.path)
        hello = json.loads(await ws.recv())
        self.hellos.append(hello)
        if self.refuse is not None:
            code, close = self.refuse
            await ws.send(json.dumps({"type": "error", "code": code, "message": "refused"}))
            await ws.close(close, code)
            return
        self.conn = ws
        auth = hello["auth"]
        resumed = auth["kind"] == "resume"
        if resumed:
            self.resumes += 1
        welcome = {
            "type": "welcome",
            "v": 1,
            "ref": hello.get("ref"),
            "participant_id": PID,
            "resume_token": f"resume-{len(self.hellos)}",
            "state": self.state,
            "snapshot": self.snapshot(),
            "heartbeat_s": self.heartbeat_s,
            "resumed": resumed,
        }
        await ws.send(json.dumps(welcome))
        if resumed:
            for event in self.events:
                if event["seq"] > auth["last_seq"]:
                    await ws.send(json.dumps(event))
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                frame = json.loads(raw)
                self.frames.append(frame)
                if self.hook is not None and await self.hook(self, ws, frame):
                    continue
                await self._answer(ws, frame)

    async def _answer(self, ws: ServerConnection, frame: dict[str, Any]) -> None:
        kind, ref = frame["type"], frame.get("ref")
        if kind == "ping":
            if self.answer_pings:
                await ws.send(json.dumps({"type": "pong", "ref": ref}))
            return
        if kind == "chat":
            before = self.last_seq
            stored = self.store_chat(frame)
            await ws.send(json.dumps({"type": "ok", "ref": ref, "result": {"message": stored}}))
            if self.last_seq > before:
                await ws.send(json.dumps(self.events[-1]))
            return
        if kind == "history":
            older = [m for m in self.chat.values() if m["seq"] < frame["before_seq"]]
            result = {"messages": older[-frame.get("limit", 50) :]}
            await ws.send(json.dumps({"type": "ok", "ref": ref, "result": result}))
            return
        if kind == "leave":
            await ws.send(json.dumps({"type": "bye", "reason": "left", "code": 4000}))
            await ws.send(json.dumps({"type": "ok", "ref": ref}))
            await ws.close(4000, "left")
            return
        if kind in ("typing", "signal"):
            return
        await ws.send(json.dumps({"type": "ok", "ref": ref, "result": {}}))


@contextlib.asynccontextmanager
async def running(fake: FakeRtc) -> AsyncIterator[FakeRtc]:
    async with serve(fake._handle, "127.0.0.1", 0) as server:
        fake.port = next(iter(server.sockets)).getsockname()[1]
        yield fake


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    """Wait (polling) until ``predicate()`` holds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()
