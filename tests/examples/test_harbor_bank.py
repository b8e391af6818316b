"""The Harbor Bank sample against a real Frontdesk node on 127.0.0.1, and
``frontdesk demo --once`` end to end."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest

from frontdesk.cli.demo import find_bank, pick_port, serve_app
from frontdesk.client import join, join_as_user, join_with_token
from frontdesk.config import Settings
from frontdesk.domain.participants import SessionState
from tests.support.live_server import LiveServer, live_server

harbor_bank = find_bank()
REPO = Path(__file__).resolve().parents[2]
ADVISOR = ("alice", "Alice Advisor", "correct horse battery")


@dataclass
class Setup:
    node: LiveServer
    bank_url: str


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db")
    async with live_server(settings) as node:
        creds = await node.ops.apps.create("Harbor Bank")
        await node.ops.accounts.create(*ADVISOR)
        port = pick_port(0)
        config = harbor_bank.BankConfig(
            frontdesk_url=node.base_url,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            public_url=f"http://127.0.0.1:{port}",
            advisor="alice",
            database=str(tmp_path / "bank.db"),
        )
        app = harbor_bank.create_app(config)
        app.state.accounts.add("ann", "Ann Customer", "ann's password")
        async with serve_app(app, port) as bank_url:
            yield Setup(node, bank_url)


@contextlib.asynccontextmanager
async def signed_in(bank_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=bank_url, timeout=10) as client:
        r = await client.post("/login", data={"username": "ann", "password": "ann's password"})
        assert r.status_code == 303 and r.headers["location"] == "/account"
        yield client


async def advisor_session(base_url: str) -> str:
    async with httpx.AsyncClient(base_url=base_url) as http:
        r = await http.post("/v1/session", json={"username": ADVISOR[0], "password": ADVISOR[2]})
        r.raise_for_status()
        return str(r.json()["token"])


async def test_signed_in_customer_gets_a_token_and_waits_with_the_verified_name(
    setup: Setup,
) -> None:
    async with signed_in(setup.bank_url) as bank:
        page = await bank.get("/account")
        assert page.status_code == 200 and "Talk to an advisor" in page.text
        r = await bank.post("/api/advisor", json={"mode": "chat"})
    assert r.status_code == 200, r.text
    material = r.json()
    assert material["discovery_uri"].startswith(setup.node.base_url)
    async with join_with_token(material["discovery_uri"], material["token"]) as customer:
        assert customer.state is SessionState.LOBBY
        assert customer.me is not None and customer.me.display_name == "Ann Customer"
        session = await advisor_session(setup.node.base_url)
        async with join_as_user(setup.node.base_url, material["meeting_id"], session) as advisor:
            [entry] = advisor.lobby.values()
            assert (entry.display_name, entry.vouched, entry.method) == (
                "Ann Customer",
                True,
                "token",
            )
            await advisor.admit(entry.participant_id)
            await customer.admitted(timeout=5)


async def test_anonymous_or_forged_session_gets_401_and_no_token(setup: Setup) -> None:
    async with httpx.AsyncClient(base_url=setup.bank_url) as anon:
        for cookies in ({}, {"harbor_session": "eyJ1IjoiYW5uIiwiZXhwIjo5OTk5OTk5OTk5fQ.forged"}):
            anon.cookies.clear()
            anon.cookies.update(cookies)
            for path in ("/api/advisor", "/api/office-hours"):
                r = await anon.post(path, json={})
                assert r.status_code == 401 and "token" not in r.json()
        r = await anon.get("/account")
        assert r.status_code == 303 and r.headers["location"] == "/login"


async def test_wrong_password_is_refused(setup: Setup) -> None:
    async with httpx.AsyncClient(base_url=setup.bank_url) as client:
        for user, password in (("ann", "not her password"), ("nobody", "whatever123")):
            r = await client.post("/login", data={"username": user, "password": password})
            assert r.status_code == 401 and "Wrong username or password" in r.text
            assert "harbor_session" not in client.cookies


async def test_office_hours_hands_out_the_join_url_from_the_invite(setup: Setup) -> None:
    async with signed_in(setup.bank_url) as bank:
        assert (await bank.post("/api/office-hours")).status_code == 404  # none scheduled
        session = await advisor_session(setup.node.base_url)
        async with httpx.AsyncClient(base_url=setup.node.base_url) as http:
            r = await http.post(
                "/v1/me/meetings",
                json={"subject": "Office hours", "organizer": "alice"},
                headers={"Authorization": f"Bearer {session}"},
            )
            r.raise_for_status()
            scheduled = r.json()
        r = await bank.post("/api/office-hours")
    assert r.status_code == 200, r.text
    booked = r.json()
    assert booked["join_url"] == scheduled["join_url"]
    assert booked["meeting_id"] == scheduled["id"]
    async with join(booked["join_url"], display_name=booked["display_name"]) as customer:
        assert customer.state is SessionState.LOBBY


def test_demo_once_tells_the_whole_story() -> None:
    args = ["--once", "--frontdesk-port", "0", "--bank-port", "0"]
    done = subprocess.run(
        [sys.executable, "-m", "frontdesk.cli.demo", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for step in ("customer signed in", "token minted", "discovery", "customer in the lobby"):
        assert step in done.stdout
    for step in ("admitted", "chat customer → advisor", "chat advisor → customer", "left"):
        assert step in done.stdout
    # aiortc media with host candidates on 127.0.0.1 only: it connects on any machine.
    assert re.search(r"\bok\s+media connected.*both ways", done.stdout), done.stdout
    assert "every step succeeded" in done.stdout


async def test_the_tokens_origin_is_the_configured_public_url_never_the_host_header(
    setup: Setup,
) -> None:
    async with signed_in(setup.bank_url) as bank:
        r = await bank.post("/api/advisor", json={"mode": "chat"}, headers={"Host": "evil.test"})
    assert r.status_code == 200, r.text
    claims = jwt.decode(r.json()["token"], options={"verify_signature": False})
    origins = [v for k, v in claims.items() if "orig" in k]
    assert origins == [[setup.bank_url]], claims


def test_the_bank_needs_its_public_url(tmp_path: Path) -> None:
    env = {
        "BANK_FRONTDESK_URL": "http://127.0.0.1:8080",
        "FRONTDESK_CLIENT_ID": "id",
        "FRONTDESK_CLIENT_SECRET": "secret",
        "BANK_DATABASE": str(tmp_path / "bank.db"),
    }
    with pytest.raises(RuntimeError, match="BANK_PUBLIC_URL"):
        harbor_bank.BankConfig.from_env(env)
    bound = harbor_bank.BankConfig.from_env(env, default_public_url="http://127.0.0.1:8081/")
    assert bound.public_url == "http://127.0.0.1:8081"
    configured = harbor_bank.BankConfig.from_env({**env, "BANK_PUBLIC_URL": "https://bank.test"})
    assert configured.public_url == "https://bank.test"
    with pytest.raises(ValueError, match="public URL"):
        harbor_bank.create_app(
            harbor_bank.BankConfig(
                "http://127.0.0.1:8080", "id", "secret", database=env["BANK_DATABASE"]
            )
        )


def test_the_sample_uses_only_public_interfaces() -> None:
    sources = (REPO / "examples" / "harbor_bank").rglob("*.py")
    imports = {
        line.split()[1]
        for path in sources
        for line in path.read_text().splitlines()
        if line.startswith(("from frontdesk", "import frontdesk"))
    }
    assert imports <= {"frontdesk.service_client"}, imports
