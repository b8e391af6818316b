"""A guest who calls themselves exactly what the agent is called, in real Chromium
against a real node on 127.0.0.1: the console's lobby and roster and the other
guest's page tell them apart by the role badge, which comes from the participant's
role and join method, never from the name. Screenshots go to the test artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from frontdesk.domain.model import LobbyBypass
from tests.e2e.test_pages import sign_in, track_errors
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.netns

AGENT = "Alice Advisor"  # the name of alice in the node fixture

# Every name the page shows in a part of the view, with the badges beside it.
BADGED = """(scope) => [...document.querySelectorAll(scope)].map((item) => ({
  pid: item.dataset.pid,
  name: item.querySelector('.name, .who').textContent,
  badges: [...item.querySelectorAll('.badge.role')].map((b) => b.textContent),
}))"""


async def badged(page: Any, scope: str) -> list[tuple[str, str, tuple[str, ...]]]:
    rows = await page.evaluate(BADGED, scope)
    return sorted((r["pid"], r["name"], tuple(r["badges"])) for r in rows)


async def wait_roster(page: Any, count: int) -> None:
    await page.wait_for_function(
        f"() => document.querySelectorAll('.roster .person').length === {count}",
        timeout=15_000,
    )


async def join_without_media(page: Any) -> None:
    await page.get_by_label("Join with camera on").uncheck()
    await page.get_by_label("Join with microphone on").uncheck()
    await page.get_by_role("button", name="Join").click()


async def pid_of(page: Any) -> str:
    return str(await page.evaluate("() => window.frontdeskMeeting.participantId"))


async def test_guest_named_like_the_agent_wears_the_guest_badge(
    browser: Any, node: LiveServer, artifacts: Path
) -> None:
    m = await node.ops.meetings.create(
        subject="Look-alike", organizer="alice", lobby_bypass=LobbyBypass.TOKEN_HOLDERS
    )
    grant = await node.ops.guest_tokens.mint(m.id, display_name="Ann Visitor")
    ctxs = [await browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(3)]
    agent, ann, eve = [await c.new_page() for c in ctxs]
    errors = [track_errors(p) for p in (agent, ann, eve)]

    # Ann, whom the bank vouched for with a token, goes straight in.
    fragment = urlencode({"token": grant.token, "discovery": grant.discovery_uri})
    await ann.goto(f"{node.base_url}/j/{m.join_code}#{fragment}")
    await join_without_media(ann)
    await ann.wait_for_function("() => window.frontdeskMeeting?.state === 'joined'")

    # Eve has only the link, and types the agent's name.
    await sign_in(agent, node.base_url, artifacts)
    await eve.goto(f"{node.base_url}/j/{m.join_code}")
    await eve.get_by_label("Your name").fill(AGENT)
    await join_without_media(eve)
    await eve.wait_for_function("() => window.frontdeskMeeting?.state === 'lobby'")

    # The console's lobby queue: the agent's name, but a Guest and not verified.
    visitor = agent.locator("#queue .visitor", has_text=AGENT)
    await visitor.wait_for(timeout=10_000)
    assert await visitor.locator(".name").inner_text() == AGENT
    assert await visitor.locator(".badge.role").all_inner_texts() == ["Guest"]
    assert await visitor.locator(".badge.role-guest").count() == 1
    assert await visitor.locator(".badge.unvouched").inner_text() == (
        "not verified: name typed by the visitor"
    )
    await agent.screenshot(path=artifacts / "console-lookalike-lobby.png")

    # Admitting opens the meeting in the console (the agent joins as host).
    await visitor.get_by_role("button", name=f"Admit {AGENT}").click()
    await eve.wait_for_function("() => window.frontdeskMeeting?.state === 'joined'")
    for page in (agent, ann, eve):
        await wait_roster(page, 3)
    alice_pid, ann_pid, eve_pid = [await pid_of(p) for p in (agent, ann, eve)]
    host = ("Host",)
    impostor = ("Guest", "not verified")
    vouched_guest = ("Guest",)

    # The console's roster.
    assert await badged(agent, ".roster .person") == sorted(
        [
            (alice_pid, f"{AGENT} (you)", host),
            (eve_pid, AGENT, impostor),
            (ann_pid, "Ann Visitor", vouched_guest),
        ]
    )
    # The other guest's page: roster and video tiles.
    assert await badged(ann, ".roster .person") == sorted(
        [
            (alice_pid, AGENT, host),
            (eve_pid, AGENT, impostor),
            (ann_pid, "Ann Visitor (you)", vouched_guest),
        ]
    )
    await ann.wait_for_function("() => document.querySelectorAll('.tile').length === 3")
    assert await badged(ann, ".tile") == sorted(
        [
            (alice_pid, AGENT, host),
            (eve_pid, AGENT, impostor),
            (ann_pid, "Ann Visitor (you)", vouched_guest),
        ]
    )
    assert await ann.get_attribute(f'.tile[data-pid="{eve_pid}"]', "aria-label") == (
        f"{AGENT} (Guest, not verified)"
    )
    # Eve sees herself as what she is, too.
    assert (eve_pid, f"{AGENT} (you)", impostor) in await badged(eve, ".roster .person")

    # Chat: each line carries its sender's badge, looked up by participant id.
    await eve.locator("#chat-input").fill("Hello, I am your advisor")
    await eve.locator("#chat-input").press("Enter")
    await agent.locator("#chat-input").fill("Hello Ann, I am the real one")
    await agent.locator("#chat-input").press("Enter")
    await ann.wait_for_function("() => document.querySelectorAll('.chat-log .msg').length === 2")
    await agent.wait_for_function("() => document.querySelectorAll('.chat-log .msg').length === 2")
    assert await badged(ann, ".chat-log .msg") == sorted(
        [(alice_pid, AGENT, host), (eve_pid, AGENT, impostor)]
    )
    assert await badged(agent, ".chat-log .msg") == sorted(
        [(alice_pid, "You", host), (eve_pid, AGENT, impostor)]
    )
    # The badge is never part of the name's text.
    for page in (agent, ann):
        names = await page.locator(".roster .name, .tile .name, .chat-log .who").all_inner_texts()
        assert not [n for n in names if "Host" in n or "Guest" in n or "verified" in n], names
    await agent.screenshot(path=artifacts / "console-lookalike-meeting.png")
    await ann.screenshot(path=artifacts / "guest-lookalike-meeting.png")

    # After Eve leaves, her chat line still says who she was.
    await eve.get_by_role("button", name="Leave").click()
    await wait_roster(ann, 2)
    assert (eve_pid, AGENT, impostor) in await badged(ann, ".chat-log .msg")
    assert errors == [[], [], []]
    for c in ctxs:
        await c.close()
