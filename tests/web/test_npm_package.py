"""The browser SDK as an npm package: ``npm pack`` of ``static/sdk``, installed
from the tarball into an app with TypeScript and a bundler (esbuild), checked by
``tsc --strict`` against its declarations, bundled into a page and run in
Chromium against a real node: from an allowed origin it joins and chats; from
an origin the node does not allow it fails with ``origin_refused`` and a
sentence naming FRONTDESK_ALLOWED_ORIGINS.

No media (chat only), so no WebRTC: this runs outside the network namespace,
where npm can reach its registry.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import shutil
import subprocess
import tarfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import frontdesk
from frontdesk.config import Settings
from frontdesk.domain.model import LobbyBypass
from frontdesk.server.routes_web import SDK_MODULES, STATIC_DIR
from tests.e2e.conftest import CHROMIUM_ARGS, chromium_path
from tests.support.live_server import LiveServer, free_port, live_server

pytestmark = pytest.mark.slow

SDK = STATIC_DIR / "sdk"
NPM_TIMEOUT_S = 300

APP_TS = """\
import { FrontdeskError, MAX_PEERS, PROTOCOL, joinWithToken, type Meeting } from "@frontdesk/sdk";

const out = document.getElementById("out") as HTMLElement;
const params = new URLSearchParams(location.hash.slice(1));

async function main(): Promise<void> {
  try {
    const meeting: Meeting = await joinWithToken({
      discoveryUri: params.get("d") ?? "",
      token: params.get("t") ?? "",
      media: false,
    });
    meeting.on("state", ({ state }) => console.log("state", state));
    await meeting.admitted();
    const stored = await meeting.sendChat("hello from a bundle");
    out.textContent = `v${PROTOCOL.version} peers<=${MAX_PEERS}`;
    out.dataset.result = `joined:${meeting.state}:${stored.text}`;
    await meeting.leave();
  } catch (err) {
    if (err instanceof FrontdeskError) {
      out.textContent = err.message;
      out.dataset.result = `error:${err.code}`;
    } else {
      out.dataset.result = `other:${String(err)}`;
    }
  }
}

void main();
"""

BAD_TS = """\
import { joinWithToken } from "@frontdesk/sdk";

const meeting = await joinWithToken({ token: "t" });
await meeting.sendChat(42);
"""

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>bundled</title></head>
<body><p id="out">loading</p><script type="module" src="app.js"></script></body></html>
"""


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False
    )


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An npm project with the packed SDK, TypeScript and esbuild installed."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not installed (apt-get install npm; .ci/run does it)")
    root = tmp_path_factory.mktemp("npm")
    packed = _run([npm, "pack", str(SDK), "--pack-destination", str(root)], root)
    assert packed.returncode == 0, packed.stderr
    [tarball] = root.glob("frontdesk-sdk-*.tgz")
    app = root / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"private": True, "type": "module"}))
    installed = _run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error",
         str(tarball), "typescript@5", "esbuild@0.25"],
        app,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    (app / "app.ts").write_text(APP_TS)
    (app / "bad.ts").write_text(BAD_TS)
    return app


def test_the_tarball_holds_the_modules_and_declarations(tmp_path: Path) -> None:
    npm = shutil.which("npm") or pytest.fail("npm is not installed")
    packed = _run([npm, "pack", str(SDK), "--pack-destination", str(tmp_path)], tmp_path)
    assert packed.returncode == 0, packed.stderr
    [tarball] = tmp_path.glob("frontdesk-sdk-*.tgz")
    with tarfile.open(tarball) as tar:
        names = {Path(n).name for n in tar.getnames()}
    assert names == {*SDK_MODULES, "frontdesk.d.ts", "package.json"}
    meta = json.loads((SDK / "package.json").read_text())
    assert meta["version"] == frontdesk.__version__  # one version for both packages


def _tsc(app: Path, source: str) -> subprocess.CompletedProcess[str]:
    return _run(
        [str(app / "node_modules/.bin/tsc"), "--noEmit", "--strict", "--target", "es2022",
         "--module", "esnext", "--moduleResolution", "bundler", "--lib", "es2022,dom", source],
        app,
    )  # fmt: skip


def test_tsc_checks_a_program_against_the_declarations(app_dir: Path) -> None:
    good = _tsc(app_dir, "app.ts")
    assert good.returncode == 0, good.stdout + good.stderr
    bad = _tsc(app_dir, "bad.ts")  # the declarations are precise enough to catch misuse
    assert bad.returncode != 0
    assert "discoveryUri" in bad.stdout and "number" in bad.stdout, bad.stdout


@contextlib.contextmanager
def _static_site(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 (a business's own web server); yields its origin."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def site(app_dir: Path, tmp_path: Path) -> Path:
    """The page, bundled from app.ts by esbuild (the package resolved from node_modules)."""
    dist = tmp_path / "site"
    dist.mkdir()
    built = _run(
        [str(app_dir / "node_modules/.bin/esbuild"), "app.ts", "--bundle", "--format=esm",
         "--target=es2022", f"--outfile={dist / 'app.js'}"],
        app_dir,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert "joinWithToken" in (dist / "app.js").read_text()  # the SDK is inside the bundle
    (dist / "index.html").write_text(PAGE)
    return dist


@contextlib.asynccontextmanager
async def _node(tmp_path: Path, allowed: tuple[str, ...]) -> AsyncIterator[LiveServer]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/npm.db", allowed_origins=allowed
    )
    async with live_server(settings) as node:
        await node.ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        yield node


async def _open(browser: Any, page_origin: str, node: LiveServer) -> tuple[str, str]:
    ops = node.ops
    m = await ops.meetings.create(
        subject="npm", organizer="alice", lobby_bypass=LobbyBypass.TOKEN_HOLDERS
    )
    grant = await ops.guest_tokens.mint(m.id, display_name="Ann Visitor")
    page = await browser.new_page()
    try:
        await page.goto(f"{page_origin}/index.html#d={grant.discovery_uri}&t={grant.token}")
        await page.wait_for_function(
            "document.getElementById('out').dataset.result !== undefined", timeout=30_000
        )
        out = page.locator("#out")
        return str(await out.get_attribute("data-result")), str(await out.text_content())
    finally:
        await page.close()


async def test_a_bundled_page_joins_from_an_allowed_origin_and_explains_a_refused_one(
    site: Path, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    with _static_site(site) as allowed, _static_site(site) as other:
        async with _node(tmp_path, (allowed,)) as node, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            try:
                result, text = await _open(browser, allowed, node)
                assert result == "joined:joined:hello from a bundle", text
                refused, sentence = await _open(browser, other, node)
            finally:
                await browser.close()
    assert refused == "error:origin_refused", sentence
    assert "FRONTDESK_ALLOWED_ORIGINS" in sentence and other in sentence
