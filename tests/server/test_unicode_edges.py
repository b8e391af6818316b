"""Only valid Unicode gets in, and a stored lone surrogate can no longer break a room.

A lone UTF-16 surrogate (``"\\udcff"`` in JSON) used to pass every check, be
stored, and then fail to encode: every connection of the meeting dropped, nobody
could join again (also after a restart), and the organizer's lobby and
participant lists answered 500. These tests attack through the real interfaces.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from frontdesk.config import Settings
from frontdesk.domain.model import AccessPolicy
from tests.support.live_server import LiveServer, live_server
from tests.support.rtc import RawClient

PASSWORD = "correct horse battery"
LONE = "\udcff"


def rtc_url(srv: LiveServer) -> str:
    return srv.base_url.replace("http://", "ws://") + "/v1/rtc"


async def agent(srv: LiveServer, meeting_id: str) -> RawClient:
    token, _, _ = await srv.ops.accounts.login("alice", PASSWORD)
    c = await RawClient.connect(
        rtc_url(srv), {"kind": "session", "token": token, "meeting_id": meeting_id}
    )
    assert c.welcome["state"] == "joined", c.inbox
    return c


async def user_http(srv: LiveServer) -> httpx.AsyncClient:
    token, _, _ = await srv.ops.accounts.login("alice", PASSWORD)
    return httpx.AsyncClient(base_url=srv.base_url, headers={"Authorization": f"Bearer {token}"})


async def test_url_join_with_a_lone_surrogate_is_refused_and_the_meeting_lives(
    server: LiveServer,
) -> None:
    m = await server.ops.meetings.create(subject="Mortgage", organizer="alice")
    join_url = server.ops.meetings.join_url(m)
    alice = await agent(server, m.id)
    # json.dumps writes the escape "\udcff": exactly what an attacker sends.
    bad = await RawClient.connect(
        rtc_url(server), {"kind": "url", "join_url": join_url, "display_name": "Eve" + LONE}
    )
    assert bad.welcome == {}
    err = bad.inbox[0]
    assert err["type"] == "error" and err["code"] == "protocol_error"
    assert "Unicode" in err["message"]

    # The meeting is untouched: a real visitor waits, the organizer's lists answer.
    ann = await RawClient.connect(
        rtc_url(server), {"kind": "url", "join_url": join_url, "display_name": "Ann 😀"}
    )
    assert ann.welcome["state"] == "lobby"
    waiting = await alice.event("participant_waiting")
    assert waiting["data"]["participant"]["display_name"] == "Ann 😀"
    async with await user_http(server) as http:
        lobby = await http.get("/v1/me/lobby")
        assert lobby.status_code == 200, lobby.text
        names = [e["display_name"] for e in lobby.json()["items"]]
        assert names == ["Ann 😀"]
    for c in (alice, ann, bad):
        await c.close()


async def test_chat_with_a_lone_surrogate_is_refused_and_nobody_drops(server: LiveServer) -> None:
    m = await server.ops.meetings.create(
        subject="Chat", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    alice = await agent(server, m.id)
    grant = await server.ops.guest_tokens.mint(m.id, display_name="Ann Visitor")
    ann = await RawClient.connect(rtc_url(server), {"kind": "token", "token": grant.token})
    assert ann.welcome["state"] == "joined"

    err = await ann.request({"type": "chat", "id": "c1", "text": "hi " + LONE})
    assert err["type"] == "error" and err["code"] == "protocol_error"
    # A valid astral character arrives as an escaped surrogate *pair*: accepted.
    ok = await ann.request({"type": "chat", "id": "c2", "text": "fine 😀"})
    assert ok["type"] == "ok", ok
    got = await alice.event("chat_message")
    assert got["data"]["text"] == "fine 😀"
    # Both connections are alive: a ping is answered on each.
    for c in (alice, ann):
        await c.send({"type": "ping", "ref": "p1"})
        assert (await c.wait_for(lambda f: f["type"] == "pong"))["ref"] == "p1"
        await c.close()


async def test_a_binary_frame_with_encoded_surrogates_is_refused(server: LiveServer) -> None:
    m = await server.ops.meetings.create(subject="Bytes", organizer="alice")
    # CESU-8 bytes of U+DCFF: json.loads(bytes) would decode them with 'surrogatepass'.
    raw = (
        b'{"type":"hello","v":1,"auth":{"kind":"url","join_url":"%s",'
        b'"display_name":"E\xed\xb3\xbf"}}'
    )
    async with connect(rtc_url(server)) as ws:
        await ws.send(raw % server.ops.meetings.join_url(m).encode())
        answer = json.loads(await ws.recv())
    assert answer["type"] == "error" and answer["code"] == "protocol_error"


async def test_rest_bodies_with_a_lone_surrogate_are_a_problem(server: LiveServer) -> None:
    app = await server.ops.apps.create("Harbor Bank")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(app.client_id, app.client_secret),
        )
        http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        headers = {"Content-Type": "application/json"}
        bad = '{"subject":"Mortgage \\udcff","organizer":"alice"}'
        r = await http.post("/v1/meetings", content=bad, headers=headers)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "validation_failed"
        r = await http.post(
            "/v1/meetings", json={"subject": "Mortgage", "organizer": "alice"}, headers=headers
        )
        mid = r.json()["id"]
        bad = '{"display_name":"Ann \\ud800"}'
        r = await http.post(f"/v1/meetings/{mid}/guest-tokens", content=bad, headers=headers)
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", r.text
        # Neither got in: the meeting's participants and the service answer as before.
        r = await http.get(f"/v1/meetings/{mid}/participants")
        assert r.status_code == 200, r.text


def _poison(db: Path, marker: str) -> int:
    """Rewrite stored events the way an older version stored a lone surrogate."""
    with sqlite3.connect(db) as conn:
        cur = conn.execute(
            "UPDATE events SET data = replace(data, ?, ?)", (marker, "Mallory \\udcff")
        )
        return cur.rowcount


async def test_a_meeting_poisoned_by_an_older_version_recovers(tmp_path: Path) -> None:
    db = tmp_path / "fd.db"
    settings = Settings(database_url=f"sqlite+aiosqlite:///{db}")
    async with live_server(settings) as srv:
        await srv.ops.accounts.create("alice", "Alice Advisor", PASSWORD)
        m = await srv.ops.meetings.create(subject="Poisoned", organizer="alice")
        alice = await agent(srv, m.id)
        url = srv.ops.meetings.join_url(m)
        guest = await RawClient.connect(
            rtc_url(srv), {"kind": "url", "join_url": url, "display_name": "MARKERNAME"}
        )
        await alice.event("participant_waiting")
        await alice.request({"type": "admit", "participant_id": guest.pid})
        await guest.wait_for(lambda f: f["type"] == "state")
        assert (await guest.request({"type": "chat", "id": "c1", "text": "MARKERNAME"}))[
            "type"
        ] == "ok"
        port = int(srv.base_url.rsplit(":", 1)[1])
        await alice.close()
        await guest.close()
    assert _poison(db, "MARKERNAME") > 0

    async with live_server(settings, port=port) as srv:
        # A new visitor can join the restored meeting, and the lists answer.
        alice = await agent(srv, m.id)
        snap = alice.welcome["snapshot"]
        assert any(c["text"] == "Mallory \ufffd" for c in snap["chat"]), snap["chat"]
        assert any(p["display_name"] == "Mallory \ufffd" for p in snap["roster"]), snap["roster"]
        ann = await RawClient.connect(
            rtc_url(srv), {"kind": "url", "join_url": url, "display_name": "Ann"}
        )
        assert ann.welcome["state"] == "lobby"
        async with await user_http(srv) as http:
            lobby = await http.get("/v1/me/lobby")
            assert lobby.status_code == 200, lobby.text
            assert [e["display_name"] for e in lobby.json()["items"]] == ["Ann"]
        hist = await alice.request({"type": "history", "before_seq": 10_000})
        assert hist["type"] == "ok"
        assert any(c["text"] == "Mallory \ufffd" for c in hist["result"]["messages"])
        await alice.close()
        await ann.close()


@pytest.mark.parametrize("name", ["Eve \udcff", "\ud800"])
def test_the_cli_refuses_a_display_name_with_a_surrogate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # sys.argv carries undecodable bytes as lone surrogates (surrogateescape).
    from typer.testing import CliRunner

    from frontdesk.cli.main import app
    from frontdesk.store.migrate import upgrade
    from tests.support.databases import sqlite_url

    url = sqlite_url(tmp_path / "cli.db")
    upgrade(url)
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", url)
    result = CliRunner().invoke(
        app,
        ["users", "create", "eve", "--display-name", name, "--password-stdin"],
        input=PASSWORD + "\n",
        catch_exceptions=False,
    )
    assert result.exit_code == 2, (result.stdout, result.stderr)
    said = " ".join(result.stderr.split())
    assert said.startswith("error (validation_failed)") and "surrogate" in said, said
