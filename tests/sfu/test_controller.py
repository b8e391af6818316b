"""The node's Janus controller against a real Janus in the test's namespace:
rooms, a publisher's offer answered, a subscriber receiving its frames, kicks,
and Janus's own refusals (no token, no admin key) as typed errors."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from frontdesk.client._media_ice import candidate_from_signal
from frontdesk.client.media import pattern_track
from frontdesk.errors import Unavailable
from frontdesk.server.sfu import JanusError, JanusSession, LegKey, SfuController, sign_token
from tests.support.janus import JanusInstance


class Candidates:
    """Janus's trickled candidates per leg, applied once a peer is ready."""

    def __init__(self) -> None:
        self.got: dict[LegKey, list[dict[str, Any] | None]] = defaultdict(list)
        self.peers: dict[LegKey, RTCPeerConnection] = {}

    def __call__(self, key: LegKey, candidate: dict[str, Any] | None) -> None:
        self.got[key].append(candidate)
        if key in self.peers:
            asyncio.get_running_loop().create_task(self._apply(key, candidate))

    async def attach(self, key: LegKey, pc: RTCPeerConnection) -> None:
        self.peers[key] = pc
        for candidate in list(self.got[key]):
            await self._apply(key, candidate)

    async def _apply(self, key: LegKey, candidate: dict[str, Any] | None) -> None:
        if candidate is not None and (c := candidate_from_signal(candidate)) is not None:
            await self.peers[key].addIceCandidate(c)


@pytest.fixture
async def sfu(janus: JanusInstance) -> AsyncIterator[tuple[SfuController, Candidates]]:
    sink = Candidates()
    ctl = SfuController(
        janus.url,
        token_secret=janus.token_secret,
        admin_key=janus.admin_key,
        on_candidate=sink,
    )
    await ctl.start()
    try:
        yield ctl, sink
    finally:
        await ctl.close()


async def _publisher(ctl: SfuController, sink: Candidates, room: str, pid: str) -> Any:
    pc = RTCPeerConnection()
    pc.addTrack(pattern_track(320, 240, fps=15))
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"type": "offer", "sdp": pc.localDescription.sdp}
    answer = await ctl.publish(room, pid, offer, display=pid)
    await pc.setRemoteDescription(RTCSessionDescription(**answer))
    await sink.attach((room, pid, None), pc)
    return pc


async def _subscriber(ctl: SfuController, sink: Candidates, room: str, pid: str, feed: str) -> Any:
    pc = RTCPeerConnection()
    frames: asyncio.Queue[Any] = asyncio.Queue()

    @pc.on("track")
    def _on_track(track: Any) -> None:
        async def pump() -> None:
            while True:
                try:
                    frames.put_nowait(await track.recv())
                except Exception:
                    return

        asyncio.get_running_loop().create_task(pump())

    offer = await ctl.subscribe(room, pid, feed)
    await pc.setRemoteDescription(RTCSessionDescription(**offer))
    await pc.setLocalDescription(await pc.createAnswer())
    await ctl.answer(room, pid, feed, {"type": "answer", "sdp": pc.localDescription.sdp})
    await sink.attach((room, pid, feed), pc)
    return pc, frames


async def test_room_lifecycle_with_string_ids(sfu: tuple[SfuController, Candidates]) -> None:
    ctl, _ = sfu
    await ctl.create_room("m-lifecycle")
    await ctl.create_room("m-lifecycle")  # again: no error
    assert await ctl.room_exists("m-lifecycle")
    await ctl.destroy_room("m-lifecycle")
    assert not await ctl.room_exists("m-lifecycle")
    await ctl.destroy_room("m-lifecycle")  # gone already: no error


async def test_subscriber_receives_a_publishers_frames_until_kicked(
    sfu: tuple[SfuController, Candidates],
) -> None:
    ctl, sink = sfu
    room = "m-media"
    await ctl.create_room(room)
    pub = await _publisher(ctl, sink, room, "ann")
    sub, frames = None, None
    try:
        async with asyncio.timeout(10):
            while "ann" not in await ctl.publishers(room):
                await asyncio.sleep(0.05)
        sub, frames = await _subscriber(ctl, sink, room, "bob", "ann")
        async with asyncio.timeout(15):
            frame = await frames.get()
        assert (frame.width, frame.height) == (320, 240)
        assert sink.got[(room, "ann", None)], "Janus trickled no candidate"

        await ctl.kick(room, "ann")
        assert "ann" not in await ctl.publishers(room)
        assert ctl.legs(room) == []
        # Frames stop: at most those already in flight arrive after the kick.
        await asyncio.sleep(1.0)
        while not frames.empty():
            frames.get_nowait()
        await asyncio.sleep(1.0)
        assert frames.qsize() == 0
    finally:
        await pub.close()
        if sub is not None:
            await sub.close()
        await ctl.destroy_room(room)


async def test_client_candidates_before_the_leg_exists_are_kept(
    sfu: tuple[SfuController, Candidates],
) -> None:
    ctl, _ = sfu
    room = "m-early"
    await ctl.create_room(room)
    try:
        cand = {"candidate": "candidate:1 1 UDP 1 10.201.0.2 9 typ host", "sdpMid": "0"}
        await ctl.trickle(room, "cat", None, cand)
        await ctl.trickle(room, "cat", None, None)
        leg = ctl._legs[(room, "cat", None)]
        assert leg.handle is None and leg.pending == [cand, None]
        await ctl.leave(room, "cat")
        assert (room, "cat", None) not in ctl._legs
    finally:
        await ctl.destroy_room(room)


async def test_room_creation_needs_the_admin_key(janus: JanusInstance) -> None:
    ctl = SfuController(janus.url, token_secret=janus.token_secret, admin_key="wrong")
    await ctl.start()
    try:
        with pytest.raises(JanusError) as info:
            await ctl.create_room("m-nokey")
        assert isinstance(info.value, Unavailable)
        assert info.value.janus_code == 433  # unauthorized (wrong admin_key)
    finally:
        await ctl.close()


async def test_requests_without_a_valid_token_are_refused(janus: JanusInstance) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.post(janus.url, json={"janus": "create", "transaction": "t1"})
        body = r.json()
        assert body["janus"] == "error" and body["error"]["code"] == 403
        expired = sign_token(janus.token_secret, int(time.time()) - 5)
        r = await http.post(
            janus.url, json={"janus": "create", "transaction": "t2", "token": expired}
        )
        assert r.json()["error"]["code"] == 403
    with pytest.raises(JanusError) as info:
        async with JanusSession(janus.url, token_secret="not-the-secret"):
            pass
    assert info.value.janus_code == 403
