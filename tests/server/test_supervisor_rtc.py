"""Supervisors over a real socket: monitor unseen, whisper, barge in, and what a
guest (live, on resume) and its application (participants, webhooks) see."""

from __future__ import annotations

from typing import Any

import httpx

from frontdesk.domain.model import AccessPolicy, LobbyBypass
from tests.server.test_rtc import agent, rtc_url
from tests.support.live_server import LiveServer
from tests.support.rtc import RawClient

PASSWORD = "correct horse battery"


async def _session(srv: LiveServer, username: str) -> str:
    token, _, _ = await srv.ops.accounts.login(username, PASSWORD)
    return str(token)


async def _supervisor(srv: LiveServer, meeting_id: str, *, monitor: bool = True) -> RawClient:
    auth = {
        "kind": "session",
        "token": await _session(srv, "sam"),
        "meeting_id": meeting_id,
        "monitor": monitor,
    }
    return await RawClient.connect(rtc_url(srv), auth)


def _mentions(value: Any, needle: str) -> bool:
    if isinstance(value, str):
        return needle in value
    if isinstance(value, dict):
        return any(_mentions(v, needle) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, needle) for v in value)
    return False


async def _drain(guest: RawClient, cid: str) -> list[dict[str, Any]]:
    """Everything the guest was sent before its own chat ``cid`` was stored:
    events reach a connection in sequence order, so what the meeting decided
    before it has arrived when the answer does."""
    ok = await guest.request({"type": "chat", "id": cid, "text": "still here"})
    assert ok["type"] == "ok", ok
    seen, guest.inbox = guest.inbox, []
    return seen


async def test_monitor_whisper_barge_as_the_guest_and_the_agent_see_them(
    server: LiveServer,
) -> None:
    ops = server.ops
    await ops.accounts.create("sam", "Sam Supervisor", PASSWORD, "supervisor")
    app = await ops.apps.create("Harbor Bank")
    m = await ops.meetings.create(
        subject="Mortgage",
        organizer="alice",
        access_policy=AccessPolicy.LOBBY,
        lobby_bypass=LobbyBypass.TOKEN_HOLDERS,
    )
    alice = await agent(server, m.id)
    grant = await ops.guest_tokens.mint(
        m.id, display_name="Ann Visitor", app=await ops.apps.active(app.client_id, "the app")
    )
    ann = await RawClient.connect(rtc_url(server), {"kind": "token", "token": grant.token})
    assert ann.welcome["state"] == "joined"

    sam = await _supervisor(server, m.id)
    assert sam.welcome["state"] == "joined", sam.inbox
    assert sam.welcome["snapshot"]["me"]["supervisor"] == "monitor"
    joined = await alice.wait_for(
        lambda x: (
            x.get("name") == "participant_joined" and x["data"]["participant"]["id"] == sam.pid
        )
    )
    assert joined["data"]["participant"]["supervisor"] == "monitor"

    # The monitor may not talk to the guest; it whispers to the agent.
    refused = await sam.request({"type": "chat", "id": "c1", "text": "hello Ann"})
    assert refused["code"] == "forbidden"
    refused = await sam.request({"type": "media", "audio_muted": False})
    assert refused["code"] == "forbidden"
    sent = await sam.request({"type": "whisper", "id": "w1", "text": "Offer the fixed rate"})
    assert sent["type"] == "ok" and sent["result"]["message"]["text"] == "Offer the fixed rate"
    whisper = await alice.event("whisper")
    assert whisper["data"]["participant_id"] == sam.pid
    reply = await alice.request({"type": "whisper", "id": "w2", "text": "OK"})
    assert reply["type"] == "ok"
    await sam.wait_for(lambda x: x.get("name") == "whisper" and x["data"]["text"] == "OK")
    assert (await ann.request({"type": "whisper", "id": "w3", "text": "me too"}))[
        "code"
    ] == "forbidden"

    # The application reads what its guest sees: no supervisor.
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(app.client_id, app.client_secret),
        )
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        people = (await http.get(f"/v1/meetings/{m.id}/participants", headers=headers)).json()
    assert {p["display_name"] for p in people["items"]} == {"Alice Advisor", "Ann Visitor"}

    # Nothing of the monitor nor of the whispers reached the guest...
    seen = await _drain(ann, "c-ann-1")
    assert not _mentions(seen, sam.pid) and not _mentions(seen, "fixed rate"), seen
    assert all(x.get("name") != "whisper" for x in seen)
    # ...nor does it when the guest resumes from the start of the meeting.
    resume_token = ann.welcome["resume_token"]
    await ann.close()
    ann = await RawClient.connect(
        rtc_url(server), {"kind": "resume", "token": resume_token, "last_seq": 0}
    )
    assert ann.welcome["resumed"] is True
    assert sam.pid not in [p["id"] for p in ann.welcome["snapshot"]["roster"]]
    assert "whispers" not in ann.welcome["snapshot"]
    replayed = await _drain(ann, "c-ann-2")
    assert replayed, "the resume replays the guest's events"
    assert not _mentions(replayed, sam.pid) and not _mentions(replayed, "fixed rate")
    assert not _mentions(ann.welcome, sam.pid)

    # Barge in: the guest sees a plain participant join.
    assert (await sam.request({"type": "barge"}))["type"] == "ok"
    barged = await alice.event("supervisor_barged")
    assert barged["data"]["participant_id"] == sam.pid
    came = await ann.event("participant_joined")
    assert came["data"]["participant"]["id"] == sam.pid
    assert "supervisor" not in came["data"]["participant"]
    said = await sam.request({"type": "chat", "id": "c2", "text": "Hello Ann, I am Sam"})
    assert said["type"] == "ok"
    await ann.wait_for(lambda x: x.get("name") == "chat_message" and "Sam" in x["data"]["text"])
    for c in (alice, ann, sam):
        await c.close()


async def test_only_supervisors_monitor_and_list_meetings(server: LiveServer) -> None:
    ops = server.ops
    await ops.accounts.create("sam", "Sam Supervisor", PASSWORD, "supervisor")
    await ops.accounts.create("bob", "Bob Agent", PASSWORD)
    m = await ops.meetings.create(subject="Savings", organizer="alice")
    alice = await agent(server, m.id)
    bob = await RawClient.connect(
        rtc_url(server),
        {"kind": "session", "token": await _session(server, "bob"), "meeting_id": m.id,
         "monitor": True},
    )  # fmt: skip
    assert not bob.welcome and bob.inbox[0]["code"] == "forbidden"
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        as_bob = {"Authorization": f"Bearer {await _session(server, 'bob')}"}
        r = await http.get("/v1/supervisor/meetings", headers=as_bob)
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
        me = (await http.get("/v1/me", headers=as_bob)).json()
        assert me["role"] == "agent"
        as_sam = {"Authorization": f"Bearer {await _session(server, 'sam')}"}
        assert (await http.get("/v1/me", headers=as_sam)).json()["role"] == "supervisor"
        items = (await http.get("/v1/supervisor/meetings", headers=as_sam)).json()["items"]
        assert [(i["id"], i["live"], i["agents"], i["monitors"]) for i in items] == [
            (m.id, True, 1, 0)
        ]
        sam = await _supervisor(server, m.id)
        items = (await http.get("/v1/supervisor/meetings", headers=as_sam)).json()["items"]
        assert items[0]["monitors"] == 1 and items[0]["agents"] == 1
        # A role change holds from the next use of the session.
        await ops.accounts.set_role("sam", "agent")
        r = await http.get("/v1/supervisor/meetings", headers=as_sam)
        assert r.status_code == 403
    for c in (alice, sam, bob):
        await c.close()


def test_no_webhook_tells_an_application_of_a_monitor_or_a_whisper() -> None:
    from datetime import UTC, datetime

    from frontdesk.domain import Admit, Room, Whisper
    from frontdesk.domain.model import Meeting
    from frontdesk.server.webhooks import webhook_event_for
    from tests.domain.room_support import organizer, supervisor, url_guest

    t0 = datetime(2025, 3, 1, 9, tzinfo=UTC)
    room = Room(Meeting("m_1", "code", "Advice", "alice", t0))
    hooks = [webhook_event_for(e, "m_1") for e in room.handle(organizer(), t0)]
    events = room.handle(url_guest("g1"), t0) + room.handle(Admit("org", "g1"), t0)
    assert [name for e in events for name, _ in webhook_event_for(e, "m_1")] == [
        "lobby.waiting",
        "participant.joined",
    ]
    hidden = room.handle(supervisor(), t0) + room.handle(Whisper("sup", "w", "psst"), t0)
    assert hooks and all(webhook_event_for(e, "m_1") == [] for e in hidden)
