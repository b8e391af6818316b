"""The user API (agents and the console): session login, own meetings, the lobby
queue, admit/deny over REST, and sign-out that really revokes the session."""

from __future__ import annotations

from tests.server.conftest import Harness
from tests.server.test_service_api import problem

PASSWORD = "correct horse battery"


async def _login(h: Harness) -> str:
    r = await h.http.post("/v1/session", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    body = r.json()
    assert body["display_name"] == "Alice Advisor" and body["username"] == "alice"
    assert body["role"] == "agent"  # every user is an agent unless made a supervisor
    return str(body["token"])


async def test_login_and_own_meetings(harness: Harness) -> None:
    bad = await harness.http.post("/v1/session", json={"username": "alice", "password": "nope"})
    problem(bad, 401, "invalid_credentials")
    nobody = await harness.http.post("/v1/session", json={"username": "zed", "password": "x"})
    problem(nobody, 401, "invalid_credentials")
    problem(await harness.http.get("/v1/me"), 401, "unauthenticated")

    token = await _login(harness)
    auth = {"Authorization": f"Bearer {token}"}
    assert (await harness.http.get("/v1/me", headers=auth)).json()["username"] == "alice"
    r = await harness.http.post(
        "/v1/me/meetings", json={"organizer": "alice", "subject": "Office hours"}, headers=auth
    )
    assert r.status_code == 201 and r.json()["join_url"]
    other = await harness.http.post("/v1/me/meetings", json={"organizer": "bob"}, headers=auth)
    problem(other, 403, "forbidden")
    mine = (await harness.http.get("/v1/me/meetings", headers=auth)).json()["items"]
    assert [m["subject"] for m in mine] == ["Office hours"]
    # A session token is not a service-API token, and vice versa.
    problem(await harness.http.get("/v1/meetings", headers=auth), 401, "token_invalid")
    svc = {"Authorization": f"Bearer {await harness.token()}"}
    problem(await harness.http.get("/v1/me", headers=svc), 401, "token_invalid")


async def test_sign_out_revokes_the_session(harness: Harness) -> None:
    token = await _login(harness)
    auth = {"Authorization": f"Bearer {token}"}
    assert (await harness.http.get("/v1/me", headers=auth)).status_code == 200
    out = await harness.http.delete("/v1/session", headers=auth)
    assert out.status_code == 204
    problem(await harness.http.get("/v1/me", headers=auth), 401, "token_invalid")


async def test_admit_over_rest_needs_the_agent_in_the_meeting(harness: Harness) -> None:
    from frontdesk.domain import commands as cmd
    from frontdesk.domain.model import Role
    from frontdesk.domain.participants import JoinMethod

    token = await _login(harness)
    auth = {"Authorization": f"Bearer {token}"}
    m = await harness.ops.meetings.create(subject="Loans", organizer="alice")
    live = harness.app.state.live
    lr = await live.room(m.id)
    await live.execute(lr, cmd.Join("p_guest", "Ann Visitor", Role.GUEST, JoinMethod.TOKEN))
    queue = (await harness.http.get("/v1/me/lobby", headers=auth)).json()["items"]
    assert [(q["display_name"], q["vouched"]) for q in queue] == [("Ann Visitor", True)]
    # The console's badge comes from these fields, never from the name.
    assert (queue[0]["role"], queue[0]["method"]) == ("guest", "token")

    url = f"/v1/me/meetings/{m.id}/lobby/p_guest/admit"
    problem(await harness.http.post(url, headers=auth), 403, "forbidden")
    await live.execute(
        lr, cmd.Join("p_alice", "Alice Advisor", Role.ORGANIZER, JoinMethod.USER, "alice")
    )
    r = await harness.http.post(url, headers=auth)
    assert r.status_code == 200 and r.json() == {"status": "admitted"}
    assert lr.room.participant("p_guest").state.value == "joined"
    assert (await harness.http.get("/v1/me/lobby", headers=auth)).json()["items"] == []
