"""The client's helpdesk calls against the real app, in process."""

from __future__ import annotations

import pytest

from frontdesk.errors import QueueClosed, QueueNotFound, VisitNotFound
from tests.service_client.test_against_server import Node, node  # noqa: F401


async def test_queues_visits_and_callbacks_through_the_client(node: Node) -> None:  # noqa: F811
    async with node.client() as svc:
        q = await svc.create_queue("advice", agents=["alice"], topics=["mortgage"], max_wait_s=600)
        assert (q.name, q.agents, q.topics, q.max_wait_s) == (
            "advice",
            ("alice",),
            ("mortgage",),
            600,
        )
        q = await svc.add_queue_agent("advice", "bob")
        assert q.agents == ("alice", "bob")
        assert [x.name for x in await svc.list_queues()] == ["advice"]
        profile = await svc.set_agent_capacity("alice", video=0, chats=2)
        assert profile["capacity"] == {"video": 0, "chats": 2}

        grant = await svc.create_visit(
            "advice",
            display_name="Vera Visitor",
            medium="chat",
            topic="mortgage",
            context="since 2014",
        )
        assert grant.guest.token and grant.guest.discovery_uri and grant.join_url
        assert grant.visit.state == "queued" and grant.visit.position == 1
        assert grant.visit.estimated_wait_s is None
        visit = await svc.get_visit(grant.visit.visit_id)
        assert (visit.meeting_id, visit.topic) == (grant.guest.meeting_id, "mortgage")
        board = await svc.queue_board("advice")
        assert board["waiting"] == 1
        await svc.cancel_visit(visit.visit_id)
        assert (await svc.get_visit(visit.visit_id)).state == "abandoned"
        with pytest.raises(VisitNotFound):
            await svc.get_visit("v_nope")

        await svc.create_queue("night", agents=["alice"], hours={"time_zone": "UTC", "weekly": {}})
        with pytest.raises(QueueClosed) as closed:
            await svc.create_visit("night", display_name="Vera")
        assert closed.value.extra["next_opening"] is None  # never opens
        cb = await svc.leave_message(
            "night", display_name="Vera", message="Please call", contact="x"
        )
        assert [c.id for c in await svc.list_callbacks(queue="night")] == [cb.id]
        with pytest.raises(QueueNotFound):
            await svc.create_visit("nope", display_name="Vera")
        await svc.delete_queue("night")
        assert [x.name for x in await svc.list_queues()] == ["advice"]
