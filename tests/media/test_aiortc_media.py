"""Two Python SDK participants on a real node exchange audio and video through
aiortc over loopback (run in a loopback-only namespace: scripts/in-netns)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from av.frame import Frame

from frontdesk.client import Meeting, ReconnectPolicy, join_with_token
from frontdesk.client._media_ice import (
    candidate_from_signal,
    host_addresses,
    resolve_host_addresses,
)
from frontdesk.client.media import MediaSession, pattern_track, tone_track
from frontdesk.config import Settings
from frontdesk.domain import AccessPolicy
from frontdesk.errors import ProtocolError, ValidationFailed
from tests.support.live_server import LiveServer, live_server
from tests.support.netns import require_loopback_only

LOOPBACK = ["127.0.0.1"]
FAST = ReconnectPolicy(initial_delay_s=0.02, max_delay_s=0.2, give_up_after_s=5.0)


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[LiveServer]:
    require_loopback_only()
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db")
    async with live_server(settings) as srv:
        await srv.ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        yield srv


async def _guests(node: LiveServer, *names: str) -> list[Meeting]:
    m = await node.ops.meetings.create(
        subject="Media", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    meetings = []
    for name in names:
        grant = await node.ops.guest_tokens.mint(m.id, display_name=name)
        meeting = await join_with_token(grant.discovery_uri, grant.token, reconnect=FAST).connect()
        await meeting.admitted(timeout=5)
        meetings.append(meeting)
    return meetings


async def _packets(media: MediaSession, pid: str, kind: str) -> int:
    report = await media.stats(pid)
    return sum(
        s.packetsReceived for s in report.values() if s.type == "inbound-rtp" and s.kind == kind
    )


async def _rising(media: MediaSession, pid: str, kind: str, wait: float = 0.6) -> bool:
    before = await _packets(media, pid, kind)
    await asyncio.sleep(wait)
    return await _packets(media, pid, kind) > before


async def test_two_sdk_participants_exchange_audio_and_video(node: LiveServer) -> None:
    ann, bob = await _guests(node, "Ann", "Bob")
    a_id, b_id = ann.participant_id or "", bob.participant_id or ""
    loop = asyncio.get_running_loop()
    joined_at = loop.time()
    a_media = await ann.start_media(
        audio=tone_track(440), video=pattern_track(640, 480, fps=20), ice_host_addresses=LOOPBACK
    )
    b_media = await bob.start_media(
        audio=tone_track(660), video=pattern_track(320, 240, fps=20), ice_host_addresses=LOOPBACK
    )
    try:
        async with asyncio.timeout(15):
            first = await _first(b_media.frames(a_id, "video"))
            assert (first.width, first.height) == (640, 480)
            first_at = loop.time()
            first = await _first(a_media.frames(b_id, "video"))
            assert (first.width, first.height) == (320, 240)
            print(f"\nboth joined -> first remote video frame: {first_at - joined_at:.3f}s")
            audio = await _first(a_media.frames(b_id, "audio"))
            assert audio.sample_rate == 48000 and audio.samples > 0
            audio = await _first(b_media.frames(a_id, "audio"))
            assert audio.sample_rate == 48000

        pc = a_media.peer_connection(b_id)
        assert pc is not None and pc.connectionState == "connected"
        for line in (pc.localDescription.sdp + pc.remoteDescription.sdp).splitlines():
            if line.startswith("a=candidate:"):  # every candidate is a loopback host one
                assert " 127.0.0.1 " in line and " typ host" in line, line
        assert set(a_media.remote_tracks) == {b_id}
        assert {t.kind for t in a_media.remote_tracks[b_id]} == {"audio", "video"}

        # Mute stops the packets, not just an icon, and the others see it.
        assert await _rising(b_media, a_id, "audio")
        await a_media.set_audio_muted(True)
        await asyncio.sleep(0.3)  # packets already in flight
        assert not await _rising(b_media, a_id, "audio", wait=1.0)
        assert await _rising(b_media, a_id, "video")  # video still flows
        async with asyncio.timeout(5):
            while not bob.roster[a_id].audio_muted:
                await asyncio.sleep(0.02)
        await a_media.set_audio_muted(False)
        await asyncio.sleep(0.3)
        assert await _rising(b_media, a_id, "audio")
        assert not bob.roster[a_id].audio_muted

        await b_media.set_video_muted(True)
        await asyncio.sleep(0.3)
        assert not await _rising(a_media, b_id, "video", wait=1.0)
        assert await _rising(a_media, b_id, "audio")
    finally:
        await ann.leave()
        await bob.leave()
    assert a_media.stopped and b_media.stopped


@pytest.mark.parametrize("first", ["smaller_id", "larger_id"])
async def test_media_connects_whoever_starts_first(node: LiveServer, first: str) -> None:
    """Signals sent before the other side started media are lost: the later side
    still connects (the larger id sends ``renegotiate``, the smaller one offers)."""
    small, large = sorted(await _guests(node, "Ann", "Bob"), key=lambda m: m.participant_id or "")
    start_small = small.start_media(video=pattern_track(160, 120), ice_host_addresses=LOOPBACK)
    start_large = large.start_media(audio=tone_track(), ice_host_addresses=LOOPBACK)
    if first == "smaller_id":
        small_media = await start_small
        await asyncio.sleep(0.2)
        large_media = await start_large
    else:
        large_media = await start_large
        await asyncio.sleep(0.2)
        small_media = await start_small
    try:
        async with asyncio.timeout(15):
            frame = await _first(large_media.frames(small.participant_id or "", "video"))
            assert (frame.width, frame.height) == (160, 120)
            await _first(small_media.frames(large.participant_id or "", "audio"))
    finally:
        await small.leave()
        await large.leave()


async def _first(frames: AsyncIterator[Frame]) -> Any:
    async for frame in frames:
        await frames.aclose()  # type: ignore[attr-defined]
        return frame
    raise AssertionError("the track ended before a frame arrived")


async def test_host_addresses_setting_restricts_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    require_loopback_only()
    assert resolve_host_addresses(["127.0.0.1"]) == ("127.0.0.1",)
    with pytest.raises(ValidationFailed):
        resolve_host_addresses(["localhost"])
    monkeypatch.setenv("FRONTDESK_ICE_HOST_ADDRESSES", " 127.0.0.1 , ")
    assert resolve_host_addresses(None) == ("127.0.0.1",)
    monkeypatch.delenv("FRONTDESK_ICE_HOST_ADDRESSES")
    assert resolve_host_addresses(None) is None

    async def offer(addresses: tuple[str, ...] | None) -> list[str]:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver("audio")
        try:
            with host_addresses(addresses):
                await pc.setLocalDescription(await pc.createOffer())
            return [
                ln for ln in pc.localDescription.sdp.splitlines() if ln.startswith("a=candidate:")
            ]
        finally:
            await pc.close()

    assert await offer(None) == []  # aioice's default skips loopback
    only = await offer(("127.0.0.1",))
    assert len(only) == 1 and " 127.0.0.1 " in only[0]
    assert await offer(None) == []  # the setting was scoped to the block


def test_trickled_candidates_from_browsers() -> None:
    line = "candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host generation 0 ufrag ab"
    candidate = candidate_from_signal({"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0})
    assert candidate is not None
    assert (candidate.ip, candidate.port, candidate.sdpMid) == ("127.0.0.1", 54321, "0")
    assert candidate_from_signal({}) is None
    assert candidate_from_signal({"candidate": ""}) is None
    with pytest.raises(ProtocolError):
        candidate_from_signal({"candidate": "candidate:garbage", "sdpMid": "0"})
    with pytest.raises(ProtocolError):
        candidate_from_signal({"candidate": line})
