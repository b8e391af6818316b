"""Real browsers: Debian's Chromium driven by Playwright, fake camera and mic,
against a real node on 127.0.0.1, inside a loopback-only network namespace."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from frontdesk.config import Settings
from tests.support.live_server import LiveServer, live_server
from tests.support.netns import ARTIFACTS, require_loopback_only

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    # getDisplayMedia: the fake device's screen (1280x720), picked without a prompt
    "--auto-select-desktop-capture-source=Entire screen",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium_path() -> str:
    path = os.environ.get("FRONTDESK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        msg = "Debian chromium is not installed (apt-get install chromium; .ci/run does it)"
        if os.environ.get("FRONTDESK_REQUIRE_SERVICES") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture
def artifacts() -> Path:
    path = Path(ARTIFACTS).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    require_loopback_only()
    exe = chromium_path()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[LiveServer]:
    require_loopback_only()
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/e2e.db")
    async with live_server(settings) as srv:
        await srv.ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        yield srv
