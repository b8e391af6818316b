"""Cookie-authenticated writes of the user API only from the node's own origin.

Over the in-process app, with the headers browsers send (the Chromium proof is
``tests/e2e/test_csrf_browser.py``). ``BASE`` is the node's public URL.
"""

from __future__ import annotations

import pytest

from frontdesk.server.csrf import origin_of
from tests.server.conftest import BASE, Harness
from tests.server.test_service_api import problem

PASSWORD = "correct horse battery"
MEETING = {"organizer": "alice", "subject": "Office hours"}


async def _signed_in(h: Harness) -> str:
    r = await h.http.post("/v1/session", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200 and "frontdesk_session" in h.http.cookies
    return str(r.json()["token"])


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://frontdesk.test:8081"},  # same site, another port
        {"Origin": "http://evil.frontdesk.test"},  # same site, another subdomain
        {"Origin": "https://frontdesk.test"},  # another scheme
        {"Origin": "null"},  # sandboxed frames, data: URLs
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://attacker.example"},
    ],
)
async def test_cookie_write_from_another_origin_is_refused(
    harness: Harness, headers: dict[str, str]
) -> None:
    await _signed_in(harness)
    r = await harness.http.post("/v1/me/meetings", json=MEETING, headers=headers)
    body = problem(r, 403, "csrf_refused")
    assert body["status"] == 403
    # Nothing was made, and the session itself still works from home.
    mine = await harness.http.get("/v1/me/meetings", headers=headers)
    assert mine.status_code == 200 and mine.json()["items"] == []
    # Sign-out by cookie is a write too.
    problem(await harness.http.delete("/v1/session", headers=headers), 403, "csrf_refused")
    assert (await harness.http.get("/v1/me")).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": BASE},
        {"Origin": BASE + "/"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://proxy-renamed.example"},
        {},  # not a browser: curl, scripts
    ],
)
async def test_cookie_write_from_the_own_origin_passes(
    harness: Harness, headers: dict[str, str]
) -> None:
    await _signed_in(harness)
    r = await harness.http.post("/v1/me/meetings", json=MEETING, headers=headers)
    assert r.status_code == 201, r.text


async def test_allowed_origins_pass_and_bearer_calls_are_not_checked(harness: Harness) -> None:
    token = await _signed_in(harness)
    evil = {"Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site"}
    bearer = {"Authorization": f"Bearer {token}", **evil}
    harness.http.cookies.clear()
    r = await harness.http.post("/v1/me/meetings", json=MEETING, headers=bearer)
    assert r.status_code == 201, r.text

    await _signed_in(harness)
    settings = harness.app.state.ops.settings
    harness.app.state.ops.settings = settings.with_(allowed_origins=("https://app.harbor.example",))
    ok = {"Origin": "https://app.harbor.example", "Sec-Fetch-Site": "cross-site"}
    assert (await harness.http.post("/v1/me/meetings", json=MEETING, headers=ok)).is_success


async def test_sign_in_from_another_origin_is_refused(harness: Harness) -> None:
    r = await harness.http.post(
        "/v1/session",
        json={"username": "alice", "password": PASSWORD},
        headers={"Origin": "http://frontdesk.test:8081"},
    )
    problem(r, 403, "csrf_refused")
    assert "set-cookie" not in r.headers


def test_origin_of() -> None:
    assert origin_of("HTTP://Example.COM:80/x?y") == "http://example.com"
    assert origin_of("https://example.com:8443") == "https://example.com:8443"
    assert origin_of("http://[::1]:8080/") == "http://[::1]:8080"
    assert origin_of("null") is None and origin_of("http://x:99999") is None
