"""The Harbor Bank sample against a real Frontdesk node on 127.0.0.1: the
helpdesk queue behind "Talk to an advisor", a closed queue and the message left
instead, office hours booked and joined by URL; and ``frontdesk demo --once``
end to end."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from frontdesk.cli.demo import STEPS, find_bank, pick_port, serve_app
from frontdesk.client import MeetingEvent, join, join_as_user, join_with_token
from frontdesk.config import Settings
from frontdesk.domain.participants import SessionState
from frontdesk.service_client import ServiceClient
from tests.support.live_server import LiveServer, live_server

harbor_bank = find_bank()
REPO = Path(__file__).resolve().parents[2]
ADVISOR = ("alice", "Alice Advisor", "correct horse battery")


@dataclass
class Setup:
    node: LiveServer
    bank_url: str
    frontdesk: ServiceClient  # the bank's application, as an operator would use it


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
        app.state.accounts.add("ann", "Ann Customer", "ann's password", since=2014)
        async with (
            ServiceClient(node.base_url, creds.client_id, creds.client_secret) as frontdesk,
            serve_app(app, port) as bank_url,
        ):
            await frontdesk.create_queue(
                "advice",
                agents=["alice"],
                topics=["everyday", "mortgage", "savings"],
                languages=["en", "de"],
            )
            yield Setup(node, bank_url, frontdesk)


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


async def visit_state(events: AsyncIterator[Any], state: str) -> dict[str, Any]:
    """The next ``visit_position`` with ``state`` the customer hears."""
    async with asyncio.timeout(10):
        async for event in events:
            named = isinstance(event, MeetingEvent) and event.name == "visit_position"
            if named and event.data["state"] == state:
                return dict(event.data)
    raise AssertionError(f"the customer never heard the visit {state}")


async def test_talk_to_an_advisor_goes_through_the_queue_with_the_verified_name(
    setup: Setup,
) -> None:
    async with signed_in(setup.bank_url) as bank:
        page = await bank.get("/account")
        assert page.status_code == 200 and "Talk to an advisor" in page.text
        body = {"mode": "chat", "topic": "mortgage", "language": "de"}
        r = await bank.post("/api/advisor", json=body)
    assert r.status_code == 200, r.text
    material = r.json()
    assert material["discovery_uri"].startswith(setup.node.base_url)
    # nobody is available yet: first in line, and no handling time to estimate from
    assert (material["position"], material["estimated_wait_s"]) == (1, None)
    session = await advisor_session(setup.node.base_url)
    alice = {"Authorization": f"Bearer {session}"}
    async with (
        join_with_token(material["discovery_uri"], material["token"]) as customer,
        httpx.AsyncClient(base_url=setup.node.base_url, headers=alice) as http,
    ):
        assert customer.state is SessionState.LOBBY
        assert customer.me is not None and customer.me.display_name == "Ann Customer"
        events = customer.events()
        r = await http.put("/v1/me/helpdesk/state", json={"state": "available"})
        assert r.status_code == 200, r.text
        await visit_state(events, "offered")  # "An advisor is being asked…"
        offer = (await http.get("/v1/me/helpdesk")).json()["offer"]
        assert offer["visit_id"] == material["visit_id"]
        assert (offer["display_name"], offer["medium"]) == ("Ann Customer", "chat")
        assert (offer["topic"], offer["language"]) == ("mortgage", "de")
        assert offer["context"].startswith("customer since 2014,"), offer["context"]
        r = await http.post(f"/v1/me/helpdesk/visits/{material['visit_id']}/accept")
        assert r.status_code == 200, r.text
        await visit_state(events, "accepted")  # "…has taken your call"
        async with join_as_user(setup.node.base_url, material["meeting_id"], session) as advisor:
            [entry] = advisor.lobby.values()
            assert (entry.display_name, entry.vouched, entry.method) == (
                "Ann Customer",
                True,
                "token",
            )
            await advisor.admit(entry.participant_id)
            await customer.admitted(timeout=5)


async def test_a_closed_queue_says_when_it_opens_and_takes_a_message(setup: Setup) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%a").lower()
    hours = {"time_zone": "UTC", "weekly": {tomorrow: [["09:00", "17:00"]]}}
    await setup.frontdesk.replace_queue("advice", agents=["alice"], hours=hours)
    async with signed_in(setup.bank_url) as bank:
        r = await bank.post("/api/advisor", json={"mode": "video"})
        assert r.status_code == 409, r.text
        closed = r.json()
        assert closed["error"] == "queue_closed" and "token" not in closed
        opens = datetime.fromisoformat(closed["next_opening"])
        assert opens.strftime("%a").lower() == tomorrow and opens.hour == 9
        assert (await setup.frontdesk.list_callbacks(queue="advice")) == []

        r = await bank.post("/api/message", json={"message": "Call me about my loan, please"})
        assert r.status_code == 201, r.text
        r = await bank.post("/api/message", json={"message": "x" * 2001})
        assert r.status_code == 422
    [callback] = await setup.frontdesk.list_callbacks(queue="advice")
    assert (callback.display_name, callback.message) == (
        "Ann Customer",
        "Call me about my loan, please",
    )
    assert "customer ann" in callback.contact  # who the bank says it is, not what was typed


async def test_anonymous_or_forged_session_gets_401_and_no_token(setup: Setup) -> None:
    async with httpx.AsyncClient(base_url=setup.bank_url) as anon:
        for cookies in ({}, {"harbor_session": "eyJ1IjoiYW5uIiwiZXhwIjo5OTk5OTk5OTk5fQ.forged"}):
            anon.cookies.clear()
            anon.cookies.update(cookies)
            for path in ("/api/advisor", "/api/office-hours", "/api/office-hours/join"):
                r = await anon.post(path, json={})
                assert r.status_code == 401 and "token" not in r.json()
            r = await anon.post("/api/message", json={"message": "hello"})
            assert r.status_code == 401
            assert (await anon.get("/api/office-hours")).status_code == 401
        r = await anon.get("/account")
        assert r.status_code == 303 and r.headers["location"] == "/login"


async def test_wrong_password_is_refused(setup: Setup) -> None:
    async with httpx.AsyncClient(base_url=setup.bank_url) as client:
        for user, password in (("ann", "not her password"), ("nobody", "whatever123")):
            r = await client.post("/login", data={"username": user, "password": password})
            assert r.status_code == 401 and "Wrong username or password" in r.text
            assert "harbor_session" not in client.cookies


async def test_office_hours_are_booked_then_joined_by_the_url_from_the_invite(
    setup: Setup,
) -> None:
    async with signed_in(setup.bank_url) as bank:
        assert (await bank.post("/api/office-hours")).status_code == 404  # none scheduled
        assert (await bank.get("/api/office-hours")).json() == {"booking": None}
        assert (await bank.post("/api/office-hours/join")).status_code == 404  # not booked
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
        session = await advisor_session(setup.node.base_url)
        async with httpx.AsyncClient(base_url=setup.node.base_url) as http:
            r = await http.post(
                "/v1/me/meetings",
                json={
                    "subject": "Office hours",
                    "organizer": "alice",
                    "start": start.isoformat(),
                    "end": (start + timedelta(hours=1)).isoformat(),
                },
                headers={"Authorization": f"Bearer {session}"},
            )
            r.raise_for_status()
            scheduled = r.json()
        r = await bank.post("/api/office-hours")
        assert r.status_code == 201, r.text
        booking = r.json()["booking"]
        assert booking["meeting_id"] == scheduled["id"]
        assert datetime.fromisoformat(booking["start"]) == start
        assert booking["open_now"]  # the doors open 10 minutes before the start
        assert (await bank.get("/api/office-hours")).json() == {"booking": booking}
        r = await bank.post("/api/office-hours/join")
    assert r.status_code == 200, r.text
    joined = r.json()
    assert joined["join_url"] == scheduled["join_url"]
    async with join(joined["join_url"], display_name=joined["display_name"]) as customer:
        assert customer.state is SessionState.LOBBY


async def test_office_hours_in_two_days_cannot_be_joined_yet(setup: Setup) -> None:
    start = datetime.now(UTC) + timedelta(days=2)
    await setup.frontdesk.create_meeting(
        subject="Office hours", organizer="alice", start=start, end=start + timedelta(hours=1)
    )
    async with signed_in(setup.bank_url) as bank:
        booking = (await bank.post("/api/office-hours")).json()["booking"]
        assert not booking["open_now"]
        r = await bank.post("/api/office-hours/join")
    assert r.status_code == 409 and r.json()["error"] == "too_early"
    assert "join_url" not in r.json()


async def test_every_bank_page_fits_a_phone(setup: Setup) -> None:
    async with signed_in(setup.bank_url) as bank:
        for path in ("/login", "/account", "/meeting?mode=video", "/meeting?mode=office"):
            r = await bank.get(path)
            assert r.status_code == 200, path
            assert '<meta name="viewport" content="width=device-width' in r.text, path


def test_an_old_bank_database_gets_the_since_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE customers (username TEXT PRIMARY KEY, full_name TEXT NOT NULL, "
            "password_hash TEXT NOT NULL)"
        )
    accounts = harbor_bank.Accounts(path)
    accounts.add("ann", "Ann Customer", "ann's password", since=2014)
    assert accounts.authenticate("ann", "ann's password") == harbor_bank.Customer(
        "ann", "Ann Customer", 2014
    )


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
    for step in STEPS:
        assert re.search(rf"\bok\s+{re.escape(step)}", done.stdout), (step, done.stdout)
    assert "the offer stands" in done.stdout  # the wait is said before it is waited
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
