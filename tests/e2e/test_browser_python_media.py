"""A browser (Chromium, fake camera and microphone, the browser SDK) and a Python
SDK participant (aiortc) exchange audio and video both ways on a real node, for
either participant-id order and either side starting media first."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import frontdesk.client
from frontdesk.client import Meeting
from frontdesk.client._media_peer import KINDS, Kind
from frontdesk.client.media import MediaSession, pattern_track, tone_track
from frontdesk.domain import AccessPolicy, LobbyBypass
from tests.e2e.test_sdk_browser import PASSWORD, STATS_JS, open_page, until
from tests.support.live_server import LiveServer

LOOPBACK = ["127.0.0.1"]

FIRST_VIDEO_JS = """async (pid) => {
  for (;;) {
    const pc = window.m.peerConnection(pid);
    let frames = 0;
    if (pc) (await pc.getStats()).forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
    });
    if (frames > 0) return Date.now() / 1000;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}"""


async def _pair(
    page: Any, node: LiveServer, meeting_id: str, session_token: str, browser_smaller: bool
) -> tuple[Meeting, str]:
    """Join the agent (Python) and the guest (browser) so that the guest's participant
    id sorts before (or after) the agent's. Ids are random: rejoin the guest until the
    order is right, and the agent too every few tries (its id may sort near an end)."""
    agent: Meeting | None = None
    for attempt in range(30):
        if agent is None:
            agent = await frontdesk.client.join_as_user(
                node.base_url, meeting_id, session_token
            ).connect()
        grant = await node.ops.guest_tokens.mint(meeting_id, display_name="Bea Browser")
        pid, state = await page.evaluate(
            """async ([discoveryUri, token]) => {
              window.m = await fd.joinWithToken({discoveryUri, token});
              return [window.m.participantId, window.m.state];
            }""",
            [grant.discovery_uri, grant.token],
        )
        assert state == "joined"  # token holders skip the lobby
        if (pid < (agent.participant_id or "")) == browser_smaller:
            return agent, str(pid)
        await page.evaluate("() => window.m.leave()")
        if attempt % 3 == 2:
            await agent.leave()
            agent = None
    raise AssertionError("could not get the wanted participant-id order")


async def _packets(media: MediaSession, pid: str, kind: Kind) -> int:
    report = await media.stats(pid)
    return sum(
        s.packetsReceived for s in report.values() if s.type == "inbound-rtp" and s.kind == kind
    )


async def _frames(media: MediaSession, pid: str, kind: Kind, count: int) -> list[Any]:
    got: list[Any] = []
    async for frame in media.frames(pid, kind):
        got.append(frame)
        if len(got) == count:
            break
    return got


@pytest.mark.parametrize("first", ["python_first", "browser_first"])
@pytest.mark.parametrize("order", ["browser_id_smaller", "python_id_smaller"])
async def test_browser_and_python_exchange_audio_and_video(
    browser: Any, node: LiveServer, order: str, first: str
) -> None:
    meeting = await node.ops.meetings.create(
        subject="Browser and Python",
        organizer="alice",
        access_policy=AccessPolicy.LOBBY,
        lobby_bypass=LobbyBypass.TOKEN_HOLDERS,
    )
    session_token, _, _ = await node.ops.accounts.login("alice", PASSWORD)
    page = await open_page(browser, node)
    agent, guest_pid = await _pair(
        page, node, meeting.id, session_token, order == "browser_id_smaller"
    )
    try:
        agent_pid = agent.participant_id or ""
        assert (guest_pid < agent_pid) == (order == "browser_id_smaller")
        async with asyncio.timeout(5):
            while guest_pid not in agent.roster or agent.roster[guest_pid].state.value != "joined":
                await asyncio.sleep(0.02)
        loop = asyncio.get_running_loop()
        joined_loop, joined_wall = loop.time(), time.time()

        async def python_start() -> MediaSession:
            return await agent.start_media(
                audio=tone_track(440),
                video=pattern_track(320, 240, fps=20),
                ice_host_addresses=LOOPBACK,
                ice_servers=[],
            )

        async def browser_start() -> None:
            await page.evaluate("() => window.m.startMedia({audio: true, video: true})")

        if first == "python_first":
            media = await python_start()
            await asyncio.sleep(0.3)  # the browser starts while signals are under way
            await browser_start()
        else:
            await browser_start()
            await asyncio.sleep(0.3)
            media = await python_start()

        async with asyncio.timeout(15):
            browser_first_video, video = await asyncio.gather(
                page.evaluate(FIRST_VIDEO_JS, agent_pid), _frames(media, guest_pid, "video", 8)
            )
            audio = await _frames(media, guest_pid, "audio", 5)
        python_first_video = media.first_frame_at(guest_pid, "video")
        assert python_first_video is not None
        print(
            f"\n[{order}, {first}] both joined -> first remote video frame: "
            f"python {python_first_video - joined_loop:.3f}s, "
            f"browser {browser_first_video - joined_wall:.3f}s"
        )
        print(f"browser camera as received by Python: {video[-1].width}x{video[-1].height}")
        # the Python side gets the fake camera's frames and the fake microphone's audio
        assert all(f.width > 0 and f.height > 0 for f in video), [
            (f.width, f.height) for f in video
        ]
        assert all(a.samples > 0 and a.sample_rate > 0 for a in audio)

        # the browser decodes the Python pattern and receives the Python tone
        def flowing(s: dict[str, Any]) -> bool:
            return bool(s["frames"] > 5 and s["audioIn"] > 10)

        b0 = await until(page, STATS_JS, agent_pid, flowing, timeout=10)
        p0 = {k: await _packets(media, guest_pid, k) for k in KINDS}
        await asyncio.sleep(0.8)
        b1 = await page.evaluate(STATS_JS, agent_pid)
        p1 = {k: await _packets(media, guest_pid, k) for k in KINDS}
        assert b1["frames"] > b0["frames"] and b1["audioIn"] > b0["audioIn"], (b0, b1)
        assert p1["audio"] > p0["audio"] and p1["video"] > p0["video"], (p0, p1)
        assert media.frames_received(guest_pid, "video") >= 8

        # the browser mutes: the Python side sees it and stops receiving audio packets
        await page.evaluate("() => window.m.setAudioMuted(true)")
        async with asyncio.timeout(5):
            while not agent.roster[guest_pid].audio_muted:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)  # packets in flight arrive
        m0 = {k: await _packets(media, guest_pid, k) for k in KINDS}
        await asyncio.sleep(1.0)
        m1 = {k: await _packets(media, guest_pid, k) for k in KINDS}
        assert m1["audio"] == m0["audio"], (m0, m1)
        assert m1["video"] > m0["video"], (m0, m1)  # video still flows

        # unmuted: audio flows again
        await page.evaluate("() => window.m.setAudioMuted(false)")
        u0 = await _packets(media, guest_pid, "audio")
        await asyncio.sleep(0.6)
        assert await _packets(media, guest_pid, "audio") > u0
    finally:
        await agent.leave()
        await page.context.close()
