"""Short-lived TURN credentials (the TURN REST API convention).

The TURN server (coturn with ``use-auth-secret`` and ``static-auth-secret``)
shares a secret with Frontdesk: the username is ``<expiry unix time>:<user>``
and the password is ``base64(HMAC-SHA1(secret, username))``, so the TURN
server checks a credential without asking anyone.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from frontdesk.errors import ValidationFailed

__all__ = ["ice_servers_with_turn", "is_turn_server", "turn_credentials"]


def turn_credentials(secret: str, *, user: str, ttl_s: int, now: datetime) -> tuple[str, str]:
    """``(username, password)`` valid until ``now + ttl_s``."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValidationFailed("now must be a timezone-aware datetime")
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or ttl_s <= 0:
        raise ValidationFailed("ttl_s must be a positive whole number of seconds")
    if not secret:
        raise ValidationFailed("the TURN secret must not be empty")
    username = f"{int(now.timestamp()) + ttl_s}:{user}"
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def _urls(server: Mapping[str, Any]) -> list[str]:
    urls = server.get("urls", server.get("url", []))
    if isinstance(urls, str):
        return [urls]
    if isinstance(urls, list | tuple):
        return [u for u in urls if isinstance(u, str)]
    return []


def is_turn_server(server: Mapping[str, Any]) -> bool:
    """True when one of the server's URLs is a ``turn:`` or ``turns:`` URL."""
    return any(u.lower().startswith(("turn:", "turns:")) for u in _urls(server))


def ice_servers_with_turn(
    servers: Sequence[Mapping[str, Any]],
    *,
    secret: str | None,
    user: str,
    ttl_s: int,
    now: datetime,
) -> list[dict[str, Any]]:
    """Copies of ``servers`` (RTCIceServer dicts) with TURN credentials filled in.

    Without a secret the servers are returned unchanged (copied). STUN servers
    never get credentials.
    """
    out = [copy.deepcopy(dict(server)) for server in servers]
    if not secret:
        return out
    turn = [server for server in out if is_turn_server(server)]
    if turn:
        username, password = turn_credentials(secret, user=user, ttl_s=ttl_s, now=now)
        for server in turn:
            server["username"] = username
            server["credential"] = password
            server["credentialType"] = "password"
    return out
