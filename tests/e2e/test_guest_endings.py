"""Every way a guest's session can end shows a clear message on the guest page
(real Chromium against a real node on 127.0.0.1; the host is a Python SDK agent):
removed, meeting ended, lobby timeout, expired invitation, and a network drop
that shows "Reconnecting…" and comes back to the meeting. Each end screen is
screenshotted to the test artifacts directory as ``guest-end-<reason>.png``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

import frontdesk.client
from frontdesk.config import Settings
from frontdesk.domain.model import Meeting
from frontdesk.server.operations import utcnow
from tests.e2e.test_pages import PASSWORD, expect_text, track_errors
from tests.support.live_server import LiveServer, live_server
from tests.support.netns import require_loopback_only

pytestmark = pytest.mark.netns

GUEST = "Bob Visitor"


@pytest.fixture
async def short_node(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A node whose lobby wait and reconnect grace end after 2 s."""
    require_loopback_only()
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/short.db",
        lobby_timeout_s=2,
        reconnect_grace_s=2,
    )
    async with live_server(settings) as srv:
        await srv.ops.accounts.create("alice", "Alice Advisor", PASSWORD)
        yield srv


@contextlib.asynccontextmanager
async def guest_page(browser: Any) -> AsyncIterator[tuple[Any, list[str]]]:
    ctx = await browser.new_context(viewport={"width": 1000, "height": 800})
    try:
        page = await ctx.new_page()
        yield page, track_errors(page)
    finally:
        await ctx.close()


@contextlib.asynccontextmanager
async def agent(node: LiveServer, meeting: Meeting) -> AsyncIterator[frontdesk.client.Meeting]:
    token, _, _ = await node.ops.accounts.login("alice", PASSWORD)
    async with frontdesk.client.join_as_user(node.base_url, meeting.id, token) as host:
        await host.admitted(timeout=10)
        yield host


@contextlib.contextmanager
def clock_shifted(node: LiveServer, by: timedelta) -> Iterator[None]:
    """Run the node's clock ``by`` ahead of (or behind) the real time."""
    original: Callable[[], datetime] = node.ops.clock
    node.ops.clock = lambda: utcnow() + by
    try:
        yield
    finally:
        node.ops.clock = original


async def enter(page: Any, url: str) -> None:
    """Open the guest page, give a name and press Join."""
    await page.goto(url)
    await page.get_by_label("Your name").fill(GUEST)
    await page.get_by_role("button", name="Join").click()


async def admit_guest(page: Any, host: frontdesk.client.Meeting) -> str:
    """Admit the waiting guest; return its participant id once the page is in."""
    await expect_text(page, "#lobby-text", r"^Waiting for .+ to let you in\.$")
    for _ in range(200):
        if host.lobby:
            break
        await asyncio.sleep(0.05)
    (entry,) = host.lobby.values()
    await host.admit(entry.participant_id)
    await page.wait_for_function("() => window.frontdeskMeeting?.state === 'joined'")
    await expect_text(page, ".roster", "Alice Advisor")
    return str(entry.participant_id)


async def cut_network(page: Any, node: LiveServer, meeting: Meeting, pid: str) -> None:
    """The guest's network goes away: no new connection can be made (offline) and
    the open socket drops (closed abnormally at the node's end)."""
    await page.context.set_offline(True)
    node.app.state.live.rooms[meeting.id].conns[pid].close(1011, "network lost")


async def expect_end(
    page: Any, artifacts: Path, reason: str, title: str, text: str, shot: str = ""
) -> None:
    await expect_text(page, "#end-title", f"^{title}$")
    await expect_text(page, "#end-text", text)
    assert await page.evaluate("document.body.dataset.ended") == reason
    assert await page.locator("#meeting").is_hidden()
    await page.screenshot(path=artifacts / f"guest-end-{shot or reason}.png")


@pytest.mark.parametrize("ending", ["removed", "meeting_ended"])
async def test_agent_removes_guest_or_ends_meeting(
    browser: Any, node: LiveServer, artifacts: Path, ending: str
) -> None:
    m = await node.ops.meetings.create(subject="Savings plan", organizer="alice")
    async with guest_page(browser) as (page, errors), agent(node, m) as host:
        await enter(page, node.ops.meetings.join_url(m))
        pid = await admit_guest(page, host)
        if ending == "removed":
            await host.remove(pid)
            await expect_end(page, artifacts, "removed", "You were removed", "The host removed you")
        else:
            await host.end()
            await expect_end(
                page,
                artifacts,
                "meeting_ended",
                "The meeting has ended",
                "The host ended the meeting for everyone",
            )
        # Neither ending offers to join again: the host decided.
        assert await page.locator("#rejoin").is_hidden()
        assert not errors


async def test_lobby_timeout(browser: Any, short_node: LiveServer, artifacts: Path) -> None:
    m = await short_node.ops.meetings.create(subject="Nobody home", organizer="alice")
    async with guest_page(browser) as (page, errors):
        await enter(page, short_node.ops.meetings.join_url(m))
        await expect_text(page, "#lobby-timeout", r"If nobody lets you in within [0-2] s")
        await expect_end(
            page,
            artifacts,
            "lobby_timeout",
            "Nobody let you in",
            "waited in the lobby for too long",
        )
        assert await page.locator("#rejoin").is_visible()  # a URL guest may try again
        assert not errors


async def test_expired_invitation(browser: Any, node: LiveServer, artifacts: Path) -> None:
    m = await node.ops.meetings.create(subject="Claims", organizer="alice")
    grant = await node.ops.guest_tokens.mint(m.id, display_name="Carol Client", ttl_s=60)
    fragment = urlencode({"token": grant.token, "discovery": grant.discovery_uri})
    url = f"{node.ops.meetings.join_url(m)}#{fragment}"
    async with guest_page(browser) as (page, errors):
        # Still valid by the browser's clock; the node's clock says it expired.
        await page.goto(url)
        assert await page.get_by_label("Your name").input_value() == "Carol Client"
        with clock_shifted(node, timedelta(hours=1)):
            await page.get_by_role("button", name="Join").click()
            await expect_end(
                page,
                artifacts,
                "token_expired",
                "Your invitation expired",
                "Ask .+ for a new link",
            )
        assert await page.locator("#join-error").is_hidden()  # not a generic error
        assert await page.locator("#rejoin").is_hidden()
        assert not errors

    # A token that already expired by the browser's clock: said on opening the page.
    with clock_shifted(node, -timedelta(hours=1)):
        old = await node.ops.guest_tokens.mint(m.id, display_name="Carol Client", ttl_s=60)
    fragment = urlencode({"token": old.token, "discovery": old.discovery_uri})
    async with guest_page(browser) as (page, errors):
        await page.goto(f"{node.ops.meetings.join_url(m)}#{fragment}")
        await expect_end(
            page,
            artifacts,
            "token_expired",
            "Your invitation expired",
            "Ask .+ for a new link",
            shot="token_expired-on-open",
        )
        assert await page.locator("#setup").is_hidden()
        assert not errors


async def test_network_lost_and_recovered(browser: Any, node: LiveServer, artifacts: Path) -> None:
    m = await node.ops.meetings.create(subject="Pension review", organizer="alice")
    async with guest_page(browser) as (page, errors), agent(node, m) as host:
        await enter(page, node.ops.meetings.join_url(m))
        pid = await admit_guest(page, host)
        await cut_network(page, node, m, pid)
        banner = page.locator("#meeting .banner")
        await banner.wait_for(state="visible", timeout=10_000)
        await expect_text(page, "#meeting .banner", "^Reconnecting…")
        # Still reconnecting after failed attempts while offline.
        await expect_text(page, "#meeting .banner", r"^Reconnecting… \(attempt [2-9]\)$")
        assert await page.evaluate("window.frontdeskMeeting.state") == "reconnecting"
        await page.screenshot(path=artifacts / "guest-reconnecting.png")
        await page.context.set_offline(False)
        await page.wait_for_function("() => window.frontdeskMeeting?.state === 'joined'")
        await banner.wait_for(state="hidden")
        assert await page.locator("#ended").is_hidden()
        # Back in the same meeting: chat flows to the agent again.
        await page.locator("#chat-input").fill("I am back")
        await page.locator("#chat-input").press("Enter")
        await expect_text(page, ".chat-log .msg .text", "I am back")
        for _ in range(100):
            if any(msg.text == "I am back" for msg in host.chat.history):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the agent never got the chat sent after reconnecting")
        await page.screenshot(path=artifacts / "guest-reconnected.png")
        assert not errors


async def test_network_lost_for_good(browser: Any, short_node: LiveServer, artifacts: Path) -> None:
    m = await short_node.ops.meetings.create(subject="Bad line", organizer="alice")
    async with guest_page(browser) as (page, errors), agent(short_node, m) as host:
        await enter(page, short_node.ops.meetings.join_url(m))
        pid = await admit_guest(page, host)
        await cut_network(page, short_node, m, pid)
        await page.locator("#meeting .banner").wait_for(state="visible", timeout=10_000)
        # The node gives up on the guest after its 2 s reconnect grace ...
        for _ in range(100):
            if pid not in host.roster:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the node never dropped the guest")
        # ... so the resume after the network is back is refused: a clear ending.
        await page.context.set_offline(False)
        await expect_end(
            page, artifacts, "connection_lost", "Connection lost", "could not reconnect"
        )
        assert await page.locator("#rejoin").is_visible()
        assert not errors
