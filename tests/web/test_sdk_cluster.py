"""The browser SDK in a cluster, run in Node (its WebSocket and fetch) against
real nodes on loopback behind :mod:`tests.support.balancer`: it follows
``wrong_node`` redirects, refuses redirects it must not follow, stops a loop,
and finds the meeting again (discovery, or the public address) when its node
dies. ``tests/e2e/test_sdk_cluster_browser.py`` checks a redirect in Chromium.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from frontdesk.config import Settings
from frontdesk.domain.model import AccessPolicy
from frontdesk.server.routes_web import STATIC_DIR
from tests.client.fake_rtc import FakeRtc, running
from tests.support.balancer import running_balancer
from tests.support.live_server import LiveServer, live_server

SDK = (STATIC_DIR / "sdk" / "frontdesk.js").resolve().as_uri()
SESSION = (STATIC_DIR / "sdk" / "session.js").resolve().as_uri()
PASSWORD = "correct horse battery"

PRELUDE = """
const fd = await import(process.env.FD_SDK);
const args = JSON.parse(process.env.FD_ARGS);
const say = (o) => console.log(JSON.stringify(o));
const waitFor = async (pred, ms = 15000) => {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
};
const chatOf = (m) => m.chat.map((c) => [c.seq, c.text]);
"""


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        msg = "node is not installed: cannot run the browser SDK"
        if os.environ.get("FRONTDESK_REQUIRE_SERVICES") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return node


class NodeScript:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def line(self, timeout: float = 15.0) -> dict[str, Any]:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not raw:
            assert self.proc.stderr is not None
            err = (await self.proc.stderr.read()).decode()
            raise AssertionError(f"the Node script ended early: {err}")
        return dict(json.loads(raw))


@contextlib.asynccontextmanager
async def node_script(body: str, **args: Any) -> AsyncIterator[NodeScript]:
    """Run ``body`` (after PRELUDE: ``fd`` is the SDK, ``args`` the keywords) in
    Node with its experimental WebSocket; lines it ``say``s are read with
    ``line()``."""
    env = {**os.environ, "FD_SDK": SDK, "FD_ARGS": json.dumps(args)}
    proc = await asyncio.create_subprocess_exec(
        _node(),
        "--experimental-websocket",
        "--no-warnings",
        "--input-type=module",
        "-e",
        PRELUDE + body + "\nprocess.exit(0);",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        yield NodeScript(proc)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db")
    async with live_server(settings) as srv:
        await srv.ops.accounts.create("alice", "Alice Advisor", PASSWORD)
        yield srv


def rtc_of(node: LiveServer) -> str:
    return node.base_url.replace("http://", "ws://") + "/v1/rtc"


JOIN_BY_URL = """
try {
  const m = await fd.join({joinUrl: args.joinUrl, displayName: "Ann", media: false});
  const sent = await m.sendChat("hello");
  say({state: m.state, rtcUrl: m.rtcUrl, sent: sent.text});
  await m.leave();
} catch (e) {
  say({code: e.code, message: e.message, tooMany: !!e.tooManyRedirects, urls: e.rtcUrls || null});
}
"""


async def test_the_first_join_follows_a_redirect(server: LiveServer) -> None:
    m = await server.ops.meetings.create(
        subject="", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    async with (
        running_balancer(rtc_of(server)) as front,
        node_script(JOIN_BY_URL, joinUrl=front.join_url(m.join_code)) as js,
    ):
        got = await js.line()
    assert got == {"state": "joined", "rtcUrl": rtc_of(server), "sent": "hello"}
    assert front.hello_kinds() == ["url"]


@pytest.mark.parametrize(
    "target", ["https://127.0.0.1:9/v1/rtc", "javascript:alert(1)", "/v1/rtc", "ws://"]
)
async def test_a_redirect_to_anything_but_a_websocket_url_is_refused(target: str) -> None:
    async with running_balancer(target) as front:
        async with node_script(JOIN_BY_URL, joinUrl=front.join_url("AbCdEf")) as js:
            got = await js.line()
        assert got["code"] == "protocol_error", got
        assert len(front.hellos) == 1


async def test_a_redirect_loop_stops_at_the_hop_limit() -> None:
    async with running_balancer() as front:
        front.target = front.rtc_url
        async with node_script(JOIN_BY_URL, joinUrl=front.join_url("AbCdEf")) as js:
            got = await js.line()
        assert got["code"] == "unavailable" and got["tooMany"] is True, got
        assert len(got["urls"]) == 5
    # each attempt is one hello and three redirects; the join tries four more
    # times (nodes that disagree settle after a takeover), as the Python SDK does
    assert len(front.hellos) == 4 * 5


async def test_the_room_moving_mid_session_resumes_where_it_went() -> None:
    body = """
    const m = await fd.join({joinUrl: args.joinUrl, displayName: "Ann", media: false});
    const errors = [];
    m.on("error", (e) => errors.push(e.code));
    await m.sendChat("before");
    say({step: "joined"});
    await waitFor(() => m.state === "reconnecting");
    await waitFor(() => m.state === "joined");
    say({rtcUrl: m.rtcUrl, errors, after: (await m.sendChat("after")).seq});
    """
    async with running(FakeRtc()) as old, running(FakeRtc()) as new:
        async with node_script(body, joinUrl=old.join_url) as js:
            assert (await js.line())["step"] == "joined"
            new.events, new.chat = old.events, old.chat  # the room, taken over
            assert old.conn is not None
            moved = {"type": "error", "code": "wrong_node", "message": "moved"}
            await old.send({**moved, "rtc_url": new.rtc_url})
            await old.conn.close(1001, "wrong_node")
            got = await js.line()
        assert got == {"rtcUrl": new.rtc_url, "errors": [], "after": 2}
        assert len(old.hellos) == 1 and new.resumes == 1


RESUME_AFTER_DEATH = """
const {discoveryUri, token} = args;
const m = await fd.joinWithToken({discoveryUri, token, media: false});
const sent = [];
for (let i = 0; i < 3; i++) sent.push(await m.sendChat(`before ${i}`));
say({step: "joined", rtcUrl: m.rtcUrl});
await waitFor(() => m.state === "reconnecting");
const during = m.sendChat("during");
say({step: "reconnecting"});
await waitFor(() => m.state === "joined", 20000);
sent.push(await during);
sent.push(await m.sendChat("after"));
say({rtcUrl: m.rtcUrl, sent: sent.map((c) => [c.seq, c.text]), chat: chatOf(m)});
await m.leave();
"""


@pytest.mark.parametrize("discovery_refuses", [False, True], ids=["discovery", "public-url"])
async def test_a_resume_whose_node_died_finds_the_node_that_took_over(
    tmp_path: Path, discovery_refuses: bool
) -> None:
    """The node hosting the meeting stops; another (same database, another
    address) takes it over. The guest finds it again by discovery or, once
    discovery refuses her spent guest token, by the public RTC URL (and the
    front door's redirect); her chat is all there, once, in order."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db")
    async with running_balancer() as front, contextlib.AsyncExitStack() as node_one:
        first = await node_one.enter_async_context(live_server(settings, public_url=front.base_url))
        front.target = rtc_of(first)
        await first.ops.accounts.create("alice", "Alice Advisor", PASSWORD)
        m = await first.ops.meetings.create(
            subject="", organizer="alice", access_policy=AccessPolicy.DIRECT
        )
        grant = await first.ops.guest_tokens.mint(m.id, display_name="Ann Visitor")
        args = {"discoveryUri": grant.discovery_uri, "token": grant.token}
        async with node_script(RESUME_AFTER_DEATH, **args) as js:
            joined = await js.line()
            assert joined == {"step": "joined", "rtcUrl": rtc_of(first)}
            await node_one.aclose()  # the node dies
            front.discovery_refuses = discovery_refuses
            discoveries_before = len(front.discoveries)
            assert (await js.line())["step"] == "reconnecting"
            await asyncio.sleep(0.5)
            async with live_server(settings, public_url=front.base_url) as second:
                front.target = rtc_of(second)  # the meeting, taken over
                back = await js.line(timeout=20)
    assert back["rtcUrl"] == rtc_of(second)
    want = sorted(tuple(x) for x in back["sent"])
    assert [tuple(x) for x in back["chat"]] == want
    assert len({seq for seq, _ in want}) == len(want) == 5
    assert len(front.discoveries) > discoveries_before  # home, found again
    if discovery_refuses:  # then by the public RTC URL: a resume through the front
        assert "resume" in front.hello_kinds()


def test_the_resume_back_off_is_the_python_one() -> None:
    """Capped at 1 s for the first 10 s after the drop, at 5 s after that; the
    jitter shortens each delay by up to half."""
    import subprocess

    body = """
    const s = await import(process.env.FD_SESSION);
    const out = [];
    for (const [attempt, elapsed] of [[1, 0], [2, 0], [4, 0], [8, 2000], [30, 9000], [30, 10000]]) {
      let lo = Infinity, hi = 0;
      for (let i = 0; i < 200; i++) {
        const d = s.resumeDelayMs(attempt, elapsed);
        lo = Math.min(lo, d); hi = Math.max(hi, d);
      }
      out.push([lo, hi]);
    }
    console.log(JSON.stringify({out, hops: s.MAX_REDIRECTS, retries: s.OPEN_RETRIES}));
    """
    env = {**os.environ, "FD_SESSION": SESSION}
    done = subprocess.run(
        [_node(), "--input-type=module", "-e", body],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=True,
    )
    got = json.loads(done.stdout)
    from frontdesk.client._session import MAX_REDIRECTS, OPEN_RETRIES

    assert (got["hops"], got["retries"]) == (MAX_REDIRECTS, OPEN_RETRIES)
    for (lo, hi), base in zip(got["out"], [100, 200, 800, 1000, 1000, 5000], strict=True):
        assert base * 0.5 <= lo <= hi <= base, (base, lo, hi)
