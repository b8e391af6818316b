"""What each call sends and what it returns, against the scripted service."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone

import httpx
import icalendar
import pytest

from frontdesk.domain.model import AccessPolicy, LobbyBypass, MeetingState, Role
from frontdesk.errors import ProtocolError, TokenExpired, ValidationFailed
from frontdesk.service_client import (
    Discovery,
    GuestToken,
    Meeting,
    ServiceClient,
    Webhook,
    discover,
    join_url_of_ics,
)

from .fake_service import BASE, CLIENT_ID, CLIENT_SECRET, MEETING, FakeService, problem


def _body(request: httpx.Request) -> object:
    return json.loads(request.content)


async def test_create_meeting_sends_the_fields_and_parses_the_answer(
    fake: FakeService, svc: ServiceClient
) -> None:
    fake.routes[("POST", "/v1/meetings")] = lambda r: httpx.Response(201, json=MEETING)
    start = datetime(2025, 3, 1, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    meeting = await svc.create_meeting(
        subject="Mortgage advice",
        organizer="alice",
        start=start,
        access_policy=AccessPolicy.DENY,
        lobby_bypass="token_holders",
    )
    assert _body(fake.api_requests[-1]) == {
        "subject": "Mortgage advice",
        "organizer": "alice",
        "start": "2025-03-01T11:00:00+01:00",
        "access_policy": "deny",
        "lobby_bypass": "token_holders",
    }
    assert meeting.id == "m_abc"
    assert meeting.state is MeetingState.ACTIVE
    assert meeting.access_policy is AccessPolicy.LOBBY
    assert meeting.lobby_bypass is LobbyBypass.NONE
    assert meeting.created_at == datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    assert meeting.created_at.tzinfo is not None
    assert meeting.start is None and meeting.ended_at is None


async def test_bad_arguments_are_refused_before_any_request(
    fake: FakeService, svc: ServiceClient
) -> None:
    with pytest.raises(ValidationFailed, match="timezone-aware"):
        await svc.create_meeting(organizer="alice", start=datetime(2025, 1, 1))
    with pytest.raises(ValidationFailed, match="access_policy must be one of"):
        await svc.create_meeting(organizer="alice", access_policy="open")
    with pytest.raises(ValidationFailed, match="state must be one of"):
        await svc.list_meetings(state="paused")
    with pytest.raises(ValidationFailed):
        await svc.get_meeting("")
    assert fake.requests == []


async def test_meeting_ids_are_escaped_into_one_path_segment(
    fake: FakeService, svc: ServiceClient
) -> None:
    await svc.get_meeting("../webhooks")
    assert fake.api_requests[-1].url.raw_path == b"/v1/meetings/..%2Fwebhooks"


async def test_list_meetings_query_and_items(fake: FakeService, svc: ServiceClient) -> None:
    other = dict(MEETING, id="m_def", state="ended", ended_at="2025-03-01T12:00:00+00:00")
    fake.routes[("GET", "/v1/meetings")] = lambda r: httpx.Response(
        200, json={"items": [MEETING, other], "limit": 5, "offset": 10}
    )
    meetings = await svc.list_meetings(
        organizer="alice", state=MeetingState.ENDED, limit=5, offset=10
    )
    assert [m.id for m in meetings] == ["m_abc", "m_def"]
    assert meetings[1].ended_at == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    params = dict(fake.api_requests[-1].url.params)
    assert params == {"organizer": "alice", "state": "ended", "limit": "5", "offset": "10"}
    await svc.list_meetings()
    assert dict(fake.api_requests[-1].url.params) == {"limit": "100", "offset": "0"}


async def test_update_meeting_patches_only_given_fields(
    fake: FakeService, svc: ServiceClient
) -> None:
    await svc.update_meeting("m_abc", subject="New subject", access_policy="direct")
    request = fake.api_requests[-1]
    assert request.method == "PATCH"
    assert _body(request) == {"subject": "New subject", "access_policy": "direct"}
    end = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    await svc.update_meeting("m_abc", end=end)
    assert _body(fake.api_requests[-1]) == {"end": "2025-03-01T12:00:00+00:00"}


async def test_end_meeting_is_a_delete_returning_the_meeting(
    fake: FakeService, svc: ServiceClient
) -> None:
    ended = dict(MEETING, state="ended", ended_at="2025-03-01T10:30:00Z")
    fake.routes[("DELETE", "/v1/meetings/m_abc")] = lambda r: httpx.Response(200, json=ended)
    meeting = await svc.end_meeting("m_abc")
    assert meeting.state is MeetingState.ENDED
    assert fake.api_requests[-1].method == "DELETE"


async def test_participants(fake: FakeService, svc: ServiceClient) -> None:
    person = {
        "id": "p_1",
        "display_name": "Ann Visitor",
        "role": "guest",
        "state": "lobby",
        "vouched": True,
        "method": "token",
    }
    fake.routes[("GET", "/v1/meetings/m_abc/participants")] = lambda r: httpx.Response(
        200, json={"items": [person]}
    )
    (p,) = await svc.participants("m_abc")
    assert (p.display_name, p.role, p.vouched, p.audio_muted) == (
        "Ann Visitor",
        Role.GUEST,
        True,
        False,
    )


def _ics(**props: str) -> str:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//frontdesk test//")
    cal.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", "m_abc@frontdesk")
    event.add("summary", "Mortgage advice")
    for name, value in props.items():
        event.add(name, value)
    cal.add_component(event)
    text: str = cal.to_ical().decode()
    return text


async def test_join_url_from_invite(fake: FakeService, svc: ServiceClient) -> None:
    text = _ics(url=f"{BASE}/j/from-url", location="Online")
    fake.routes[("GET", "/v1/meetings/m_abc/invite.ics")] = lambda r: httpx.Response(
        200, text=text, headers={"content-type": "text/calendar; charset=utf-8"}
    )
    assert await svc.invite_ics("m_abc") == text
    assert await svc.join_url_from_invite("m_abc") == f"{BASE}/j/from-url"


def test_join_url_falls_back_to_location_and_refuses_garbage() -> None:
    assert join_url_of_ics(_ics(location=f"{BASE}/j/loc")) == f"{BASE}/j/loc"
    with pytest.raises(ProtocolError, match="no join URL"):
        join_url_of_ics(_ics())
    with pytest.raises(ProtocolError, match="not valid iCalendar"):
        join_url_of_ics("this is not a calendar")


async def test_create_guest_token(fake: FakeService, svc: ServiceClient) -> None:
    grant = {
        "token": "eyJ.guest.token",
        "discovery_uri": f"{BASE}/v1/discovery/m_abc",
        "expires_at": "2025-03-01T10:10:00Z",
        "meeting_id": "m_abc",
    }
    fake.routes[("POST", "/v1/meetings/m_abc/guest-tokens")] = lambda r: httpx.Response(
        201, json=grant
    )
    token = await svc.create_guest_token("m_abc", display_name="Ann Visitor")
    assert _body(fake.api_requests[-1]) == {
        "display_name": "Ann Visitor",
        "role": "guest",
        "single_use": False,
    }
    assert token.token == "eyJ.guest.token"
    assert token.expires_at == datetime(2025, 3, 1, 10, 10, tzinfo=UTC)
    await svc.create_guest_token(
        "m_abc",
        display_name="Bo",
        role="attendee",
        ttl_s=60,
        single_use=True,
        origins=["https://bank.example"],
    )
    assert _body(fake.api_requests[-1]) == {
        "display_name": "Bo",
        "role": "attendee",
        "single_use": True,
        "ttl_s": 60,
        "origins": ["https://bank.example"],
    }


async def test_webhooks(fake: FakeService, svc: ServiceClient) -> None:
    hook = {
        "id": "wh_1",
        "url": "https://bank.example/hooks",
        "events": ["meeting.ended"],
        "secret": "whsec_visible_once",
        "created_at": "2025-03-01T10:00:00+00:00",
    }
    fake.routes[("POST", "/v1/webhooks")] = lambda r: httpx.Response(201, json=hook)
    fake.routes[("GET", "/v1/webhooks")] = lambda r: httpx.Response(
        200, json={"items": [dict(hook, secret=None)]}
    )
    fake.routes[("DELETE", "/v1/webhooks/wh_1")] = lambda r: httpx.Response(204)
    created = await svc.create_webhook("https://bank.example/hooks", events=["meeting.ended"])
    assert _body(fake.api_requests[-1]) == {
        "url": "https://bank.example/hooks",
        "events": ["meeting.ended"],
    }
    assert created.secret == "whsec_visible_once"
    assert created.events == ("meeting.ended",)
    await svc.create_webhook("https://bank.example/hooks")
    assert _body(fake.api_requests[-1]) == {"url": "https://bank.example/hooks"}
    (listed,) = await svc.list_webhooks()
    assert listed.secret is None
    await svc.delete_webhook("wh_1")
    assert fake.api_requests[-1].method == "DELETE"


async def test_discover_sends_the_guest_token_as_bearer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("authorization") != "Bearer guest-jwt":
            return problem(401, "token_expired", "expired")
        body = {
            "rtc_url": "ws://127.0.0.1:8080/v1/rtc",
            "meeting_id": "m_abc",
            "ice_servers": [{"urls": ["turn:127.0.0.1"], "username": "u", "credential": "c"}],
            "node_id": "node-1",
        }
        return httpx.Response(200, json=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        found = await discover(f"{BASE}/v1/discovery/m_abc", "guest-jwt", http_client=http)
        assert found == Discovery(
            rtc_url="ws://127.0.0.1:8080/v1/rtc",
            meeting_id="m_abc",
            ice_servers=({"urls": ["turn:127.0.0.1"], "username": "u", "credential": "c"},),
            node_id="node-1",
        )
        assert "credential" not in repr(found)
        with pytest.raises(TokenExpired):
            await discover(f"{BASE}/v1/discovery/m_abc", "old-jwt", http_client=http)
    assert len(seen) == 2  # no refresh, no retry: a guest token is not ours to renew
    with pytest.raises(ValidationFailed):
        await discover("ftp://127.0.0.1/x", "guest-jwt")
    with pytest.raises(ValidationFailed):
        await discover(f"{BASE}/v1/discovery/m_abc", "")


def test_env_var_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_URL", "http://127.0.0.1:9999/")
    monkeypatch.setenv("FRONTDESK_CLIENT_ID", "env_id")
    monkeypatch.setenv("FRONTDESK_CLIENT_SECRET", "env_secret")
    svc = ServiceClient(http_client=httpx.AsyncClient())
    assert svc.base_url == "http://127.0.0.1:9999"
    assert "env_id" in repr(svc)
    explicit = ServiceClient("http://127.0.0.1:1", "arg_id", "arg_secret", http_client=svc._http)
    assert explicit.base_url == "http://127.0.0.1:1"
    assert "arg_id" in repr(explicit)


@pytest.mark.parametrize(
    "missing", ["FRONTDESK_URL", "FRONTDESK_CLIENT_ID", "FRONTDESK_CLIENT_SECRET"]
)
def test_missing_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    for name in ("FRONTDESK_URL", "FRONTDESK_CLIENT_ID", "FRONTDESK_CLIENT_SECRET"):
        monkeypatch.setenv(name, "http://127.0.0.1:1" if name == "FRONTDESK_URL" else "x")
    monkeypatch.delenv(missing)
    with pytest.raises(ValidationFailed, match=missing):
        ServiceClient()


def test_base_url_must_be_http() -> None:
    with pytest.raises(ValidationFailed, match="http"):
        ServiceClient("127.0.0.1:8080", "id", "secret")


def test_reprs_hide_secrets() -> None:
    grant = GuestToken("eyJ.secret.jwt", f"{BASE}/v1/discovery/m", datetime.now(UTC), "m_abc")
    assert "eyJ.secret.jwt" not in repr(grant)
    assert "m_abc" in repr(grant)
    hook = Webhook("wh_1", "https://x.example", ("meeting.ended",), "whsec_x", datetime.now(UTC))
    assert "whsec_x" not in repr(hook)
    meeting = Meeting.from_json(MEETING)
    assert "joincode-secret" not in repr(meeting)
    svc = ServiceClient(BASE, CLIENT_ID, CLIENT_SECRET, http_client=httpx.AsyncClient())
    assert CLIENT_SECRET not in repr(svc)


def test_naive_timestamps_from_the_server_are_taken_as_utc() -> None:
    meeting = Meeting.from_json(dict(MEETING, created_at="2025-03-01T10:00:00"))
    assert meeting.created_at.tzinfo is UTC
    with pytest.raises(ProtocolError):
        Meeting.from_json(dict(MEETING, created_at="yesterday"))
    with pytest.raises(ProtocolError, match="unknown state"):
        Meeting.from_json(dict(MEETING, state="paused"))


async def test_injected_client_is_left_open_own_client_is_closed(fake: FakeService) -> None:
    http = fake.client()
    async with ServiceClient(BASE, CLIENT_ID, CLIENT_SECRET, http_client=http) as svc:
        await svc.get_meeting("m_abc")
    assert not http.is_closed
    await http.aclose()
    own = ServiceClient(BASE, CLIENT_ID, CLIENT_SECRET)
    await own.aclose()
    assert own._http.is_closed


async def test_one_log_line_per_request_without_secrets(
    fake: FakeService, svc: ServiceClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="frontdesk.service_client")
    await svc.get_meeting("m_abc")
    await svc.update_meeting("m_abc", subject="x")
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("frontdesk.")]
    assert len(lines) == 3  # token, get, patch
    assert lines[0].startswith("POST /v1/oauth/token 200 ")
    assert lines[1].startswith("GET /v1/meetings/m_abc 200 ")
    assert lines[2].startswith("PATCH /v1/meetings/m_abc 200 ")
    assert lines[2].endswith("ms")
    text = "\n".join(lines)
    assert CLIENT_SECRET not in text and "tok-1" not in text
