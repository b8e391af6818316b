"""Service API rules around meetings: which application sees which meeting, how a
change and an end race, scheduled versus active over time, clearing times, the
invite's SEQUENCE, revoked issuers, chunked bodies and housekeeping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import icalendar

from frontdesk.errors import MeetingEnded
from frontdesk.server.app import MAX_BODY_BYTES
from tests.server.conftest import BASE, Harness
from tests.server.test_service_api import problem


async def _client_of(harness: Harness, name: str) -> httpx.AsyncClient:
    creds = await harness.ops.apps.create(name)
    r = await harness.http.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(creds.client_id, creds.client_secret),
    )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=harness.app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {r.json()['access_token']}"},
    )


async def test_an_application_sees_its_own_meetings_and_the_agents(harness: Harness) -> None:
    bank = await harness.authed()
    other = await _client_of(harness, "Other Co")
    mine = (await bank.post("/v1/meetings", json={"organizer": "alice"})).json()
    theirs = (await other.post("/v1/meetings", json={"organizer": "alice"})).json()
    # an agent's meeting (console, CLI) belongs to no application: every app sees it
    office = await harness.ops.meetings.create(subject="Office hours", organizer="alice")

    listed = {m["id"] for m in (await bank.get("/v1/meetings")).json()["items"]}
    assert listed == {mine["id"], office.id}
    for path in ("", "/participants", "/invite.ics"):
        problem(await bank.get(f"/v1/meetings/{theirs['id']}{path}"), 404, "meeting_not_found")
    problem(
        await bank.post(f"/v1/meetings/{theirs['id']}/guest-tokens", json={"display_name": "X"}),
        404,
        "meeting_not_found",
    )
    problem(
        await bank.patch(f"/v1/meetings/{theirs['id']}", json={"subject": "mine now"}),
        404,
        "meeting_not_found",
    )
    problem(await bank.delete(f"/v1/meetings/{theirs['id']}"), 404, "meeting_not_found")
    assert (await other.get(f"/v1/meetings/{theirs['id']}")).json()["state"] == "active"
    assert (await bank.get(f"/v1/meetings/{office.id}/invite.ics")).status_code == 200
    r = await bank.post(f"/v1/meetings/{office.id}/guest-tokens", json={"display_name": "Ann"})
    assert r.status_code == 201


async def test_a_change_racing_an_end_never_revives_the_meeting(harness: Harness) -> None:
    """The PATCH reads the meeting, the DELETE ends it, then the PATCH writes: it
    must answer meeting_ended and leave the meeting ended (it used to write the
    whole row back, state included, and the meeting's tokens worked again)."""
    http = await harness.authed()
    m = (await http.post("/v1/meetings", json={"organizer": "alice"})).json()
    store = harness.ops.store
    real_get = store.get_meeting
    read = asyncio.Event()
    ended = asyncio.Event()

    async def slow_get(meeting_id: str):  # type: ignore[no-untyped-def]
        got = await real_get(meeting_id)
        if not read.is_set():
            read.set()
            await ended.wait()
        return got

    store.get_meeting = slow_get  # type: ignore[method-assign]
    patch = asyncio.create_task(
        http.patch(f"/v1/meetings/{m['id']}", json={"access_policy": "direct"})
    )
    await read.wait()
    store.get_meeting = real_get  # type: ignore[method-assign]
    deleted = await http.delete(f"/v1/meetings/{m['id']}")
    assert deleted.json()["state"] == "ended"
    ended.set()
    problem(await patch, 410, "meeting_ended")
    after = (await http.get(f"/v1/meetings/{m['id']}")).json()
    assert after["state"] == "ended" and after["access_policy"] == "lobby"
    problem(
        await http.post(f"/v1/meetings/{m['id']}/guest-tokens", json={"display_name": "A"}),
        410,
        "meeting_ended",
    )


async def test_concurrent_changes_both_apply(harness: Harness) -> None:
    http = await harness.authed()
    m = (await http.post("/v1/meetings", json={"organizer": "alice"})).json()
    results = await asyncio.gather(
        *(http.patch(f"/v1/meetings/{m['id']}", json={"subject": f"s{i}"}) for i in range(6)),
        http.patch(f"/v1/meetings/{m['id']}", json={"access_policy": "direct"}),
    )
    assert all(r.status_code == 200 for r in results), [r.status_code for r in results]
    final = await harness.ops.store.get_meeting(m["id"])
    assert final.revision == 7  # each change written once, none lost
    assert final.access_policy.value == "direct"


async def test_scheduled_becomes_active_at_its_start(harness: Harness) -> None:
    http = await harness.authed()
    now = datetime.now(UTC)
    start = now + timedelta(minutes=30)
    m = (
        await http.post(
            "/v1/meetings",
            json={
                "organizer": "alice",
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
            },
        )
    ).json()
    assert m["state"] == "scheduled"
    listed = await http.get("/v1/meetings", params={"state": "scheduled"})
    assert [x["id"] for x in listed.json()["items"]] == [m["id"]]

    harness.ops.clock = lambda: now + timedelta(minutes=35)  # access token still valid
    assert (await http.get(f"/v1/meetings/{m['id']}")).json()["state"] == "active"
    assert (await http.get("/v1/meetings", params={"state": "scheduled"})).json()["items"] == []
    active = await http.get("/v1/meetings", params={"state": "active"})
    assert m["id"] in [x["id"] for x in active.json()["items"]]

    # moving the start into the future makes it scheduled again
    later = now + timedelta(days=1)
    r = await http.patch(
        f"/v1/meetings/{m['id']}",
        json={"start": later.isoformat(), "end": (later + timedelta(hours=1)).isoformat()},
    )
    assert r.json()["state"] == "scheduled"


async def test_patch_with_null_clears_the_times(harness: Harness) -> None:
    http = await harness.authed()
    start = datetime.now(UTC) + timedelta(hours=2)
    m = (
        await http.post(
            "/v1/meetings",
            json={
                "organizer": "alice",
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
            },
        )
    ).json()
    kept = (await http.patch(f"/v1/meetings/{m['id']}", json={"subject": "x"})).json()
    assert kept["start"] is not None and kept["end"] is not None  # absent: unchanged
    cleared = (
        await http.patch(f"/v1/meetings/{m['id']}", json={"start": None, "end": None})
    ).json()
    assert cleared["start"] is None and cleared["end"] is None
    assert cleared["state"] == "active"


async def test_end_must_follow_creation_when_there_is_no_start(harness: Harness) -> None:
    http = await harness.authed()
    past = datetime.now(UTC) - timedelta(days=1)
    r = await http.post("/v1/meetings", json={"organizer": "alice", "end": past.isoformat()})
    problem(r, 422, "validation_failed")


async def test_invite_sequence_rises_with_every_change(harness: Harness) -> None:
    http = await harness.authed()
    m = (await http.post("/v1/meetings", json={"organizer": "alice"})).json()

    async def sequence() -> int:
        ics = (await http.get(f"/v1/meetings/{m['id']}/invite.ics")).content
        (event,) = icalendar.Calendar.from_ical(ics).walk("VEVENT")
        return int(event["SEQUENCE"])

    assert await sequence() == 0
    await http.patch(f"/v1/meetings/{m['id']}", json={"subject": "Mortgage"})
    assert await sequence() == 1
    await http.delete(f"/v1/meetings/{m['id']}")
    assert await sequence() == 2


async def test_a_revoked_applications_guest_tokens_stop_working(harness: Harness) -> None:
    http = await harness.authed()
    m = (await http.post("/v1/meetings", json={"organizer": "alice"})).json()
    grant = (
        await http.post(f"/v1/meetings/{m['id']}/guest-tokens", json={"display_name": "Ann"})
    ).json()
    bearer = {"Authorization": f"Bearer {grant['token']}"}
    discovery = grant["discovery_uri"].removeprefix(BASE)
    assert (await harness.http.get(discovery, headers=bearer)).status_code == 200
    await harness.ops.store.revoke_app(harness.client_id, datetime.now(UTC))
    problem(await harness.http.get(discovery, headers=bearer), 401, "token_invalid")


async def test_a_chunked_body_over_the_limit_is_refused_while_read(harness: Harness) -> None:
    http = await harness.authed()
    sent = 0

    async def chunks():  # no Content-Length: the limit must count what arrives
        nonlocal sent
        for _ in range(64):
            sent += 16384
            yield b" " * 16384

    r = await http.post(
        "/v1/meetings", content=chunks(), headers={"Content-Type": "application/json"}
    )
    problem(r, 413, "limit_exceeded")
    declared = await http.post(
        "/v1/meetings",
        content=b"x" * (MAX_BODY_BYTES + 1),
        headers={"Content-Type": "application/json"},
    )
    problem(declared, 413, "limit_exceeded")


async def test_housekeeping_forgets_expired_used_tokens(harness: Harness) -> None:
    store = harness.ops.store
    now = datetime.now(UTC)
    await store.consume_token("old", "m_1", now - timedelta(hours=1))
    await store.consume_token("live", "m_1", now + timedelta(hours=1))
    done = await harness.ops.housekeeping()
    # (the node's own housekeeping loop may have purged it a moment before)
    assert done["used_tokens"] in (0, 1)
    assert not await store.is_token_used("old") and await store.is_token_used("live")


async def test_rotation_overlap_outlives_every_token(harness: Harness) -> None:
    """An operator's overlap shorter than a session token's life must not break
    live sessions: the retired key verifies at least as long as any token lives."""
    ops = harness.ops
    object.__setattr__(ops.settings, "key_rotation_overlap_s", 60)
    token, _claims, _user = await ops.accounts.login("alice", "correct horse battery")
    await ops.keys.rotate()
    real_clock = ops.clock
    ops.clock = lambda: real_clock() + timedelta(hours=11)  # session lives 12 h
    assert (await ops.accounts.for_session(token)).username == "alice"


async def test_ending_twice_is_idempotent(harness: Harness) -> None:
    m = await harness.ops.meetings.create(subject="x", organizer="alice")
    first = await harness.ops.meetings.end(m.id)
    second = await harness.ops.meetings.end(m.id)
    assert first.ended and second.ended and second.ended_at == first.ended_at
    try:
        await harness.ops.meetings.update(m.id, subject="again")
    except MeetingEnded:
        pass
    else:
        raise AssertionError("an ended meeting changed")
