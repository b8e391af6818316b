"""The call in real Chromium (fake camera, microphone and screen), against a real
node on 127.0.0.1: a Join pressed before the camera preview is up still sends
what was ticked; the phone-first layout from 320 px to desktop; one row per
person after a reload or a second tab; the host-mute notice; screen sharing from
the browser SDK and the guest page, received by the browser and the Python SDK."""

from __future__ import annotations

import asyncio
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


# The size of the video received from one peer (the camera is 4:3, the screen 16:9).
VIDEO_SIZE_FROM = """async (pid) => {
  const pc = window.m.peerConnection(pid);
  let out = {width: 0, height: 0, frames: 0};
  if (pc) (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") {
      out = {width: r.frameWidth || 0, height: r.frameHeight || 0, frames: r.framesDecoded || 0};
    }
  });
  return out;
}"""

SCREEN_TILE = """() => {
  const tiles = document.querySelector('.tiles').getBoundingClientRect();
  const tile = document.querySelector('.tile.screen');
  if (!tile) return null;
  const r = tile.getBoundingClientRect();
  return {share: (r.width * r.height) / (tiles.width * tiles.height),
          large: document.querySelector('.tiles').classList.contains('has-screen'),
          fit: getComputedStyle(tile.querySelector('video')).objectFit,
          playing: tile.querySelector('video').videoWidth};
}"""


def _wide(s: dict[str, Any]) -> bool:
    return bool(s["frames"] > 0 and s["height"] and s["width"] / s["height"] > 1.6)


def _camera(s: dict[str, Any]) -> bool:
    return bool(s["frames"] > 0 and s["height"] and s["width"] / s["height"] < 1.4)


async def test_screen_share_from_the_sdk_and_from_the_guest_page(
    browser: Any, node: LiveServer, artifacts: Path
) -> None:
    agent, page, guest_pid = await _guest_in_call(browser, node, "Mortgage documents")
    await page.set_viewport_size({"width": 1100, "height": 800})
    errors = track_errors(page)
    agent_pid = await agent.evaluate("() => window.m.participantId")

    # The agent shares a screen (the SDK): the guest sees it large, whole, unmirrored.
    await agent.evaluate("() => window.m.shareScreen()")
    assert await agent.evaluate("() => window.m.screenSharing") is True
    await page.wait_for_function(
        "(pid) => window.frontdeskMeeting.roster.get(pid)?.screen_sharing === true", arg=agent_pid
    )
    tile = await until(page, SCREEN_TILE, None, lambda t: bool(t and t["playing"]), timeout=20)
    assert tile["large"] and tile["share"] > 0.9 and tile["fit"] == "contain", tile
    await page.screenshot(path=artifacts / "call-screen-shared-to-guest.png")
    await agent.evaluate("() => window.m.stopScreenShare()")
    await page.wait_for_function("() => !document.querySelector('.tile.screen')")

    # The guest shares from the page: the agent is told it is a screen, and gets it.
    share = page.get_by_role("button", name="Share screen")
    await share.click()
    await page.get_by_role("button", name="Stop sharing").wait_for()
    await until(
        agent, "(pid) => window.m.roster.get(pid)?.screen_sharing", guest_pid, lambda v: v is True
    )
    await until(agent, VIDEO_SIZE_FROM, guest_pid, _wide, timeout=20)
    await page.get_by_role("button", name="Stop sharing").click()
    await until(
        agent, "(pid) => window.m.roster.get(pid)?.screen_sharing", guest_pid, lambda v: v is False
    )
    await until(agent, VIDEO_SIZE_FROM, guest_pid, _camera, timeout=20)  # the camera again
    assert not errors
    await page.context.close()
    await agent.context.close()


async def test_the_python_sdk_receives_a_shared_screen(browser: Any, node: LiveServer) -> None:
    import frontdesk.client
    from frontdesk.client.media import pattern_track

    m = await node.ops.meetings.create(
        subject="Screen to Python", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    session_token, _, _ = await node.ops.accounts.login("alice", "correct horse battery")
    page = await open_page(browser, node)
    # the fake screen is as large as the page: a wide one, unlike the 4:3 camera
    await page.set_viewport_size({"width": 1280, "height": 720})
    url = node.ops.meetings.join_url(m)
    guest_pid = await page.evaluate(
        """async (joinUrl) => {
          window.m = await fd.join({joinUrl, displayName: "Sid Screen"});
          await window.m.startMedia({audio: true, video: true});
          return window.m.participantId;
        }""",
        url,
    )
    async with frontdesk.client.join_as_user(node.base_url, m.id, session_token) as agent:
        await agent.admitted(timeout=10)
        media = await agent.start_media(
            video=pattern_track(320, 240), ice_host_addresses=["127.0.0.1"], ice_servers=[]
        )
        try:
            assert await media.screen(guest_pid) is None  # a camera, not a screen
            await page.evaluate("() => window.m.shareScreen()")
            async with asyncio.timeout(20):
                while not media.sharing_screen(guest_pid):
                    await asyncio.sleep(0.05)
                track = await media.screen(guest_pid)
                assert track is not None
                while True:  # the screen's frames (16:9), once the sender switched
                    frame = await track.recv()
                    if frame.width / frame.height > 1.6:
                        break
            track.stop()
            await page.evaluate("() => window.m.stopScreenShare()")
            async with asyncio.timeout(10):
                while media.sharing_screen(guest_pid):
                    await asyncio.sleep(0.05)
        finally:
            await media.stop()
    await page.context.close()
