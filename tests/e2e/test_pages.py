"""The guest page and the agent console in real Chromium (fake camera and mic),
against a real node on 127.0.0.1: lobby, admit, video and audio both ways, chat,
mute, leave; the phone layout; token guests; chat-only without media permission.
Screenshots of every view go to the test artifacts directory."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

import frontdesk.client
from frontdesk.domain.model import AccessPolicy
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.netns

PASSWORD = "correct horse battery"
PHONE = {"viewport": {"width": 375, "height": 667}, "is_mobile": True, "has_touch": True}

# Sums over every peer connection of the page's meeting (window.frontdeskMeeting).
INBOUND = """async (kind) => {
  const m = window.frontdeskMeeting;
  const out = {frames: 0, packets: 0};
  if (!m) return out;
  for (const pid of m.roster.keys()) {
    const pc = m.peerConnection(pid);
    if (!pc) continue;
    (await pc.getStats()).forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === kind) {
        out.frames += r.framesDecoded || 0;
        out.packets += r.packetsReceived || 0;
      }
    });
  }
  return out;
}"""

REMOTE_VIDEO_PLAYING = """() => [...document.querySelectorAll('.tile:not(.self) video')].some(
  (v) => v.videoWidth > 0 && !v.paused && v.readyState >= 2)"""


async def expect_text(page: Any, selector: str, pattern: str, timeout: float = 10.0) -> str:
    """Wait until the element's text matches ``pattern``; return the text."""
    loc = page.locator(selector)
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        if await loc.count() and await loc.first.is_visible():
            text = str(await loc.first.inner_text())
            if re.search(pattern, text):
                return text
        await asyncio.sleep(0.1)
    raise AssertionError(f"{selector}: {text!r} never matched {pattern!r}")


async def rising(page: Any, kind: str, key: str, timeout: float = 15.0) -> int:
    """Wait until the inbound ``kind`` counter ``key`` rises twice in a row."""
    deadline = time.monotonic() + timeout
    last = (await page.evaluate(INBOUND, kind))[key]
    rises = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        now = (await page.evaluate(INBOUND, kind))[key]
        rises = rises + 1 if now > last else 0
        last = now
        if rises >= 2:
            return int(now)
    raise AssertionError(f"inbound {kind} {key} stopped at {last}")


# Every text the page's live #status region says, in window.said.
RECORD_STATUS = """() => {
  window.said = [];
  const region = document.querySelector('#status');
  new MutationObserver(() => { if (region.textContent) window.said.push(region.textContent); })
    .observe(region, {childList: true, characterData: true, subtree: true});
}"""


def track_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    return errors


async def sign_in(page: Any, base_url: str, artifacts: Path) -> None:
    await page.goto(f"{base_url}/console")
    await page.get_by_label("User name").fill("alice")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.screenshot(path=artifacts / "console-sign-in.png")
    await page.get_by_role("button", name="Sign in").click()
    await expect_text(page, "#whoami", "Signed in as Alice Advisor")


async def test_console_and_guest_meeting(browser: Any, node: LiveServer, artifacts: Path) -> None:
    agent_ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    guest_ctx = await browser.new_context(viewport={"width": 1100, "height": 850})
    agent, guest = await agent_ctx.new_page(), await guest_ctx.new_page()
    agent_errors, guest_errors = track_errors(agent), track_errors(guest)

    # The agent signs in and creates a meeting from the console.
    await sign_in(agent, node.base_url, artifacts)
    await agent.evaluate(RECORD_STATUS)
    await agent.get_by_label("Subject").fill("Mortgage advice")
    await agent.get_by_role("button", name="Create meeting").click()
    item = agent.locator(".meeting", has_text="Mortgage advice")
    await item.wait_for()
    join_url = await item.get_attribute("data-join-url")
    assert join_url and join_url.startswith(f"{node.base_url}/j/")
    assert await agent.evaluate("sessionStorage.getItem('frontdesk.session') !== null")
    async with agent.expect_download() as dl_info:
        await item.get_by_role("button", name="Download the invitation of Mortgage advice").click()
    download = await dl_info.value
    assert download.suggested_filename == "mortgage-advice.ics"
    ics = Path(await download.path()).read_bytes().decode().replace("\r\n ", "")
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and "SUMMARY:Mortgage advice\r\n" in ics
    assert f"URL:{join_url}\r\n" in ics

    # The guest enters a name (camera preview running) and waits in the lobby.
    await guest.goto(join_url)
    await guest.wait_for_function(
        "() => { const v = document.querySelector('#preview'); return v.videoWidth > 0; }"
    )
    assert await guest.locator("#camera option").count() >= 1
    await guest.get_by_label("Your name").fill("Bob Visitor")
    await guest.screenshot(path=artifacts / "guest-name-entry.png")
    await guest.get_by_role("button", name="Join").click()
    await expect_text(guest, "#lobby-text", r"^Waiting for .+ to let you in\.$")
    await expect_text(guest, "#lobby-position", "You are next in the queue")
    await expect_text(guest, "#lobby-organizer", "has not joined yet")
    await expect_text(guest, "#lobby-timeout", r"If nobody lets you in within \d+ min")
    await guest.screenshot(path=artifacts / "guest-lobby.png")
    # The countdown is not a live region; the page says only what changes.
    assert await guest.evaluate(
        "() => document.querySelector('#lobby-timeout').closest('[aria-live]') === null"
    )
    await guest.evaluate(RECORD_STATUS)

    # The agent's queue (polled across meetings) shows the visitor, unvouched.
    visitor = agent.locator("#queue .visitor", has_text="Bob Visitor")
    await visitor.wait_for(timeout=10_000)
    await expect_text(agent, "#queue .visitor", "not verified")
    await expect_text(agent, "#queue .visitor .waiting", r"waiting \d+ s")
    assert (await agent.title()).startswith("(1)")
    await agent.screenshot(path=artifacts / "console-lobby.png")
    # The arrival is said once (by #status; the queue itself is not a live region),
    # however often the queue is polled and redrawn.
    assert await agent.evaluate("() => document.querySelector('#queue[aria-live]') === null")
    await asyncio.sleep(4.5)  # two polls, four clock ticks
    said = await agent.evaluate("() => window.said")
    assert [t for t in said if "Bob Visitor" in t] == ["Bob Visitor is waiting in the lobby"], said
    guest_said = await guest.evaluate("() => window.said")
    assert not [t for t in guest_said if re.search(r"\d+ s|min", t)], guest_said

    # Admit: the console joins the meeting as alice, then admits.
    await visitor.get_by_role("button", name="Admit Bob Visitor").click()
    admitted_at = time.monotonic()
    await guest.wait_for_function("() => window.frontdeskMeeting?.state === 'joined'")
    await guest.wait_for_function(REMOTE_VIDEO_PLAYING, timeout=20_000)
    first_frame_s = time.monotonic() - admitted_at
    await agent.wait_for_function(REMOTE_VIDEO_PLAYING, timeout=20_000)
    for page in (agent, guest):
        await rising(page, "video", "frames")
        await rising(page, "audio", "packets")
        t0 = await page.evaluate(
            "() => document.querySelector('.tile:not(.self) video').currentTime"
        )
        await asyncio.sleep(0.5)
        t1 = await page.evaluate(
            "() => document.querySelector('.tile:not(.self) video').currentTime"
        )
        assert t1 > t0
    print(f"admit -> first remote video frame on the guest page: {first_frame_s:.2f} s")
    await expect_text(agent, ".roster", "Bob Visitor")
    await expect_text(guest, ".roster", "Alice Advisor")

    # Chat both ways; typing indicator; HTML is shown as text, never as markup.
    guest_html = "Hello <b>agent</b> <img src=x>"
    await guest.locator("#chat-input").fill(guest_html[:5])
    await guest.locator("#chat-input").press_sequentially(guest_html[5:8])
    await expect_text(agent, ".typing", "Bob Visitor is typing")
    await guest.locator("#chat-input").fill(guest_html)
    await guest.locator("#chat-input").press("Enter")
    await expect_text(agent, ".chat-log .msg .text", re.escape(guest_html))
    agent_html = '<script>alert("x")</script>Hi Bob'
    await agent.locator("#chat-input").fill(agent_html)
    await agent.get_by_role("button", name="Send").click()
    await expect_text(guest, ".chat-log .msg:last-child .text", re.escape(agent_html))
    await expect_text(agent, ".chat-log .msg:last-child .text", re.escape(agent_html))
    for page in (agent, guest):
        assert await page.locator(".chat-log b, .chat-log img, .chat-log script").count() == 0
        assert await page.locator(".chat-log .msg").count() == 2
    await guest.screenshot(path=artifacts / "guest-meeting.png")
    await agent.screenshot(path=artifacts / "console-meeting.png")

    # The guest mutes: the agent stops receiving audio packets.
    await guest.get_by_role("button", name="Mute").click()
    await guest.locator('[data-action="mute"][aria-pressed="true"]').wait_for()
    await expect_text(agent, ".roster", "muted")
    await asyncio.sleep(1.0)
    before = (await agent.evaluate(INBOUND, "audio"))["packets"]
    await asyncio.sleep(1.5)
    after = (await agent.evaluate(INBOUND, "audio"))["packets"]
    assert after - before <= 2, (before, after)
    await rising(agent, "video", "frames")  # video keeps flowing

    # The guest leaves: a clear end screen; the agent's roster forgets the guest.
    await guest.get_by_role("button", name="Leave").click()
    await expect_text(guest, "#end-title", "You left the meeting")
    assert await guest.evaluate("document.body.dataset.ended") == "left"
    await guest.screenshot(path=artifacts / "guest-end.png")
    await agent.wait_for_function(
        "() => !document.querySelector('.roster').textContent.includes('Bob Visitor')"
    )

    # End for all (two clicks: the second confirms).
    end = agent.locator('[data-action="end"]')
    await end.click()
    await end.click()
    await expect_text(agent, "#end-title", "The meeting has ended")
    assert not agent_errors + guest_errors
    await agent_ctx.close()
    await guest_ctx.close()


async def test_guest_page_on_a_phone(browser: Any, node: LiveServer, artifacts: Path) -> None:
    m = await node.ops.meetings.create(
        subject="Phone call", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    ctx = await browser.new_context(**PHONE)
    page = await ctx.new_page()
    errors = track_errors(page)
    await page.goto(f"{node.base_url}/j/{m.join_code}")
    await page.wait_for_function("() => document.querySelector('#preview').videoWidth > 0")
    await page.get_by_label("Your name").fill("Dana Mobile")
    await page.screenshot(path=artifacts / "phone-name-entry.png", full_page=True)
    await assert_phone_friendly(page)
    await page.get_by_role("button", name="Join").tap()
    await page.wait_for_function("() => window.frontdeskMeeting?.state === 'joined'")
    await page.locator(".tile.self video").wait_for()
    await page.wait_for_function("() => document.querySelector('.tile.self video').videoWidth > 0")
    await page.locator("#chat-input").fill("typed on a phone")
    await page.get_by_role("button", name="Send").tap()
    await expect_text(page, ".chat-log .msg .text", "typed on a phone")
    await page.screenshot(path=artifacts / "phone-view.png", full_page=True)
    await assert_phone_friendly(page)
    # Camera off releases the camera and shows the avatar instead.
    await page.get_by_role("button", name="Camera off").tap()
    await page.locator(".tile.self.video-off").wait_for()
    assert await page.evaluate("window.frontdeskMeeting.localStream.getVideoTracks().length") == 0
    await page.get_by_role("button", name="Leave").tap()
    await expect_text(page, "#end-title", "You left the meeting")
    assert not errors
    await ctx.close()


async def assert_phone_friendly(page: Any) -> None:
    """No sideways scrolling at 375 px, and every visible control is a 44 px target."""
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    small = await page.evaluate(
        """() => [...document.querySelectorAll('button, select, input:not([type=checkbox])')]
          .filter((e) => e.offsetParent !== null)
          .map((e) => [e.textContent || e.id, e.getBoundingClientRect()])
          .filter(([, r]) => r.height < 44 || r.width < 44)
          .map(([name, r]) => `${name}: ${r.width}x${r.height}`)"""
    )
    assert small == []


async def test_token_guest_name_locked_and_denied(
    browser: Any, node: LiveServer, artifacts: Path
) -> None:
    m = await node.ops.meetings.create(subject="Claims", organizer="alice")
    grant = await node.ops.guest_tokens.mint(m.id, display_name="Carol Client")
    session_token, _, _ = await node.ops.accounts.login("alice", PASSWORD)
    ctx = await browser.new_context(**PHONE)
    page = await ctx.new_page()
    errors = track_errors(page)
    fragment = urlencode({"token": grant.token, "discovery": grant.discovery_uri})
    url = f"{node.base_url}/j/{m.join_code}#{fragment}"
    await page.goto(url)
    name = page.get_by_label("Your name")
    assert await name.input_value() == "Carol Client"
    assert await name.get_attribute("readonly") is not None
    async with frontdesk.client.join_as_user(node.base_url, m.id, session_token) as host:
        await host.admitted(timeout=10)
        await page.get_by_role("button", name="Join").tap()
        await expect_text(page, "#lobby-text", r"^Waiting for .+ to let you in\.$")
        assert await page.locator("#lobby-organizer").is_hidden()  # the host is here
        await page.screenshot(path=artifacts / "phone-lobby-token-guest.png", full_page=True)
        for _ in range(100):
            if host.lobby:
                break
            await asyncio.sleep(0.05)
        (entry,) = host.lobby.values()
        assert entry.vouched
        await host.deny(entry.participant_id)
        await expect_text(page, "#end-title", "You were not let in")
        assert await page.locator("#rejoin").is_hidden()
        await page.screenshot(path=artifacts / "phone-end-denied.png", full_page=True)
    assert not errors
    await ctx.close()


async def test_chat_only_without_media_permission(
    browser: Any, node: LiveServer, artifacts: Path
) -> None:
    m = await node.ops.meetings.create(
        subject="No camera", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    ctx = await browser.new_context(viewport={"width": 900, "height": 800})
    await ctx.add_init_script(
        "navigator.mediaDevices.getUserMedia = () =>"
        " Promise.reject(new DOMException('denied', 'NotAllowedError'));"
    )
    page = await ctx.new_page()
    errors = track_errors(page)
    await page.goto(f"{node.base_url}/j/{m.join_code}")
    await expect_text(page, "#media-help", "not available")
    assert await page.get_by_label("Join with camera on").is_disabled()
    await page.get_by_label("Your name").fill("Eve Chatonly")
    await page.get_by_role("button", name="Join").click()
    await expect_text(page, "#meeting .note", "chat only")
    await page.locator("#chat-input").fill("no camera here")
    await page.locator("#chat-input").press("Enter")
    await expect_text(page, ".chat-log .msg .text", "no camera here")
    await page.screenshot(path=artifacts / "guest-chat-only.png")
    assert not errors
    await ctx.close()


async def test_joining_with_the_camera_off_never_opens_it(
    browser: Any, node: LiveServer, artifacts: Path
) -> None:
    m = await node.ops.meetings.create(
        subject="Camera off", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    ctx = await browser.new_context(viewport={"width": 900, "height": 800})
    await ctx.add_init_script(
        """window.gumCalls = [];
        const md = navigator.mediaDevices, real = md.getUserMedia.bind(md);
        md.getUserMedia = (c) => { window.gumCalls.push(!!c.video); return real(c); };"""
    )
    page = await ctx.new_page()
    errors = track_errors(page)
    await page.goto(f"{node.base_url}/j/{m.join_code}")
    await page.wait_for_function("() => document.querySelector('#preview').videoWidth > 0")
    await page.get_by_label("Your name").fill("Olive Off")
    await page.get_by_label("Join with camera on").uncheck()
    await page.get_by_label("Join with microphone on").uncheck()
    await page.wait_for_function("() => window.gumCalls.at(-1) === false")  # preview: mic only
    before = await page.evaluate("() => window.gumCalls.length")
    await page.get_by_role("button", name="Join").click()
    await page.wait_for_function("() => window.frontdeskMeeting?.localStream")
    await page.locator('[data-action="camera"][aria-pressed="true"]').wait_for()
    await page.locator('[data-action="mute"][aria-pressed="true"]').wait_for()
    assert await page.evaluate(f"() => window.gumCalls.slice({before})") == [False]
    assert await page.evaluate("window.frontdeskMeeting.localStream.getVideoTracks().length") == 0
    await page.locator(".tile.self.video-off").wait_for()
    # Camera on: only now is the camera opened.
    await page.get_by_role("button", name="Camera on").click()
    await page.wait_for_function("() => window.gumCalls.at(-1) === true")
    await page.wait_for_function("() => document.querySelector('.tile.self video').videoWidth > 0")
    await page.screenshot(path=artifacts / "guest-camera-on-later.png")
    assert not errors
    await ctx.close()
