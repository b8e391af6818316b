"""A helpdesk visit end to end on a real node: the visitor joins with the
visit's token and hears its place in the queue over the WebSocket; two agents;
an offer times out to the other agent, who accepts, joins, admits the visitor,
then transfers the visit to the first agent with a note."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from frontdesk.client import Meeting, MeetingEvent, SessionState, join_as_user, join_with_token
from frontdesk.domain.helpdesk import Medium, Queue, Tick, VisitState
from frontdesk.protocol.events import event_from_record
from tests.support.live_server import LiveServer

PASSWORD = "correct horse battery"
PASSWORD_ALICE = PASSWORD  # the server fixture's organizer


async def _position(events: Any, state: str, timeout: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        async for event in events:
            named = isinstance(event, MeetingEvent) and event.name == "visit_position"
            if named and event.data["state"] == state:
                return dict(event.data)
    raise AssertionError(f"no visit_position {state}")


async def test_offer_times_out_to_the_other_agent_who_accepts_admits_and_transfers(
    server: LiveServer,
) -> None:
    ops = server.ops
    hd = server.app.state.helpdesk
    app = await ops.apps.create("Harbor Bank")
    for name in ("ann", "bob"):
        await ops.accounts.create(name, name.title(), PASSWORD)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        t = await http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(app.client_id, app.client_secret),
        )
        svc = {"Authorization": f"Bearer {t.json()['access_token']}"}
        sessions = {}
        for name in ("ann", "bob"):
            r = await http.post("/v1/session", json={"username": name, "password": PASSWORD})
            sessions[name] = {"Authorization": f"Bearer {r.json()['token']}"}
        r = await http.post(
            "/v1/queues", headers=svc, json={"name": "advice", "agents": ["ann", "bob"]}
        )
        assert r.status_code == 201, r.text

        # Nobody available yet: Vera waits, and hears her place once Walt arrives behind her.
        r = await http.post(
            "/v1/visits", headers=svc, json={"queue": "advice", "display_name": "Vera"}
        )
        visit = r.json()
        vera: Meeting = await join_with_token(visit["discovery_uri"], visit["token"]).connect()
        events = vera.events()
        assert vera.state is SessionState.LOBBY
        await http.post("/v1/visits", headers=svc, json={"queue": "advice", "display_name": "Walt"})
        place = await _position(events, "queued")
        assert (place["visit_id"], place["position"]) == (visit["visit_id"], 1)
        assert place["estimated_wait_s"] is None  # nothing handled yet: unknown

        for name in ("ann", "bob"):  # ann first: the longest idle
            r = await http.put(
                "/v1/me/helpdesk/state", headers=sessions[name], json={"state": "available"}
            )
            assert r.status_code == 200, r.text
        await _position(events, "offered")
        r = await http.get("/v1/me/helpdesk", headers=sessions["ann"])
        assert r.json()["offer"]["visit_id"] == visit["visit_id"]

        real = ops.clock
        ops.clock = lambda: real() + timedelta(seconds=30)  # ann does not answer
        await hd.run(Tick())
        r = await http.get("/v1/me/helpdesk", headers=sessions["bob"])
        assert r.json()["offer"]["visit_id"] == visit["visit_id"]
        r = await http.post(
            f"/v1/me/helpdesk/visits/{visit['visit_id']}/accept", headers=sessions["bob"]
        )
        assert r.status_code == 200, r.text
        await _position(events, "accepted")

        token, _, _ = await ops.accounts.login("bob", PASSWORD)
        bob = await join_as_user(server.base_url, visit["meeting_id"], token).connect()
        await bob.admit(vera.participant_id or "")
        await vera.admitted(timeout=10)
        await vera.chat.send("I am asking about fixed rates")

        r = await http.post(
            f"/v1/me/helpdesk/visits/{visit['visit_id']}/transfer",
            headers=sessions["bob"],
            json={"to_agent": "ann", "note": "fixed rates, 20 years"},
        )
        assert r.status_code == 204, r.text
        # ann, free again after her missed offer, was offered Walt meanwhile:
        # she declines him, and the visit meant for her comes first.
        r = await http.get("/v1/me/helpdesk", headers=sessions["ann"])
        walt = r.json()["offer"]
        assert walt["display_name"] == "Walt"
        r = await http.post(
            f"/v1/me/helpdesk/visits/{walt['visit_id']}/decline", headers=sessions["ann"]
        )
        assert r.status_code == 204, r.text
        r = await http.get("/v1/me/helpdesk", headers=sessions["ann"])
        offer = r.json()["offer"]
        assert (offer["visit_id"], offer["note"]) == (visit["visit_id"], "fixed rates, 20 years")
        r = await http.post(
            f"/v1/me/helpdesk/visits/{visit['visit_id']}/accept", headers=sessions["ann"]
        )
        assert r.status_code == 200, r.text
        assert vera.state is SessionState.JOINED  # the visitor stayed connected
        r = await http.get(f"/v1/visits/{visit['visit_id']}", headers=svc)
        assert (r.json()["agent"], r.json()["transfers"]) == ("ann", 1)
        await bob.leave()
        await vera.leave()


async def test_a_visitor_who_leaves_the_lobby_abandons_the_visit(server: LiveServer) -> None:
    ops = server.ops
    hd = server.app.state.helpdesk
    app = await ops.apps.create("Harbor Bank")
    await hd.put_queue(Queue("advice", agents=frozenset({"alice"})))
    made = await hd.create_visit(
        app, queue="advice", display_name="Vera", medium=Medium.VIDEO, topic=None,
        language=None, context="",
    )  # fmt: skip
    vera = await join_with_token(made.grant.discovery_uri, made.grant.token).connect()
    assert vera.state is SessionState.LOBBY
    await vera.leave()
    async with asyncio.timeout(10):
        while (await hd.status(made.visit.visit_id)).visit.state is not VisitState.ABANDONED:
            await asyncio.sleep(0.05)
    events = [e.type for e in await ops.store.helpdesk.visit_events(made.visit.visit_id)]
    assert events == ["visit.queued", "visit.abandoned"]


async def test_the_lobby_entry_names_the_visit_its_token_was_minted_for(
    server: LiveServer,
) -> None:
    """The visit's guest token carries the visit id; the lobby entry of its
    visitor names it (in the snapshot, in the event, and after the room is
    restored from the store), so the agent who accepted admits that entry even
    when someone of the same name waits too. A plain guest token names none."""
    ops = server.ops
    hd = server.app.state.helpdesk
    bank = await ops.apps.create("Harbor Bank")
    await hd.put_queue(Queue("advice", agents=frozenset({"alice"})))
    made = await hd.create_visit(
        bank, queue="advice", display_name="Vera", medium=Medium.VIDEO, topic=None,
        language=None, context="",
    )  # fmt: skip
    visit_id, meeting_id = made.visit.visit_id, made.grant.meeting_id
    assert made.grant.claims.visit_id == visit_id
    # Another guest of the same name, vouched for by the same back end, but no visitor.
    twin = await ops.guest_tokens.mint(meeting_id, display_name="Vera", app=bank)
    assert twin.claims.visit_id is None
    other = await join_with_token(twin.discovery_uri, twin.token).connect()

    token, _, _ = await ops.accounts.login("alice", PASSWORD_ALICE)
    alice = await join_as_user(server.base_url, meeting_id, token).connect()
    vera = await join_with_token(made.grant.discovery_uri, made.grant.token).connect()
    async with asyncio.timeout(10):
        while len(alice.lobby) < 2:  # vera's entry from the event
            await asyncio.sleep(0.02)
    heard = {e.visit_id: e.participant_id for e in alice.lobby.values()}
    assert heard == {visit_id: vera.participant_id, None: other.participant_id}
    await alice.leave()

    # A fresh look at the meeting (its snapshot) names the visit too.
    alice = await join_as_user(server.base_url, meeting_id, token).connect()
    shown = {e.visit_id: e.participant_id for e in alice.lobby.values()}
    assert shown == heard
    await alice.admit(shown[visit_id])
    await vera.admitted(timeout=10)
    assert other.state is SessionState.LOBBY

    # The stored events keep it, for a room restored on another node.
    payloads = [
        event_from_record(r.seq, r.type, r.at, r.data).payload
        for r in await ops.store.events_since(meeting_id, 0)
        if "participant" in r.data
    ]
    seen = {(p.participant.id, p.participant.visit_id) for p in payloads}  # type: ignore[attr-defined]
    assert (vera.participant_id, visit_id) in seen
    assert (other.participant_id, None) in seen
    assert {pid for pid, visit in seen if visit is not None} == {vera.participant_id}
    for m in (alice, vera, other):
        await m.leave()
