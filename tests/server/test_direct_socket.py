"""Frames written below the ASGI send chain, on uvicorn's real ``websockets-sansio``
protocol over a transport that records what it is given: one write per loop
turn, byte-exact framing, order kept through pushback, the slow-client cut-off
and the close."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.frames import Frame, Opcode

from frontdesk.config import Settings
from frontdesk.domain.model import LobbyBypass
from frontdesk.server import rtc
from frontdesk.server.direct_socket import ASGI_SEND, FLUSH_TURNS, TurnWriter, text_frame
from frontdesk.server.rtc import RtcConnection
from tests.support.live_server import LiveServer, live_server
from tests.support.rtc import RawClient


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_a_frame_is_what_websockets_would_send(size: int) -> None:
    text = ("é" * size)[:size] if size % 2 else "a" * size
    assert text_frame(text) == Frame(Opcode.TEXT, text.encode()).serialize(mask=False)
    again = text_frame(text)  # the same object again: the kept copy
    assert again == Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8080)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


@dataclass
class Peer:
    proto: WebSocketsSansIOProtocol
    transport: RecordingTransport
    conn: RtcConnection
    seen: int = 0  # writes already read by frames()
    buf: bytearray = field(default_factory=bytearray)

    def frames(self) -> list[str | tuple[int, str]]:
        """What the client received since the last call: texts, and a close as
        ``(code, reason)``."""
        for data in self.transport.writes[self.seen :]:
            self.buf += data
        self.seen = len(self.transport.writes)
        out: list[str | tuple[int, str]] = []
        buf = self.buf
        while len(buf) >= 2:
            op, n, head = buf[0] & 0x0F, buf[1] & 0x7F, 2
            assert buf[0] & 0x80 and not buf[1] & 0x80  # final and unmasked
            if n == 126:
                (n,), head = struct.unpack("!H", buf[2:4]), 4
            elif n == 127:
                (n,), head = struct.unpack("!Q", buf[2:10]), 10
            payload = bytes(buf[head : head + n])
            del buf[: head + n]
            if op == 1:
                out.append(payload.decode())
            elif op == 8:
                (code,) = struct.unpack("!H", payload[:2])
                out.append((code, payload[2:].decode()))
        return out


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    """One client of uvicorn's protocol, its frames written below the chain."""
    conns: list[RtcConnection] = []
    hold = asyncio.Event()
    turn = TurnWriter()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope[ASGI_SEND] = send  # as the node's app does, outermost
        ws = WebSocket(scope, receive, send)
        await ws.accept()
        conns.append(RtcConnection(ws, turn))
        await hold.wait()

    config = uvicorn.Config(app, ws="websockets-sansio", log_level="warning")
    config.load()
    state = ServerState()
    proto = WebSocketsSansIOProtocol(config, state, {})
    transport = RecordingTransport()
    proto.connection_made(transport)
    key = base64.b64encode(os.urandom(16)).decode()
    proto.data_received(
        (
            "GET /v1/rtc HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    for _ in range(100):
        if conns:
            break
        await asyncio.sleep(0)
    (conn,) = conns
    p = Peer(proto, transport, conn, seen=len(transport.writes))  # past the handshake
    yield p
    hold.set()
    await asyncio.gather(*state.tasks, return_exceptions=True)


async def turn_ends() -> None:
    """Until buffered frames are written (FLUSH_TURNS loop turns)."""
    for _ in range(FLUSH_TURNS):
        await asyncio.sleep(0)


async def test_frames_of_one_turn_go_out_in_one_write(peer: Peer) -> None:
    assert peer.conn._direct is not None  # the path under test
    for text in ("a", "b" * 300, "c"):
        peer.conn.send(text)
    assert peer.frames() == []  # taken, not yet written
    await turn_ends()
    assert len(peer.transport.writes) - peer.seen == 1
    assert peer.frames() == ["a", "b" * 300, "c"]
    peer.conn.send("d")
    await turn_ends()
    assert peer.frames() == ["d"]


async def test_an_answer_two_turns_after_an_event_shares_its_write(peer: Peer) -> None:
    """A sender's own event is delivered, and its ``ok`` sent two loop turns
    later (its task wakes through a shielded future): one write for both."""
    peer.conn.send("event")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    peer.conn.send("ok")
    await turn_ends()
    assert len(peer.transport.writes) - peer.seen == 1
    assert peer.frames() == ["event", "ok"]


async def test_pushback_keeps_order_then_frames_go_directly_again(peer: Peer) -> None:
    peer.conn.send("first")
    peer.proto.pause_writing()  # the transport's buffer is full
    for text in ("a", "b", "c"):
        peer.conn.send(text)
    await turn_ends()
    assert peer.frames() == ["first"]  # taken before the pushback
    peer.proto.resume_writing()
    for _ in range(10):
        await asyncio.sleep(0)
    assert peer.frames() == ["a", "b", "c"]
    peer.conn.send("d")
    await turn_ends()
    assert peer.frames() == ["d"]
    assert not peer.conn.closing


async def test_a_slow_client_is_cut_off_after_what_was_queued(peer: Peer, monkeypatch: Any) -> None:
    monkeypatch.setattr(rtc, "OUTBOX_LIMIT", 5)
    peer.proto.pause_writing()
    for i in range(10):
        peer.conn.send(str(i))
    assert peer.conn.closing
    peer.proto.resume_writing()
    await peer.conn.finish()
    assert peer.frames() == ["0", "1", "2", "3", "4", (1013, "too slow; resume")]


async def test_the_reply_and_the_bye_precede_the_close(peer: Peer) -> None:
    peer.conn.send("event")
    peer.conn.reply_before_close = "ok"
    peer.conn.end_session("bye", 1000, "left")
    peer.conn.send("late")  # after the close: dropped
    await peer.conn.finish()
    await turn_ends()
    assert peer.frames() == ["event", "ok", "bye", (1000, "left")]


async def test_a_lost_connection_marks_the_connection_closing(peer: Peer) -> None:
    peer.proto.connection_lost(None)
    peer.conn.send("a")
    assert peer.conn.closing
    await turn_ends()
    assert peer.frames() == []


async def test_a_busy_meeting_reaches_every_client_whole_and_in_order(
    tmp_path: Path,
) -> None:
    """Over real sockets, with and without permessage-deflate: chats sent back
    to back (many frames per loop turn, from a few bytes to about 8 KB) arrive
    at each client complete, in seq order, once."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db", ws_messages_per_s=10_000
    )
    async with live_server(settings) as server:
        await server.ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        await _busy_meeting(server)


async def _busy_meeting(server: LiveServer) -> None:
    ops = server.ops
    m = await ops.meetings.create(
        subject="busy", organizer="alice", lobby_bypass=LobbyBypass.TOKEN_HOLDERS
    )
    url = server.base_url.replace("http://", "ws://") + "/v1/rtc"

    async def guest(name: str, compression: str | None) -> RawClient:
        grant = await ops.guest_tokens.mint(m.id, display_name=name)
        c = await RawClient.connect(
            url, {"kind": "token", "token": grant.token}, compression=compression
        )
        assert c.welcome["state"] == "joined", c.inbox
        return c

    sender = await guest("Sender", "deflate")
    plain = await guest("Plain", None)
    packed = await guest("Packed", "deflate")
    live = server.app.state.live.rooms[m.id]
    kinds = {pid: c._direct.compressed for pid, c in live.conns.items()}  # the path under test
    assert kinds == {sender.pid: True, plain.pid: False, packed.pid: True}

    texts = [f"{i} " + ("ü" * (i * 37 % 4000)) for i in range(120)]
    for i, text in enumerate(texts):  # no waiting for answers: many per loop turn
        await sender.send({"type": "chat", "id": f"c{i}", "text": text, "ref": f"r{i}"})
    oks = []
    while len(oks) < len(texts):
        msg = await sender.recv()
        if msg["type"] == "ok":
            oks.append(msg["result"]["message"]["seq"])
        assert msg["type"] != "error", msg
    assert oks == sorted(oks)
    for client in (plain, packed):
        got = []
        while len(got) < len(texts):
            msg = await client.recv()
            if msg["type"] == "event" and msg["name"] == "chat_message":
                got.append((msg["seq"], msg["data"]["text"]))
        assert [seq for seq, _ in got] == oks
        assert [text for _, text in got] == texts
    for c in (sender, plain, packed):
        await c.close()


async def test_a_client_that_stops_reading_is_cut_off_and_the_meeting_goes_on(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Over a real socket: a guest whose socket is full gets what was queued,
    in order, then a 1013 close; the other guests get every message."""
    monkeypatch.setattr(rtc, "OUTBOX_LIMIT", 20)
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db", ws_messages_per_s=10_000
    )
    async with live_server(settings) as server:
        ops = server.ops
        await ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        m = await ops.meetings.create(
            subject="busy", organizer="alice", lobby_bypass=LobbyBypass.TOKEN_HOLDERS
        )
        url = server.base_url.replace("http://", "ws://") + "/v1/rtc"
        tokens = [(await ops.guest_tokens.mint(m.id, display_name=n)).token for n in "SRL"]
        sender = await RawClient.connect(url, {"kind": "token", "token": tokens[0]})
        reader = await RawClient.connect(url, {"kind": "token", "token": tokens[1]})
        slow = await SlowGuest.join(server, tokens[2])
        room = server.app.state.live.rooms[m.id]
        slow_conn = room.conns[slow.pid]
        # Its transport holds little, so pushback comes after a few frames.
        (proto,) = [
            p
            for p in server.server.server_state.connections
            if getattr(p, "client", None) == slow.sock.getsockname()
        ]
        proto.transport.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 4096
        )
        proto.transport.set_write_buffer_limits(high=8192)

        texts = [f"{i} " + "x" * 3000 for i in range(150)]
        for i, text in enumerate(texts):
            await sender.send({"type": "chat", "id": f"c{i}", "text": text, "ref": f"r{i}"})
        seqs = []
        while len(seqs) < len(texts):
            msg = await sender.recv()
            assert msg["type"] != "error", msg
            if msg["type"] == "ok":
                seqs.append(msg["result"]["message"]["seq"])
        got = []
        while len(got) < len(texts):
            msg = await reader.recv()
            if msg["type"] == "event" and msg["name"] == "chat_message":
                got.append(msg["seq"])
        assert got == seqs  # the meeting went on for everyone else
        assert slow_conn.closing  # cut off

        received, close = await slow.read_to_the_end()
        chats = [f["seq"] for f in received if f.get("name") == "chat_message"]
        assert chats == seqs[: len(chats)] and len(chats) < len(seqs)  # in order, then cut
        assert close == 1013
        for c in (sender, reader):
            await c.close()


@dataclass
class SlowGuest:
    """A raw WebSocket client that reads nothing until told to (a small
    receive buffer, so the node's side fills up soon)."""

    sock: socket.socket
    pid: str
    buf: bytearray

    @classmethod
    async def join(cls, server: LiveServer, token: str) -> SlowGuest:
        loop = asyncio.get_running_loop()
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setblocking(False)
        host, port = server.base_url.removeprefix("http://").split(":")
        await loop.sock_connect(s, (host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        await loop.sock_sendall(
            s,
            (
                f"GET /v1/rtc HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode(),
        )
        buf = bytearray()
        while b"\r\n\r\n" not in buf:
            buf += await loop.sock_recv(s, 4096)
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        assert b" 101 " in head.split(b"\r\n", 1)[0], head
        hello = json.dumps({"type": "hello", "v": 1, "auth": {"kind": "token", "token": token}})
        await loop.sock_sendall(s, _masked(hello.encode()))
        guest = cls(s, "", bytearray(rest))
        while not guest.pid:
            for op, payload in await guest._frames():
                msg = json.loads(payload) if op == 1 else {}
                if msg.get("type") == "welcome":
                    guest.pid = msg["participant_id"]
        return guest

    async def _frames(self) -> list[tuple[int, bytes]]:
        chunk = await asyncio.get_running_loop().sock_recv(self.sock, 65536)
        if not chunk:
            raise EOFError
        self.buf += chunk
        out = []
        buf = self.buf
        while len(buf) >= 2:
            n, head = buf[1] & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    break
                (n,), head = struct.unpack("!H", buf[2:4]), 4
            elif n == 127:
                if len(buf) < 10:
                    break
                (n,), head = struct.unpack("!Q", buf[2:10]), 10
            if len(buf) < head + n:
                break
            out.append((buf[0] & 0x0F, bytes(buf[head : head + n])))
            del buf[: head + n]
        return out

    async def read_to_the_end(self) -> tuple[list[dict[str, Any]], int | None]:
        """Every text frame until the close frame (its code) or the end."""
        texts: list[dict[str, Any]] = []
        try:
            while True:
                for op, payload in await self._frames():
                    if op == 1:
                        texts.append(json.loads(payload))
                    elif op == 8:
                        (code,) = struct.unpack("!H", payload[:2])
                        self.sock.close()
                        return texts, code
        except (EOFError, ConnectionError):
            self.sock.close()
            return texts, None


def _masked(payload: bytes) -> bytes:
    """One client text frame (a zero mask leaves the payload as is)."""
    n = len(payload)
    head = bytes((0x81, 0x80 | n)) if n < 126 else struct.pack("!BBH", 0x81, 0x80 | 126, n)
    return head + b"\0\0\0\0" + payload
