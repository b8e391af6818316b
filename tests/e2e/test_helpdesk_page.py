"""A helpdesk visitor on the guest page in real Chromium: it waits for the next
advisor (never the placeholder's name) and reads its place in the queue, then
that an advisor is being asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from frontdesk.domain.helpdesk import AgentPresence, Medium, Queue
from tests.e2e.test_pages import PHONE, expect_text, track_errors
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.netns


async def test_the_visitor_reads_its_place_in_the_queue(
    browser: Any, node: LiveServer, artifacts: Path
) -> None:
    ops = node.ops
    hd = node.app.state.helpdesk
    app = await ops.apps.create("Harbor Bank")
    await hd.put_queue(Queue("advice", agents=frozenset({"alice"})))
    made = await hd.create_visit(
        app, queue="advice", display_name="Carol Client", medium=Medium.CHAT, topic=None,
        language=None, context="",
    )  # fmt: skip
    meeting = await ops.meetings.get(made.grant.meeting_id)
    ctx = await browser.new_context(**PHONE)
    page = await ctx.new_page()
    errors = track_errors(page)
    fragment = urlencode({"token": made.grant.token, "discovery": made.grant.discovery_uri})
    await page.goto(f"{node.base_url}/j/{meeting.join_code}#{fragment}")
    await page.get_by_role("button", name="Join").tap()
    await expect_text(page, "#lobby-text", r".")
    # Someone arrives behind Carol: the queue changed, so Carol hears her place.
    await hd.create_visit(
        app, queue="advice", display_name="Dan", medium=Medium.CHAT, topic=None, language=None,
        context="",
    )  # fmt: skip
    await expect_text(page, "#lobby-position", r"^You are next; we cannot estimate the wait yet\.$")
    await expect_text(page, "#lobby-text", r"^Waiting for the next available advisor\.$")
    assert await page.locator("#lobby-organizer").is_hidden()
    await page.screenshot(path=artifacts / "helpdesk-visitor-queued.png", full_page=True)
    await hd.set_presence("alice", AgentPresence.AVAILABLE)
    await expect_text(page, "#lobby-position", r"^An advisor is being asked to take your call\.$")
    assert not errors
    await ctx.close()
