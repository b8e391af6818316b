"""Every failure reaches the caller as a typed ``frontdesk.errors`` exception."""

from __future__ import annotations

import socket

import httpx
import pytest

from frontdesk.errors import (
    FrontdeskError,
    LimitExceeded,
    MeetingEnded,
    MeetingNotFound,
    NotFound,
    ProtocolError,
    RateLimited,
    TokenUsed,
    Unavailable,
    ValidationFailed,
)
from frontdesk.service_client import ServiceClient

from .fake_service import BASE, CLIENT_ID, CLIENT_SECRET, FakeService, problem

PATH = "/v1/meetings/m_abc"


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (404, "meeting_not_found", MeetingNotFound),
        (410, "meeting_ended", MeetingEnded),
        (403, "token_used", TokenUsed),
        (413, "limit_exceeded", LimitExceeded),
        (422, "validation_failed", ValidationFailed),
    ],
)
async def test_problem_json_becomes_the_error_of_its_code(
    fake: FakeService, svc: ServiceClient, status: int, code: str, cls: type[FrontdeskError]
) -> None:
    fake.routes[("GET", PATH)] = lambda r: problem(status, code, f"detail for {code}")
    with pytest.raises(cls) as info:
        await svc.get_meeting("m_abc")
    assert type(info.value) is cls
    assert info.value.code == code
    assert str(info.value) == f"detail for {code}"


async def test_unknown_code_keeps_the_code(fake: FakeService, svc: ServiceClient) -> None:
    fake.routes[("GET", PATH)] = lambda r: problem(409, "brand_new_code", "from a newer server")
    with pytest.raises(FrontdeskError) as info:
        await svc.get_meeting("m_abc")
    assert info.value.code == "brand_new_code"


async def test_validation_errors_list_is_kept(fake: FakeService, svc: ServiceClient) -> None:
    errors = [{"loc": ["body", "organizer"], "msg": "Field required"}]
    fake.routes[("POST", "/v1/meetings")] = lambda r: problem(
        422, "validation_failed", "bad body", errors=errors
    )
    with pytest.raises(ValidationFailed) as info:
        await svc.create_meeting(organizer="alice")
    assert info.value.extra["errors"] == errors


async def test_rate_limited_carries_retry_after(fake: FakeService, svc: ServiceClient) -> None:
    def limited(request: httpx.Request) -> httpx.Response:
        response = problem(429, "rate_limited", "slow down")
        response.headers["Retry-After"] = "7"
        return response

    fake.routes[("GET", PATH)] = limited
    with pytest.raises(RateLimited) as info:
        await svc.get_meeting("m_abc")
    assert info.value.extra["retry_after"] == 7


@pytest.mark.parametrize(
    ("status", "cls"),
    [(502, Unavailable), (503, Unavailable), (404, NotFound), (400, ValidationFailed)],
)
async def test_non_problem_body_maps_by_status(
    fake: FakeService, svc: ServiceClient, status: int, cls: type[FrontdeskError]
) -> None:
    fake.routes[("GET", PATH)] = lambda r: httpx.Response(
        status, text="<html>proxy says no</html>", headers={"content-type": "text/html"}
    )
    with pytest.raises(cls) as info:
        await svc.get_meeting("m_abc")
    assert type(info.value) is cls
    assert "proxy says no" in str(info.value)


async def test_unexpected_status_is_a_plain_frontdesk_error(
    fake: FakeService, svc: ServiceClient
) -> None:
    fake.routes[("GET", PATH)] = lambda r: httpx.Response(500, text="")
    with pytest.raises(FrontdeskError) as info:
        await svc.get_meeting("m_abc")
    assert "500" in str(info.value)


async def test_success_with_a_malformed_body_is_a_protocol_error(
    fake: FakeService, svc: ServiceClient
) -> None:
    fake.routes[("GET", PATH)] = lambda r: httpx.Response(200, text="not json")
    with pytest.raises(ProtocolError):
        await svc.get_meeting("m_abc")
    fake.routes[("GET", PATH)] = lambda r: httpx.Response(200, json={"id": "m_abc"})
    with pytest.raises(ProtocolError, match="missing field"):
        await svc.get_meeting("m_abc")
    fake.routes[("GET", PATH)] = lambda r: httpx.Response(200, json=[1, 2])
    with pytest.raises(ProtocolError):
        await svc.get_meeting("m_abc")


@pytest.mark.parametrize(
    "exc",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("x")],
)
async def test_transport_failures_become_unavailable(exc: Exception) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise exc

    async with httpx.AsyncClient(transport=httpx.MockTransport(boom)) as http:
        svc = ServiceClient(BASE, CLIENT_ID, CLIENT_SECRET, http_client=http)
        with pytest.raises(Unavailable) as info:
            await svc.get_meeting("m_abc")
    assert isinstance(info.value.__cause__, type(exc))


async def test_refused_connection_on_a_real_socket_is_unavailable() -> None:
    with socket.socket() as s:  # a port on loopback that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with ServiceClient(f"http://127.0.0.1:{port}", CLIENT_ID, CLIENT_SECRET) as svc:
        with pytest.raises(Unavailable):
            await svc.list_meetings()
