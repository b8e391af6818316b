"""The pages are served only by their own routes, with the security headers; the
``/static`` mount serves scripts and styles but never the HTML pages; the CSP lets
pages open sockets to this node only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from frontdesk.config import Settings
from frontdesk.server.app import create_app
from frontdesk.server.routes_web import SDK_MODULES, STATIC_DIR

BROWSER_URL = "http://127.0.0.1:8080"  # where the browser reached the node


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A node behind a TLS proxy (public URL https://meet.example.test), in process."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/web.db",
        public_url="https://meet.example.test",
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url=BROWSER_URL) as client:
        yield client


def connect_src(csp: str) -> list[str]:
    [directive] = [d.strip() for d in csp.split(";") if d.strip().startswith("connect-src")]
    return directive.split()[1:]


async def test_pages_carry_the_security_headers_and_a_tight_connect_src(
    http: httpx.AsyncClient,
) -> None:
    for path in ("/console", "/j/some-code"):
        r = await http.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        sources = connect_src(csp)
        assert sources == ["'self'", "ws://127.0.0.1:8080", "wss://meet.example.test"]
        assert "ws:" not in sources and "wss:" not in sources


@pytest.mark.parametrize(
    "path",
    [
        "/static/console.html",
        "/static/guest.html",
        "/static/GUEST.HTML",
        "/static/css/../guest.html",
        "/static/css/%2e%2e/console.html",
        "/static/./console.html",
        "/static/",
    ],
)
async def test_static_never_serves_the_pages(http: httpx.AsyncClient, path: str) -> None:
    r = await http.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert "<html" not in r.text.lower()


async def test_static_still_serves_scripts_and_styles(http: httpx.AsyncClient) -> None:
    for path in ("/static/js/guest.js", "/static/js/ui.js", "/static/css/frontdesk.css"):
        r = await http.get(path)
        assert r.status_code == 200, path
        assert r.headers["x-content-type-options"] == "nosniff"
    sdk = await http.get("/sdk/frontdesk.js")
    assert sdk.status_code == 200 and sdk.headers["access-control-allow-origin"] == "*"


async def test_every_sdk_module_is_served_like_the_entry_point(http: httpx.AsyncClient) -> None:
    assert "frontdesk.js" in SDK_MODULES and "protocol.js" in SDK_MODULES
    for name in sorted(SDK_MODULES):
        r = await http.get(f"/sdk/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-type"] == "text/javascript; charset=utf-8", name
        assert r.headers["access-control-allow-origin"] == "*", name
        assert r.headers["cache-control"] == "no-cache", name
        assert r.headers["x-content-type-options"] == "nosniff", name
        assert r.content == (STATIC_DIR / "sdk" / name).read_bytes(), name


@pytest.mark.parametrize(
    "path",
    [
        "/sdk/nope.js",
        "/sdk/FRONTDESK.JS",
        "/sdk/frontdesk.js.map",
        "/sdk/../server/routes_web.py",
        "/sdk/%2e%2e/guest.html",
        "/sdk/%2e%2e%2fguest.html",
        "/sdk/..%2f..%2fapp.py",
        "/sdk/js%2fguest.js",
        "/sdk/frontdesk.js%00",
        "/sdk/",
        "/sdk/.",
    ],
)
async def test_sdk_serves_only_its_modules(http: httpx.AsyncClient, path: str) -> None:
    r = await http.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert "<html" not in r.text.lower() and "import" not in r.text
