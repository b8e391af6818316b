"""The URL shapes of the contract: join URL, its parser, discovery URI, RTC URL."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.domain.model import new_join_code
from frontdesk.errors import MeetingNotFound, ValidationFailed
from frontdesk.protocol.urls import (
    MAX_JOIN_CODE,
    JoinUrl,
    discovery_uri,
    join_code,
    join_url,
    parse_join_url,
    rtc_url,
    rtc_url_for_join_url,
)


def test_join_url_and_discovery_uri() -> None:
    assert join_url("https://meet.example", "abc") == "https://meet.example/j/abc"
    assert join_url("https://meet.example/", "abc") == "https://meet.example/j/abc"
    assert join_url("https://x.test/fd", "abc") == "https://x.test/fd/j/abc"
    assert discovery_uri("http://127.0.0.1:8080", "m1") == "http://127.0.0.1:8080/v1/discovery/m1"
    assert discovery_uri("https://x.test/fd/", "m1") == "https://x.test/fd/v1/discovery/m1"


@pytest.mark.parametrize(
    ("url", "base", "code"),
    [
        ("https://meet.example/j/abc", "https://meet.example", "abc"),
        ("https://meet.example/j/abc/", "https://meet.example", "abc"),
        ("https://meet.example/j/abc?utm=1#frag", "https://meet.example", "abc"),
        ("https://meet.example/j/abc#x?y", "https://meet.example", "abc"),
        ("http://127.0.0.1:8080/prefix/j/a-b_c", "http://127.0.0.1:8080/prefix", "a-b_c"),
        ("/j/abc", "", "abc"),
        ("https://h/j/j/abc", "https://h/j", "abc"),
    ],
)
def test_parse_join_url(url: str, base: str, code: str) -> None:
    assert parse_join_url(url) == JoinUrl(base_url=base, code=code)
    assert join_code(url) == code


@pytest.mark.parametrize(
    "url",
    [
        "",
        "https://meet.example/",
        "https://meet.example/abc",
        "https://meet.example/j/",
        "https://meet.example/j/?code=abc",
        "https://meet.example/j/abc/extra",
        "https://meet.example/x?next=/j/abc",
        "https://meet.example/#/j/abc",
        "https://meet.example/j/" + "a" * (MAX_JOIN_CODE + 1),
    ],
)
def test_parse_join_url_refuses_what_is_not_a_join_url(url: str) -> None:
    with pytest.raises(MeetingNotFound, match="not a join URL"):
        parse_join_url(url)


def test_longest_code_is_accepted_and_real_codes_fit() -> None:
    code = "a" * MAX_JOIN_CODE
    assert join_code(f"https://h/j/{code}") == code
    assert len(new_join_code()) <= MAX_JOIN_CODE


@given(
    base=st.sampled_from(["https://meet.example", "http://127.0.0.1:8080", "https://h.test/a/b"]),
    code=st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=MAX_JOIN_CODE),
)
def test_join_url_round_trips(base: str, code: str) -> None:
    url = join_url(base, code)
    assert parse_join_url(url) == JoinUrl(base_url=base, code=code)
    assert str(parse_join_url(url)) == url


@pytest.mark.parametrize(
    ("base", "rtc"),
    [
        ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/v1/rtc"),
        ("https://meet.example", "wss://meet.example/v1/rtc"),
        ("https://meet.example/", "wss://meet.example/v1/rtc"),
        ("HTTPS://meet.example/fd/?x=1#y", "wss://meet.example/fd/v1/rtc"),
        ("https://[::1]:8443/fd", "wss://[::1]:8443/fd/v1/rtc"),
    ],
)
def test_rtc_url(base: str, rtc: str) -> None:
    assert rtc_url(base) == rtc


@pytest.mark.parametrize(
    "base", ["", "meet.example", "ftp://meet.example", "https://", "https://[::1"]
)
def test_rtc_url_needs_an_http_base(base: str) -> None:
    with pytest.raises(ValidationFailed):
        rtc_url(base)


def test_rtc_url_for_join_url() -> None:
    assert rtc_url_for_join_url("https://meet.example/fd/j/abc?x") == "wss://meet.example/fd/v1/rtc"
    with pytest.raises(MeetingNotFound):
        rtc_url_for_join_url("https://meet.example/abc")
    with pytest.raises(ValidationFailed):
        rtc_url_for_join_url("/j/abc")
