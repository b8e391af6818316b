"""Fuzz the service API from its own OpenAPI schema (schemathesis, in-process ASGI).

Every generated request is sent with a valid access token; path parameters that
name a meeting are tried both as generated and as a real meeting's id, so the
handlers behind the 404 are reached too. A node must never answer 5xx, and every
4xx of the JSON API must be ``application/problem+json`` with a stable ``code``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode, Response
from schemathesis.core.result import Ok

from frontdesk.config import Settings
from frontdesk.server.app import create_app
from frontdesk.server.operations import Operations
from frontdesk.server.ratelimit import RateLimiter
from frontdesk.store import open_store
from tests.support.databases import sqlite_url
from tests.support.resolver import offline

BASE = "http://frontdesk.test"
PROBLEM = "application/problem+json"
MAX_EXAMPLES = 25


@dataclass(frozen=True)
class Seed:
    access_token: str  # service API
    session_token: str  # user API (alice)
    meeting_id: str  # organized by alice
    guest_token: str  # for that meeting

    def bearer_for(self, path: str) -> str:
        if path.startswith("/v1/discovery/"):
            return self.guest_token
        if path in ("/v1/me", "/v1/session") or path.startswith("/v1/me/"):
            return self.session_token
        return self.access_token


async def _seed(node: Settings) -> Seed:
    """Credentials and a meeting in the node's database, before the node starts."""
    store = await open_store(node.database_url)
    try:
        ops = Operations(node, store)
        await ops.start()
        creds = await ops.apps.create("Fuzzing Bank")
        await ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        app = await ops.apps.authenticate(creds.client_id, creds.client_secret)
        token, _ = await ops.apps.issue_access_token(app)
        session, _claims, _user = await ops.accounts.login("alice", "correct horse battery")
        meeting = await ops.meetings.create(subject="Fuzz", organizer="alice")
        grant = await ops.guest_tokens.mint(meeting.id, display_name="Ann")
        return Seed(token, session, meeting.id, grant.token)
    finally:
        await store.close()


@dataclass(frozen=True)
class Target:
    schema: schemathesis.BaseSchema
    seed: Seed


@pytest.fixture
def target(tmp_path: Path) -> Target:
    # Generous limits: the fuzzer should reach the handlers, not the rate limiter.
    node = Settings(
        database_url=sqlite_url(tmp_path / "fuzz.db"),
        public_url=BASE,
        rate_limit_per_min=1_000_000,
    )
    seed = asyncio.run(_seed(node))
    app = create_app(node)
    app.state.auth_limiter = RateLimiter(1_000_000, burst=1_000_000)
    offline(app)  # fuzzed webhook URLs are vetted without a DNS query
    # schemathesis runs the app's lifespan itself (and its pytest plugin ends it at teardown).
    return Target(schemathesis.openapi.from_asgi("/openapi.json", app), seed)


def _assert_well_formed(case: Case[Any], response: Response) -> None:
    where = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    assert response.status_code < 500, where
    if 400 <= response.status_code < 500 and case.path.startswith("/v1/"):
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith(PROBLEM), where
        body = json.loads(response.text)
        assert isinstance(body.get("code"), str) and body["code"], where
        assert body.get("status") == response.status_code, where


def _exercise(case: Case[Any], seed: Seed) -> None:
    headers = {"Authorization": f"Bearer {seed.bearer_for(case.path)}"}
    _assert_well_formed(case, case.call(headers=headers))
    # Again with real names, so the handlers behind the 404s and 422s are reached too;
    # ending the seeded meeting is left to the other tests.
    params = case.path_parameters or {}
    real = False
    if "meeting_id" in params and case.method.upper() != "DELETE":
        case.path_parameters = {**params, "meeting_id": seed.meeting_id}
        real = True
    if isinstance(case.body, dict) and "organizer" in case.body:
        case.body = {**case.body, "organizer": "alice"}
        real = True
    if real:
        _assert_well_formed(case, case.call(headers=headers))


# Hypothesis is driven directly, one operation at a time: schemathesis's lazy pytest
# loader does not run on pytest 9, and a module-level schema would start the app at
# collection time.
def test_no_server_errors_and_problem_json(target: Target) -> None:
    operations = []
    for result in target.schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the schema itself must be valid
        operations.append(result.ok())
    labels = {op.label for op in operations}
    assert {"POST /v1/meetings", "POST /v1/meetings/{meeting_id}/guest-tokens"} <= labels
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Case[Any]) -> None:
                _exercise(case, target.seed)

            try:
                check()
            except Unsatisfiable:
                # Nothing to negate: the operation takes no parameters and no body.
                assert mode is GenerationMode.NEGATIVE, op.label
            except Exception as exc:
                exc.add_note(f"operation {op.label}, {mode.value} examples")
                raise
