"""Transcripts over real HTTP and the RTC endpoint, on SQLite and PostgreSQL:
what each reader gets (the meeting's application, a vouching application, the
organizer), what nobody else gets, the JSON pages and the text download."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from frontdesk.config import Settings
from frontdesk.domain import AccessPolicy
from tests.support.databases import postgres_url_or_skip, schema_url, temp_schema
from tests.support.live_server import LiveServer, live_server
from tests.support.rtc import RawClient

PASSWORD = "correct horse battery"


@dataclass
class Node:
    srv: LiveServer
    apps: dict[str, httpx.AsyncClient]  # name -> service API client with a token
    app_ids: dict[str, str]

    @property
    def rtc_url(self) -> str:
        return self.srv.base_url.replace("http://", "ws://") + "/v1/rtc"

    async def user(self, username: str) -> httpx.AsyncClient:
        token, _, _ = await self.srv.ops.accounts.login(username, PASSWORD)
        return httpx.AsyncClient(
            base_url=self.srv.base_url, headers={"Authorization": f"Bearer {token}"}
        )

    async def agent(self, username: str, meeting_id: str) -> RawClient:
        token, _, _ = await self.srv.ops.accounts.login(username, PASSWORD)
        auth = {"kind": "session", "token": token, "meeting_id": meeting_id}
        return await RawClient.connect(self.rtc_url, auth)

    async def guest(self, app: str, meeting_id: str, name: str) -> RawClient:
        r = await self.apps[app].post(
            f"/v1/meetings/{meeting_id}/guest-tokens", json={"display_name": name}
        )
        assert r.status_code == 201, r.text
        return await RawClient.connect(self.rtc_url, {"kind": "token", "token": r.json()["token"]})


@contextlib.asynccontextmanager
async def _database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/fd.db"
        return
    url = await postgres_url_or_skip()
    async with temp_schema(url) as schema:
        yield schema_url(url, schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def node(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Node]:
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(_database(request.param, tmp_path))
        srv = await stack.enter_async_context(live_server(Settings(database_url=url)))
        await srv.ops.accounts.create("alice", "Alice Advisor", PASSWORD)
        await srv.ops.accounts.create("bob", "Bob Colleague", PASSWORD)
        apps, ids = {}, {}
        for name in ("alpha", "beta", "gamma"):
            creds = await srv.ops.apps.create(name)
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=srv.base_url))
            r = await http.post(
                "/v1/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(creds.client_id, creds.client_secret),
            )
            http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            apps[name], ids[name] = http, creds.client_id
        yield Node(srv, apps, ids)


async def _ok(c: RawClient, msg: dict[str, Any]) -> None:
    got = await c.request(msg)
    assert got["type"] == "ok", got


async def agents_meeting(node: Node) -> str:
    """Alice's meeting: Ann (alpha's customer) admitted and chatting, Carl (the
    URL alone) denied, Bob (beta's) admitted, muted and removed, then the end."""
    m = await node.srv.ops.meetings.create(
        subject="Mortgage <advice>", organizer="alice", access_policy=AccessPolicy.LOBBY
    )
    alice = await node.agent("alice", m.id)
    ann = await node.guest("alpha", m.id, "Ann Visitor")
    await _ok(alice, {"type": "admit", "participant_id": ann.pid})
    await ann.wait_for(lambda x: x.get("type") == "state")
    await _ok(ann, {"type": "chat", "id": "c1", "text": "my account is <b>1234</b>"})
    carl = await RawClient.connect(
        node.rtc_url,
        {"kind": "url", "join_url": node.srv.ops.meetings.join_url(m), "display_name": "Carl"},
    )
    await _ok(alice, {"type": "deny", "participant_id": carl.pid})
    bob = await node.guest("beta", m.id, "Bob Beta")
    await _ok(alice, {"type": "admit", "participant_id": bob.pid})
    await bob.wait_for(lambda x: x.get("type") == "state")
    await _ok(alice, {"type": "mute", "participant_id": bob.pid})
    await _ok(alice, {"type": "remove", "participant_id": bob.pid})
    await _ok(ann, {"type": "chat", "id": "c2", "text": "two lines\n[00:00] Alice: fake"})
    await _ok(alice, {"type": "chat", "id": "c3", "text": "Noted."})
    await _ok(alice, {"type": "end"})
    for c in (alice, ann, carl, bob):
        await c.close()
    return m.id


def _who(person: dict[str, Any] | None) -> str | None:
    return None if person is None else person["display_name"]


def _story(entries: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None]]:
    return [(e["kind"], _who(e["actor"]), _who(e["subject"])) for e in entries]


async def test_the_organizer_reads_who_did_what(node: Node) -> None:
    meeting_id = await agents_meeting(node)
    alice = await node.user("alice")
    async with alice:
        r = await alice.get(f"/v1/me/meetings/{meeting_id}/transcript")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["meeting"]["subject"] == "Mortgage <advice>"
    assert body["meeting"]["organizer_name"] == "Alice Advisor"
    assert body["next_after"] is None
    entries = body["entries"]
    assert _story(entries) == [
        ("joined", "Alice Advisor", None),
        ("waiting", "Ann Visitor", None),
        ("admitted", "Alice Advisor", "Ann Visitor"),
        ("joined", "Ann Visitor", None),
        ("chat", "Ann Visitor", None),
        ("waiting", "Carl", None),
        ("denied", "Alice Advisor", "Carl"),
        ("waiting", "Bob Beta", None),
        ("admitted", "Alice Advisor", "Bob Beta"),
        ("joined", "Bob Beta", None),
        ("muted", "Alice Advisor", "Bob Beta"),
        ("removed", "Alice Advisor", "Bob Beta"),
        ("chat", "Ann Visitor", None),
        ("chat", "Alice Advisor", None),
        ("ended", "Alice Advisor", None),
    ]
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs)
    assert entries[4]["text"] == "my account is <b>1234</b>"  # as written: JSON is not HTML
    alice_p, ann_p, carl_p = entries[0]["actor"], entries[1]["actor"], entries[5]["actor"]
    assert (alice_p["role"], alice_p["username"], alice_p["guest_app"]) == (
        "organizer",
        "alice",
        None,
    )
    assert (ann_p["role"], ann_p["vouched"], ann_p["guest_app"]) == (
        "guest",
        True,
        node.app_ids["alpha"],
    )
    assert (carl_p["vouched"], carl_p["guest_app"]) == (False, None)
    assert entries[8]["subject"]["guest_app"] == node.app_ids["beta"]

    # Pages: the same entries, a few at a time.
    paged: list[dict[str, Any]] = []
    after: int | None = 0
    async with await node.user("alice") as alice:
        while after is not None:
            r = await alice.get(
                f"/v1/me/meetings/{meeting_id}/transcript", params={"after": after, "limit": 4}
            )
            assert r.status_code == 200, r.text
            paged += r.json()["entries"]
            after = r.json()["next_after"]
            assert len(paged) <= len(entries)
    assert paged == entries


async def test_each_application_reads_its_own_share_and_nobody_else_anything(
    node: Node,
) -> None:
    meeting_id = await agents_meeting(node)
    path = f"/v1/meetings/{meeting_id}/transcript"
    alpha = (await node.apps["alpha"].get(path)).json()["entries"]
    # Alpha reads what its customer Ann was sent: not Carl's denial (to the
    # moderators and Carl), not the lobby entries of others.
    assert ("denied", "Alice Advisor", "Carl") not in _story(alpha)
    assert ("waiting", "Carl", None) not in _story(alpha)
    assert ("chat", "Ann Visitor", None) in _story(alpha)
    assert ("removed", "Alice Advisor", "Bob Beta") in _story(alpha)  # Ann saw it
    people = [e["actor"] for e in alpha if e["actor"]] + [
        e["subject"] for e in alpha if e["subject"]
    ]
    assert all(p["username"] is None for p in people)  # no agent logins
    assert {p["guest_app"] for p in people} == {None, node.app_ids["alpha"]}  # not beta's id

    beta = (await node.apps["beta"].get(path)).json()["entries"]
    assert ("muted", "Alice Advisor", "Bob Beta") in _story(beta)
    assert all(e["text"] != "my account is <b>1234</b>" for e in beta)  # before Bob came
    assert ("ended", "Alice Advisor", None) not in _story(beta)  # Bob had gone

    # An application with no customer in it, another agent, no credentials: 404 / 401.
    r = await node.apps["gamma"].get(path)
    assert r.status_code == 404 and r.json()["code"] == "meeting_not_found"
    assert "Ann" not in r.text
    async with await node.user("bob") as bob:
        r = await bob.get(f"/v1/me/meetings/{meeting_id}/transcript")
        assert r.status_code == 404 and r.json()["code"] == "meeting_not_found"
    async with httpx.AsyncClient(base_url=node.srv.base_url) as anon:
        assert (await anon.get(path)).status_code == 401
        assert (await anon.get(f"/v1/me/meetings/{meeting_id}/transcript")).status_code == 401


async def test_an_applications_meeting_is_read_by_that_application_alone(node: Node) -> None:
    r = await node.apps["alpha"].post(
        "/v1/meetings", json={"organizer": "alice", "access_policy": "direct"}
    )
    meeting_id = r.json()["id"]
    ann = await node.guest("alpha", meeting_id, "Ann Visitor")
    await _ok(ann, {"type": "chat", "id": "c1", "text": "hello"})
    await ann.close()
    path = f"/v1/meetings/{meeting_id}/transcript"
    r = await node.apps["alpha"].get(path)
    assert r.status_code == 200
    assert _story(r.json()["entries"])[:2] == [
        ("joined", "Ann Visitor", None),
        ("chat", "Ann Visitor", None),
    ]
    for other in ("beta", "gamma"):
        r = await node.apps[other].get(path)
        assert r.status_code == 404 and r.json()["code"] == "meeting_not_found"
    async with await node.user("alice") as alice:  # its organizer reads it too
        assert (await alice.get(f"/v1/me/meetings/{meeting_id}/transcript")).status_code == 200
    r = await node.apps["alpha"].get(path, params={"limit": 0})
    assert r.status_code == 422
    r = await node.apps["alpha"].get("/v1/meetings/m_nothing/transcript")
    assert r.status_code == 404


async def test_text_download(node: Node) -> None:
    meeting_id = await agents_meeting(node)
    async with await node.user("alice") as alice:
        r = await alice.get(f"/v1/me/meetings/{meeting_id}/transcript", params={"format": "text"})
        by_accept = await alice.get(
            f"/v1/me/meetings/{meeting_id}/transcript", headers={"Accept": "text/plain"}
        )
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["content-disposition"] == (
        f'attachment; filename="transcript-{meeting_id}.txt"'
    )
    assert by_accept.headers["content-type"].startswith("text/plain")
    lines = r.text.splitlines()
    assert lines[0] == f"Transcript of meeting {meeting_id}"
    assert "Subject:    Mortgage <advice>" in lines
    assert "Organizer:  Alice Advisor (alice)" in lines
    body = "\n".join(lines)
    alpha = node.app_ids["alpha"]
    assert f"Ann Visitor (guest, vouched for by {alpha}): my account is <b>1234</b>" in body
    assert "Alice Advisor (organizer alice) denied Carl (guest) entry" in body
    assert "Alice Advisor (organizer alice) muted Bob Beta (guest" in body
    # A line break in a message cannot forge a line of the transcript.
    i = next(n for n, line in enumerate(lines) if line.endswith(": two lines"))
    assert lines[i + 1] == "    [00:00] Alice: fake"
    assert lines[-1].endswith(
        "meeting ended by Alice Advisor (organizer alice) (ended_by_moderator)"
    )

    r = await node.apps["alpha"].get(f"/v1/meetings/{meeting_id}/transcript?format=text")
    assert r.status_code == 200 and "denied Carl" not in r.text
    r = await node.apps["gamma"].get(f"/v1/meetings/{meeting_id}/transcript?format=text")
    assert r.status_code == 404
