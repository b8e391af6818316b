from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from frontdesk.service_client import ServiceClient

from .fake_service import BASE, CLIENT_ID, CLIENT_SECRET, FakeService


@pytest.fixture
def fake() -> FakeService:
    return FakeService()


@pytest.fixture
async def svc(fake: FakeService) -> AsyncIterator[ServiceClient]:
    async with (
        fake.client() as http,
        ServiceClient(BASE, CLIENT_ID, CLIENT_SECRET, http_client=http) as client,
    ):
        yield client
