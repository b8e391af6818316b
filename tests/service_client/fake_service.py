"""A scripted service API behind ``httpx.MockTransport``, for the client's own logic.

It answers like the real server (same paths, same JSON shapes, problem+json
errors) and records every request, so tests can count token fetches and look at
what the client sent.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx

BASE = "http://127.0.0.1:8080"
CLIENT_ID = "app_harbor"
CLIENT_SECRET = "s3cr3t:value+never%logged"  # characters Basic auth must escape

MEETING: dict[str, Any] = {
    "id": "m_abc",
    "subject": "Mortgage advice",
    "organizer": "alice",
    "state": "active",
    "access_policy": "lobby",
    "lobby_bypass": "none",
    "start": None,
    "end": None,
    "created_at": "2025-03-01T10:00:00Z",
    "ended_at": None,
    "join_url": f"{BASE}/j/joincode-secret",
    "invite_url": f"{BASE}/v1/meetings/m_abc/invite.ics",
}


def problem(status: int, code: str, detail: str, **extra: Any) -> httpx.Response:
    body = {"type": f"https://frontdesk.dev/problems/{code}", "title": code, "status": status}
    body.update(detail=detail, code=code, **extra)
    return httpx.Response(
        status, content=json.dumps(body), headers={"content-type": "application/problem+json"}
    )


Route = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeService:
    """Issues tokens ``tok-1``, ``tok-2``, ...; ``routes`` override answers by (method, path)."""

    expires_in: int = 3600
    token_delay_s: float = 0.0
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    issued: int = 0
    revoked: set[str] = field(default_factory=set)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport())

    @property
    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == "/v1/oauth/token"]

    @property
    def api_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path != "/v1/oauth/token"]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/v1/oauth/token":
            return await self._token(request)
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or not token.startswith("tok-"):
            return problem(401, "unauthenticated", "no bearer token")
        if token in self.revoked:
            return problem(401, "token_expired", "the access token has expired")
        route = self.routes.get((request.method, request.url.path))
        if route is not None:
            return route(request)
        if request.url.path.startswith("/v1/meetings/"):
            return httpx.Response(200, json=MEETING)
        return problem(404, "not_found", f"no route {request.url.path}")

    async def _token(self, request: httpx.Request) -> httpx.Response:
        if self.token_delay_s:
            await asyncio.sleep(self.token_delay_s)
        form = parse_qs(request.content.decode())
        basic = request.headers.get("authorization", "").removeprefix("Basic ")
        ident, _, secret = base64.b64decode(basic).decode().partition(":")
        if form.get("grant_type") != ["client_credentials"]:
            return problem(400, "validation_failed", "grant_type must be client_credentials")
        if (unquote(ident), unquote(secret)) != (CLIENT_ID, CLIENT_SECRET):
            return problem(401, "invalid_client", "unknown client or wrong secret")
        self.issued += 1
        body = {
            "access_token": f"tok-{self.issued}",
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }
        return httpx.Response(200, json=body)
