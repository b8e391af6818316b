"""Harbor Bank in real browsers: a customer signs in to the bank, asks for an
advisor, waits in the lobby; the advisor admits from Frontdesk's console; video
both ways and chat. Screenshots of both views go to the artifacts dir."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from frontdesk.cli.demo import find_bank, serve_app
from frontdesk.config import Settings
from tests.support.live_server import LiveServer, free_port, live_server
from tests.support.netns import require_loopback_only

pytestmark = pytest.mark.netns
harbor_bank = find_bank()

# frames decoded from the (only) remote peer, read from WebRTC stats
FRAMES_DECODED = """async (m) => {
  let total = 0;
  for (const pid of m.remoteStreams.keys()) {
    const pc = m.peerConnection(pid);
    if (!pc) continue;
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") total += s.framesDecoded || 0;
    });
  }
  return total;
}"""


@dataclass
class Bank:
    node: LiveServer
    url: str


@pytest.fixture
async def bank(tmp_path: Path) -> AsyncIterator[Bank]:
    require_loopback_only()
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db",
        allowed_origins=(origin,),
    )
    async with live_server(settings) as node:
        creds = await node.ops.apps.create("Harbor Bank")
        await node.ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        app = harbor_bank.create_app(
            harbor_bank.BankConfig(
                frontdesk_url=node.base_url,
                client_id=creds.client_id,
                client_secret=creds.client_secret,
                public_url=origin,
                database=str(tmp_path / "bank.db"),
            )
        )
        app.state.accounts.add("ann", "Ann Customer", "ann's password")
        async with serve_app(app, port) as url:
            yield Bank(node, url)


async def sign_in_to_the_bank(page: Any, bank: Bank) -> None:
    await page.goto(f"{bank.url}/login")
    await page.fill("#username", "ann")
    await page.fill("#password", "ann's password")
    await page.click("#sign-in")


async def sign_in_to_the_console(page: Any, bank: Bank) -> None:
    await page.goto(f"{bank.node.base_url}/console")
    await page.fill("#username", "alice")
    await page.fill("#password", "correct horse battery")
    await page.click("#signin-button")


async def frames(page: Any, meeting: str) -> int:
    return int(await page.evaluate(f"({FRAMES_DECODED})(window.{meeting})"))


async def test_customer_talks_to_an_advisor_by_video(
    bank: Bank, browser: Any, artifacts: Path
) -> None:
    customer = await (await browser.new_context()).new_page()
    advisor = await (await browser.new_context()).new_page()

    await sign_in_to_the_bank(customer, bank)
    await customer.click("#talk-to-advisor")
    await customer.wait_for_function(
        "() => window.harborMeeting?.state === 'lobby'", timeout=10_000
    )

    await sign_in_to_the_console(advisor, bank)
    waiting = advisor.locator("#queue li.visitor", has_text="Ann Customer")
    await waiting.wait_for(timeout=10_000)
    assert await waiting.locator(".badge.vouched").count() == 1  # the bank's verified name
    await waiting.locator("[data-action=admit]").click()

    await customer.wait_for_function(
        "() => window.harborMeeting.state === 'joined'", timeout=10_000
    )
    for page, meeting in ((customer, "harborMeeting"), (advisor, "frontdeskMeeting")):
        await page.wait_for_function(
            f"() => window.{meeting} && window.{meeting}.remoteStreams.size > 0", timeout=20_000
        )
        first = await frames(page, meeting)
        await page.wait_for_timeout(1000)
        assert await frames(page, meeting) > first, f"{meeting}: remote video is not moving"

    await customer.fill("#chat-input", "Hello from Ann")
    await customer.click("#chat-send")
    await advisor.wait_for_function(
        "() => window.frontdeskMeeting.chat.some((m) => m.text === 'Hello from Ann')",
        timeout=10_000,
    )
    await advisor.evaluate("window.frontdeskMeeting.sendChat('Hi Ann, how can I help?')")
    await customer.locator("#chat li", has_text="Hi Ann, how can I help?").wait_for(timeout=10_000)

    await customer.screenshot(path=str(artifacts / "harbor_bank_customer.png"))
    await advisor.screenshot(path=str(artifacts / "harbor_bank_advisor.png"))


async def test_customer_joins_office_hours_by_meeting_url(
    bank: Bank, browser: Any, artifacts: Path
) -> None:
    """Meeting URL flow: the advisor scheduled office hours; the bank reads the
    join URL from its invite.ics; the customer waits in the lobby unvouched."""
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC) + timedelta(minutes=5)
    office = await bank.node.ops.meetings.create(
        subject="Office hours", organizer="alice", start=start, end=start + timedelta(hours=1)
    )
    customer = await (await browser.new_context()).new_page()
    advisor = await (await browser.new_context()).new_page()

    await sign_in_to_the_bank(customer, bank)
    await customer.click("#office-hours")
    await customer.wait_for_function(
        "() => window.harborMeeting?.state === 'lobby'", timeout=10_000
    )
    assert await customer.evaluate("() => window.harborMeeting.info.id") == office.id

    await sign_in_to_the_console(advisor, bank)
    waiting = advisor.locator("#queue li.visitor", has_text="Ann Customer")
    await waiting.wait_for(timeout=10_000)
    # Came with the URL alone: the name is the one typed, not vouched by a token.
    assert await waiting.locator(".badge.vouched").count() == 0
    await waiting.locator("[data-action=admit]").click()
    await customer.wait_for_function(
        "() => window.harborMeeting.state === 'joined'", timeout=10_000
    )
    await customer.fill("#chat-input", "Hello from office hours")
    await customer.click("#chat-send")
    await advisor.wait_for_function(
        "() => window.frontdeskMeeting.chat.some((m) => m.text === 'Hello from office hours')",
        timeout=10_000,
    )
    await customer.screenshot(path=str(artifacts / "harbor_bank_office_hours_customer.png"))


# Counts every RTCPeerConnection the page creates (installed before any script runs).
COUNT_PEER_CONNECTIONS = """
window.pcCount = 0;
const RealPC = window.RTCPeerConnection;
window.RTCPeerConnection = function (...args) { window.pcCount += 1; return new RealPC(...args); };
window.RTCPeerConnection.prototype = RealPC.prototype;
"""


async def test_chat_with_us_is_chat_only(bank: Bank, browser: Any, artifacts: Path) -> None:
    """ "Chat with us": the customer's page never creates a peer connection, even
    though the advisor's console has camera and microphone on."""
    context = await browser.new_context()
    await context.add_init_script(COUNT_PEER_CONNECTIONS)
    customer = await context.new_page()
    advisor = await (await browser.new_context()).new_page()

    await sign_in_to_the_bank(customer, bank)
    await customer.click("#chat-with-us")
    await customer.wait_for_function(
        "() => window.harborMeeting?.state === 'lobby'", timeout=10_000
    )
    assert await customer.get_attribute("#status", "aria-live") == "polite"
    assert await customer.get_by_label("Message").count() == 1
    await sign_in_to_the_console(advisor, bank)
    waiting = advisor.locator("#queue li.visitor", has_text="Ann Customer")
    await waiting.wait_for(timeout=10_000)
    await waiting.locator("[data-action=admit]").click()
    await customer.wait_for_function(
        "() => window.harborMeeting.state === 'joined'", timeout=10_000
    )
    # The advisor's media is up (its own camera), and it knows the customer has none.
    await advisor.wait_for_function(
        "() => window.frontdeskMeeting?.localStream?.getVideoTracks().length > 0",
        timeout=10_000,
    )
    await advisor.wait_for_function(
        """() => [...window.frontdeskMeeting.roster.values()].some(
          (p) => p.display_name === 'Ann Customer' && p.audio_muted && p.video_muted)""",
        timeout=10_000,
    )
    await customer.fill("#chat-input", "Just a question by chat")
    await customer.click("#chat-send")
    await advisor.wait_for_function(
        "() => window.frontdeskMeeting.chat.some((m) => m.text === 'Just a question by chat')",
        timeout=10_000,
    )
    await customer.wait_for_timeout(2000)  # time enough for any offer to arrive
    assert await customer.evaluate("() => window.pcCount") == 0
    assert await customer.evaluate("() => window.harborMeeting.remoteStreams.size") == 0
    assert await customer.locator("#videos").is_hidden()
    assert (
        await customer.evaluate("() => document.getElementById('remote-video').srcObject") is None
    )
    await customer.screenshot(path=str(artifacts / "harbor_bank_chat_only.png"))
