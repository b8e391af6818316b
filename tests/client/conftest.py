from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from frontdesk.client import Meeting, ReconnectPolicy, join
from frontdesk.config import Settings
from tests.support.live_server import LiveServer, live_server

from .fake_rtc import FakeRtc, running

FAST = ReconnectPolicy(initial_delay_s=0.01, max_delay_s=0.05, give_up_after_s=2.0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeRtc]:
    async with running(FakeRtc()) as server:
        yield server


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A real node on 127.0.0.1 (port 0) with the organizer alice."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db")
    async with live_server(settings) as srv:
        await srv.ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        yield srv


def join_fake(fake: FakeRtc, **kwargs: object) -> Meeting:
    options: dict[str, object] = {"reconnect": FAST, "request_timeout": 5.0}
    options.update(kwargs)
    return join(fake.join_url, display_name="Ann", **options)  # type: ignore[arg-type]
