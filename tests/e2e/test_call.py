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
        """() => window.frontdeskMeeting.localStream.getTracks()
          .filter((t) => t.readyState === 'live').length"""
    )
    assert live == 2
    await page.screenshot(path=artifacts / "call-quick-join.png")
    assert not errors
    await ctx.close()
    await agent.context.close()


# The geometry of the call on the guest page: tiles, self view, controls, overflow.
GEOMETRY = """() => {
  const box = (e) => e ? e.getBoundingClientRect() : null;
  const remote = box(document.querySelector('.tile:not(.self)'));
  const self = box(document.querySelector('.tile.self'));
  const controls = box(document.querySelector('.controls'));
  return {
    remote: remote && remote.width * remote.height,
    self: self && self.width * self.height,
    selfInside: !!(remote && self && self.right <= remote.right + 1
      && self.bottom <= remote.bottom + 1),
    mirrored: getComputedStyle(document.querySelector('.tile.self video')).transform,
    controlsBottom: controls && controls.bottom,
    controlsTop: controls && controls.top,
    height: innerHeight,
    scrollWidth: document.documentElement.scrollWidth,
    width: innerWidth,
  };
}"""

REMOTE_VIDEO = """() => [...document.querySelectorAll('.tile:not(.self) video')]
  .some((v) => v.videoWidth > 0)"""

SIZES = [
    ("phone-320", 320, 640, True),
    ("phone-375", 375, 667, True),
    ("phone-landscape", 667, 375, True),
    ("desktop-1366", 1366, 800, False),
]


async def _guest_in_call(browser: Any, node: LiveServer, subject: str) -> tuple[Any, Any, str]:
    """An agent (SDK page, media on) and a guest on the guest page, in a call."""
    m = await node.ops.meetings.create(
        subject=subject, organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    agent = await open_page(browser, node)
    await join_agent(agent, node, m.id)
    await agent.evaluate("() => window.m.startMedia({audio: true, video: true})")
    ctx = await browser.new_context(
        viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True
    )
    page = await ctx.new_page()
    await page.goto(f"{node.base_url}/j/{m.join_code}")
    await page.get_by_label("Your name").fill("Pia Phone")
    await page.get_by_role("button", name="Join").tap()
    await page.wait_for_function("() => window.frontdeskMeeting?.state === 'joined'")
    await page.wait_for_function(REMOTE_VIDEO, timeout=25000)
    pid = str(await page.evaluate("() => window.frontdeskMeeting.participantId"))
    return agent, page, pid


async def test_phone_first_call_layout_from_320_px_to_desktop(
    browser: Any, node: LiveServer, artifacts: Path
) -> None:
    agent, page, guest_pid = await _guest_in_call(browser, node, "Layout")
    errors = track_errors(page)
    # An empty chat offers no earlier messages.
    assert await page.locator('[data-action="older"]').is_hidden()
    for name, width, height, phone in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        await page.wait_for_timeout(300)
        g = await page.evaluate(GEOMETRY)
        await page.screenshot(path=artifacts / f"call-{name}.png")
        assert g["scrollWidth"] <= g["width"], (name, g)  # nothing overflows sideways
        assert g["selfInside"], (name, g)  # the self view is a corner of the remote one
        assert "matrix(-1" in g["mirrored"], (name, g)  # and mirrored
        assert g["remote"] > 4 * g["self"], (name, g)
        if phone:  # the controls at the bottom of the screen, within a thumb's reach
            assert g["height"] - 2 <= g["controlsBottom"] <= g["height"] + 1, (name, g)
            assert g["controlsTop"] > g["height"] / 2, (name, g)
    # The host mutes the guest: the guest is told, and how to talk again.
    await page.set_viewport_size({"width": 375, "height": 667})
    await agent.evaluate("(pid) => window.m.mute(pid)", guest_pid)
    await expect_text(page, '[data-note="muted-by-host"]', r"muted your microphone.*Unmute")
    await page.screenshot(path=artifacts / "call-muted-by-host.png")
    await page.get_by_role("button", name="Unmute").tap()
    await page.locator('[data-note="muted-by-host"]').wait_for(state="hidden")
    assert not errors
    await page.context.close()
    await agent.context.close()


ROSTER = "() => [...window.m.roster.values()].map((p) => p.display_name).sort()"


async def test_a_guest_who_reloads_is_in_the_roster_once(
    browser: Any, node: LiveServer, artifacts: Path
) -> None:
    agent, page, first_pid = await _guest_in_call(browser, node, "Reload")
    await until(agent, ROSTER, None, lambda r: r == ["Alice Advisor", "Pia Phone"])
    await page.reload()
    await page.get_by_label("Your name").fill("Pia Phone")
    await page.get_by_role("button", name="Join").tap()
    # Straight back in (no lobby) and in place of the old session.
    await page.wait_for_function("() => window.frontdeskMeeting?.state === 'joined'")
    second_pid = await page.evaluate("() => window.frontdeskMeeting.participantId")
    assert second_pid != first_pid
    await until(agent, "() => [...window.m.roster.keys()]", None, lambda ids: first_pid not in ids)
    assert await agent.evaluate(ROSTER) == ["Alice Advisor", "Pia Phone"]
    await page.locator(".roster .person").nth(1).wait_for()
    assert await page.locator(".roster .person").count() == 2
    await page.screenshot(path=artifacts / "call-after-reload.png")
    await page.context.close()
    await agent.context.close()


async def test_an_agents_second_tab_takes_over_from_the_first(
    browser: Any, node: LiveServer
) -> None:
    m = await node.ops.meetings.create(
        subject="Two tabs", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    first, second = await open_page(browser, node), await open_page(browser, node)
    await join_agent(first, node, m.id)
    await join_agent(second, node, m.id)
    await until(first, "() => window.m.state", None, lambda s: s == "left")
    assert await first.evaluate("() => window.m.leftReason") == "replaced"
    assert await second.evaluate(ROSTER) == ["Alice Advisor"]
    await first.context.close()
    await second.context.close()
