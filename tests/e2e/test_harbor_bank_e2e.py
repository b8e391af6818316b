"""Harbor Bank in real browsers: a customer signs in to the bank, asks for an
advisor and waits in the helpdesk queue ("You are number 1…"); the advisor,
available in Frontdesk's console, accepts the offer and the console lets the
customer in; video both ways and chat; the advisor ends the call and the bank
shows its end screen. A closed queue takes a message; office hours are booked
and joined by URL. Screenshots of each view go to the artifacts dir."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from frontdesk.cli.demo import find_bank, serve_app
from frontdesk.client import join_as_user
from frontdesk.config import Settings
from frontdesk.service_client import ServiceClient
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
    frontdesk: ServiceClient


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
        app.state.accounts.add("ann", "Ann Customer", "ann's password", since=2014)
        async with (
            ServiceClient(node.base_url, creds.client_id, creds.client_secret) as frontdesk,
            serve_app(app, port) as url,
        ):
            await frontdesk.create_queue("advice", agents=["alice"])
            yield Bank(node, url, frontdesk)


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


async def take_the_next_visitor(advisor: Any, bank: Bank, medium: str = "Video") -> None:
    """Sign in to the console, be available, accept the offer (the console then
    opens the meeting and lets the visitor in)."""
    await sign_in_to_the_console(advisor, bank)
    await advisor.locator("#agent-state").wait_for(timeout=10_000)
    await advisor.select_option("#agent-state", "available")
    offer = advisor.locator("#offer")
    await offer.wait_for(timeout=10_000)
    assert await advisor.text_content("#offer-name") == "Ann Customer"  # vouched by the bank
    assert "customer since 2014" in (await advisor.text_content("#offer-context") or "")
    assert await advisor.text_content("#offer-medium") == medium
    await advisor.click("#offer-accept")


async def frames(page: Any, meeting: str) -> int:
    return int(await page.evaluate(f"({FRAMES_DECODED})(window.{meeting})"))


async def test_customer_talks_to_an_advisor_by_video(
    bank: Bank, browser: Any, artifacts: Path
) -> None:
    customer = await (await browser.new_context()).new_page()
    advisor = await (await browser.new_context()).new_page()

    await sign_in_to_the_bank(customer, bank)
    await customer.select_option("#topic", "mortgage")
    await customer.click("#talk-to-advisor")
    await customer.wait_for_function(
        "() => window.harborMeeting?.state === 'lobby'", timeout=10_000
    )
    # nobody is available: first in line, and no handling time to estimate from yet
    status = customer.locator("#status")
    await status.filter(has_text="You are number 1").wait_for(timeout=10_000)
    await customer.screenshot(path=str(artifacts / "harbor_bank_queue.png"))

    await take_the_next_visitor(advisor, bank)
    await customer.wait_for_function(
        "() => window.harborMeeting.state === 'joined'", timeout=20_000
    )
    for page, meeting in ((customer, "harborMeeting"), (advisor, "frontdeskMeeting")):
        await page.wait_for_function(
            f"() => window.{meeting} && window.{meeting}.remoteStreams.size > 0", timeout=20_000
        )
        first = await frames(page, meeting)
        await page.wait_for_timeout(1000)
        assert await frames(page, meeting) > first, f"{meeting}: remote video is not moving"
    await status.filter(has_text="You are talking to Alice Advisor").wait_for(timeout=10_000)
    # tiles are named; the self view is a mirror
    assert await customer.text_content("#remote-name") == "Alice Advisor"
    assert await customer.locator("#local-video + figcaption").text_content() == "You"
    mirrored = await customer.eval_on_selector(
        "#local-video", "(v) => getComputedStyle(v).transform"
    )
    assert mirrored.startswith("matrix(-1"), mirrored

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
    # on a phone the call fits the screen's width: nothing to scroll sideways
    await customer.set_viewport_size({"width": 375, "height": 740})
    assert await customer.evaluate("() => document.documentElement.scrollWidth") <= 375
    await customer.screenshot(path=str(artifacts / "harbor_bank_customer_375.png"))

    # The advisor ends the call: plain words, no frozen tiles, no live-looking chat.
    await advisor.evaluate("window.frontdeskMeeting.end()")
    await status.filter(has_text="The conversation has ended.").wait_for(timeout=10_000)
    assert "meeting_ended" not in (await customer.text_content("body") or "")
    assert await customer.locator("#videos").is_hidden()
    assert await customer.evaluate(
        "() => [...document.querySelectorAll('video')].every((v) => v.srcObject === null)"
    )
    assert await customer.locator("#chat-input").is_disabled()
    assert await customer.locator("#chat-send").is_disabled()
    assert await customer.locator("#leave").is_hidden()
    assert await customer.locator("#ended-back").is_visible()
    await customer.screenshot(path=str(artifacts / "harbor_bank_ended.png"))


async def test_a_closed_queue_says_when_it_opens_and_takes_a_message(
    bank: Bank, browser: Any, artifacts: Path
) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%a").lower()
    hours = {"time_zone": "UTC", "weekly": {tomorrow: [["09:00", "17:00"]]}}
    await bank.frontdesk.replace_queue("advice", agents=["alice"], hours=hours)
    context = await browser.new_context(viewport={"width": 375, "height": 740})
    customer = await context.new_page()
    await sign_in_to_the_bank(customer, bank)
    await customer.click("#talk-to-advisor")
    await customer.locator("#status", has_text="not available right now").wait_for(timeout=10_000)
    assert "We are open again" in (await customer.text_content("#closed-text") or "")
    assert await customer.locator("#call").is_hidden()
    # a phone renders the bank at its own width (the viewport tag), not at 980 px
    assert await customer.evaluate("() => document.documentElement.clientWidth") == 375
    await customer.screenshot(path=str(artifacts / "harbor_bank_closed_375.png"))
    await customer.get_by_label("Leave a message").fill("Please call me about my mortgage")
    await customer.click("#message-send")
    await customer.locator("#status", has_text="Thank you").wait_for(timeout=10_000)
    [callback] = await bank.frontdesk.list_callbacks(queue="advice")
    assert (callback.display_name, callback.message) == (
        "Ann Customer",
        "Please call me about my mortgage",
    )


async def test_customer_books_office_hours_and_joins_by_meeting_url(
    bank: Bank, browser: Any, artifacts: Path
) -> None:
    """Meeting URL flow: the advisor scheduled office hours; the customer books a
    place, sees the time and joins from shortly before the start with the join
    URL the bank read from the invite.ics; the customer waits unvouched."""
    start = datetime.now(UTC) + timedelta(minutes=5)
    office = await bank.node.ops.meetings.create(
        subject="Office hours", organizer="alice", start=start, end=start + timedelta(hours=1)
    )
    customer = await (await browser.new_context()).new_page()
    advisor = await (await browser.new_context()).new_page()

    await sign_in_to_the_bank(customer, bank)
    await customer.click("#office-hours")
    await customer.locator("#office-text", has_text="You are booked for Office hours").wait_for(
        timeout=10_000
    )
    await customer.screenshot(path=str(artifacts / "harbor_bank_office_hours_booked.png"))
    await customer.click("#join-office-hours")
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


async def test_chat_with_us_is_chat_only_and_stays_through_a_transfer(
    bank: Bank, browser: Any, artifacts: Path
) -> None:
    """ "Chat with us": the customer's page never creates a peer connection, even
    though the advisor's console has camera and microphone on. Then alice hands
    the chat to bob: the customer stays connected and the page says what happens."""
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
    assert await customer.get_by_label("Message", exact=True).count() == 1
    await take_the_next_visitor(advisor, bank, medium="Chat only")
    await customer.wait_for_function(
        "() => window.harborMeeting.state === 'joined'", timeout=20_000
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

    await bank.node.ops.accounts.create("bob", "Bob Advisor", "battery staple horse")
    status = customer.locator("#status")
    async with httpx.AsyncClient(base_url=bank.node.base_url, timeout=10) as http:
        headers = {}
        for user, password in (("alice", "correct horse battery"), ("bob", "battery staple horse")):
            r = await http.post("/v1/session", json={"username": user, "password": password})
            headers[user] = {"Authorization": f"Bearer {r.json()['token']}"}
        r = await http.put(
            "/v1/me/helpdesk/state", headers=headers["bob"], json={"state": "available"}
        )
        assert r.status_code == 200, r.text
        [visit] = (await http.get("/v1/me/helpdesk", headers=headers["alice"])).json()["visits"]
        helpdesk = f"/v1/me/helpdesk/visits/{visit['visit_id']}"
        body = {"to_agent": "bob", "note": "a question about cards"}
        r = await http.post(f"{helpdesk}/transfer", headers=headers["alice"], json=body)
        assert r.status_code == 204, r.text
        await status.filter(has_text="Another advisor is being asked to take over").wait_for(
            timeout=10_000
        )
        r = await http.post(f"{helpdesk}/accept", headers=headers["bob"])
        assert r.status_code == 200, r.text
        await status.filter(has_text="Another advisor has taken your call").wait_for(timeout=10_000)
        session = headers["bob"]["Authorization"].removeprefix("Bearer ")
        async with join_as_user(bank.node.base_url, visit["meeting_id"], session) as bob:
            await status.filter(has_text="You are talking to Bob Advisor").wait_for(timeout=10_000)
            assert [m.text for m in bob.chat.history] == ["Just a question by chat"]
    assert await customer.evaluate("() => window.harborMeeting.state") == "joined"
    assert await customer.locator("#chat-input").is_enabled()
