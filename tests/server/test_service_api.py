"""The service API in-process: OAuth, meetings, invites, guest tokens, discovery."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import icalendar
import jwt
import pytest

from frontdesk.server.credentials import FailureGuard
from tests.server.conftest import BASE, Harness

PROBLEM = "application/problem+json"


def problem(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers
    body = r.json()
    assert body["code"] == code, body
    assert body["status"] == status
    return body


# --- OAuth client credentials ---------------------------------------------------------
async def test_token_with_basic_and_with_body(harness: Harness) -> None:
    r = await harness.http.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(harness.client_id, harness.client_secret),
    )
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert r.headers["cache-control"] == "no-store"
    r2 = await harness.http.post(
        "/v1/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": harness.client_id,
            "client_secret": harness.client_secret,
        },
    )
    assert r2.status_code == 200


async def test_token_refused(harness: Harness) -> None:
    bad = await harness.http.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(harness.client_id, "wrong"),
    )
    body = problem(bad, 401, "invalid_client")
    # RFC 6749 5.2: OAuth clients read ``error``; a Basic client gets a Basic challenge
    assert body["error"] == "invalid_client"
    assert bad.headers["www-authenticate"].startswith("Basic")
    unknown = await harness.http.post(
        "/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=("app_nope", "x")
    )
    problem(unknown, 401, "invalid_client")
    grant = await harness.http.post(
        "/v1/oauth/token", data={"grant_type": "password"}, auth=(harness.client_id, "x")
    )
    assert problem(grant, 400, "validation_failed")["error"] == "unsupported_grant_type"
    garbage = await harness.http.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic !!!notbase64"},
    )
    problem(garbage, 401, "invalid_client")
    # not latin-1 base64 at all: was a 500 before (b64decode raises ValueError)
    non_ascii = await harness.http.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=[(b"Authorization", "Basic ñññ".encode("latin-1"))],
    )
    problem(non_ascii, 401, "invalid_client")
    missing = await harness.http.post("/v1/oauth/token", data={})
    assert problem(missing, 400, "validation_failed")["error"] == "invalid_request"
    both = await harness.http.post(
        "/v1/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": harness.client_id,
            "client_secret": harness.client_secret,
        },
        auth=(harness.client_id, harness.client_secret),
    )
    assert problem(both, 400, "validation_failed")["error"] == "invalid_request"
    in_body = await harness.http.post(
        "/v1/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": harness.client_id,
            "client_secret": "wrong",
        },
    )
    problem(in_body, 401, "invalid_client")
    assert not in_body.headers["www-authenticate"].startswith("Basic")


async def test_api_needs_bearer(harness: Harness) -> None:
    problem(await harness.http.get("/v1/meetings"), 401, "unauthenticated")
    r = await harness.http.get("/v1/meetings", headers={"Authorization": "Bearer abc.def.ghi"})
    problem(r, 401, "token_invalid")


async def test_revoked_app_tokens_stop_working(harness: Harness) -> None:
    http = await harness.authed()
    assert (await http.get("/v1/meetings")).status_code == 200
    await harness.ops.store.revoke_app(harness.client_id, datetime.now(UTC))
    problem(await http.get("/v1/meetings"), 401, "token_invalid")
    again = await http.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(harness.client_id, harness.client_secret),
    )
    problem(again, 401, "invalid_client")


async def test_guest_token_is_not_an_access_token(harness: Harness) -> None:
    http = await harness.authed()
    m = (await http.post("/v1/meetings", json={"organizer": "alice"})).json()
    g = (
        await http.post(f"/v1/meetings/{m['id']}/guest-tokens", json={"display_name": "Ann"})
    ).json()
    r = await http.get("/v1/meetings", headers={"Authorization": f"Bearer {g['token']}"})
    problem(r, 401, "token_invalid")


# --- meetings --------------------------------------------------------------------------
async def test_meeting_lifecycle(harness: Harness) -> None:
    http = await harness.authed()
    r = await http.post(
        "/v1/meetings",
        json={"subject": "Mortgage advice", "organizer": "alice", "access_policy": "direct"},
    )
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["id"].startswith("m_") and m["state"] == "active"
    assert m["access_policy"] == "direct" and m["lobby_bypass"] == "none"
    assert m["join_url"].startswith(f"{BASE}/j/")
    code = m["join_url"].rsplit("/", 1)[1]
    assert len(base64.urlsafe_b64decode(code + "==")) * 8 >= 128
    assert (await http.get(f"/v1/meetings/{m['id']}")).json() == m

    p = await http.patch(
        f"/v1/meetings/{m['id']}", json={"subject": "Loans", "access_policy": "deny"}
    )
    assert p.status_code == 200
    assert p.json()["subject"] == "Loans" and p.json()["access_policy"] == "deny"

    listed = (await http.get("/v1/meetings", params={"organizer": "alice"})).json()
    assert [x["id"] for x in listed["items"]] == [m["id"]]
    assert (await http.get("/v1/meetings", params={"organizer": "bob"})).json()["items"] == []

    d = await http.delete(f"/v1/meetings/{m['id']}")
    assert d.status_code == 200 and d.json()["state"] == "ended" and d.json()["ended_at"]
    ended = (await http.get("/v1/meetings", params={"state": "ended"})).json()["items"]
    assert [x["id"] for x in ended] == [m["id"]]
    assert (await http.get("/v1/meetings", params={"state": "active"})).json()["items"] == []
    problem(
        await http.patch(f"/v1/meetings/{m['id']}", json={"subject": "x"}), 410, "meeting_ended"
    )
    problem(
        await http.post(f"/v1/meetings/{m['id']}/guest-tokens", json={"display_name": "Ann"}),
        410,
        "meeting_ended",
    )


async def test_join_urls_are_unique(harness: Harness) -> None:
    http = await harness.authed()
    urls = set()
    for _ in range(20):
        urls.add((await http.post("/v1/meetings", json={"organizer": "alice"})).json()["join_url"])
    assert len(urls) == 20


async def test_scheduled_meeting_and_invite(harness: Harness) -> None:
    http = await harness.authed()
    start = datetime.now(UTC) + timedelta(days=1)
    r = await http.post(
        "/v1/meetings",
        json={
            "subject": "Office hours",
            "organizer": "alice",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
        },
    )
    m = r.json()
    assert m["state"] == "scheduled"
    ics = await http.get(f"/v1/meetings/{m['id']}/invite.ics")
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(ics.content)
    (event,) = [c for c in cal.walk("VEVENT")]
    assert str(event["url"]) == m["join_url"]
    assert str(event["summary"]) == "Office hours"
    assert "Alice Advisor" in str(event["organizer"].params["cn"])
    assert event.decoded("dtstart") == start.replace(microsecond=0)
    assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(hours=2)


async def test_meeting_validation(harness: Harness) -> None:
    http = await harness.authed()
    problem(await http.post("/v1/meetings", json={"organizer": "nobody"}), 422, "validation_failed")
    problem(await http.post("/v1/meetings", json={}), 422, "validation_failed")
    problem(
        await http.post("/v1/meetings", json={"organizer": "alice", "access_policy": "open"}),
        422,
        "validation_failed",
    )
    problem(
        await http.post("/v1/meetings", json={"organizer": "alice", "subject": "x" * 201}),
        422,
        "validation_failed",
    )
    start = datetime.now(UTC)
    problem(
        await http.post(
            "/v1/meetings",
            json={
                "organizer": "alice",
                "start": start.isoformat(),
                "end": (start - timedelta(hours=1)).isoformat(),
            },
        ),
        422,
        "validation_failed",
    )
    problem(
        await http.post(
            "/v1/meetings", json={"organizer": "alice", "start": "2030-01-01T10:00:00"}
        ),
        422,
        "validation_failed",
    )
    problem(
        await http.post("/v1/meetings", json={"organizer": "alice", "extra": 1}),
        422,
        "validation_failed",
    )
    problem(await http.get("/v1/meetings/m_nope"), 404, "meeting_not_found")
    problem(await http.get("/v1/meetings", params={"limit": 0}), 422, "validation_failed")
    r = await http.post(
        "/v1/meetings", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    problem(r, 422, "validation_failed")
    big = await http.post(
        "/v1/meetings", content=b"x" * 70_000, headers={"Content-Type": "application/json"}
    )
    problem(big, 413, "limit_exceeded")
    problem(await http.get("/v1/nothing-here"), 404, "not_found")


# --- guest tokens and discovery ------------------------------------------------------
async def _meeting(http, **kw) -> dict:
    r = await http.post("/v1/meetings", json={"organizer": "alice", **kw})
    assert r.status_code == 201
    return r.json()


async def test_guest_token_and_discovery(harness: Harness) -> None:
    http = await harness.authed()
    m = await _meeting(http)
    r = await http.post(
        f"/v1/meetings/{m['id']}/guest-tokens",
        json={"display_name": "Ann Visitor", "role": "attendee"},
    )
    assert r.status_code == 201, r.text
    g = r.json()
    assert g["discovery_uri"] == f"{BASE}/v1/discovery/{m['id']}"
    exp = datetime.fromisoformat(g["expires_at"])
    assert timedelta(minutes=9) < exp - datetime.now(UTC) <= timedelta(minutes=10)
    header = jwt.get_unverified_header(g["token"])
    assert header["alg"] == "EdDSA" and header["kid"]
    claims = jwt.decode(g["token"], options={"verify_signature": False})
    assert claims["aud"] == f"frontdesk:meeting:{m['id']}"
    assert claims["name"] == "Ann Visitor" and claims["role"] == "attendee"
    assert claims["typ"] == "guest" and claims["app_id"] == harness.client_id
    assert claims["jti"]
    again = await http.post(f"/v1/meetings/{m['id']}/guest-tokens", json={"display_name": "A"})
    assert (
        jwt.decode(again.json()["token"], options={"verify_signature": False})["jti"]
        != (claims["jti"])
    )

    d = await harness.http.get(
        g["discovery_uri"].removeprefix(BASE), headers={"Authorization": f"Bearer {g['token']}"}
    )
    assert d.status_code == 200, d.text
    body = d.json()
    assert body["meeting_id"] == m["id"]
    assert body["rtc_url"] == "ws://frontdesk.test/v1/rtc"
    assert body["ice_servers"] == []


async def test_guest_token_ttl_is_capped(harness: Harness) -> None:
    http = await harness.authed()
    m = await _meeting(http)
    g = (
        await http.post(
            f"/v1/meetings/{m['id']}/guest-tokens", json={"display_name": "Ann", "ttl_s": 10**7}
        )
    ).json()
    exp = datetime.fromisoformat(g["expires_at"])
    assert exp - datetime.now(UTC) <= timedelta(seconds=3600)
    problem(
        await http.post(
            f"/v1/meetings/{m['id']}/guest-tokens", json={"display_name": "Ann", "ttl_s": 0}
        ),
        422,
        "validation_failed",
    )
    problem(
        await http.post(
            f"/v1/meetings/{m['id']}/guest-tokens",
            json={"display_name": "Ann", "role": "organizer"},
        ),
        422,
        "validation_failed",
    )
    problem(
        await http.post(f"/v1/meetings/{m['id']}/guest-tokens", json={"display_name": " "}),
        422,
        "validation_failed",
    )
    problem(
        await http.post(f"/v1/meetings/{m['id']}/guest-tokens", json={"display_name": "a\x00b"}),
        422,
        "validation_failed",
    )
    problem(
        await http.post("/v1/meetings/m_nope/guest-tokens", json={"display_name": "Ann"}),
        404,
        "meeting_not_found",
    )


async def test_discovery_refusals(harness: Harness) -> None:
    http = await harness.authed()
    m1 = await _meeting(http)
    m2 = await _meeting(http)
    g = (
        await http.post(f"/v1/meetings/{m1['id']}/guest-tokens", json={"display_name": "A"})
    ).json()
    wrong = await harness.http.get(
        f"/v1/discovery/{m2['id']}", headers={"Authorization": f"Bearer {g['token']}"}
    )
    problem(wrong, 403, "token_wrong_meeting")
    problem(await harness.http.get(f"/v1/discovery/{m1['id']}"), 401, "unauthenticated")
    tampered = g["token"][:-3] + ("AAA" if not g["token"].endswith("AAA") else "BBB")
    problem(
        await harness.http.get(
            f"/v1/discovery/{m1['id']}", headers={"Authorization": f"Bearer {tampered}"}
        ),
        401,
        "token_invalid",
    )
    # alg none
    parts = g["token"].split(".")
    hdr = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
    none_tok = f"{hdr.decode()}.{parts[1]}."
    problem(
        await harness.http.get(
            f"/v1/discovery/{m1['id']}", headers={"Authorization": f"Bearer {none_tok}"}
        ),
        401,
        "token_invalid",
    )
    await http.delete(f"/v1/meetings/{m1['id']}")
    problem(
        await harness.http.get(
            f"/v1/discovery/{m1['id']}", headers={"Authorization": f"Bearer {g['token']}"}
        ),
        410,
        "meeting_ended",
    )


async def test_expired_guest_token(harness: Harness) -> None:
    http = await harness.authed()
    m = await _meeting(http)
    g = (
        await http.post(
            f"/v1/meetings/{m['id']}/guest-tokens", json={"display_name": "A", "ttl_s": 10}
        )
    ).json()
    later = datetime.now(UTC) + timedelta(seconds=10 + 31)
    harness.ops.clock = lambda: later
    problem(
        await harness.http.get(
            f"/v1/discovery/{m['id']}", headers={"Authorization": f"Bearer {g['token']}"}
        ),
        401,
        "token_expired",
    )


async def test_single_use_token(harness: Harness) -> None:
    http = await harness.authed()
    m = await _meeting(http)
    g = (
        await http.post(
            f"/v1/meetings/{m['id']}/guest-tokens", json={"display_name": "A", "single_use": True}
        )
    ).json()
    hdr = {"Authorization": f"Bearer {g['token']}"}
    # Discovery does not use the token up; joining does.
    assert (await harness.http.get(f"/v1/discovery/{m['id']}", headers=hdr)).status_code == 200
    claims, _ = await harness.ops.guest_tokens.check(g["token"], m["id"])
    assert claims.single_use and await harness.ops.guest_tokens.consume(claims)
    problem(await harness.http.get(f"/v1/discovery/{m['id']}", headers=hdr), 403, "token_used")
    from frontdesk.errors import TokenUsed

    with pytest.raises(TokenUsed):
        await harness.ops.guest_tokens.check(g["token"], m["id"])
    assert not await harness.ops.guest_tokens.consume(claims)


async def test_turn_credentials_in_discovery(settings, tmp_path) -> None:
    import hashlib
    import hmac

    import httpx

    from frontdesk.server.app import create_app

    s = settings.with_(
        ice_servers=(
            {"urls": ["stun:127.0.0.1:3478"]},
            {"urls": ["turn:127.0.0.1:3478?transport=udp"]},
        ),
        turn_secret="s3cret",
    )
    app = create_app(s)
    async with app.router.lifespan_context(app):
        ops = app.state.ops
        await ops.accounts.create("alice", "Alice", "correct horse battery")
        m = await ops.meetings.create(subject="", organizer="alice")
        grant = await ops.guest_tokens.mint(m.id, display_name="Ann")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
            d = (
                await c.get(
                    f"/v1/discovery/{m.id}", headers={"Authorization": f"Bearer {grant.token}"}
                )
            ).json()
    stun, turn = d["ice_servers"]
    assert "username" not in stun
    expiry, _, user = turn["username"].partition(":")
    assert int(expiry) > datetime.now(UTC).timestamp() and user
    expected = base64.b64encode(
        hmac.new(b"s3cret", turn["username"].encode(), hashlib.sha1).digest()
    ).decode()
    assert turn["credential"] == expected


# --- keys, health, metrics, docs ----------------------------------------------------------
async def test_jwks_and_rotation(harness: Harness) -> None:
    http = await harness.authed()
    m = await _meeting(http)
    old = (
        await http.post(f"/v1/meetings/{m['id']}/guest-tokens", json={"display_name": "A"})
    ).json()
    jwks = (await harness.http.get("/.well-known/jwks.json")).json()
    assert len(jwks["keys"]) == 1 and "d" not in jwks["keys"][0]
    old_kid = jwks["keys"][0]["kid"]
    new_kid = await harness.ops.keys.rotate()
    assert new_kid != old_kid
    jwks = (await harness.http.get("/.well-known/jwks.json")).json()
    assert {k["kid"] for k in jwks["keys"]} == {old_kid, new_kid}
    # A token of the previous key still works; new tokens carry the new kid.
    hdr = {"Authorization": f"Bearer {old['token']}"}
    assert (await harness.http.get(f"/v1/discovery/{m['id']}", headers=hdr)).status_code == 200
    new = (
        await http.post(f"/v1/meetings/{m['id']}/guest-tokens", json={"display_name": "A"})
    ).json()
    assert jwt.get_unverified_header(new["token"])["kid"] == new_kid
    # The access token minted before rotation still authorises.
    assert (await http.get("/v1/meetings")).status_code == 200


async def test_operational_endpoints(harness: Harness) -> None:
    assert (await harness.http.get("/healthz")).json() == {"status": "ok"}
    ready = await harness.http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    await harness.token()
    metrics = (await harness.http.get("/metrics")).text
    assert 'frontdesk_tokens_issued_total{kind="access"} 1.0' in metrics
    assert "frontdesk_http_requests_total" in metrics
    schema = (await harness.http.get("/openapi.json")).json()
    for path in (
        "/v1/oauth/token",
        "/v1/meetings",
        "/v1/meetings/{meeting_id}",
        "/v1/meetings/{meeting_id}/guest-tokens",
        "/v1/meetings/{meeting_id}/invite.ics",
        "/v1/discovery/{meeting_id}",
        "/v1/webhooks",
    ):
        assert path in schema["paths"], path
    assert (await harness.http.get("/docs")).status_code == 200
    # Errors are documented as they are sent: problem+json with our Problem schema.
    get_meeting = schema["paths"]["/v1/meetings/{meeting_id}"]["get"]["responses"]
    assert list(get_meeting["404"]["content"]) == ["application/problem+json"]
    create = schema["paths"]["/v1/meetings"]["post"]["responses"]["422"]["content"]
    assert create["application/problem+json"]["schema"]["$ref"].endswith("/Problem")


async def test_rate_limit_on_token_endpoint(harness: Harness) -> None:
    # Freeze the limiter's clock: no refill while we knock (argon2 is slow on a busy box).
    harness.app.state.auth_limiter.clock = lambda: 1000.0
    # The request-rate bucket alone (the failure limit has its own tests in
    # test_login_guard.py and would refuse after five failures).
    harness.ops.credentials.clients = FailureGuard(account_free=1000, address_free=1000)
    statuses = []
    for _ in range(100):
        r = await harness.http.post(
            "/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=("app_x", "y")
        )
        statuses.append(r.status_code)
        if r.status_code == 429:
            break
    assert statuses[-1] == 429 and len(statuses) == 31  # a burst of 30, then refused
    r = await harness.http.post(
        "/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=("app_x", "y")
    )
    body = problem(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) >= 1 and body["retry_after"] >= 1
