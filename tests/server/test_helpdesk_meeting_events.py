"""The helpdesk hears the live rooms' events by meeting: each event reaches the
visits of its own meeting only (an index kept at every change), visits that
end leave it, and a restart rebuilds it from the store."""

from __future__ import annotations

import asyncio

from frontdesk.config import Settings
from frontdesk.domain.helpdesk import Medium, Queue, VisitState
from frontdesk.server.app import create_app
from frontdesk.server.helpdesk import Helpdesk, VisitGrant
from tests.server.conftest import Harness


async def _visit(h: Harness, hd: Helpdesk, name: str) -> VisitGrant:
    app = await h.ops.apps.create(f"App of {name}")
    return await hd.create_visit(
        app, queue="advice", display_name=name, medium=Medium.VIDEO, topic=None,
        language=None, context="",
    )  # fmt: skip


async def _state(hd: Helpdesk, visit_id: str, want: VisitState) -> None:
    async with asyncio.timeout(10):
        while (await hd.status(visit_id)).visit.state is not want:
            await asyncio.sleep(0.02)


def _guest(hd: Helpdesk, event: str, meeting_id: str, pid: str) -> None:
    hd.meeting_event(event, {"role": "guest", "participant_id": pid}, meeting_id)


async def test_a_visitor_leaving_abandons_the_visit_of_that_meeting_only(
    harness: Harness,
) -> None:
    hd: Helpdesk = harness.app.state.helpdesk
    await hd.put_queue(Queue("advice", agents=frozenset({"alice"})))
    vera, walt = await _visit(harness, hd, "Vera"), await _visit(harness, hd, "Walt")
    vera_meeting, walt_meeting = vera.grant.meeting_id, walt.grant.meeting_id
    assert vera_meeting != walt_meeting
    assert hd.visits_in(vera_meeting) == {vera.visit.visit_id}
    assert hd.visits_in(walt_meeting) == {walt.visit.visit_id}

    _guest(hd, "lobby.waiting", vera_meeting, "p-vera")
    _guest(hd, "lobby.waiting", walt_meeting, "p-walt")
    # Someone not seen as the visitor leaving Walt's meeting abandons nothing.
    _guest(hd, "participant.left", walt_meeting, "p-vera")
    _guest(hd, "participant.left", vera_meeting, "p-vera")
    await _state(hd, vera.visit.visit_id, VisitState.ABANDONED)
    assert hd.visits_in(vera_meeting) == frozenset()
    assert hd.router.visit(walt.visit.visit_id).state is VisitState.QUEUED
    assert hd.visits_in(walt_meeting) == {walt.visit.visit_id}

    # The ended visit's meeting is forgotten: its visitor is no longer one.
    _guest(hd, "lobby.waiting", vera_meeting, "p-again")
    hd.meeting_event("meeting.ended", {}, vera_meeting)
    await asyncio.sleep(0)
    assert hd.router.visit(walt.visit.visit_id).state is VisitState.QUEUED

    hd.meeting_event("meeting.ended", {}, walt_meeting)
    await _state(hd, walt.visit.visit_id, VisitState.ABANDONED)
    assert hd.visits_in(walt_meeting) == frozenset()


async def test_events_of_a_meeting_without_a_visit_change_nothing(harness: Harness) -> None:
    hd: Helpdesk = harness.app.state.helpdesk
    await hd.put_queue(Queue("advice", agents=frozenset({"alice"})))
    made = await _visit(harness, hd, "Vera")
    other = await harness.ops.meetings.create(subject="Not a visit", organizer="alice")
    _guest(hd, "lobby.waiting", other.id, "p-1")
    _guest(hd, "participant.left", other.id, "p-1")
    hd.meeting_event("meeting.ended", {}, other.id)
    await asyncio.sleep(0.05)
    assert hd.router.visit(made.visit.visit_id).state is VisitState.QUEUED
    assert hd.visits_in(other.id) == frozenset()


async def test_a_restart_rebuilds_the_meeting_index(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ops = app.state.ops
        bank = await ops.apps.create("Harbor Bank")
        await ops.accounts.create("alice", "Alice", "correct horse battery")
        hd: Helpdesk = app.state.helpdesk
        await hd.put_queue(Queue("advice", agents=frozenset({"alice"})))
        made = await hd.create_visit(
            bank, queue="advice", display_name="Vera",
            medium=Medium.VIDEO, topic=None, language=None, context="",
        )  # fmt: skip
    again = create_app(settings)
    async with again.router.lifespan_context(again):
        hd = again.state.helpdesk
        meeting_id = made.grant.meeting_id
        assert hd.visits_in(meeting_id) == {made.visit.visit_id}
        _guest(hd, "lobby.waiting", meeting_id, "p-vera")
        _guest(hd, "participant.left", meeting_id, "p-vera")
        await _state(hd, made.visit.visit_id, VisitState.ABANDONED)
        assert hd.visits_in(meeting_id) == frozenset()
