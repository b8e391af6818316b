"""Webhook signatures: the exact scheme the server signs with, and its checks."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.errors import ProtocolError, TokenInvalid, ValidationFailed
from frontdesk.service_client import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign_webhook,
    verify_webhook,
)

SECRET = "whsec_test"
TS = 1_740_000_000
BODY = json.dumps({"type": "meeting.ended", "meeting_id": "m_abc"}).encode()


def headers(signature: str, timestamp: int | str = TS) -> dict[str, str]:
    return {ID_HEADER: "dlv_1", TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature}


def test_signature_is_v1_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign_webhook(SECRET, BODY, TS) == f"v1={expected}"
    # a fixed vector, so a change of scheme cannot pass unnoticed
    assert sign_webhook("k", b"{}", 1) == (
        "v1=" + hmac.new(b"k", b"1.{}", hashlib.sha256).hexdigest()
    )


def test_round_trip_returns_the_body() -> None:
    sig = sign_webhook(SECRET, BODY, TS)
    assert verify_webhook(SECRET, BODY, headers(sig), now=TS + 10) == {
        "type": "meeting.ended",
        "meeting_id": "m_abc",
    }


def test_header_names_are_case_insensitive() -> None:
    sig = sign_webhook(SECRET, BODY, TS)
    lowered = {k.lower(): v for k, v in headers(sig).items()}
    assert verify_webhook(SECRET, BODY, lowered, now=TS)["meeting_id"] == "m_abc"


def test_any_of_several_signatures_may_match_during_rotation() -> None:
    old = sign_webhook("whsec_old", BODY, TS)
    new = sign_webhook(SECRET, BODY, TS)
    assert verify_webhook(SECRET, BODY, headers(f"{old} {new}"), now=TS)
    assert verify_webhook("whsec_old", BODY, headers(f"{old} {new}"), now=TS)
    with pytest.raises(TokenInvalid):
        verify_webhook("whsec_other", BODY, headers(f"{old} {new}"), now=TS)


@pytest.mark.parametrize(
    ("body", "signature"),
    [
        (BODY.replace(b"ended", b"ENDED"), None),  # tampered body
        (BODY, "v1=" + "0" * 64),  # forged signature
        (BODY, "v0=" + sign_webhook(SECRET, BODY, TS)[3:]),  # unknown scheme
        (BODY, ""),  # empty header
    ],
)
def test_tampering_is_refused(body: bytes, signature: str | None) -> None:
    sig = sign_webhook(SECRET, BODY, TS) if signature is None else signature
    with pytest.raises(TokenInvalid, match="signature"):
        verify_webhook(SECRET, body, headers(sig), now=TS)


def test_changed_timestamp_breaks_the_signature() -> None:
    sig = sign_webhook(SECRET, BODY, TS)
    with pytest.raises(TokenInvalid, match="signature"):
        verify_webhook(SECRET, BODY, headers(sig, TS + 1), now=TS)


@pytest.mark.parametrize("offset", [-301, 301, -10_000])
def test_stale_or_future_timestamps_are_refused(offset: int) -> None:
    sig = sign_webhook(SECRET, BODY, TS)
    with pytest.raises(TokenInvalid, match="window"):
        verify_webhook(SECRET, BODY, headers(sig), now=TS - offset)
    assert verify_webhook(SECRET, BODY, headers(sig), now=TS - offset, tolerance_s=20_000)


def test_real_clock_is_used_by_default() -> None:
    sig = sign_webhook(SECRET, BODY, TS)
    with pytest.raises(TokenInvalid, match="window"):
        verify_webhook(SECRET, BODY, headers(sig))  # TS is long past


@pytest.mark.parametrize("bad", ["", "soon", "-5", "1.5", "١٢٣"])
def test_malformed_timestamp_is_refused(bad: str) -> None:
    with pytest.raises(TokenInvalid, match="unix time"):
        verify_webhook(SECRET, BODY, headers(sign_webhook(SECRET, BODY, TS), bad), now=TS)


@pytest.mark.parametrize("missing", [TIMESTAMP_HEADER, SIGNATURE_HEADER])
def test_missing_headers_are_refused(missing: str) -> None:
    h = headers(sign_webhook(SECRET, BODY, TS))
    del h[missing]
    with pytest.raises(TokenInvalid, match=missing):
        verify_webhook(SECRET, BODY, h, now=TS)


def test_signed_but_not_a_json_object_is_a_protocol_error() -> None:
    for body in (b"not json", b"[1, 2]", b"\xff\xfe"):
        with pytest.raises(ProtocolError):
            verify_webhook(SECRET, body, headers(sign_webhook(SECRET, body, TS)), now=TS)


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        sign_webhook("", BODY, TS)


@given(st.binary(min_size=1, max_size=64), st.integers(0, 63))
def test_any_flipped_byte_of_the_body_is_refused(extra: bytes, index: int) -> None:
    body = BODY + extra
    sig = sign_webhook(SECRET, body, TS)
    i = index % len(body)
    tampered = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]
    with pytest.raises(TokenInvalid):
        verify_webhook(SECRET, tampered, headers(sig), now=TS)
