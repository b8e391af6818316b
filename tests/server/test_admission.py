"""A forged token is no oracle: verified before anything about a meeting is read."""

from __future__ import annotations

import time

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from frontdesk.tokens import MEETING_AUDIENCE_PREFIX
from tests.support.live_server import LiveServer
from tests.support.rtc import RawClient


def rtc_url(srv: LiveServer) -> str:
    return srv.base_url.replace("http://", "ws://") + "/v1/rtc"


def forged(meeting_id: str, *, alg: str = "EdDSA", kid: str | None = None) -> str:
    claims = {
        "aud": MEETING_AUDIENCE_PREFIX + meeting_id,
        "typ": "guest",
        "name": "Mallory",
        "role": "guest",
        "exp": int(time.time()) + 600,
        "jti": "x",
    }
    if alg == "none":
        return jwt.encode(claims, None, algorithm="none")
    key = Ed25519PrivateKey.generate()
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid or "k_unknown"})


async def _answer(srv: LiveServer, token: str) -> tuple[str, str]:
    c = await RawClient.connect(rtc_url(srv), {"kind": "token", "token": token})
    assert c.welcome == {}
    err = c.inbox[0]
    await c.close()
    return err["code"], err["message"]


async def test_every_forged_token_gets_the_same_answer_and_loads_nothing(
    server: LiveServer,
) -> None:
    ops = server.ops
    live = server.app.state.live
    open_m = await ops.meetings.create(subject="Open", organizer="alice")
    ended = await ops.meetings.create(subject="Ended", organizer="alice")
    await ops.meetings.end(ended.id)
    kid = ops.keys.ring.active_kid  # the node's own key id, with a key that is not its key
    answers = set()
    for meeting_id in (open_m.id, ended.id, "m_does_not_exist"):
        for token in (
            forged(meeting_id),
            forged(meeting_id, alg="none"),
            forged(meeting_id, kid=kid),
        ):
            answers.add(await _answer(server, token))
        # nothing about the meeting was loaded to answer
        assert live.loaded(meeting_id) is None
    assert answers == {("token_invalid", "the token is not valid")}, answers
    # garbage that is not even a JWT answers the same
    assert await _answer(server, "not-a-token") == ("token_invalid", "the token is not valid")
    # a real token still works, and a real token of an ended meeting says so
    grant = await ops.guest_tokens.mint(open_m.id, display_name="Ann")
    ann = await RawClient.connect(rtc_url(server), {"kind": "token", "token": grant.token})
    assert ann.welcome["state"] == "lobby"
    await ann.close()
