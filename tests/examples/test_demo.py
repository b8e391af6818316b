"""``frontdesk demo``: the verdict is "ok" only when every expected step completed;
a failure anywhere (an assertion, an HTTP error, a step never reached) is a
failure and ``--once`` exits non-zero."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from frontdesk.cli import demo
from frontdesk.cli.demo import STEPS, Timeline, find_bank, serve_app, tell
from frontdesk.config import Settings
from tests.support.live_server import LiveServer, live_server

harbor_bank = find_bank()


async def test_a_step_that_raises_anything_is_a_failure(capsys: pytest.CaptureFixture[str]) -> None:
    tl = Timeline(expected=("one", "two"))

    async def boom() -> str:
        raise RuntimeError("not a FrontdeskError\nover two lines")

    assert await tl.step("one", _value("fine")) == "fine"
    with pytest.raises(RuntimeError):
        await tl.step("two", boom())
    assert (tl.done, tl.failed, tl.missing, tl.ok) == (["one"], ["two"], [], False)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "FAIL" in lines[1] and "over two lines" in lines[1]


async def test_steps_never_reached_are_a_failure() -> None:
    tl = Timeline(expected=("one", "two", "three"))
    await tl.step("one", _value(None))
    assert not tl.failed and tl.missing == ["two", "three"] and not tl.ok
    await tl.step("two", _value(None))
    tl.skipped("three", "no media extra")
    assert tl.ok


async def _value(v: Any) -> Any:
    return v


@pytest.fixture
async def node_and_bank(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, str]]:
    """The demo's world, except that the advisor's password is not the demo's."""
    async with live_server(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db")) as node:
        creds = await node.ops.apps.create("Harbor Bank")
        await node.ops.accounts.create(demo.ADVISOR[0], demo.ADVISOR[1], "another password 99")
        port = demo.pick_port(0)
        config = harbor_bank.BankConfig(
            frontdesk_url=node.base_url,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            public_url=f"http://127.0.0.1:{port}",
            database=str(tmp_path / "bank.db"),
        )
        app = harbor_bank.create_app(config)
        app.state.accounts.add(*demo.CUSTOMER)
        async with serve_app(app, port) as bank_url:
            yield node, bank_url


async def test_a_failed_advisor_login_fails_the_story(
    node_and_bank: tuple[LiveServer, str], capsys: pytest.CaptureFixture[str]
) -> None:
    node, bank_url = node_and_bank
    tl = await tell(node.base_url, bank_url)
    assert not tl.ok
    assert tl.failed == ["advisor signed in (console login)"]
    assert tl.done == list(STEPS[:4])  # up to the lobby all went well
    assert "admitted" in tl.missing and "media connected" in tl.missing
    out = capsys.readouterr().out
    assert "FAILED at: advisor signed in (console login)" in out
    assert "every step succeeded" not in out
    # the discovery line carries its detail on the same line
    [line] = [x for x in out.splitlines() if re.search(r"\bok\s+discovery\b", x)]
    assert "→ ws://127.0.0.1:" in line


async def test_once_exits_non_zero_when_the_story_stops_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def short_story(frontdesk_url: str, bank_url: str, tl: Timeline, **_: Any) -> None:
        await tl.step("customer signed in to the bank", _value("and then nothing"))

    monkeypatch.setattr(demo, "story", short_story)
    assert await demo._run(True, 0, 0, tmp_path) == 1

    async def raising_story(frontdesk_url: str, bank_url: str, tl: Timeline, **_: Any) -> None:
        raise KeyError("outside any step")

    monkeypatch.setattr(demo, "story", raising_story)
    assert await demo._run(True, 0, 0, tmp_path / "again") == 1
