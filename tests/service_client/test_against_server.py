"""The client against the real app, in process (httpx.ASGITransport), SQLite in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from frontdesk.config import Settings
from frontdesk.domain.model import AccessPolicy, LobbyBypass, MeetingState
from frontdesk.errors import (
    InvalidClient,
    MeetingEnded,
    MeetingNotFound,
    TokenWrongMeeting,
    ValidationFailed,
    WebhookTargetForbidden,
)
from frontdesk.server.app import create_app
from frontdesk.server.operations import Operations
from frontdesk.service_client import ServiceClient, discover

BASE = "http://frontdesk.test"


@dataclass
class Node:
    app: FastAPI
    http: httpx.AsyncClient
    client_id: str
    client_secret: str

    @property
    def ops(self) -> Operations:
        ops: Operations = self.app.state.ops
        return ops

    def client(self, secret: str | None = None) -> ServiceClient:
        return ServiceClient(
            BASE, self.client_id, secret or self.client_secret, http_client=self.http
        )


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db",
        public_url=BASE,
        webhook_allowed_networks=("192.0.2.0/24",),  # documentation range: never contacted
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ops: Operations = app.state.ops
        creds = await ops.apps.create("Harbor Bank")
        await ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport) as http:
            yield Node(app, http, creds.client_id, creds.client_secret)


async def test_meeting_lifecycle(node: Node) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    async with node.client() as svc:
        created = await svc.create_meeting(
            subject="Mortgage advice",
            organizer="alice",
            start=start,
            end=start + timedelta(minutes=30),
            access_policy="deny",
            lobby_bypass=LobbyBypass.TOKEN_HOLDERS,
        )
        assert created.subject == "Mortgage advice"
        assert created.access_policy is AccessPolicy.DENY
        assert created.start == start
        assert created.join_url.startswith(f"{BASE}/j/")
        assert created.created_at.tzinfo is not None

        assert await svc.get_meeting(created.id) == created
        listed = await svc.list_meetings(organizer="alice")
        assert created.id in [m.id for m in listed]
        assert await svc.list_meetings(organizer="nobody") == []

        patched = await svc.update_meeting(created.id, subject="Pension advice")
        assert patched.subject == "Pension advice"
        assert patched.access_policy is AccessPolicy.DENY  # untouched
        assert await svc.participants(created.id) == []

        assert "BEGIN:VEVENT" in await svc.invite_ics(created.id)
        assert await svc.join_url_from_invite(created.id) == created.join_url

        ended = await svc.end_meeting(created.id)
        assert ended.state is MeetingState.ENDED
        assert ended.ended_at is not None
        with pytest.raises(MeetingEnded):
            await svc.create_guest_token(created.id, display_name="Late Visitor")


async def test_guest_token_and_discovery(node: Node) -> None:
    async with node.client() as svc:
        meeting = await svc.create_meeting(organizer="alice")
        grant = await svc.create_guest_token(meeting.id, display_name="Ann Visitor", ttl_s=120)
        assert grant.meeting_id == meeting.id
        assert grant.token not in repr(grant)
        now = datetime.now(UTC)
        assert now < grant.expires_at <= now + timedelta(seconds=125)

        found = await discover(grant.discovery_uri, grant.token, http_client=node.http)
        assert found.meeting_id == meeting.id
        assert found.rtc_url.startswith("ws://") and found.rtc_url.endswith("/v1/rtc")

        other = await svc.create_meeting(organizer="alice")
        wrong_uri = grant.discovery_uri.replace(meeting.id, other.id)
        with pytest.raises(TokenWrongMeeting):
            await discover(wrong_uri, grant.token, http_client=node.http)
        await svc.end_meeting(meeting.id)
        with pytest.raises(MeetingEnded):
            await discover(grant.discovery_uri, grant.token, http_client=node.http)


async def test_webhooks(node: Node) -> None:
    async with node.client() as svc:
        hook = await svc.create_webhook("https://192.0.2.10/hooks", events=["meeting.ended"])
        assert hook.secret
        assert hook.events == ("meeting.ended",)
        (listed,) = await svc.list_webhooks()
        assert listed.id == hook.id and listed.secret is None
        await svc.delete_webhook(hook.id)
        assert await svc.list_webhooks() == []


async def test_errors_are_typed(node: Node) -> None:
    async with node.client() as svc:
        with pytest.raises(MeetingNotFound):
            await svc.get_meeting("m_doesnotexist")
        with pytest.raises(ValidationFailed):
            await svc.create_meeting(organizer="alice", subject="x" * 1000)
        with pytest.raises(ValidationFailed):
            await svc.create_webhook("not a url")
        with pytest.raises(WebhookTargetForbidden) as refused:
            await svc.create_webhook("http://169.254.169.254/latest/meta-data")
        assert refused.value.code == "webhook_target_forbidden"
    with pytest.raises(InvalidClient):
        await node.client(secret="wrong-secret").list_meetings()


async def test_expired_access_token_is_refreshed_and_the_call_retried(node: Node) -> None:
    seen: list[int] = []

    async def record(response: httpx.Response) -> None:
        if response.request.url.path != "/v1/oauth/token":
            seen.append(response.status_code)

    node.http.event_hooks["response"].append(record)
    async with node.client() as svc:
        await svc.list_meetings()
        real_clock: Callable[[], datetime] = node.ops.clock
        node.ops.clock = lambda: real_clock() + timedelta(hours=2)  # the token is now stale
        assert await svc.list_meetings() == []
    assert seen == [200, 401, 200]


async def test_revoked_application_ends_in_invalid_client(node: Node) -> None:
    async with node.client() as svc:
        await svc.list_meetings()
        await node.ops.store.revoke_app(node.client_id, datetime.now(UTC))
        with pytest.raises(InvalidClient):
            await svc.list_meetings()
