"""Branding over HTTP: an application reads and changes its own brand, the node
serves its logo safely, and a meeting's link tells the guest page whose meeting
it is (and whether it is still on) without telling anything secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from frontdesk.config import Settings
from frontdesk.domain.branding import MAX_LOGO_BYTES
from frontdesk.server.app import create_app
from tests.server.conftest import BASE, Harness
from tests.server.test_service_api import problem

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'


async def _meeting(http: httpx.AsyncClient, **body: object) -> dict:
    r = await http.post(
        "/v1/meetings", json={"subject": "Mortgage advice", "organizer": "alice", **body}
    )
    assert r.status_code == 201, r.text
    return r.json()


def _code(join_url: str) -> str:
    return join_url.rsplit("/", 1)[1]


async def test_an_app_reads_and_changes_its_brand(harness: Harness) -> None:
    http = await harness.authed()
    r = await http.get("/v1/branding")
    assert r.status_code == 200
    assert r.json() == {
        "display_name": None,
        "accent": None,
        "accent_text": None,
        "logo_url": None,
        "updated_at": None,
    }
    r = await http.patch("/v1/branding", json={"display_name": "Harbor Bank", "accent": "#0A5C8A"})
    assert r.status_code == 200, r.text
    assert r.json() | {"updated_at": None} == {
        "display_name": "Harbor Bank",
        "accent": "#0a5c8a",
        "accent_text": "#ffffff",
        "logo_url": None,
        "updated_at": None,
    }
    # a field left out stays; null clears
    r = await http.patch("/v1/branding", json={"accent": "#ffd400"})
    assert (r.json()["display_name"], r.json()["accent_text"]) == ("Harbor Bank", "#000000")
    r = await http.patch("/v1/branding", json={"display_name": None})
    assert (r.json()["display_name"], r.json()["accent"]) == (None, "#ffd400")
    assert (await http.get("/v1/branding")).json()["accent"] == "#ffd400"


@pytest.mark.parametrize(
    "body",
    [
        {"accent": "blue"},
        {"accent": "#12345"},
        {"accent": "#1234567"},
        {"display_name": "x" * 81},
        {"display_name": "Harbor\u202eBank"},
        {"display_name": "   "},
        {"colour": "#000000"},
    ],
)
async def test_bad_branding_is_a_problem(harness: Harness, body: dict) -> None:
    http = await harness.authed()
    problem(await http.patch("/v1/branding", json=body), 422, "validation_failed")
    assert (await http.get("/v1/branding")).json()["updated_at"] is None


async def test_branding_needs_the_apps_token(harness: Harness) -> None:
    problem(await harness.http.get("/v1/branding"), 401, "unauthenticated")
    problem(
        await harness.http.patch("/v1/branding", json={"accent": "#000000"}),
        401,
        "unauthenticated",
    )
    problem(await harness.http.put("/v1/branding/logo", content=PNG), 401, "unauthenticated")


async def test_logo_upload_and_serving(harness: Harness) -> None:
    http = await harness.authed()
    r = await http.put("/v1/branding/logo", content=PNG, headers={"Content-Type": "image/png"})
    assert r.status_code == 200, r.text
    url = r.json()["logo_url"]
    assert url.startswith(f"{BASE}/v1/brand/logos/")
    got = await harness.http.get(url.removeprefix(BASE))
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "immutable" in got.headers["cache-control"]
    assert "sandbox" in got.headers["content-security-policy"]
    etag = got.headers["etag"]
    again = await harness.http.get(url.removeprefix(BASE), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    # what the uploader calls it does not matter: the bytes say PNG
    r2 = await http.put("/v1/branding/logo", content=PNG, headers={"Content-Type": "image/svg+xml"})
    assert r2.json()["logo_url"] == url
    # removed: the URL is gone with it
    r3 = await http.delete("/v1/branding/logo")
    assert r3.status_code == 200 and r3.json()["logo_url"] is None
    problem(await harness.http.get(url.removeprefix(BASE)), 404, "not_found")
    problem(await harness.http.get("/v1/brand/logos/" + "0" * 32), 404, "not_found")


async def test_logo_refusals(harness: Harness) -> None:
    http = await harness.authed()
    svg = await http.put("/v1/branding/logo", content=SVG, headers={"Content-Type": "image/png"})
    assert "SVG" in problem(svg, 422, "validation_failed")["detail"]
    problem(await http.put("/v1/branding/logo", content=b""), 422, "validation_failed")
    big = PNG + b"\0" * (MAX_LOGO_BYTES - len(PNG) + 1)
    problem(await http.put("/v1/branding/logo", content=big), 413, "limit_exceeded")

    async def chunks():  # no Content-Length: counted as it arrives
        yield PNG
        for _ in range(MAX_LOGO_BYTES // 8192 + 1):
            yield b"\0" * 8192

    problem(await http.put("/v1/branding/logo", content=chunks()), 413, "limit_exceeded")
    assert (await http.get("/v1/branding")).json()["logo_url"] is None
    # the larger limit is the logo's alone
    huge = {"subject": "x" * 70_000, "organizer": "alice"}
    problem(await http.post("/v1/meetings", json=huge), 413, "limit_exceeded")


async def test_join_info_shows_the_apps_brand_and_nothing_secret(harness: Harness) -> None:
    http = await harness.authed()
    await http.patch("/v1/branding", json={"display_name": "Harbor Bank", "accent": "#0a5c8a"})
    logo_url = (await http.put("/v1/branding/logo", content=PNG)).json()["logo_url"]
    m = await _meeting(http)
    r = await harness.http.get(f"/v1/join/{_code(m['join_url'])}")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert r.json() == {
        "subject": "Mortgage advice",
        "state": "open",
        "starts_at": None,
        "brand": {
            "display_name": "Harbor Bank",
            "logo_url": logo_url,
            "accent": "#0a5c8a",
            "accent_text": "#ffffff",
        },
    }
    assert "alice" not in r.text and m["id"] not in r.text


async def test_join_info_for_scheduled_ended_and_unknown(harness: Harness) -> None:
    http = await harness.authed()
    start = datetime.now(UTC) + timedelta(days=1)
    later = await _meeting(
        http, start=start.isoformat(), end=(start + timedelta(hours=1)).isoformat()
    )
    info = (await harness.http.get(f"/v1/join/{_code(later['join_url'])}")).json()
    assert info["state"] == "scheduled"
    assert datetime.fromisoformat(info["starts_at"]) == start
    done = await _meeting(http)
    assert (await http.delete(f"/v1/meetings/{done['id']}")).status_code == 200
    ended = (await harness.http.get(f"/v1/join/{_code(done['join_url'])}")).json()
    assert ended["state"] == "ended" and ended["subject"] == "Mortgage advice"
    problem(await harness.http.get("/v1/join/not-a-code"), 404, "meeting_not_found")
    problem(await harness.http.get("/v1/join/" + "x" * 65), 404, "meeting_not_found")


async def test_console_meetings_show_the_nodes_default(harness: Harness) -> None:
    m = await harness.ops.meetings.create(subject="", organizer="alice")
    info = (await harness.http.get(f"/v1/join/{m.join_code}")).json()
    # no subject given: it says whom the meeting is with (not "Untitled")
    assert info["subject"] == "Meeting with Alice Advisor"
    assert info["brand"] == {
        "display_name": "Frontdesk",
        "logo_url": None,
        "accent": "#0b5cad",
        "accent_text": "#ffffff",
    }


async def test_brand_name_setting_names_unbranded_meetings(tmp_path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db",
        public_url=BASE,
        brand_name="Harbor Bank Branch 12",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ops = app.state.ops
        await ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        m = await ops.meetings.create(subject="Visit", organizer="alice")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as h:
            info = (await h.get(f"/v1/join/{m.join_code}")).json()
    assert info["brand"]["display_name"] == "Harbor Bank Branch 12"


async def test_join_info_is_rate_limited(harness: Harness) -> None:
    limited = None
    for _ in range(60):
        r = await harness.http.get("/v1/join/guessing")
        if r.status_code == 429:
            limited = r
            break
        assert r.status_code == 404
    assert limited is not None, "never limited"
    problem(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1


async def test_discovery_carries_the_meetings_brand(harness: Harness) -> None:
    http = await harness.authed()
    await http.patch("/v1/branding", json={"display_name": "Harbor Bank"})
    m = await _meeting(http)
    g = (
        await http.post(
            f"/v1/meetings/{m['id']}/guest-tokens",
            json={"display_name": "Ann Visitor", "single_use": True},
        )
    ).json()
    auth = {"Authorization": f"Bearer {g['token']}"}
    found = (await harness.http.get(f"/v1/discovery/{m['id']}", headers=auth)).json()
    assert found["meeting"]["subject"] == "Mortgage advice"
    assert found["meeting"]["state"] == "open"
    assert found["meeting"]["brand"]["display_name"] == "Harbor Bank"
    await http.delete(f"/v1/meetings/{m['id']}")
    gone = await harness.http.get(f"/v1/discovery/{m['id']}", headers=auth)
    body = problem(gone, 410, "meeting_ended")
    # the holder of a good token learns whose meeting it was: whom to contact
    assert body["meeting"]["state"] == "ended"
    assert body["meeting"]["brand"]["display_name"] == "Harbor Bank"
    # a bad token learns nothing
    bad = await harness.http.get(
        f"/v1/discovery/{m['id']}", headers={"Authorization": "Bearer nope"}
    )
    assert "meeting" not in problem(bad, 401, "token_invalid")


def test_brand_name_comes_from_the_environment() -> None:
    env = {"FRONTDESK_BRAND_NAME": "Harbor Bank"}
    assert Settings.from_env(env).brand_name == "Harbor Bank"
    assert Settings.from_env({}, brand_name="Quay").brand_name == "Quay"  # the --brand-name flag
    assert Settings.from_env({}).brand_name == ""
