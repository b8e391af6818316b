"""The browser SDK in real Chromium, in a cluster: the first join follows a
``wrong_node`` redirect, and a session whose node dies comes back through the
public address to the node that took the meeting over.

The other nodes are played by :mod:`tests.support.balancer` (a protocol peer
that answers every hello with ``wrong_node`` and the hosting node's URL); the
SDK in Node covers the rest (``tests/web/test_sdk_cluster.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from frontdesk.config import Settings
from frontdesk.domain.model import AccessPolicy
from tests.e2e.test_sdk_browser import SNAPSHOT_JS, open_page, snapshot, until
from tests.support.balancer import running_balancer
from tests.support.live_server import LiveServer, live_server
from tests.support.netns import require_loopback_only

pytestmark = pytest.mark.netns

JOIN_JS = """async (joinUrl) => {
  window.m = await fd.join({joinUrl, displayName: "Gina Guest", media: false});
  await window.m.sendChat("hello");
  return {state: window.m.state, rtcUrl: window.m.rtcUrl};
}"""


def rtc_of(node: LiveServer) -> str:
    return node.base_url.replace("http://", "ws://") + "/v1/rtc"


async def test_the_first_join_follows_a_redirect(browser: Any, node: LiveServer) -> None:
    m = await node.ops.meetings.create(
        subject="", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    async with running_balancer(rtc_of(node)) as front:
        page = await open_page(browser, node)
        got = await page.evaluate(JOIN_JS, front.join_url(m.join_code))
        assert got == {"state": "joined", "rtcUrl": rtc_of(node)}
        assert front.hello_kinds() == ["url"]
        assert [text for _, text in (await snapshot(page))["chat"]] == ["hello"]
        await page.evaluate("() => window.m.leave()")


async def test_a_session_whose_node_died_comes_back_through_the_public_address(
    browser: Any, tmp_path: Path
) -> None:
    require_loopback_only()
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/e2e.db")
    async with running_balancer() as front, contextlib.AsyncExitStack() as node_one:
        first = await node_one.enter_async_context(live_server(settings, public_url=front.base_url))
        front.target = rtc_of(first)
        await first.ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        m = await first.ops.meetings.create(
            subject="", organizer="alice", access_policy=AccessPolicy.DIRECT
        )
        page = await open_page(browser, first)  # the SDK stays loaded after the node dies
        got = await page.evaluate(JOIN_JS, front.join_url(m.join_code))
        assert got == {"state": "joined", "rtcUrl": rtc_of(first)}
        await node_one.aclose()  # the node dies
        await until(page, SNAPSHOT_JS, None, lambda s: s["state"] == "reconnecting")
        await asyncio.sleep(0.5)
        async with live_server(settings, public_url=front.base_url) as second:
            front.target = rtc_of(second)  # the meeting, taken over
            await until(page, SNAPSHOT_JS, None, lambda s: s["state"] == "joined")
            assert await page.evaluate("() => window.m.rtcUrl") == rtc_of(second)
            await page.evaluate("() => window.m.sendChat('back')")
            chat = (await snapshot(page))["chat"]
            assert [text for _, text in chat] == ["hello", "back"]
            assert chat[0][0] < chat[1][0]
            await page.evaluate("() => window.m.leave()")
    assert "resume" in front.hello_kinds()  # home again: the public address
