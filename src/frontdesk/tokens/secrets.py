"""Application client credentials and the hashing of secrets (Argon2id).

One module-level ``PasswordHasher`` with argon2-cffi's defaults (RFC 9106, low
memory profile). ``verify_secret`` never raises: a wrong secret and a damaged
hash both answer ``False``.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error, InvalidHashError

__all__ = ["hash_secret", "needs_rehash", "new_client_id", "new_client_secret", "verify_secret"]

_hasher = PasswordHasher()


def new_client_id() -> str:
    """A public application id: ``app_`` and 16 url-safe characters."""
    return "app_" + secrets.token_urlsafe(12)


def new_client_secret() -> str:
    """A client secret of 256 bits from the OS CSPRNG (43 url-safe characters)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The Argon2id PHC string of ``secret`` (salted; differs on every call)."""
    return _hasher.hash(secret)


def verify_secret(secret_hash: str, secret: str) -> bool:
    """True when ``secret`` matches ``secret_hash``; False otherwise, never raises."""
    if not isinstance(secret_hash, str) or not isinstance(secret, str):
        return False
    try:
        return _hasher.verify(secret_hash, secret)
    except (Argon2Error, ValueError, TypeError):
        return False


def needs_rehash(secret_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's (or is damaged)."""
    try:
        return _hasher.check_needs_rehash(secret_hash)
    except (InvalidHashError, ValueError, TypeError):
        return True
