"""The node's root: a home page linking the console, the API docs and health, and
a favicon (a newcomer opening http://127.0.0.1:8080/ finds the way on)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from frontdesk.config import Settings
from frontdesk.server.app import create_app


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/home.db")
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as client,
    ):
        yield client


async def test_home_page_links_console_docs_and_health(http: httpx.AsyncClient) -> None:
    r = await http.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in r.headers["content-security-policy"]
    links = re.findall(r'href="(/[^"]*)"', r.text)
    for needed in ("/console", "/docs", "/healthz", "/sdk/frontdesk.js", "/favicon.ico"):
        assert needed in links, needed
    for link in links:  # every link on the page leads somewhere
        answer = await http.get(link)
        assert answer.status_code == 200, link


async def test_favicon(http: httpx.AsyncClient) -> None:
    r = await http.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon"
    assert r.content[:4] == b"\x00\x00\x01\x00"  # an ICO header: reserved 0, type 1 (icon)
    svg = await http.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
