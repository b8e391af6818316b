"""The call on the guest page in real Chromium (fake camera and mic), against a
real node on 127.0.0.1: a Join pressed before the camera preview is up still
sends what was ticked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from frontdesk.domain.model import AccessPolicy
from tests.e2e.test_pages import expect_text, track_errors
from tests.e2e.test_sdk_browser import join_agent, open_page, until
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.netns

# What the page on the other side receives from one peer.
INBOUND_FROM = """async (pid) => {
  const pc = window.m.peerConnection(pid);
  const out = {video: 0, audio: 0};
  if (!pc) return out;
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") out.video += r.framesDecoded || 0;
    if (r.type === "inbound-rtp" && r.kind === "audio") out.audio += r.packetsReceived || 0;
  });
  return out;
}"""

# The camera and microphone open slowly (as a phone's do): the preview is not up
# for a while after the page loads.
SLOW_CAMERA = """(() => {
  const md = navigator.mediaDevices, real = md.getUserMedia.bind(md);
  window.gumCalls = [];
  md.getUserMedia = (c) => {
    window.gumCalls.push({audio: !!c.audio, video: !!c.video});
    return new Promise((r) => setTimeout(r, 1500)).then(() => real(c));
  };
})();"""


async def test_join_pressed_before_the_preview_is_up_sends_audio_and_video(
    browser: Any, node: LiveServer, artifacts: Path
) -> None:
    m = await node.ops.meetings.create(
        subject="Quick join", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    agent = await open_page(browser, node)
    await join_agent(agent, node, m.id)
    await agent.evaluate("() => window.m.startMedia({audio: true, video: true})")

    ctx = await browser.new_context(viewport={"width": 900, "height": 800})
    await ctx.add_init_script(SLOW_CAMERA)
    page = await ctx.new_page()
    errors = track_errors(page)
    await page.goto(f"{node.base_url}/j/{m.join_code}")
    await page.get_by_label("Your name").fill("Quinn Quick")
    assert await page.evaluate("() => document.querySelector('#preview').videoWidth") == 0
    await page.get_by_role("button", name="Join").click()
    # The page says what it waits for, then joins with what was ticked.
    await expect_text(page, "#join", "Starting your camera")
    await page.wait_for_function("() => window.frontdeskMeeting?.state === 'joined'")
    guest_pid = await page.evaluate("() => window.frontdeskMeeting.participantId")
    got = await until(
        agent, INBOUND_FROM, guest_pid, lambda s: s["video"] > 5 and s["audio"] > 5, timeout=25
    )
    assert got["video"] > 5 and got["audio"] > 5
    me = await page.evaluate("() => window.frontdeskMeeting.me")
    assert me["audio_muted"] is False and me["video_muted"] is False
    # The preview's camera was closed: the meeting's is the only one open.
    live = await page.evaluate(
        "() => window.frontdeskMeeting.localStream.getTracks().filter(t => t.readyState === 'live').length"
    )
    assert live == 2
    await page.screenshot(path=artifacts / "call-quick-join.png")
    assert not errors
    await ctx.close()
    await agent.context.close()
