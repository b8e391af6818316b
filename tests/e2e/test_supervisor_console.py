"""A supervisor in real Chromium against a real node on 127.0.0.1: the agent's
console, the supervisor's console and the visitor's page. The supervisor
monitors (the visitor's roster never shows it; the agent's does), whispers (the
agent sees it, set apart; the visitor's page never does, not even after a
reload), then barges in (the visitor now sees it). Screenshots go to the test
artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from frontdesk.domain.model import LobbyBypass
from tests.e2e.test_pages import PASSWORD, expect_text, track_errors
from tests.e2e.test_role_badges import join_without_media, pid_of
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.netns

SUBJECT = "Mortgage advice"
WHISPER = "Offer her the fixed rate"
ROSTER = "() => [...document.querySelectorAll('.roster .person')].map((p) => p.dataset.pid)"


async def sign_in_as(page: Any, base_url: str, username: str, shown: str) -> None:
    await page.goto(f"{base_url}/console")
    await page.get_by_label("User name").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect_text(page, "#whoami", f"Signed in as {shown}")


async def guest_sees(page: Any) -> tuple[list[str], str, int]:
    """The pids in the visitor's roster, the page's whole text, and how many
    whispers its SDK holds."""
    pids = await page.evaluate(ROSTER)
    text = await page.evaluate("() => document.body.innerText")
    held = await page.evaluate("() => (window.frontdeskMeeting.whispers || []).length")
    return list(pids), str(text), int(held)


async def public_chat(agent: Any, guest: Any, text: str) -> None:
    """The agent says ``text`` and the visitor's page shows it: every event the
    meeting decided before it has reached the visitor by then (in order)."""
    await agent.locator("#chat-input").fill(text)
    await agent.locator(".chat-form").get_by_role("button", name="Send").click()
    await guest.locator(".chat-log .msg", has_text=text).wait_for(timeout=10_000)


async def test_supervisor_monitors_whispers_and_barges_in(
    browser: Any, node: LiveServer, artifacts: Path
) -> None:
    await node.ops.accounts.create("sam", "Sam Supervisor", PASSWORD, "supervisor")
    m = await node.ops.meetings.create(
        subject=SUBJECT, organizer="alice", lobby_bypass=LobbyBypass.TOKEN_HOLDERS
    )
    grant = await node.ops.guest_tokens.mint(m.id, display_name="Ann Visitor")
    ctxs = [await browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(3)]
    agent, sup, guest = [await c.new_page() for c in ctxs]
    errors = [track_errors(p) for p in (agent, sup, guest)]

    # The agent opens the meeting; the visitor, vouched for by a token, goes in.
    await sign_in_as(agent, node.base_url, "alice", "Alice Advisor")
    await agent.get_by_role("button", name=f"Open {SUBJECT}").click()
    await agent.wait_for_function("() => window.frontdeskMeeting?.state === 'joined'")
    fragment = urlencode({"token": grant.token, "discovery": grant.discovery_uri})
    guest_url = f"{node.base_url}/j/{m.join_code}#{fragment}"
    await guest.goto(guest_url)
    await join_without_media(guest)
    await guest.wait_for_function("() => window.frontdeskMeeting?.state === 'joined'")
    await guest.wait_for_function(f"() => ({ROSTER})().length === 2")

    # The supervisor signs in, sees the meeting and monitors it.
    await sign_in_as(sup, node.base_url, "sam", r"Sam Supervisor \(supervisor\)")
    assert await agent.locator("#supervise").is_hidden()  # agents have no such list
    await sup.get_by_role("button", name=f"Monitor {SUBJECT}").click()
    await sup.wait_for_function("() => window.frontdeskMeeting?.monitoring === true")
    sam = await pid_of(sup)
    await expect_text(sup, "[data-monitor]", "the visitor does not see or hear you")
    assert await sup.locator(".chat-form").is_hidden()

    # The agent's roster shows the supervisor as supervising...
    person = agent.locator(f'.roster .person[data-pid="{sam}"]')
    await person.wait_for(timeout=10_000)
    assert "supervising" in " ".join(await person.locator(".badge.role").all_inner_texts())
    await agent.screenshot(path=artifacts / "supervisor-agent-sees-monitor.png")

    # ...the visitor's never does.
    await public_chat(agent, guest, "Welcome, Ann")
    pids, text, held = await guest_sees(guest)
    assert sam not in pids and len(pids) == 2 and "Sam Supervisor" not in text

    # A whisper: the agent sees it, set apart from the chat; the visitor never.
    await sup.locator("#whisper-input").fill(WHISPER)
    await sup.get_by_role("button", name="Whisper", exact=True).click()
    line = agent.locator(".whisper-log .msg.whisper", has_text=WHISPER)
    await line.wait_for(timeout=10_000)
    assert await agent.locator(".chat-log .msg", has_text=WHISPER).count() == 0
    await agent.locator("#whisper-input").fill("Will do")
    await agent.get_by_role("button", name="Whisper", exact=True).click()
    await sup.locator(".whisper-log .msg.whisper", has_text="Will do").wait_for(timeout=10_000)
    await sup.screenshot(path=artifacts / "supervisor-monitoring.png")
    await agent.screenshot(path=artifacts / "supervisor-agent-sees-whisper.png")
    await public_chat(agent, guest, "Let me check the rates")
    pids, text, held = await guest_sees(guest)
    assert WHISPER not in text and "Will do" not in text and held == 0
    assert sam not in pids
    await guest.screenshot(path=artifacts / "supervisor-guest-sees-nothing.png")

    # Not even after a reload: the visitor joins again with the same link.
    await guest.reload()
    await join_without_media(guest)
    await guest.wait_for_function("() => window.frontdeskMeeting?.state === 'joined'")
    await public_chat(agent, guest, "You are back")
    pids, text, held = await guest_sees(guest)
    assert WHISPER not in text and held == 0 and sam not in pids
    assert "Let me check the rates" in text  # the chat's history did come back
    assert sam not in await guest.evaluate("() => [...window.frontdeskMeeting.roster.keys()]")

    # Barge in: the visitor now sees the supervisor, as a plain participant.
    await sup.get_by_role("button", name="Barge in").click()
    await sup.wait_for_function("() => window.frontdeskMeeting?.monitoring === false")
    await guest.locator(f'.roster .person[data-pid="{sam}"]').wait_for(timeout=10_000)
    came = guest.locator(f'.roster .person[data-pid="{sam}"]')
    assert await came.locator(".name").inner_text() == "Sam Supervisor"
    assert "supervis" not in " ".join(await came.locator(".badge.role").all_inner_texts())
    await sup.locator("#chat-input").fill("Hello Ann, I am Sam")
    await sup.locator(".chat-form").get_by_role("button", name="Send").click()
    await guest.locator(".chat-log .msg", has_text="Hello Ann, I am Sam").wait_for(timeout=10_000)
    _, text, held = await guest_sees(guest)
    assert WHISPER not in text and held == 0
    await guest.screenshot(path=artifacts / "supervisor-guest-after-barge.png")
    assert errors == [[], [], []]
    for c in ctxs:
        await c.close()
