from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from frontdesk.config import Settings
from frontdesk.server.app import create_app
from frontdesk.server.operations import Operations
from tests.support.live_server import LiveServer, live_server

BASE = "http://frontdesk.test"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db", public_url=BASE)


@dataclass
class Harness:
    app: FastAPI
    http: httpx.AsyncClient
    client_id: str
    client_secret: str

    @property
    def ops(self) -> Operations:
        return self.app.state.ops

    async def token(self) -> str:
        r = await self.http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(self.client_id, self.client_secret),
        )
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    async def authed(self) -> httpx.AsyncClient:
        """A second client on the same app that sends an access token."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url=BASE,
            headers={"Authorization": f"Bearer {await self.token()}"},
        )


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A real node on 127.0.0.1 (port 0) with the organizer alice."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db")
    async with live_server(settings) as srv:
        await srv.ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        yield srv


@pytest.fixture
async def harness(settings: Settings) -> AsyncIterator[Harness]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ops: Operations = app.state.ops
        creds = await ops.apps.create("Harbor Bank")
        await ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            yield Harness(app, http, creds.client_id, creds.client_secret)
