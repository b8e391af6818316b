"""Browser SDK media in real Chromium (fake devices): a mesh of three, late "track"
listeners, stale answers, starting muted without opening the camera, chat-only
sessions that never create a peer connection, and media that recovers when
signals were lost while a socket was down."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from frontdesk.domain.model import AccessPolicy
from tests.e2e.test_sdk_browser import join_agent, open_page, until
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.netns

# inbound video frames decoded from one peer, and outbound packets to it
PEER_STATS = """async (pid) => {
  const pc = window.m.peerConnection(pid);
  const out = {frames: 0, audioOut: 0, videoOut: 0};
  if (!pc) return out;
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") out.frames += r.framesDecoded || 0;
    if (r.type === "outbound-rtp" && r.kind === "audio") out.audioOut += r.packetsSent || 0;
    if (r.type === "outbound-rtp" && r.kind === "video") out.videoOut += r.packetsSent || 0;
  });
  return out;
}"""

# Count every RTCPeerConnection and every getUserMedia request the page makes.
INSTRUMENT = """() => {
  window.pcCount = 0;
  const RealPC = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...args) {
    window.pcCount += 1;
    return new RealPC(...args);
  };
  window.RTCPeerConnection.prototype = RealPC.prototype;
  window.gumCalls = [];
  const md = navigator.mediaDevices;
  const real = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => {
    window.gumCalls.push({audio: !!c.audio, video: !!c.video});
    return real(c);
  };
}"""


async def frames_rising(page: Any, pid: str, timeout: float = 20.0) -> int:
    """Wait until video frames from ``pid`` are decoded and still rising a second later."""
    first = await until(page, PEER_STATS, pid, lambda s: s["frames"] > 5, timeout=timeout)
    await asyncio.sleep(1.0)
    later = await page.evaluate(PEER_STATS, pid)
    assert later["frames"] > first["frames"], (pid, first, later)
    return int(later["frames"])


async def join_url_guest(page: Any, join_url: str, name: str, media: bool = True) -> str:
    return str(
        await page.evaluate(
            """async ([joinUrl, displayName, media]) => {
              window.m = await fd.join({joinUrl, displayName, media});
              await window.m.admitted();
              return window.m.participantId;
            }""",
            [join_url, name, media],
        )
    )


async def test_a_mesh_of_three_each_sees_the_others_video(browser: Any, node: LiveServer) -> None:
    meeting = await node.ops.meetings.create(
        subject="Three", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    url = node.ops.meetings.join_url(meeting)
    pages = [await open_page(browser, node) for _ in range(3)]
    pids = [await join_agent(pages[0], node, meeting.id)]
    pids.append(await join_url_guest(pages[1], url, "Gus One"))
    pids.append(await join_url_guest(pages[2], url, "Gia Two"))
    started = time.monotonic()
    await asyncio.gather(
        *(p.evaluate("() => window.m.startMedia({audio: true, video: true})") for p in pages)
    )
    pairs = [(page, pid) for i, page in enumerate(pages) for j, pid in enumerate(pids) if i != j]
    for page, pid in pairs:
        await until(page, PEER_STATS, pid, lambda s: s["frames"] > 0, timeout=20)
    took = time.monotonic() - started
    print(f"mesh of 3: start media -> every page decoding both others' video: {took:.2f} s")
    for page, pid in pairs:
        await frames_rising(page, pid)
    for page in pages:
        assert await page.evaluate("() => window.m._peers.size") == 2

    # A "track" listener added now still hears of both remote streams (replayed).
    late = await pages[0].evaluate(
        """() => new Promise((resolve) => {
          const seen = new Set();
          window.m.on("track", ({participantId, stream}) => {
            if (stream.getVideoTracks().length) seen.add(participantId);
            if (seen.size === 2) resolve([...seen].sort());
          });
          setTimeout(() => resolve([...seen].sort()), 2000);
        })"""
    )
    assert late == sorted(pids[1:])

    # A stale duplicate answer (the connection is stable) is ignored, harmlessly.
    impolite, polite = sorted(pids[:2])
    page = pages[pids.index(impolite)]
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    state = await page.evaluate(
        """async (pid) => {
          const pc = window.m.peerConnection(pid);
          const sdp = pc.remoteDescription.sdp;
          window.m._onSignal(pid, "answer", {type: "answer", sdp});
          await new Promise((r) => setTimeout(r, 300));
          return pc.signalingState;
        }""",
        polite,
    )
    assert state == "stable" and not errors, errors
    await frames_rising(page, polite)


async def test_starting_muted_with_the_camera_off_never_opens_the_camera(
    browser: Any, node: LiveServer
) -> None:
    meeting = await node.ops.meetings.create(
        subject="Shy", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    agent, guest = await open_page(browser, node), await open_page(browser, node)
    agent_pid = await join_agent(agent, node, meeting.id)
    await guest.evaluate(INSTRUMENT)
    guest_pid = await join_url_guest(guest, node.ops.meetings.join_url(meeting), "Sam Shy")
    await agent.evaluate("() => window.m.startMedia({audio: true, video: true})")
    await guest.evaluate(
        """() => window.m.startMedia(
          {audio: true, video: true, audioMuted: true, videoMuted: true})"""
    )
    assert await guest.evaluate("() => window.gumCalls") == [{"audio": True, "video": False}]
    local = await guest.evaluate(
        """() => ({video: window.m.localStream.getVideoTracks().length,
                   audioEnabled: window.m.localStream.getAudioTracks()[0].enabled,
                   muted: [window.m.audioMuted, window.m.videoMuted]})"""
    )
    assert local == {"video": 0, "audioEnabled": False, "muted": [True, True]}
    # The others are told, and nothing is sent; the guest still sees the agent.
    await until(
        agent,
        "(pid) => { const p = window.m.roster.get(pid); return [p.audio_muted, p.video_muted]; }",
        guest_pid,
        lambda v: v == [True, True],
    )
    await frames_rising(guest, agent_pid)
    sent = await guest.evaluate(PEER_STATS, agent_pid)
    assert sent["audioOut"] == 0 and sent["videoOut"] == 0, sent
    # Camera on: now it is opened, and its video reaches the agent.
    await guest.evaluate("() => window.m.setVideoMuted(false)")
    assert await guest.evaluate("() => window.gumCalls.at(-1)") == {"audio": False, "video": True}
    await frames_rising(agent, guest_pid)


async def test_a_chat_only_session_never_creates_a_peer_connection(
    browser: Any, node: LiveServer
) -> None:
    meeting = await node.ops.meetings.create(
        subject="Chat only", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    agent, guest = await open_page(browser, node), await open_page(browser, node)
    await join_agent(agent, node, meeting.id)
    await guest.evaluate(INSTRUMENT)
    guest_pid = await join_url_guest(
        guest, node.ops.meetings.join_url(meeting), "Cy Chat", media=False
    )
    await agent.evaluate("() => window.m.startMedia({audio: true, video: true})")
    code = await guest.evaluate("() => window.m.startMedia().then(() => 'started', (e) => e.code)")
    assert code == "media_unavailable"
    # The agent is told the guest has no media; its offer (if it made one) goes unanswered.
    await until(
        agent,
        "(pid) => { const p = window.m.roster.get(pid); return [p.audio_muted, p.video_muted]; }",
        guest_pid,
        lambda v: v == [True, True],
    )
    await guest.evaluate("() => window.m.sendChat('typed, not spoken')")
    await until(agent, "() => window.m.chat.map((c) => c.text)", None, lambda t: len(t) == 1)
    await asyncio.sleep(2.0)
    assert await guest.evaluate("() => window.pcCount") == 0
    assert await guest.evaluate("() => window.gumCalls.length") == 0
    assert await guest.evaluate("() => window.m.remoteStreams.size") == 0


async def test_media_connects_when_signals_were_lost_during_a_socket_drop(
    browser: Any, node: LiveServer
) -> None:
    meeting = await node.ops.meetings.create(
        subject="Drop", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    agent, guest = await open_page(browser, node), await open_page(browser, node)
    agent_pid = await join_agent(agent, node, meeting.id)
    guest_pid = await join_url_guest(guest, node.ops.meetings.join_url(meeting), "Dee Drop")
    # The guest's socket drops and stays away while both start media: every offer,
    # answer, candidate and "renegotiate" of that time is lost.
    await guest.evaluate(
        """() => { window.realUrl = window.m.rtcUrl;
                   window.m.rtcUrl = "ws://127.0.0.1:9/v1/rtc"; window.m._ws.close(); }"""
    )
    await until(guest, "() => window.m.state", None, lambda s: s == "reconnecting")
    await agent.evaluate("() => window.m.startMedia({audio: true, video: true})")
    await guest.evaluate("() => window.m.startMedia({audio: true, video: true})")
    await asyncio.sleep(1.0)
    await guest.evaluate("() => { window.m.rtcUrl = window.realUrl; }")
    await until(guest, "() => window.m.state", None, lambda s: s == "joined")
    await frames_rising(guest, agent_pid, timeout=25)
    await frames_rising(agent, guest_pid, timeout=25)


async def test_a_fifth_person_is_chat_only_under_the_mesh_cap(
    browser: Any, node: LiveServer
) -> None:
    meeting = await node.ops.meetings.create(
        subject="Crowd", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    url = node.ops.meetings.join_url(meeting)
    pages = [await open_page(browser, node) for _ in range(5)]
    warnings: list[str] = []
    for page in pages:
        page.on("console", lambda msg: warnings.append(msg.text) if msg.type == "warning" else None)
    await join_agent(pages[0], node, meeting.id)
    for i, page in enumerate(pages[1:]):
        await join_url_guest(page, url, f"Guest {i + 1}")
    for page in pages:
        await page.evaluate(
            """() => { window.capped = [];
                       window.m.on("mediacap", (e) => window.capped.push(e)); }"""
        )
    for page in pages:  # audio only: light on a small machine
        await page.evaluate("() => window.m.startMedia({audio: true, video: false})")
    await asyncio.sleep(3.0)
    sizes = [await p.evaluate("() => window.m._peers.size") for p in pages]
    capped = [await p.evaluate("() => window.capped") for p in pages]
    assert max(sizes) <= 3, sizes
    assert any(capped), (sizes, capped)
    assert all(e["max"] == 3 for c in capped for e in c)
    assert any("chat-only" in w for w in warnings), warnings


async def test_switch_camera_between_two_cameras_and_keep_the_old_one_on_failure(
    node: LiveServer,
) -> None:
    from playwright.async_api import async_playwright

    from tests.e2e.conftest import CHROMIUM_ARGS, chromium_path
    from tests.support.netns import require_loopback_only

    require_loopback_only()
    args = [a for a in CHROMIUM_ARGS if a != "--use-fake-device-for-media-stream"]
    args.append("--use-fake-device-for-media-stream=device-count=2")
    async with async_playwright() as pw:
        two_cameras = await pw.chromium.launch(executable_path=chromium_path(), args=args)
        try:
            await _switch_camera(two_cameras, node)
        finally:
            await two_cameras.close()


async def _switch_camera(browser: Any, node: LiveServer) -> None:
    meeting = await node.ops.meetings.create(
        subject="Two cameras", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    agent, guest = await open_page(browser, node), await open_page(browser, node)
    await join_agent(agent, node, meeting.id)
    guest_pid = await join_url_guest(guest, node.ops.meetings.join_url(meeting), "Cam Two")
    await agent.evaluate("() => window.m.startMedia({audio: true, video: true})")
    await guest.evaluate("() => window.m.startMedia({audio: true, video: true})")
    cameras = await guest.evaluate(
        "async () => (await window.fd.listDevices()).videoinputs.map((d) => d.deviceId)"
    )
    if len(cameras) < 2:
        pytest.skip(f"this Chromium's fake device offers {len(cameras)} camera(s)")
    await frames_rising(agent, guest_pid)
    current = """() => { const t = window.m.localStream.getVideoTracks()[0];
                         return t ? [t.getSettings().deviceId, t.readyState] : null; }"""
    before = await guest.evaluate(current)
    await guest.evaluate("() => window.m.switchCamera()")
    after = await guest.evaluate(current)
    assert after[1] == "live" and after[0] != before[0] and after[0] in cameras, (before, after)
    # (Chromium's second fake camera produces Y16 "depth" frames, which WebRTC does
    # not encode: the round trip back to the first camera is what the agent sees.)
    await guest.evaluate("() => window.m.switchCamera()")
    back = await guest.evaluate(current)
    assert back == [before[0], "live"], (before, back)
    await frames_rising(agent, guest_pid)  # the camera switched to reaches the agent

    # The next camera is gone: the current one stays on and keeps sending.
    code = await guest.evaluate(
        """async () => {
          const md = navigator.mediaDevices, real = md.getUserMedia.bind(md);
          md.getUserMedia = () => Promise.reject(new DOMException("gone", "NotFoundError"));
          try { await window.m.switchCamera(); return "switched"; }
          catch (e) { return e.code; }
          finally { md.getUserMedia = real; }
        }"""
    )
    assert code == "media_unavailable"
    kept = await guest.evaluate(current)
    assert kept is not None and kept[1] == "live", kept
    await frames_rising(agent, guest_pid)
