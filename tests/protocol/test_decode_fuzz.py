"""Fuzzing the untrusted-input parser: whatever a client sends, ``decode_client``
returns a message or raises one of its documented errors, never anything else."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from frontdesk.errors import LimitExceeded, ProtocolError, UnsupportedVersion
from frontdesk.protocol import decode_client
from frontdesk.protocol.messages import CLIENT_MESSAGES, ClientMessage

DOCUMENTED = (ProtocolError, LimitExceeded, UnsupportedVersion)
surrogate = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
text = st.text(st.one_of(st.characters(), surrogate), max_size=40)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=30,
)


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    """Near-valid messages: a known type, its fields (sometimes), junk values."""
    kind = draw(st.sampled_from([*CLIENT_MESSAGES, "nope", ""]))
    obj: dict[str, Any] = {"type": kind}
    for name in CLIENT_MESSAGES.get(kind, {}):
        if draw(st.booleans()):
            obj[name] = draw(json_values)
    if kind == "hello" and draw(st.booleans()):
        obj["v"] = 1
        obj["auth"] = {
            "kind": draw(st.sampled_from(["token", "url", "session", "resume", "x"])),
            "token": draw(json_values),
            "join_url": draw(json_values),
            "display_name": draw(json_values),
            "meeting_id": draw(json_values),
            "last_seq": draw(json_values),
        }
    if draw(st.booleans()):
        obj["ref"] = draw(json_values)
    return obj


def _decode(raw: str | bytes) -> None:
    try:
        msg = decode_client(raw)
    except DOCUMENTED:
        return
    assert isinstance(msg, ClientMessage)  # type: ignore[arg-type]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
@example({"type": "history", "before_seq": 0, "limit": None})  # found by this test
def test_near_valid_messages(obj: dict[str, Any]) -> None:
    _decode(json.dumps(obj))
    _decode(json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass"))


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(raw: bytes) -> None:
    _decode(raw)


@settings(max_examples=200)
@given(json_values)
def test_arbitrary_json(value: Any) -> None:
    _decode(json.dumps(value))


def test_deep_nesting_and_huge_numbers() -> None:
    _decode('{"type":"chat","id":"c","text":"x","x":' + "[" * 100_000 + "]" * 100_000 + "}")
    _decode("[" * 60_000)
    _decode('{"type":"history","before_seq":' + "9" * 5000 + "}")
    _decode('{"type":"history","before_seq":1e999}')
    _decode('{"type":"chat","id":"c","text":"' + "a" * 70_000 + '"}')
