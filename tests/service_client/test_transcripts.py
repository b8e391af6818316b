"""``ServiceClient.transcript*`` against the real app (in process), with the
meeting's log written by the meeting core itself, plus a stored event of a
type this version has no transcript kind for."""

from __future__ import annotations

from datetime import timedelta

import pytest

from frontdesk.domain import AccessPolicy, Join, JoinMethod, Role, Room, SendChat
from frontdesk.errors import MeetingNotFound
from frontdesk.protocol.events import event_to_record
from frontdesk.service_client import ServiceClient
from frontdesk.store.base import EventRecord
from tests.service_client.test_against_server import BASE, Node, node

__all__ = ["node"]  # the fixture


async def _meeting_with_log(node: Node) -> str:
    async with node.client() as svc:
        m = await svc.create_meeting(
            subject="Fixed rates", organizer="alice", access_policy=AccessPolicy.DIRECT
        )
    meeting = await node.ops.meetings.get(m.id)
    room = Room(meeting)
    t0 = meeting.created_at
    commands = [
        Join("p_org", "Alice Advisor", Role.ORGANIZER, JoinMethod.USER, username="alice"),
        Join("p_ann", "Ann Visitor", Role.GUEST, JoinMethod.TOKEN, guest_app=node.client_id),
        SendChat("p_ann", "c1", "Hello <script>alert(1)</script>"),
    ]
    events = []
    for i, command in enumerate(commands):
        events += room.handle(command, t0 + timedelta(seconds=i))
    records = [
        EventRecord(m.id, e.seq, e.type, event_to_record(e), e.at)
        for e in events
        if e.seq is not None and e.type != "lobby_position"
    ]
    seq = max(r.seq for r in records) + 1
    future = {"by": "p_org", "participant_id": "p_ann", "note": "to mortgages", "to": ["p_org"]}
    records.append(EventRecord(m.id, seq, "visit_transferred", future, t0 + timedelta(seconds=9)))
    await node.ops.store.append_events(records)
    return m.id


async def test_pages_entries_and_text(node: Node) -> None:
    meeting_id = await _meeting_with_log(node)
    async with node.client() as svc:
        page = await svc.transcript(meeting_id, limit=2)
        assert page.meeting.subject == "Fixed rates"
        assert page.meeting.organizer_name == "Alice Advisor"
        assert [e.kind for e in page.entries] == ["joined", "joined"]
        assert page.next_after == page.entries[-1].seq
        entries = [e async for e in svc.transcript_entries(meeting_id, page_size=2)]
        text = await svc.transcript_text(meeting_id)
    assert [e.kind for e in entries] == ["joined", "joined", "chat", "visit_transferred"]
    org, ann = entries[0].actor, entries[1].actor
    assert org is not None and (org.role, org.username) == ("organizer", "alice")
    assert ann is not None and (ann.role, ann.guest_app) == ("guest", node.client_id)
    chat = entries[2]
    assert chat.text == "Hello <script>alert(1)</script>" and not chat.removed
    assert "alert" not in repr(chat)  # what people wrote stays out of logs
    moved = entries[3]  # an event of a kind this version does not know
    assert moved.actor is not None and moved.actor.display_name == "Alice Advisor"
    assert moved.subject is not None and moved.subject.display_name == "Ann Visitor"
    assert moved.details == {"note": "to mortgages"}

    assert text.startswith(f"Transcript of meeting {meeting_id}\n")
    assert "Ann Visitor (guest, vouched for by" in text
    assert "visit_transferred: Alice Advisor (organizer alice) -> Ann Visitor" in text
    assert "[note=to mortgages]" in text


async def test_another_application_gets_not_found(node: Node) -> None:
    meeting_id = await _meeting_with_log(node)
    other = await node.ops.apps.create("Other Bank")
    async with ServiceClient(
        BASE, other.client_id, other.client_secret, http_client=node.http
    ) as svc:
        with pytest.raises(MeetingNotFound):
            await svc.transcript(meeting_id)
        with pytest.raises(MeetingNotFound):
            await svc.transcript_text(meeting_id)
