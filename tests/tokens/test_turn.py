"""TURN REST API credentials (coturn use-auth-secret)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from frontdesk.errors import ValidationFailed
from frontdesk.tokens import ice_servers_with_turn, turn_credentials

T0 = datetime(2024, 1, 1, tzinfo=UTC)  # 1704067200
# Computed independently:
#   printf '%s' 1704070800:alice | openssl dgst -sha1 -hmac north -binary | base64
VECTOR = ("1704070800:alice", "KCAwIKiHvNoDJCf4zPTIJebiOjQ=")


def test_known_vector() -> None:
    assert turn_credentials("north", user="alice", ttl_s=3600, now=T0) == VECTOR


def test_fractional_seconds_are_dropped() -> None:
    now = T0.replace(microsecond=999_999)
    assert turn_credentials("north", user="alice", ttl_s=3600, now=now) == VECTOR


def test_user_may_hold_a_colon() -> None:
    username, _ = turn_credentials("north", user="guest:abc", ttl_s=60, now=T0)
    assert username == "1704067260:guest:abc"


@pytest.mark.parametrize(
    "kw",
    [
        {"ttl_s": 0},
        {"ttl_s": -1},
        {"now": datetime(2024, 1, 1)},  # naive
        {"secret": ""},
    ],
)
def test_bad_arguments(kw: dict[str, Any]) -> None:
    options: dict[str, Any] = {"secret": "north", "user": "alice", "ttl_s": 60, "now": T0}
    options.update(kw)
    secret = options.pop("secret")
    with pytest.raises(ValidationFailed):
        turn_credentials(secret, **options)


SERVERS: list[dict[str, Any]] = [
    {"urls": "stun:stun.example:3478"},
    {"urls": ["turn:turn.example:3478?transport=udp", "turn:turn.example:3478?transport=tcp"]},
    {"urls": "turns:turn.example:5349"},
    {"urls": ["stun:a.example", "TURN:b.example"]},
    {"urls": "turn:static.example", "username": "u", "credential": "c"},
]


def test_ice_servers_with_turn() -> None:
    original = copy.deepcopy(SERVERS)
    out = ice_servers_with_turn(SERVERS, secret="north", user="alice", ttl_s=3600, now=T0)
    assert original == SERVERS  # the input is left alone
    assert out[0] == {"urls": "stun:stun.example:3478"}
    for server in out[1:]:
        assert (server["username"], server["credential"]) == VECTOR
        assert server["credentialType"] == "password"
    assert out[1]["urls"] == SERVERS[1]["urls"] and out[1]["urls"] is not SERVERS[1]["urls"]


def test_ice_servers_without_secret_are_copies() -> None:
    out = ice_servers_with_turn(SERVERS, secret=None, user="alice", ttl_s=3600, now=T0)
    assert out == SERVERS
    assert all(a is not b for a, b in zip(out, SERVERS, strict=True))
    assert ice_servers_with_turn([], secret="north", user="a", ttl_s=60, now=T0) == []
