"""The RTC endpoint over a real socket: join flows, lobby, chat, resume, restart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from frontdesk.config import Settings
from frontdesk.domain.model import AccessPolicy
from tests.support.live_server import LiveServer, live_server
from tests.support.rtc import RawClient


def rtc_url(srv: LiveServer) -> str:
    return srv.base_url.replace("http://", "ws://") + "/v1/rtc"


async def agent(srv: LiveServer, meeting_id: str) -> RawClient:
    token, _, _ = await srv.ops.accounts.login("alice", "correct horse battery")
    c = await RawClient.connect(
        rtc_url(srv), {"kind": "session", "token": token, "meeting_id": meeting_id}
    )
    assert c.welcome["state"] == "joined", c.inbox
    return c


async def test_token_join_lobby_admit_chat(server: LiveServer) -> None:
    ops = server.ops
    m = await ops.meetings.create(subject="Mortgage", organizer="alice")
    alice = await agent(server, m.id)
    assert alice.welcome["snapshot"]["me"]["role"] == "organizer"
    grant = await ops.guest_tokens.mint(m.id, display_name="Ann Visitor")
    ann = await RawClient.connect(rtc_url(server), {"kind": "token", "token": grant.token})
    assert ann.welcome["state"] == "lobby"
    assert ann.welcome["snapshot"]["lobby_position"] == 1
    assert ann.welcome["snapshot"]["organizer_present"] is True
    assert ann.welcome["snapshot"]["meeting"]["organizer_display_name"] == "Alice Advisor"
    assert ann.welcome["snapshot"]["roster"] == []

    waiting = await alice.event("participant_waiting")
    p = waiting["data"]["participant"]
    assert p["display_name"] == "Ann Visitor" and p["vouched"] is True

    # A guest in the lobby cannot chat, and cannot admit.
    err = await ann.request({"type": "chat", "id": "c1", "text": "hi"})
    assert err["type"] == "error" and err["code"] in ("forbidden", "illegal_state")

    ok = await alice.request({"type": "admit", "participant_id": ann.pid})
    assert ok["type"] == "ok", ok
    state = await ann.wait_for(lambda msg: msg["type"] == "state")
    assert state["state"] == "joined"
    names = {x["display_name"] for x in state["snapshot"]["roster"]}
    assert names == {"Alice Advisor", "Ann Visitor"}
    # An agent's login name is not shown to visitors.
    assert all("username" not in x for x in state["snapshot"]["roster"])

    sent = await ann.request({"type": "chat", "id": "c1", "text": "Hello <b>Alice</b>"})
    assert sent["type"] == "ok"
    msg = sent["result"]["message"]
    assert msg["text"] == "Hello <b>Alice</b>" and msg["seq"] > 0
    got = await alice.event("chat_message")
    assert got["seq"] == msg["seq"] and got["data"]["text"] == msg["text"]
    # Idempotent: the same client message id is stored once.
    again = await ann.request({"type": "chat", "id": "c1", "text": "Hello <b>Alice</b>"})
    assert again["result"]["message"]["seq"] == msg["seq"]
    reply = await alice.request({"type": "chat", "id": "a1", "text": "Hi Ann"})
    await ann.wait_for(lambda x: x.get("name") == "chat_message" and x["data"]["text"] == "Hi Ann")

    # A guest cannot remove or end.
    err = await ann.request({"type": "remove", "participant_id": alice.pid})
    assert err["code"] == "forbidden"
    err = await ann.request({"type": "end"})
    assert err["code"] == "forbidden"

    # A late joiner (URL flow, policy lobby) gets history once admitted.
    bob = await RawClient.connect(
        rtc_url(server),
        {"kind": "url", "join_url": ops.meetings.join_url(m), "display_name": "Bob"},
    )
    assert bob.welcome["state"] == "lobby"
    waiting = await alice.event("participant_waiting")
    assert waiting["data"]["participant"]["vouched"] is False
    await alice.request({"type": "admit", "participant_id": bob.pid})
    state = await bob.wait_for(lambda msg: msg["type"] == "state")
    texts = [c["text"] for c in state["snapshot"]["chat"]]
    assert texts == ["Hello <b>Alice</b>", "Hi Ann"]
    assert reply["type"] == "ok"

    # The service API sees the roster.
    rows = await server.app.state.live.participants(m.id)
    assert {r["display_name"] for r in rows} == {"Alice Advisor", "Ann Visitor", "Bob"}

    # End for all: everyone gets bye with the reason and a 4010 close.
    await alice.request({"type": "end"})
    bye = await ann.wait_for(lambda msg: msg["type"] == "bye")
    assert bye["reason"] == "meeting_ended" and bye["code"] == 4010
    with pytest.raises(ConnectionClosed) as closed:
        await ann.recv()
    assert closed.value.rcvd.code == 4010
    assert (await ops.meetings.get(m.id)).ended
    for c in (alice, ann, bob):
        await c.close()


async def test_url_policies(server: LiveServer) -> None:
    ops = server.ops
    direct = await ops.meetings.create(
        subject="", organizer="alice", access_policy=AccessPolicy.DIRECT
    )
    c = await RawClient.connect(
        rtc_url(server),
        {"kind": "url", "join_url": ops.meetings.join_url(direct), "display_name": "Ann"},
    )
    assert c.welcome["state"] == "joined"
    await c.close()
    deny = await ops.meetings.create(subject="", organizer="alice", access_policy=AccessPolicy.DENY)
    c = await RawClient.connect(
        rtc_url(server),
        {"kind": "url", "join_url": ops.meetings.join_url(deny), "display_name": "Ann"},
    )
    assert c.inbox[0]["type"] == "error" and c.inbox[0]["code"] == "forbidden"
    with pytest.raises(ConnectionClosed) as closed:
        await c.recv()
    assert closed.value.rcvd.code == 4003
    # ... but a token works for a 'deny' meeting.
    grant = await ops.guest_tokens.mint(deny.id, display_name="Ann")
    c = await RawClient.connect(rtc_url(server), {"kind": "token", "token": grant.token})
    assert c.welcome["state"] == "lobby"
    await c.close()


async def test_denied_and_single_use(server: LiveServer) -> None:
    ops = server.ops
    m = await ops.meetings.create(subject="", organizer="alice")
    alice = await agent(server, m.id)
    grant = await ops.guest_tokens.mint(m.id, display_name="Eve", single_use=True)
    eve = await RawClient.connect(rtc_url(server), {"kind": "token", "token": grant.token})
    await alice.event("participant_waiting")
    await alice.request({"type": "deny", "participant_id": eve.pid})
    bye = await eve.wait_for(lambda msg: msg["type"] == "bye")
    assert bye["reason"] == "denied" and bye["code"] == 4012
    again = await RawClient.connect(rtc_url(server), {"kind": "token", "token": grant.token})
    assert again.inbox[0]["code"] == "token_used"
    await alice.close()


async def test_bad_input_gets_typed_errors(server: LiveServer) -> None:
    ops = server.ops
    m = await ops.meetings.create(subject="", organizer="alice", access_policy=AccessPolicy.DIRECT)
    async with connect(rtc_url(server)) as ws:
        await ws.send("not json")
        err = json.loads(await ws.recv())
        assert err["type"] == "error" and err["code"] == "protocol_error"
    async with connect(rtc_url(server)) as ws:
        await ws.send(
            json.dumps({"type": "hello", "v": 99, "auth": {"kind": "token", "token": "x"}})
        )
        assert json.loads(await ws.recv())["code"] == "unsupported_version"
    async with connect(rtc_url(server)) as ws:
        await ws.send(
            json.dumps({"type": "hello", "v": 1, "auth": {"kind": "token", "token": "a.b.c"}})
        )
        assert json.loads(await ws.recv())["code"] == "token_invalid"
    c = await RawClient.connect(
        rtc_url(server),
        {"kind": "url", "join_url": ops.meetings.join_url(m), "display_name": "Ann"},
    )
    too_long = await c.request({"type": "chat", "id": "x", "text": "a" * 4001})
    assert too_long["code"] in ("limit_exceeded", "validation_failed")
    unknown = await c.request({"type": "fly"})
    assert unknown["code"] == "protocol_error"
    missing = await c.request({"type": "chat", "text": "no id"})
    assert missing["code"] == "protocol_error"
    big = await c.request({"type": "chat", "id": "y", "text": "a" * 70_000})
    assert big["code"] == "limit_exceeded"
    # Still connected and working after all that:
    ok = await c.request({"type": "chat", "id": "z", "text": "<script>alert(1)</script>"})
    assert ok["type"] == "ok"
    # Flooding gets rate_limited errors, then the connection is closed.
    codes = []
    with pytest.raises(ConnectionClosed):
        for i in range(400):
            await c.send({"type": "typing", "typing": True, "ref": f"t{i}"})
        for _ in range(400):
            msg = await c.recv()
            if msg["type"] == "error":
                codes.append(msg["code"])
    assert "rate_limited" in codes
    await c.close()


async def test_resume_after_drop_receives_missed_exactly_once(server: LiveServer) -> None:
    ops = server.ops
    m = await ops.meetings.create(subject="", organizer="alice", access_policy=AccessPolicy.DIRECT)
    alice = await agent(server, m.id)
    ann = await RawClient.connect(
        rtc_url(server),
        {"kind": "url", "join_url": ops.meetings.join_url(m), "display_name": "Ann"},
    )
    await alice.event("participant_joined")
    first = await ann.request({"type": "chat", "id": "1", "text": "one"})
    last_seq = first["result"]["message"]["seq"]
    resume_token = ann.welcome["resume_token"]
    ann.ws.transport.abort()  # cut the socket
    await alice.event("participant_reconnecting")
    for i in range(5):
        await alice.request({"type": "chat", "id": f"a{i}", "text": f"missed {i}"})
    back = await RawClient.connect(
        rtc_url(server), {"kind": "resume", "token": resume_token, "last_seq": last_seq}
    )
    assert back.welcome["resumed"] is True and back.welcome["participant_id"] == ann.pid
    missed = []
    while len(missed) < 5:
        msg = await back.recv()
        if msg["type"] == "event" and msg["name"] == "chat_message":
            missed.append(msg)
    assert [x["data"]["text"] for x in missed] == [f"missed {i}" for i in range(5)]
    seqs = [x["seq"] for x in missed]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert (await alice.event("participant_reconnected"))["data"]["participant_id"] == ann.pid
    await alice.close()
    await back.close()


async def test_server_restart_keeps_meeting_and_chat(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/fd.db")
    async with live_server(settings) as srv:
        ops = srv.ops
        await ops.accounts.create("alice", "Alice Advisor", "correct horse battery")
        m = await ops.meetings.create(
            subject="", organizer="alice", access_policy=AccessPolicy.DIRECT
        )
        ann = await RawClient.connect(
            rtc_url(srv),
            {"kind": "url", "join_url": ops.meetings.join_url(m), "display_name": "Ann"},
        )
        acked = []
        for i in range(10):
            r = await ann.request({"type": "chat", "id": f"m{i}", "text": f"msg {i}"})
            acked.append(r["result"]["message"])
        token = ann.welcome["resume_token"]
        port = srv.settings.port
    # A new node on the same address and database: the meeting comes back from the store.
    async with live_server(settings, port=port) as srv2:
        back = await RawClient.connect(
            rtc_url(srv2), {"kind": "resume", "token": token, "last_seq": acked[4]["seq"]}
        )
        assert back.welcome.get("resumed") is True, back.inbox
        chat = back.welcome["snapshot"]["chat"]
        assert [c["text"] for c in chat] == [a["text"] for a in acked]
        replayed = []
        while True:
            try:
                msg = await back.recv(timeout=0.5)
            except TimeoutError:
                break
            if msg["type"] == "event" and msg["name"] == "chat_message":
                replayed.append(msg["data"]["text"])
        assert replayed == [f"msg {i}" for i in range(5, 10)]
        await back.close()
    await asyncio.sleep(0)


async def test_single_use_token_is_spent_only_by_a_join_that_succeeds(server: LiveServer) -> None:
    ops = server.ops
    m = await ops.meetings.create(subject="", organizer="alice")
    grant = await ops.guest_tokens.mint(
        m.id, display_name="Ann", single_use=True, origins=["https://bank.example"]
    )
    # Refused for its web origin: the token is not spent ...
    async with connect(rtc_url(server), origin="https://evil.example") as ws:
        await ws.send(
            json.dumps({"type": "hello", "v": 1, "auth": {"kind": "token", "token": grant.token}})
        )
        assert json.loads(await ws.recv())["code"] == "forbidden"
    # ... so the right page can still use it, once.
    async with connect(rtc_url(server), origin="https://bank.example") as ws:
        await ws.send(
            json.dumps({"type": "hello", "v": 1, "auth": {"kind": "token", "token": grant.token}})
        )
        assert json.loads(await ws.recv())["type"] == "welcome"
        again = await RawClient.connect(rtc_url(server), {"kind": "token", "token": grant.token})
        assert again.inbox[0]["code"] == "token_used"


async def test_single_use_token_spent_elsewhere_during_the_join_is_refused(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another node spends the token between this node's checks and its join:
    the store's spend, made in the join's own transaction, decides. The join
    is undone (stored, then left) and the guest is refused."""
    ops = server.ops
    m = await ops.meetings.create(subject="", organizer="alice", access_policy=AccessPolicy.DIRECT)
    alice = await agent(server, m.id)
    grant = await ops.guest_tokens.mint(m.id, display_name="Eve", single_use=True)
    checked = ops.guest_tokens.is_used

    async def spent_elsewhere(claims):  # type: ignore[no-untyped-def]
        # the last check under the room's lock passes; meanwhile another node spends it
        assert await ops.store.consume_token(claims.jti, claims.meeting_id, claims.expires_at)
        return await checked(claims)

    monkeypatch.setattr(ops.guest_tokens, "is_used", spent_elsewhere)
    eve = await RawClient.connect(rtc_url(server), {"kind": "token", "token": grant.token})
    assert eve.inbox[0]["code"] == "token_used", eve.inbox
    joined = await alice.event("participant_joined")
    left = await alice.event("participant_left")
    assert joined["data"]["participant"]["id"] == left["data"]["participant_id"]
    stored = [r.type for r in await ops.store.events_since(m.id, 0)]
    assert stored[-2:] == ["participant_joined", "participant_left"]
    monkeypatch.undo()
    again = await RawClient.connect(rtc_url(server), {"kind": "token", "token": grant.token})
    assert again.inbox[0]["code"] == "token_used"
    await alice.close()


async def test_a_single_use_join_is_stored_with_its_spend(server: LiveServer) -> None:
    """The welcome means the join and the token's spend are both stored."""
    ops = server.ops
    m = await ops.meetings.create(subject="", organizer="alice", access_policy=AccessPolicy.DIRECT)
    grant = await ops.guest_tokens.mint(m.id, display_name="Ann", single_use=True)
    ann = await RawClient.connect(rtc_url(server), {"kind": "token", "token": grant.token})
    assert ann.welcome["state"] == "joined"
    assert await ops.store.is_token_used(grant.claims.jti)
    assert (await ops.store.events_since(m.id, 0))[-1].type == "participant_joined"
    await ann.close()


async def test_service_api_delete_ends_the_live_meeting(server: LiveServer) -> None:
    """DELETE /v1/meetings/{id} from the back end: everyone inside gets bye
    meeting_ended, and neither the token nor the join URL admits anyone again."""
    import httpx

    ops = server.ops
    creds = await ops.apps.create("Harbor Bank")
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        tok = await http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(creds.client_id, creds.client_secret),
        )
        http.headers["Authorization"] = f"Bearer {tok.json()['access_token']}"
        m = (await http.post("/v1/meetings", json={"organizer": "alice"})).json()
        alice = await agent(server, m["id"])
        grant = (
            await http.post(f"/v1/meetings/{m['id']}/guest-tokens", json={"display_name": "Ann"})
        ).json()
        ann = await RawClient.connect(rtc_url(server), {"kind": "token", "token": grant["token"]})
        await alice.event("participant_waiting")
        assert (await alice.request({"type": "admit", "participant_id": ann.pid}))["type"] == "ok"
        assert (await http.delete(f"/v1/meetings/{m['id']}")).json()["state"] == "ended"
        for client in (alice, ann):
            bye = await client.wait_for(lambda msg: msg["type"] == "bye")
            assert bye["reason"] == "meeting_ended" and bye["code"] == 4010
        again = await RawClient.connect(rtc_url(server), {"kind": "token", "token": grant["token"]})
        refused = again.inbox[0] if again.inbox else await again.recv()
        assert refused["type"] == "error" and refused["code"] == "meeting_ended", refused
        by_url = await RawClient.connect(
            rtc_url(server), {"kind": "url", "join_url": m["join_url"], "display_name": "Eve"}
        )
        refused = by_url.inbox[0] if by_url.inbox else await by_url.recv()
        assert refused["type"] == "error" and refused["code"] == "meeting_ended", refused
