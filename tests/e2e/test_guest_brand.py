"""The guest page wears the business's brand, and checks its link before a name
is typed (real Chromium against a real node on 127.0.0.1).

A meeting made by Harbor Bank's back end shows Harbor Bank's name, logo and
accent colour, and the meeting's subject, on the setup, lobby and end screens:
screenshots of each at 375 px and 1366 px go to the test artifacts directory
as ``guest-brand-<screen>-<width>.png``. A bad link, an ended meeting and an
invitation to an ended meeting are said in plain words, with whom to ask, on
opening the page."""

from __future__ import annotations

import contextlib
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from frontdesk.domain.model import App, Meeting
from tests.e2e.test_pages import expect_text, track_errors
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.netns

BLUE = "#0a5c8a"
GUEST = "Ann Visitor"


def png(width: int = 160, height: int = 48) -> bytes:
    """A real PNG (an anchor on a blue band) for the browser to draw."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            mark = (abs(x - 24) < 10 and 8 < y < 40) or (x > 44 and 18 < y < 30 and x % 12 < 9)
            row += bytes((255, 255, 255) if mark else (10, 92, 138))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


async def harbor_bank(node: LiveServer, accent: str = BLUE) -> App:
    ops = node.ops
    creds = await ops.apps.create("harbor-bank-prod")
    await ops.brands.update(creds.client_id, display_name="Harbor Bank", accent=accent)
    await ops.brands.set_logo(creds.client_id, png())
    return await ops.apps.get(creds.client_id)


async def meeting_of(node: LiveServer, app: App, **kw: Any) -> Meeting:
    return await node.ops.meetings.create(
        subject="Mortgage advice", organizer="alice", app_id=app.client_id, **kw
    )


@contextlib.asynccontextmanager
async def page_at(browser: Any, width: int) -> AsyncIterator[tuple[Any, list[str]]]:
    phone = width < 600
    ctx = await browser.new_context(
        viewport={"width": width, "height": 740 if phone else 900},
        is_mobile=phone,
        has_touch=phone,
    )
    try:
        page = await ctx.new_page()
        yield page, track_errors(page)
    finally:
        await ctx.close()


async def colour(page: Any, selector: str, prop: str) -> str:
    return str(await page.eval_on_selector(selector, f"(e) => getComputedStyle(e).{prop}")).replace(
        " ", ""
    )


async def expect_branded(page: Any) -> None:
    await expect_text(page, "#brand-name", "^Harbor Bank$")
    logo = page.locator("#brand-logo")
    assert await logo.is_visible()
    # drawn: the node served it, the page's CSP let it in
    await page.wait_for_function(
        "() => { const i = document.querySelector('#brand-logo');"
        " return i.complete && i.naturalWidth === 160; }"
    )
    text = await page.inner_text("body")
    assert "Frontdesk" not in text, text


@pytest.mark.parametrize("width", [375, 1366])
async def test_branded_setup_lobby_and_end(
    browser: Any, node: LiveServer, artifacts: Path, width: int
) -> None:
    app = await harbor_bank(node)
    m = await meeting_of(node, app)
    async with page_at(browser, width) as (page, errors):
        await page.goto(node.ops.meetings.join_url(m))
        await expect_text(page, "#setup h1", "^Mortgage advice$")
        await expect_branded(page)
        await expect_text(page, "#setup .subtitle", "^with Harbor Bank$")
        assert await page.title() == "Mortgage advice · Harbor Bank"
        join = "#join"
        assert await colour(page, join, "backgroundColor") == "rgb(10,92,138)"
        assert await colour(page, join, "color") == "rgb(255,255,255)"
        assert await colour(page, ".brandbar", "borderBottomColor") == "rgb(10,92,138)"
        await page.screenshot(path=artifacts / f"guest-brand-setup-{width}.png", full_page=True)

        await page.get_by_label("Your name").fill(GUEST)
        await page.get_by_role("button", name="Join").click()
        await expect_text(page, "#lobby-text", r"^Waiting for .+ to let you in\.$")
        await expect_text(page, "#lobby .subtitle", "^Mortgage advice$")
        await expect_branded(page)
        await page.screenshot(path=artifacts / f"guest-brand-lobby-{width}.png", full_page=True)

        await node.app.state.live.end_meeting(m.id, reason="ended_by_api")
        await expect_text(page, "#end-title", "^The meeting has ended$")
        await expect_text(page, "#end-text", r"If you still need help, contact Harbor Bank\.$")
        await expect_text(page, "#ended .subtitle", "^Mortgage advice$")
        await expect_branded(page)
        await page.screenshot(path=artifacts / f"guest-brand-end-{width}.png", full_page=True)
        assert not errors


async def test_a_light_accent_gets_dark_text(browser: Any, node: LiveServer) -> None:
    app = await harbor_bank(node, accent="#ffd400")
    m = await meeting_of(node, app)
    async with page_at(browser, 375) as (page, errors):
        await page.goto(node.ops.meetings.join_url(m))
        await expect_text(page, "#setup h1", "^Mortgage advice$")
        assert await colour(page, "#join", "backgroundColor") == "rgb(255,212,0)"
        assert await colour(page, "#join", "color") == "rgb(0,0,0)"
        assert not errors


async def expect_said_before_any_name(
    page: Any, artifacts: Path, shot: str, title: str, text: str
) -> None:
    await expect_text(page, "#end-title", f"^{title}$")
    await expect_text(page, "#end-text", text)
    assert await page.locator("#setup").is_hidden()
    assert await page.locator("#name").is_hidden()
    assert await page.locator("#rejoin").is_hidden()
    body = (await page.inner_text("body")).lower()
    for words in ("join code", "not_found", "meeting_ended", "token", "http"):
        assert words not in body, (words, body)
    await page.screenshot(path=artifacts / f"guest-preflight-{shot}.png", full_page=True)


async def test_bad_link_is_said_before_a_name_is_typed(
    browser: Any, node: LiveServer, artifacts: Path
) -> None:
    async with page_at(browser, 375) as (page, _errors):
        await page.goto(f"{node.base_url}/j/this-link-is-wrong")
        await expect_said_before_any_name(
            page,
            artifacts,
            "invalid-375",
            "This link is not valid",
            r"^Check the link you were sent or ask for a new one\.$",
        )
        assert await page.evaluate("document.body.dataset.ended") == "meeting_not_found"


async def test_ended_link_names_the_business(
    browser: Any, node: LiveServer, artifacts: Path
) -> None:
    app = await harbor_bank(node)
    m = await meeting_of(node, app)
    await node.ops.meetings.end(m.id)
    async with page_at(browser, 375) as (page, errors):
        await page.goto(node.ops.meetings.join_url(m))
        await expect_said_before_any_name(
            page,
            artifacts,
            "ended-375",
            "This meeting has ended",
            r"^If you still need help, contact Harbor Bank\.$",
        )
        await expect_branded(page)
        await expect_text(page, "#ended .subtitle", "^Mortgage advice$")
        assert not errors

    # The same with an invitation (guest token) to the ended meeting.
    m2 = await meeting_of(node, app)
    grant = await node.ops.guest_tokens.mint(m2.id, display_name="Carol Client")
    await node.ops.meetings.end(m2.id)
    fragment = urlencode({"token": grant.token, "discovery": grant.discovery_uri})
    async with page_at(browser, 1366) as (page, errors):
        await page.goto(f"{node.ops.meetings.join_url(m2)}#{fragment}")
        await expect_said_before_any_name(
            page,
            artifacts,
            "ended-token-1366",
            "This meeting has ended",
            r"contact Harbor Bank\.$",
        )
        await expect_branded(page)
        assert not errors


async def test_meeting_not_started_yet(browser: Any, node: LiveServer, artifacts: Path) -> None:
    from datetime import timedelta

    app = await harbor_bank(node)
    start = node.ops.clock() + timedelta(days=2)
    m = await meeting_of(node, app, start=start, end=start + timedelta(hours=1))
    async with page_at(browser, 375) as (page, errors):
        await page.goto(node.ops.meetings.join_url(m))
        await expect_text(page, "#not-started h1", "^This meeting has not started yet$")
        await expect_text(page, "#starts-at", r"^This meeting starts on .+\.$")
        await expect_text(page, "#not-started .lead", "^Mortgage advice$")
        await expect_branded(page)
        assert await page.locator("#setup").is_hidden()
        await page.screenshot(
            path=artifacts / "guest-preflight-not-started-375.png", full_page=True
        )
        # the visitor may still go on and wait
        await page.get_by_role("button", name="Continue").click()
        await expect_text(page, "#setup h1", "^Mortgage advice$")
        assert await page.get_by_label("Your name").is_visible()
        assert not errors


async def test_console_meeting_shows_the_default_brand(browser: Any, node: LiveServer) -> None:
    m = await node.ops.meetings.create(subject="Savings plan", organizer="alice")
    async with page_at(browser, 375) as (page, errors):
        await page.goto(node.ops.meetings.join_url(m))
        await expect_text(page, "#setup h1", "^Savings plan$")
        await expect_text(page, "#brand-name", "^Frontdesk$")
        assert await page.locator("#brand-logo").is_hidden()
        assert not errors


async def test_meeting_ended_while_the_form_was_open(browser: Any, node: LiveServer) -> None:
    app = await harbor_bank(node)
    m = await meeting_of(node, app)
    async with page_at(browser, 375) as (page, errors):
        await page.goto(node.ops.meetings.join_url(m))
        await expect_text(page, "#setup h1", "^Mortgage advice$")
        await node.ops.meetings.end(m.id)
        await page.get_by_label("Your name").fill(GUEST)
        await page.get_by_role("button", name="Join").click()
        await expect_text(page, "#end-title", "^This meeting has ended$")
        await expect_text(page, "#end-text", r"^If you still need help, contact Harbor Bank\.$")
        assert await page.locator("#join-error").is_hidden()
        assert not errors
