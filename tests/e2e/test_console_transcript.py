"""The console's transcript download and a chat message removed by retention,
in real Chromium against a real node on 127.0.0.1: the download is the server's
plain text, and the meeting view shows a removed message as removed, as text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from frontdesk.domain.model import AccessPolicy
from frontdesk.server.app import run_chat_retention
from frontdesk.server.retention import ChatRetention
from tests.e2e.test_pages import expect_text, sign_in, track_errors
from tests.support.live_server import LiveServer
from tests.support.rtc import RawClient

pytestmark = pytest.mark.netns


async def test_download_transcript_and_removed_chat(
    browser: Any, node: LiveServer, artifacts: Path
) -> None:
    m = await node.ops.meetings.create(
        subject="Card help", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    rtc = node.base_url.replace("http://", "ws://") + "/v1/rtc"
    ann = await RawClient.connect(
        rtc, {"kind": "url", "join_url": node.ops.meetings.join_url(m), "display_name": "Ann"}
    )
    sent = await ann.request({"type": "chat", "id": "c1", "text": "card 4111 <img src=x>"})
    assert sent["type"] == "ok", sent
    between = datetime.now(UTC)
    sent = await ann.request({"type": "chat", "id": "c2", "text": "<b>still here</b>"})
    assert sent["type"] == "ok", sent
    days = 30
    node.ops.retention = ChatRetention(node.ops.store, lambda: between + timedelta(days=days), days)
    assert (await run_chat_retention(node.ops, node.app.state.live)).redacted == 1

    ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = await ctx.new_page()
    errors = track_errors(page)
    await sign_in(page, node.base_url, artifacts)
    item = page.locator(".meeting", has_text="Card help")
    await item.wait_for()
    async with page.expect_download() as dl_info:
        await item.get_by_role("button", name="Download the transcript of Card help").click()
    download = await dl_info.value
    assert download.suggested_filename == "card-help-transcript.txt"
    text = Path(await download.path()).read_text(encoding="utf-8")
    assert text.startswith(f"Transcript of meeting {m.id}\n")
    assert "Ann (guest): [message removed by chat retention]" in text
    assert "Ann (guest): <b>still here</b>" in text
    assert "4111" not in text

    # In the meeting, the removed message shows as removed; markup stays text.
    await item.get_by_role("button", name="Open Card help").click()
    await expect_text(page, ".chat-log .msg:last-child .text", "<b>still here</b>")
    await expect_text(page, ".chat-log .msg .text.removed", "Message removed")
    assert await page.locator(".chat-log b, .chat-log img").count() == 0
    assert "4111" not in await page.locator(".chat-log").inner_text()
    await page.screenshot(path=artifacts / "console-removed-chat.png")
    assert not errors
    await ann.close()
    await ctx.close()
