"""The SFU messages of the RTC protocol: what a client may send for its media
legs, and what is refused before it reaches Janus."""

from __future__ import annotations

import json
from typing import Any

import pytest

from frontdesk.errors import LimitExceeded, ProtocolError
from frontdesk.protocol import decode_client
from frontdesk.protocol.messages import (
    MAX_SDP,
    SfuAnswer,
    SfuLayer,
    SfuPublish,
    SfuSubscribe,
    SfuTrickle,
    SfuUnsubscribe,
    decode_server,
)


def _msg(**fields: Any) -> str:
    return json.dumps(fields)


def test_each_sfu_message_decodes() -> None:
    assert decode_client(_msg(type="sfu_publish", sdp="v=0", ref="r1")) == SfuPublish("v=0", "r1")
    assert decode_client(_msg(type="sfu_subscribe", feed="p1")) == SfuSubscribe("p1")
    assert decode_client(_msg(type="sfu_answer", feed="p1", sdp="v=0")) == SfuAnswer("p1", "v=0")
    assert decode_client(_msg(type="sfu_unsubscribe", feed="p1")) == SfuUnsubscribe("p1")
    cand = {"candidate": "candidate:1 1 udp 1 10.0.0.1 9 typ host", "sdpMid": "0"}
    extra = {**cand, "usernameFragment": "abc", "junk": [1, 2]}
    assert decode_client(_msg(type="sfu_trickle", candidate=extra)) == SfuTrickle(None, cand)
    assert decode_client(_msg(type="sfu_trickle", feed="p2")) == SfuTrickle("p2", None)
    # an empty candidate string is the end of candidates, as browsers send it
    ended = decode_client(_msg(type="sfu_trickle", candidate={"candidate": "", "sdpMid": "0"}))
    assert ended == SfuTrickle(None, None)


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "sfu_publish"},
        {"type": "sfu_publish", "sdp": 5},
        {"type": "sfu_subscribe", "feed": ""},
        {"type": "sfu_answer", "feed": "p1"},
        {"type": "sfu_trickle", "candidate": "candidate:1"},
        {"type": "sfu_trickle", "candidate": {"candidate": "candidate:1"}},  # no mid/index
        {"type": "sfu_trickle", "candidate": {"candidate": "c", "sdpMLineIndex": True}},
        {"type": "sfu_trickle", "candidate": {"candidate": "c", "sdpMLineIndex": 99}},
        {"type": "sfu_trickle", "candidate": {"candidate": 7, "sdpMid": "0"}},
    ],
)
def test_malformed_sfu_messages_are_protocol_errors(fields: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        decode_client(json.dumps(fields))


def test_sizes_are_capped() -> None:
    with pytest.raises(LimitExceeded):
        decode_client(_msg(type="sfu_publish", sdp="x" * (MAX_SDP + 1)))
    with pytest.raises(LimitExceeded):
        decode_client(_msg(type="sfu_subscribe", feed="p" * 65))
    long = {"candidate": "c" * 2000, "sdpMid": "0"}
    with pytest.raises(LimitExceeded):
        decode_client(_msg(type="sfu_trickle", candidate=long))


def test_server_sfu_frames_are_checked() -> None:
    route = decode_server(_msg(type="sfu_route", route="sfu", feeds=["a", "b"]))
    assert route["feeds"] == ["a", "b"]
    with pytest.raises(ProtocolError):
        decode_server(_msg(type="sfu_route", route="sfu"))
    assert decode_server(_msg(type="sfu_trickle"))["type"] == "sfu_trickle"


def test_layer_selection() -> None:
    assert decode_client(_msg(type="sfu_layer", feed="p1", substream=0)) == SfuLayer("p1", 0)
    for bad in (3, -1, True, "2"):
        with pytest.raises(ProtocolError):
            decode_client(_msg(type="sfu_layer", feed="p1", substream=bad))
