"""Client ids, client secrets and their Argon2id hashes."""

from __future__ import annotations

import base64
import re

from argon2 import PasswordHasher

from frontdesk.tokens import (
    hash_secret,
    needs_rehash,
    new_client_id,
    new_client_secret,
    verify_secret,
)


def test_client_id_shape() -> None:
    ids = {new_client_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"app_[A-Za-z0-9_-]{16}", i) for i in ids)


def test_client_secret_strength() -> None:
    secrets = {new_client_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", secret)
        assert len(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))) >= 32


def test_hash_and_verify() -> None:
    secret = new_client_secret()
    hashed = hash_secret(secret)
    assert hashed.startswith("$argon2id$") and secret not in hashed
    assert hash_secret(secret) != hashed  # salted
    assert verify_secret(hashed, secret)
    assert not verify_secret(hashed, secret + "x")
    assert not verify_secret(hashed, "")
    assert not needs_rehash(hashed)


def test_verify_never_raises_on_malformed_hashes() -> None:
    for bad in ("", "nonsense", "$argon2id$v=19$m=1,t=1,p=1$AAAA$BBBB", "$2b$12$abc", "\x00"):
        assert verify_secret(bad, "secret") is False
        assert needs_rehash(bad)
    assert verify_secret(None, "secret") is False  # type: ignore[arg-type]


def test_weaker_hash_verifies_but_needs_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("s3cret")
    assert verify_secret(weak, "s3cret")
    assert needs_rehash(weak)
