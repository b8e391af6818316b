"""The client fetches, caches, refreshes and retries its access token by itself."""

from __future__ import annotations

import asyncio
import base64
from urllib.parse import parse_qs, quote

import pytest

from frontdesk.errors import InvalidClient, PermissionDenied, TokenExpired
from frontdesk.service_client import ServiceClient

from .fake_service import BASE, CLIENT_ID, CLIENT_SECRET, FakeService, problem


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_token_is_fetched_lazily_once_and_reused(
    fake: FakeService, svc: ServiceClient
) -> None:
    assert fake.requests == []  # nothing happens in the constructor
    for _ in range(3):
        await svc.get_meeting("m_abc")
    assert len(fake.token_requests) == 1
    assert [r.headers["authorization"] for r in fake.api_requests] == ["Bearer tok-1"] * 3


async def test_token_request_is_client_credentials_with_basic_auth(
    fake: FakeService, svc: ServiceClient
) -> None:
    await svc.get_meeting("m_abc")
    (req,) = fake.token_requests
    assert req.method == "POST"
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(req.content.decode()) == {"grant_type": ["client_credentials"]}
    encoded = f"{quote(CLIENT_ID, safe='')}:{quote(CLIENT_SECRET, safe='')}"
    expected = base64.b64encode(encoded.encode()).decode()
    assert encoded.count(":") == 1  # the ':' inside the secret is escaped
    assert req.headers["authorization"] == f"Basic {expected}"
    assert "s3cr3t" not in req.content.decode()


async def test_token_is_refreshed_shortly_before_expiry(fake: FakeService) -> None:
    fake.expires_in = 100  # margin: min(30 s, 10 % of 100 s) = 10 s
    clock = FakeClock()
    async with fake.client() as http:
        svc = ServiceClient(BASE, CLIENT_ID, CLIENT_SECRET, http_client=http)
        svc._clock = clock
        await svc.get_meeting("m_abc")
        clock.now += 89
        await svc.get_meeting("m_abc")
        assert fake.issued == 1
        clock.now += 2  # 91 s in: less than 10 s left
        await svc.get_meeting("m_abc")
        assert fake.issued == 2
        assert fake.api_requests[-1].headers["authorization"] == "Bearer tok-2"


async def test_long_lived_token_refreshes_30_seconds_early(fake: FakeService) -> None:
    fake.expires_in = 3600
    clock = FakeClock()
    async with fake.client() as http:
        svc = ServiceClient(BASE, CLIENT_ID, CLIENT_SECRET, http_client=http)
        svc._clock = clock
        await svc.get_meeting("m_abc")
        clock.now += 3569
        await svc.get_meeting("m_abc")
        assert fake.issued == 1
        clock.now += 2
        await svc.get_meeting("m_abc")
        assert fake.issued == 2


async def test_401_token_expired_refreshes_and_retries_once(
    fake: FakeService, svc: ServiceClient
) -> None:
    await svc.get_meeting("m_abc")
    fake.revoked.add("tok-1")  # the server forgets it early (restart, key rotation)
    meeting = await svc.get_meeting("m_abc")
    assert meeting.id == "m_abc"
    assert fake.issued == 2
    auths = [r.headers["authorization"] for r in fake.api_requests]
    assert auths == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]


async def test_retry_happens_only_once(fake: FakeService, svc: ServiceClient) -> None:
    fake.routes[("GET", "/v1/meetings/m_abc")] = lambda r: problem(
        401, "token_expired", "always expired"
    )
    with pytest.raises(TokenExpired) as info:
        await svc.get_meeting("m_abc")
    assert info.value.detail == "always expired"
    assert fake.issued == 2
    assert len(fake.api_requests) == 2


async def test_other_auth_failures_are_not_retried(fake: FakeService, svc: ServiceClient) -> None:
    fake.routes[("GET", "/v1/meetings/m_abc")] = lambda r: problem(403, "forbidden", "not yours")
    with pytest.raises(PermissionDenied):
        await svc.get_meeting("m_abc")
    assert fake.issued == 1
    assert len(fake.api_requests) == 1


async def test_concurrent_callers_share_one_refresh(fake: FakeService, svc: ServiceClient) -> None:
    fake.token_delay_s = 0.05
    results = await asyncio.gather(*(svc.get_meeting("m_abc") for _ in range(10)))
    assert len(results) == 10
    assert fake.issued == 1
    # and after a rejection, the waiting callers reuse the one new token
    fake.revoked.add("tok-1")
    await asyncio.gather(*(svc.get_meeting("m_abc") for _ in range(10)))
    assert fake.issued == 2


async def test_wrong_secret_raises_invalid_client(fake: FakeService) -> None:
    async with fake.client() as http:
        svc = ServiceClient(BASE, CLIENT_ID, "wrong", http_client=http)
        with pytest.raises(InvalidClient) as info:
            await svc.get_meeting("m_abc")
    assert info.value.code == "invalid_client"
    assert fake.api_requests == []
