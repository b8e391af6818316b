"""The console's meeting list and form (real Chromium, a real node on 127.0.0.1):
an ended meeting offers no link or invitation, a meeting made without a subject
(``frontdesk meetings create`` without --subject) says whom it is with, the
subject field has no example that looks like a value, and no select cuts its
text off, at a phone's width, a small window's and a desktop's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_pages import sign_in, track_errors
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.netns

# How much wider the selected option's text is than the room the select gives it
# (its inner width less the padding and the arrow); > 0 means it is cut off.
OVERFLOW = """(sel) => {
  const s = getComputedStyle(sel);
  const probe = document.createElement('span');
  probe.style.font = s.font;
  probe.style.whiteSpace = 'pre';
  probe.textContent = sel.options[sel.selectedIndex].text;
  document.body.append(probe);
  const text = probe.getBoundingClientRect().width;
  probe.remove();
  const room = sel.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight) - 20;
  return text - room;
}"""


async def test_meeting_list_and_form(browser: Any, node: LiveServer, artifacts: Path) -> None:
    untitled = await node.ops.meetings.create(subject="", organizer="alice")
    ended = await node.ops.meetings.create(subject="Old claim", organizer="alice")
    await node.ops.meetings.end(ended.id)
    ctx = await browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        page = await ctx.new_page()
        errors = track_errors(page)
        await sign_in(page, node.base_url, artifacts)
        open_item = page.locator(f'.meeting[data-meeting-id="{untitled.id}"]')
        await open_item.wait_for()
        assert await open_item.locator("strong").inner_text() == "Meeting with Alice Advisor"
        for action in ("open", "copy", "invite", "transcript"):
            assert await open_item.locator(f'[data-action="{action}"]').count() == 1, action
        ended_item = page.locator(f'.meeting[data-meeting-id="{ended.id}"]')
        assert await ended_item.locator("strong").inner_text() == "Old claim"
        for action in ("open", "copy", "invite"):
            assert await ended_item.locator(f'[data-action="{action}"]').count() == 0, action
        assert await ended_item.locator('[data-action="transcript"]').count() == 1
        assert await ended_item.locator(".join-url").count() == 0

        subject = page.get_by_label("Subject")
        assert await subject.get_attribute("placeholder") is None
        assert await subject.input_value() == ""
        assert "Mortgage advice" in await page.locator("#subject-help").inner_text()
        assert await subject.get_attribute("aria-describedby") == "subject-help"

        for width in (375, 800, 1024, 1366):
            await page.set_viewport_size({"width": width, "height": 900})
            for select in ("#policy", "#bypass"):
                options = await page.eval_on_selector(
                    select, "(s) => [...s.options].map((o) => o.value)"
                )
                for value in options:
                    await page.select_option(select, value)
                    cut = await page.eval_on_selector(select, OVERFLOW)
                    assert cut <= 0, (width, select, value, cut)
            await page.screenshot(path=artifacts / f"console-meetings-{width}.png", full_page=True)
        assert not errors
    finally:
        await ctx.close()
