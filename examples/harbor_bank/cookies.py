"""The bank's session cookie: ``payload.signature``, HMAC-SHA256 with the bank's
own secret key. The payload (username and expiry) is readable, not forgeable."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

__all__ = ["COOKIE_NAME", "sign_session", "verify_session"]

COOKIE_NAME = "harbor_session"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def sign_session(key: bytes, username: str, ttl_s: int = 3600) -> str:
    payload = _b64(json.dumps({"u": username, "exp": int(time.time()) + ttl_s}).encode())
    return f"{payload}.{_mac(key, payload)}"


def verify_session(key: bytes, cookie: str | None) -> str | None:
    """The signed-in username, or ``None`` for a missing, forged or expired cookie."""
    if not cookie or "." not in cookie:
        return None
    payload, signature = cookie.rsplit(".", 1)
    if not hmac.compare_digest(signature, _mac(key, payload)):
        return None
    try:
        data = json.loads(_unb64(payload))
    except ValueError:
        return None
    if not isinstance(data, dict) or int(data.get("exp", 0)) < time.time():
        return None
    username = data.get("u")
    return username if isinstance(username, str) else None
