from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from frontdesk.client import Meeting, ReconnectPolicy, join

from .fake_rtc import FakeRtc, running

FAST = ReconnectPolicy(initial_delay_s=0.01, max_delay_s=0.05, give_up_after_s=2.0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeRtc]:
    async with running(FakeRtc()) as server:
        yield server


def join_fake(fake: FakeRtc, **kwargs: object) -> Meeting:
    options: dict[str, object] = {"reconnect": FAST, "request_timeout": 5.0}
    options.update(kwargs)
    return join(fake.join_url, display_name="Ann", **options)  # type: ignore[arg-type]
