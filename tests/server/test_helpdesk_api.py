"""The helpdesk over HTTP: a visit offered, passed on at timeout, accepted,
transferred and completed; queues, refusals, callbacks, the board, a restart."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from frontdesk.config import Settings
from frontdesk.domain.helpdesk import Tick
from frontdesk.server.app import create_app
from tests.server.conftest import BASE, Harness

PASSWORD = "correct horse battery"


async def agent(h: Harness, username: str, role: str = "agent") -> httpx.AsyncClient:
    await h.ops.accounts.create(username, username.title(), PASSWORD, role)
    r = await h.http.post("/v1/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=h.app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {r.json()['token']}"},
    )


async def offer_of(client: httpx.AsyncClient) -> dict[str, Any] | None:
    r = await client.get("/v1/me/helpdesk")
    assert r.status_code == 200, r.text
    offer: dict[str, Any] | None = r.json()["offer"]
    return offer


async def test_a_visit_from_queue_to_offer_timeout_accept_transfer_and_complete(
    harness: Harness,
) -> None:
    h = harness
    svc = await h.authed()
    ann, bob = await agent(h, "ann"), await agent(h, "bob")
    r = await svc.post("/v1/queues", json={"name": "advice", "agents": ["ann", "bob"]})
    assert r.status_code == 201, r.text
    await svc.post("/v1/queues", json={"name": "loans", "agents": ["bob"]})
    for client in (ann, bob):  # ann first: the longest idle
        r = await client.put("/v1/me/helpdesk/state", json={"state": "available"})
        assert r.status_code == 200 and r.json()["state"] == "available", r.text

    r = await svc.post(
        "/v1/visits",
        json={
            "queue": "advice",
            "display_name": "Vera Visitor",
            "topic": "mortgage",
            "context": "customer since 2014, asked about fixed rates",
        },
    )
    assert r.status_code == 201, r.text
    visit = r.json()
    assert visit["token"] and visit["discovery_uri"] and visit["join_url"]
    visit_id = visit["visit_id"]
    assert visit["estimated_wait_s"] is None  # nothing handled yet: unknown, said so
    offer = await offer_of(ann)
    assert offer is not None and offer["visit_id"] == visit_id
    assert offer["context"] == "customer since 2014, asked about fixed rates"
    assert await offer_of(bob) is None

    # ann does not answer: the offer times out and goes to bob
    real = h.ops.clock
    h.ops.clock = lambda: real() + timedelta(seconds=25)
    await h.app.state.helpdesk.run(Tick())
    assert await offer_of(ann) is None
    assert (await offer_of(bob) or {}).get("visit_id") == visit_id
    r = await ann.post(f"/v1/me/helpdesk/visits/{visit_id}/accept")
    assert r.status_code == 409 and r.json()["code"] == "illegal_state"
    r = await bob.post(f"/v1/me/helpdesk/visits/{visit_id}/accept")
    assert r.status_code == 200, r.text
    meeting = await h.ops.meetings.get(visit["meeting_id"])
    assert meeting.organizer == "bob"

    r = await svc.get(f"/v1/visits/{visit_id}")
    assert (r.json()["state"], r.json()["agent"]) == ("accepted", "bob")

    # bob hands over to the loans queue, where only bob serves: it waits
    r = await bob.post(
        f"/v1/me/helpdesk/visits/{visit_id}/transfer", json={"to_queue": "loans", "note": "rates"}
    )
    assert r.status_code == 204, r.text
    r = await svc.get(f"/v1/visits/{visit_id}")
    body = r.json()
    assert (body["state"], body["queue"], body["note"], body["position"]) == (
        "queued",
        "loans",
        "rates",
        1,
    )
    await svc.post("/v1/queues/loans/agents", json={"agent": "ann"})
    offer = await offer_of(ann)
    assert offer is not None and offer["note"] == "rates"
    assert (await ann.post(f"/v1/me/helpdesk/visits/{visit_id}/accept")).status_code == 200
    assert (await ann.post(f"/v1/me/helpdesk/visits/{visit_id}/complete")).status_code == 204
    r = await svc.get(f"/v1/visits/{visit_id}")
    assert r.json()["state"] == "completed"
    events = [e.type for e in await h.ops.store.helpdesk.visit_events(visit_id)]
    assert events[:4] == ["visit.queued", "visit.offered", "visit.offer_expired", "visit.offered"]
    assert events[-1] == "visit.completed" and "visit.transferred" in events

    # the meeting's transcript tells the visit's story, the transfer's note included
    path = f"/v1/meetings/{visit['meeting_id']}/transcript"
    r = await svc.get(path)
    assert r.status_code == 200, r.text
    (story,) = r.json()["visits"]
    assert story["visit_id"] == visit_id and story["context"].startswith("customer since")
    steps = [
        (s["kind"], s["details"].get("to_queue"), s["details"].get("note")) for s in story["steps"]
    ]
    assert steps[0][0] == "queued" and steps[-1][0] == "completed"
    assert ("offer_expired", None, None) in steps and ("transferred", "loans", "rates") in steps
    r = await svc.get(path, params={"format": "text"})
    assert f"Visit {visit_id} in queue loans" in r.text and "to queue loans: rates" in r.text

    sue = await agent(h, "sue", role="supervisor")
    r = await sue.get("/v1/me/helpdesk/board/advice")
    assert r.status_code == 200 and {a["agent"] for a in r.json()["agents"]} == {"ann", "bob"}


async def test_a_closed_queue_refuses_with_the_next_opening_and_takes_a_message(
    harness: Harness,
) -> None:
    h = harness
    svc = await h.authed()
    await agent(h, "ann")
    hours = {"time_zone": "UTC", "weekly": {}}
    r = await svc.post("/v1/queues", json={"name": "night", "hours": hours, "agents": ["ann"]})
    assert r.status_code == 201, r.text
    r = await svc.post("/v1/visits", json={"queue": "night", "display_name": "Vera"})
    assert r.status_code == 409 and r.json()["code"] == "queue_closed", r.text
    assert r.json()["next_opening"] is None
    r = await svc.post(
        "/v1/queues/night/callbacks",
        json={"display_name": "Vera", "message": "Call me <b>back</b>", "contact": "+33 1 23"},
    )
    assert r.status_code == 201, r.text
    r = await svc.get("/v1/callbacks", params={"queue": "night"})
    assert [c["message"] for c in r.json()["items"]] == ["Call me <b>back</b>"]
    r = await svc.post("/v1/visits", json={"queue": "nope", "display_name": "Vera"})
    assert r.status_code == 404 and r.json()["code"] == "queue_not_found"


async def test_the_board_is_for_supervisors_and_visits_for_their_application(
    harness: Harness,
) -> None:
    h = harness
    svc = await h.authed()
    ann = await agent(h, "ann")
    eve = await agent(h, "eve")
    sue = await agent(h, "sue", role="supervisor")
    await svc.post("/v1/queues", json={"name": "advice", "agents": ["ann"]})
    for who in (ann, eve):  # a member agent or not: agents do not read boards
        r = await who.get("/v1/me/helpdesk/board/advice")
        assert r.status_code == 403 and r.json()["code"] == "forbidden", r.text
    r = await sue.get("/v1/me/helpdesk/board/advice")
    assert r.status_code == 200 and r.json()["waiting"] == 0, r.text
    r = await sue.get("/v1/me/helpdesk/board/nope")
    assert r.status_code == 404 and r.json()["code"] == "queue_not_found"
    r = await svc.post("/v1/visits", json={"queue": "advice", "display_name": "Vera"})
    visit_id = r.json()["visit_id"]
    other = await h.ops.apps.create("Other Bank")
    t = await h.http.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(other.client_id, other.client_secret),
    )
    r = await h.http.get(
        f"/v1/visits/{visit_id}", headers={"Authorization": f"Bearer {t.json()['access_token']}"}
    )
    assert r.status_code == 404 and r.json()["code"] == "visit_not_found"


async def test_the_router_comes_back_after_a_restart(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ops = app.state.ops
        creds = await ops.apps.create("Harbor Bank")
        await ops.accounts.create("ann", "Ann", PASSWORD)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            h = Harness(app, http, creds.client_id, creds.client_secret)
            svc = await h.authed()
            await svc.post("/v1/queues", json={"name": "advice", "agents": ["ann"]})
            await app.state.helpdesk.set_presence("ann", "available")
            r = await svc.post("/v1/visits", json={"queue": "advice", "display_name": "Vera"})
            first = r.json()["visit_id"]
            r = await svc.post("/v1/visits", json={"queue": "advice", "display_name": "Walt"})
            second = r.json()["visit_id"]
            before = app.state.helpdesk.router.visits()
    again = create_app(settings)
    async with again.router.lifespan_context(again):
        router = again.state.helpdesk.router
        assert sorted(router.visits(), key=lambda v: v.visit_id) == sorted(
            before, key=lambda v: v.visit_id
        )
        assert router.offer_of("ann").visit_id == first
        assert router.position(second) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Bad Name"},
        {"name": "q", "hours": {"time_zone": "Mars/Base", "weekly": {}}},
        {"name": "q", "hours": {"time_zone": "UTC", "weekly": {"mon": [["17:00", "09:00"]]}}},
        {"name": "q", "max_wait_s": 0},
        {"name": "q", "extra": 1},
    ],
)
async def test_bad_queues_are_refused(harness: Harness, body: dict[str, Any]) -> None:
    svc = await harness.authed()
    r = await svc.post("/v1/queues", json=body)
    assert r.status_code == 422 and r.json()["code"] == "validation_failed", r.text


async def test_a_waiting_console_hears_of_its_offer_as_it_is_made(harness: Harness) -> None:
    """``GET /v1/me/helpdesk?after=REV&wait_s=S`` answers when something changed
    for the agent (an offer made), not before; at once for a stale revision;
    with the same revision when nothing changed within ``wait_s``."""
    h = harness
    svc = await h.authed()
    ann = await agent(h, "ann")
    await svc.post("/v1/queues", json={"name": "advice", "agents": ["ann"]})
    r = await ann.put("/v1/me/helpdesk/state", json={"state": "available"})
    rev = r.json()["rev"]
    r = await ann.get("/v1/me/helpdesk", params={"after": rev, "wait_s": 0.2})
    assert (r.json()["rev"], r.json()["offer"]) == (rev, None)  # nothing changed

    waiting = asyncio.create_task(ann.get("/v1/me/helpdesk", params={"after": rev, "wait_s": 20}))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    r = await svc.post("/v1/visits", json={"queue": "advice", "display_name": "Vera"})
    assert r.status_code == 201, r.text
    async with asyncio.timeout(10):
        answer = (await waiting).json()
    assert answer["offer"]["visit_id"] == r.json()["visit_id"]
    assert answer["rev"] != rev
    # A revision already old is answered at once.
    async with asyncio.timeout(10):
        r = await ann.get("/v1/me/helpdesk", params={"after": rev, "wait_s": 20})
    assert r.json()["rev"] == answer["rev"]
    # Another agent's decisions do not wake this one.
    await agent(h, "bob")
    await svc.post("/v1/queues", json={"name": "loans", "agents": ["bob"]})
    r = await ann.get("/v1/me/helpdesk", params={"after": answer["rev"], "wait_s": 0.3})
    assert r.json()["rev"] == answer["rev"]
    r = await ann.get("/v1/me/helpdesk", params={"after": rev, "wait_s": 26})
    assert r.status_code == 422
