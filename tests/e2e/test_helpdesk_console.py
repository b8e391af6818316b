"""The helpdesk in the agents' consoles, in real Chromium against a real node:
two agents of one queue go available; a visit made over the service API is
offered to the first, whose offer runs out; the second accepts it from the
offer card and the console lets the visitor in; the second transfers it to the
first with a note the first reads on the offer card; a callback request is
resolved; a supervisor reads the queue board."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from frontdesk.client import Meeting, join_with_token
from frontdesk.domain.helpdesk import Tick
from tests.e2e.test_pages import PASSWORD, expect_text, track_errors
from tests.e2e.test_supervisor_console import sign_in_as
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.netns

WAIT = 30.0  # generous: the machine may be loaded
NOTE = "Fixed rates, 20 years; she has the offer letter"


async def go_available(page: Any) -> None:
    await expect_text(page, "#helpdesk-heading", "Helpdesk", timeout=WAIT)
    await page.get_by_label("My state").select_option("available")
    await expect_text(page, "#agent-capacity", r"^Available", timeout=WAIT)


async def test_agents_take_time_out_accept_and_transfer_a_visit(
    browser: Any, node: LiveServer, artifacts: Path
) -> None:
    ops = node.ops
    hd = node.app.state.helpdesk
    app = await ops.apps.create("Harbor Bank")
    await ops.accounts.create("ann", "Ann Advisor", PASSWORD)
    await ops.accounts.create("bob", "Bob Advisor", PASSWORD)
    await ops.accounts.create("sam", "Sam Supervisor", PASSWORD, "supervisor")
    ctxs = [await browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(3)]
    ann, bob, sam = [await c.new_page() for c in ctxs]
    errors = [track_errors(p) for p in (ann, bob, sam)]
    async with httpx.AsyncClient(base_url=node.base_url, timeout=WAIT) as http:
        t = await http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(app.client_id, app.client_secret),
        )
        svc = {"Authorization": f"Bearer {t.json()['access_token']}"}
        r = await http.post(
            "/v1/queues", headers=svc, json={"name": "advice", "agents": ["ann", "bob"]}
        )
        assert r.status_code == 201, r.text
        r = await http.put("/v1/agents/bob", headers=svc, json={"capacity_chats": 1})
        assert r.status_code == 200, r.text

        # ann goes available first: she is the longest idle, the offer is hers.
        await sign_in_as(ann, node.base_url, "ann", "Ann Advisor")
        await sign_in_as(bob, node.base_url, "bob", "Bob Advisor")
        await go_available(ann)
        await go_available(bob)
        assert await ann.locator("#offer").is_hidden()

        r = await http.post(
            "/v1/visits",
            headers=svc,
            json={
                "queue": "advice", "display_name": "Vera <b>Visitor</b>", "medium": "chat",
                "topic": "mortgage", "language": "en", "context": "Customer since 2009",
            },
        )  # fmt: skip
        assert r.status_code == 201, r.text
        visit = r.json()
        vera: Meeting = await join_with_token(visit["discovery_uri"], visit["token"]).connect()

        # The offer card, with the visitor's name as text (never markup).
        await expect_text(ann, "#offer-name", r"^Vera <b>Visitor</b>$", timeout=WAIT)
        assert await ann.locator("#offer b").count() == 0
        await expect_text(ann, "#offer-topic", r"^mortgage$")
        await expect_text(ann, "#offer-language", r"^en$")
        await expect_text(ann, "#offer-medium", r"^Chat only$")
        await expect_text(ann, "#offer-context", r"^Customer since 2009$")
        await expect_text(ann, "#offer-waiting", r"\d+ s$")
        await ann.screenshot(path=artifacts / "helpdesk-console-offer.png", full_page=True)

        # ann does not answer: her offer runs out and goes to bob.
        real = ops.clock
        ops.clock = lambda: real() + timedelta(seconds=30)
        await hd.run(Tick())
        await ann.locator("#offer").wait_for(state="hidden", timeout=WAIT * 1000)
        await expect_text(bob, "#offer-name", r"^Vera <b>Visitor</b>$", timeout=WAIT)
        await bob.get_by_role("button", name="Accept").click()
        await bob.wait_for_function(
            "(id) => window.frontdeskMeeting?.info?.id === id"
            " && window.frontdeskMeeting.state === 'joined'",
            arg=visit["meeting_id"],
            timeout=WAIT * 1000,
        )
        await vera.admitted(timeout=WAIT)  # the console let her in from the lobby
        await bob.wait_for_function(
            "(pid) => window.frontdeskMeeting.roster.has(pid)",
            arg=vera.participant_id,
            timeout=WAIT * 1000,
        )

        # bob transfers the visit to ann with a note; ann reads it on her offer card.
        await bob.get_by_role("button", name="Back to dashboard").click()
        await expect_text(bob, "#agent-capacity", r"^Busy", timeout=WAIT)  # one chat at most
        assert await bob.get_by_label("My state").input_value() == "busy"
        await bob.get_by_role("button", name="Transfer Vera <b>Visitor</b>").click()
        await bob.get_by_label("To agent").fill("ann")
        await bob.get_by_label("Note for the next agent").fill(NOTE)
        await bob.get_by_role("button", name="Send transfer").click()
        await expect_text(ann, "#offer-note", f"^Transfer note: {NOTE}$", timeout=WAIT)
        await expect_text(ann, "#offer-name", r"^Vera <b>Visitor</b>$")
        await ann.get_by_role("button", name="Accept").click()
        await ann.wait_for_function(
            "(id) => window.frontdeskMeeting?.info?.id === id"
            " && window.frontdeskMeeting.state === 'joined'",
            arg=visit["meeting_id"],
            timeout=WAIT * 1000,
        )
        await ann.get_by_role("button", name="Back to dashboard").click()
        await ann.locator("#visits [data-action='complete']").wait_for(timeout=WAIT * 1000)
        await expect_text(ann, "#visits", NOTE, timeout=WAIT)
        await expect_text(bob, "#visits-empty", "No visits", timeout=WAIT)

        # A callback request reaches the agents of the queue; ann resolves it.
        r = await http.post(
            "/v1/queues/advice/callbacks",
            headers=svc,
            json={"display_name": "Carl", "message": "Call me after 5", "contact": "+33 1"},
        )
        assert r.status_code == 201, r.text
        await expect_text(ann, "#callbacks", "Call me after 5", timeout=WAIT)
        await ann.get_by_role("button", name="Resolve the request of Carl").click()
        await expect_text(ann, "#callbacks-empty", "No callback requests", timeout=WAIT)

        # The supervisor's board: ann serves the visit, bob is free again.
        await sign_in_as(sam, node.base_url, "sam", r"Sam Supervisor \(supervisor\)")
        assert await ann.locator("#board").is_hidden()  # agents have no board
        await sam.get_by_label("Queue", exact=True).fill("advice")
        await sam.get_by_role("button", name="Show board").click()
        await expect_text(sam, "#board-view [data-agent='ann'] .agent-visits", "^1$", timeout=WAIT)
        await expect_text(sam, "#board-view [data-agent='ann'] .agent-state", "^(Busy|Available)$")
        await expect_text(sam, "#board-view [data-agent='bob'] .agent-visits", "^0$")
        await expect_text(sam, "#board-view .board-waiting", "^0$")
        await sam.screenshot(path=artifacts / "helpdesk-console-board.png", full_page=True)
        await vera.leave()
    assert not any(errors)
    for c in ctxs:
        await c.close()
