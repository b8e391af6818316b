"""Hostile display names at every edge of a real node: the service API answers
problem+json, the RTC endpoint an ``error`` frame, user creation a typed error;
names that pass arrive in their normal form."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from frontdesk.domain.model import AccessPolicy, User
from frontdesk.errors import ValidationFailed
from frontdesk.protocol.codes import close_code_for
from frontdesk.tokens.secrets import hash_secret
from tests.support.live_server import LiveServer
from tests.support.rtc import RawClient

PROBLEM = "application/problem+json"
HOSTILE = {
    "rlo": ("Alice\u202eAdvisor", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    "isolate": ("Ann\u2066Visitor\u2069", "U+2066 LEFT-TO-RIGHT ISOLATE"),
    "zwsp": ("Alice\u200bAdvisor", "U+200B ZERO WIDTH SPACE"),
    "zwj": ("Al\u200dice", "U+200D ZERO WIDTH JOINER"),
    "bom": ("\ufeffAlice Advisor", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    "mvs": ("Alice\u180eAdvisor", "U+180E MONGOLIAN VOWEL SEPARATOR"),
    "private": ("Alice\ue000", "U+E000"),
    "filler": ("\u3164", "U+3164 HANGUL FILLER"),
    "control": ("Ann\x1bVisitor", "U+001B"),
}
#: Typed with full-width letters, an ideographic space and a tab.
WIDE = "\uff21\uff4c\uff49\uff43\uff45\u3000\t Visitor"


def rtc_url(srv: LiveServer) -> str:
    return srv.base_url.replace("http://", "ws://") + "/v1/rtc"


@pytest.fixture
async def service(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the service API over loopback, with an access token."""
    creds = await server.ops.apps.create("Harbor Bank")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(creds.client_id, creds.client_secret),
        )
        assert r.status_code == 200, r.text
        http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield http


async def _meeting(http: httpx.AsyncClient, policy: str = "direct") -> dict[str, str]:
    r = await http.post("/v1/meetings", json={"organizer": "alice", "access_policy": policy})
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.mark.parametrize(("name", "named"), HOSTILE.values(), ids=HOSTILE.keys())
async def test_guest_token_with_a_hostile_name_is_problem_json(
    service: httpx.AsyncClient, name: str, named: str
) -> None:
    m = await _meeting(service)
    r = await service.post(f"/v1/meetings/{m['id']}/guest-tokens", json={"display_name": name})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["code"] == "validation_failed" and body["status"] == 422
    assert named in body["detail"] and body["detail"].startswith("display_name must not")


async def test_guest_token_name_arrives_normalised(
    server: LiveServer, service: httpx.AsyncClient
) -> None:
    m = await _meeting(service)
    r = await service.post(f"/v1/meetings/{m['id']}/guest-tokens", json={"display_name": WIDE})
    assert r.status_code == 201, r.text
    guest = await RawClient.connect(rtc_url(server), {"kind": "token", "token": r.json()["token"]})
    me = next(p for p in guest.welcome["snapshot"]["roster"] if p["id"] == guest.pid)
    assert me["display_name"] == "Alice Visitor" and me["role"] == "guest"
    await guest.close()


@pytest.mark.parametrize(("name", "named"), HOSTILE.values(), ids=HOSTILE.keys())
async def test_url_join_with_a_hostile_name_is_an_rtc_error(
    server: LiveServer, name: str, named: str
) -> None:
    ops = server.ops
    m = await ops.meetings.create(subject="", organizer="alice", access_policy=AccessPolicy.DIRECT)
    c = await RawClient.connect(
        rtc_url(server), {"kind": "url", "join_url": ops.meetings.join_url(m), "display_name": name}
    )
    assert not c.welcome
    err = c.inbox[0]
    assert err["type"] == "error" and err["code"] == "validation_failed", err
    assert named in err["message"]
    with pytest.raises(ConnectionClosed) as closed:
        await c.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == int(close_code_for("validation_failed"))
    # Nobody joined: the meeting's roster is still empty.
    assert list(server.app.state.live.rooms[m.id].room.roster()) == []


async def test_url_join_name_arrives_normalised_for_the_agent(server: LiveServer) -> None:
    ops = server.ops
    m = await ops.meetings.create(subject="", organizer="alice", access_policy=AccessPolicy.DIRECT)
    token, _, _ = await ops.accounts.login("alice", "correct horse battery")
    alice = await RawClient.connect(
        rtc_url(server), {"kind": "session", "token": token, "meeting_id": m.id}
    )
    guest = await RawClient.connect(
        rtc_url(server), {"kind": "url", "join_url": ops.meetings.join_url(m), "display_name": WIDE}
    )
    joined = await alice.event("participant_joined")
    p = joined["data"]["participant"]
    assert p["display_name"] == "Alice Visitor"
    assert (p["role"], p["method"], p["vouched"]) == ("guest", "url", False)
    for c in (guest, alice):
        await c.close()


@pytest.mark.parametrize(("name", "named"), HOSTILE.values(), ids=HOSTILE.keys())
async def test_user_creation_refuses_a_hostile_name(
    server: LiveServer, name: str, named: str
) -> None:
    with pytest.raises(ValidationFailed, match=re.escape(named)):
        await server.ops.accounts.create("mallory", name, "correct horse battery")
    assert [u.username for u in await server.ops.store.list_users()] == ["alice"]


async def test_user_creation_stores_the_normal_form(server: LiveServer) -> None:
    user = await server.ops.accounts.create("bob", WIDE, "correct horse battery")
    assert user.display_name == "Alice Visitor"
    assert (await server.ops.store.get_user("bob")).display_name == "Alice Visitor"


async def test_a_user_named_before_the_rule_signs_in_and_is_renamed(server: LiveServer) -> None:
    """A name stored by an earlier version still loads (sign-in and listing work);
    joining a meeting with it is refused with the reason, until it is renamed."""
    ops = server.ops
    legacy = User(
        username="sam",
        display_name="Sam\u200bAdvisor",
        password_hash=hash_secret("correct horse battery"),
        created_at=datetime.now(UTC),
    )
    await ops.store.create_user(legacy)
    token, _, user = await ops.accounts.login("sam", "correct horse battery")
    assert user.display_name == "Sam\u200bAdvisor"
    m = await ops.meetings.create(subject="", organizer="sam")
    auth = {"kind": "session", "token": token, "meeting_id": m.id}
    refused = await RawClient.connect(rtc_url(server), auth)
    assert refused.inbox[0]["code"] == "validation_failed"
    assert "U+200B ZERO WIDTH SPACE" in refused.inbox[0]["message"]
    await refused.close()
    with pytest.raises(ValidationFailed):
        await ops.accounts.rename("sam", "Sam\u202eAdvisor")
    assert (await ops.accounts.rename("sam", " Sam   Advisor ")).display_name == "Sam Advisor"
    joined = await RawClient.connect(rtc_url(server), auth)
    assert joined.welcome["state"] == "joined"
    await joined.close()
