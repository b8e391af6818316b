"""The client-frame decoder accepts only valid Unicode."""

from __future__ import annotations

import pytest

from frontdesk.errors import ProtocolError
from frontdesk.protocol import decode_client, encode
from frontdesk.protocol import messages as m


@pytest.mark.parametrize(
    "raw",
    [
        '{"type":"chat","id":"c1","text":"\\udcff"}',
        '{"type":"chat","id":"c1","text":"a\\ud800b"}',
        '{"type":"chat","id":"\\udfff","text":"a"}',
        '{"type":"signal","to":"p","kind":"offer","data":{"sdp":"\\ud83d"}}',
        '{"type":"ping","\\udcff":1}',
        b'{"type":"chat","id":"c1","text":"\xed\xb3\xbf"}',
        b'{"type":"chat","id":"c1","text":"\xff"}',
    ],
)
def test_invalid_unicode_is_a_protocol_error(raw: str | bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_client(raw)


def test_valid_astral_text_passes_escaped_or_raw() -> None:
    for raw in (
        '{"type":"chat","id":"c1","text":"\\ud83d\\ude00"}',
        '{"type":"chat","id":"c1","text":"😀"}',
    ):
        msg = decode_client(raw)
        assert isinstance(msg, m.Chat) and msg.text == "😀"


def test_encode_repairs_what_slipped_in_instead_of_failing() -> None:
    frame = encode("error", code="x", message="bad \udcff")
    frame.encode("utf-8")
    assert "bad \ufffd" in frame
