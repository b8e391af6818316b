"""``frontdesk demo``: the helpdesk story (a visit offered to one advisor,
passed on at the offer timeout, accepted by the other, transferred with a note,
completed) told step by step; the verdict is "ok" only when every expected step
completed; a failure anywhere (an assertion, an HTTP error, a step never
reached) is a failure and ``--once`` exits non-zero."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from frontdesk.cli import demo
from frontdesk.cli.demo import STEPS, Timeline, find_bank, open_the_bank, serve_app, tell
from frontdesk.config import Settings
from frontdesk.domain.helpdesk import RouterLimits
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


@contextlib.asynccontextmanager
async def _world(
    tmp_path: Path, advisors: tuple[tuple[str, str, str], ...]
) -> AsyncIterator[tuple[LiveServer, str]]:
    """The demo's world on a live node (port 0) with offers that time out after
    one second: set on the node's router, as ``FRONTDESK_HELPDESK_OFFER_TIMEOUT``
    does where the node has that setting."""
    port = demo.pick_port(0)
    origin = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db", allowed_origins=(origin,)
    )
    async with live_server(settings) as node:
        node.app.state.helpdesk.router.limits = RouterLimits(offer_timeout=timedelta(seconds=1))
        app = await open_the_bank(
            harbor_bank, node.app, node.base_url, origin, tmp_path, advisors=advisors
        )
        async with serve_app(app, port) as bank_url:
            yield node, bank_url


@pytest.fixture
async def node_and_bank(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, str]]:
    """The demo's world, except that alice's password is not the demo's."""
    (alice, name, _), bob = demo.ADVISORS
    async with _world(tmp_path, ((alice, name, "another password 99"), bob)) as world:
        yield world


@pytest.fixture
async def demo_world(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, str]]:
    async with _world(tmp_path, demo.ADVISORS) as world:
        yield world


async def test_the_story_is_told_step_by_step_in_order(
    demo_world: tuple[LiveServer, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    node, bank_url = demo_world
    monkeypatch.setenv(demo.OFFER_TIMEOUT_ENV, "1")  # what the node's router was given
    tl = await tell(node.base_url, bank_url)
    out = capsys.readouterr().out
    assert tl.ok and tl.done == list(STEPS), out
    lines = out.splitlines()
    where = {step: next(i for i, x in enumerate(lines) if step in x) for step in STEPS}
    assert list(where.values()) == sorted(where.values())  # printed as they happened
    offered = lines[where["offered to the first advisor"]]
    assert "alice sees 'Ann Customer': 'customer since 2014," in offered
    # the wait is said before it is waited, then bob gets the offer alice let pass
    said = lines[where["offered to the first advisor"] + 1]
    assert f"alice does not answer; the offer stands 1 s ({demo.OFFER_TIMEOUT_ENV}=1)" in said
    assert "now offered to bob" in lines[where["passed on at the offer timeout"]]
    assert "bob is the meeting's organizer" in lines[where["accepted by the second advisor"]]
    assert "bob → alice: 'fixed rate" in lines[where["transferred with a note"]]
    taken = lines[where["taken over by the first advisor"]]
    assert "alice sees the chat so far" in taken and "still connected" in taken
    # what the customer's page said along the way, from the live visit_position
    heard = lines[where["completed"]]
    assert "number 1 → an advisor is asked" in heard and heard.endswith("taken)")
    async with httpx.AsyncClient(base_url=node.base_url) as http:
        token = await node.ops.apps.create("Auditor")
        t = await http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(token.client_id, token.client_secret),
        )
        svc = {"Authorization": f"Bearer {t.json()['access_token']}"}
        board = (await http.get("/v1/queues/advice/board", headers=svc)).json()
    assert (board["waiting"], board["offered"]) == (0, 0)
    assert {a["agent"]: a["visits"] for a in board["agents"]} == {"alice": [], "bob": []}


async def test_a_failed_advisor_login_fails_the_story(
    node_and_bank: tuple[LiveServer, str], capsys: pytest.CaptureFixture[str]
) -> None:
    node, bank_url = node_and_bank
    tl = await tell(node.base_url, bank_url)
    assert not tl.ok
    assert tl.failed == ["advisors signed in (console login)"]
    assert tl.done == list(STEPS[:4])  # up to the lobby all went well
    assert "admitted" in tl.missing and "transferred with a note" in tl.missing
    out = capsys.readouterr().out
    assert "FAILED at: advisors signed in (console login)" in out
    assert "every step succeeded" not in out
    # the discovery line carries its detail on the same line
    [line] = [x for x in out.splitlines() if re.search(r"\bok\s+discovery\b", x)]
    assert "→ ws://127.0.0.1:" in line


def test_the_node_takes_nothing_but_the_offer_timeout_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTDESK_REDIS_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", "sqlite+aiosqlite:////elsewhere.db")
    settings = demo.node_settings(8123, "http://127.0.0.1:8124", tmp_path)
    assert settings.redis_url is None and settings.port == 8123
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'frontdesk.db'}"
    assert settings.allowed_origins == ("http://127.0.0.1:8124",)


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


def test_the_story_says_where_the_offer_timeout_comes_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(demo.OFFER_TIMEOUT_ENV, raising=False)
    assert demo._why(3.6) == f"{demo.OFFER_TIMEOUT_ENV}=4"  # the demo's own choice
    # a node without the setting keeps its default, and the story says so
    assert demo._why(20.0) == f"this node's default; it does not read {demo.OFFER_TIMEOUT_ENV}=4"
    monkeypatch.setenv(demo.OFFER_TIMEOUT_ENV, "10")
    assert demo._why(9.8) == f"{demo.OFFER_TIMEOUT_ENV}=10"


async def test_the_demo_brands_the_bank_and_its_visits_wear_the_brand(
    demo_world: tuple[LiveServer, str],
) -> None:
    """The bank's application carries the bank's name, accent and logo (as
    ``frontdesk apps brand`` sets them), and a visit the bank asks for shows
    them to its customer: the discovery answer's meeting carries the brand,
    and its logo URL serves the bank's PNG."""
    node, bank_url = demo_world
    [app] = [a for a in await node.ops.apps.all() if a.name == "Harbor Bank"]
    stored = await node.ops.brands.of_app(app.client_id)
    assert (stored.display_name, stored.accent) == ("Harbor Bank", harbor_bank.brand.ACCENT)
    logo = harbor_bank.brand.LOGO.read_bytes()
    assert logo.startswith(b"\x89PNG\r\n\x1a\n") and len(logo) < 256 * 1024
    assert stored.logo_type == "image/png"

    customer, _, password = demo.CUSTOMER
    async with httpx.AsyncClient(base_url=bank_url, timeout=10) as bank:
        r = await bank.post("/login", data={"username": customer, "password": password})
        assert r.status_code == 303, r.text
        body = {"mode": "video", "topic": "mortgage", "language": "en"}
        material = (await bank.post("/api/advisor", json=body)).json()
        found = await bank.get(
            material["discovery_uri"], headers={"Authorization": f"Bearer {material['token']}"}
        )
        assert found.status_code == 200, found.text
        brand = found.json()["meeting"]["brand"]
        assert (brand["display_name"], brand["accent"]) == ("Harbor Bank", "#1b6ca8")
        assert brand["accent_text"] == "#ffffff"
        served = await bank.get(brand["logo_url"])
        assert served.status_code == 200 and served.content == logo
        assert served.headers["content-type"] == "image/png"
