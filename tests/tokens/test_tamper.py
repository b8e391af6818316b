"""Property: any change to the bytes of a valid token makes it invalid (never another error)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from frontdesk.errors import TokenInvalid
from frontdesk.tokens import KeyRing, generate_key, issue_guest_token, verify_guest_token

from .conftest import ISSUER, NOW

RING = KeyRing([generate_key(NOW)])
TOKEN, _ = issue_guest_token(
    RING,
    issuer=ISSUER,
    meeting_id="m_1",
    display_name="Ann Visitor",
    ttl_s=600,
    single_use=True,
    now=NOW,
    origins=["https://shop.example"],
)
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
CHARS = st.one_of(st.sampled_from(B64URL + ".=+/ \n"), st.characters())
INDEX = st.integers(min_value=0, max_value=len(TOKEN) - 1)


def assert_invalid(token: str) -> None:
    assert token != TOKEN
    try:
        verify_guest_token(RING, token, issuer=ISSUER, meeting_id="m_1", now=NOW)
    except TokenInvalid as exc:
        assert type(exc) is TokenInvalid
    else:
        raise AssertionError(f"tampered token verified: {token!r}")


def test_the_original_verifies() -> None:
    assert verify_guest_token(RING, TOKEN, issuer=ISSUER, meeting_id="m_1", now=NOW)


@settings(max_examples=200, deadline=None)
@given(index=INDEX, char=CHARS)
def test_replace_a_character(index: int, char: str) -> None:
    if TOKEN[index] == char:
        char = "A" if char != "A" else "B"
    assert_invalid(TOKEN[:index] + char + TOKEN[index + 1 :])


@settings(max_examples=200, deadline=None)
@given(index=INDEX, bit=st.integers(min_value=0, max_value=7))
def test_flip_a_bit(index: int, bit: int) -> None:
    data = bytearray(TOKEN.encode("ascii"))
    data[index] ^= 1 << bit
    assert_invalid(data.decode("latin-1"))


@settings(max_examples=200, deadline=None)
@given(index=INDEX, value=st.integers(min_value=0, max_value=255))
def test_change_a_byte(index: int, value: int) -> None:
    data = bytearray(TOKEN.encode("ascii"))
    if data[index] == value:
        value ^= 0x01
    data[index] = value
    assert_invalid(data.decode("latin-1"))


@settings(max_examples=200, deadline=None)
@given(length=st.integers(min_value=0, max_value=len(TOKEN) - 1))
def test_truncate(length: int) -> None:
    assert_invalid(TOKEN[:length])


@settings(max_examples=200, deadline=None)
@given(suffix=st.text(min_size=1, max_size=8), prefix=st.text(max_size=4))
def test_extend(suffix: str, prefix: str) -> None:
    assert_invalid(prefix + TOKEN + suffix)


@settings(max_examples=200, deadline=None)
@given(index=st.integers(min_value=0, max_value=len(TOKEN)), char=CHARS)
def test_insert_a_character(index: int, char: str) -> None:
    assert_invalid(TOKEN[:index] + char + TOKEN[index:])


@settings(max_examples=200, deadline=None)
@given(index=INDEX)
def test_delete_a_character(index: int) -> None:
    assert_invalid(TOKEN[:index] + TOKEN[index + 1 :])


def test_every_last_signature_character() -> None:
    """The last base64url character carries padding bits: no other spelling may verify."""
    for char in B64URL:
        if char != TOKEN[-1]:
            assert_invalid(TOKEN[:-1] + char)


def test_other_spellings_of_the_same_token() -> None:
    """Padding, whitespace and standard-alphabet spellings decode to the same bytes: refused."""
    header, payload, signature = TOKEN.split(".")
    spellings = [
        TOKEN + "==",
        TOKEN + "\n",
        " " + TOKEN,
        f"{header}.{payload}.{signature}==",
        f"{header}=.{payload}.{signature}",
        f"{header}.{payload}==.{signature}",
        TOKEN.replace("-", "+").replace("_", "/"),
        f"{header}.{payload}.{signature[:40]}\n{signature[40:]}",
    ]
    for spelling in spellings:
        if spelling != TOKEN:
            assert_invalid(spelling)
