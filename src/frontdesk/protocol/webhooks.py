"""Signing and verifying webhook deliveries (HMAC-SHA256 over timestamp and body).

A delivery carries three headers::

    Frontdesk-Webhook-Id: <delivery id>
    Frontdesk-Timestamp: <unix seconds>
    Frontdesk-Signature: v1=<hex HMAC-SHA256(secret, b"<timestamp>." + body)>

The signature header may hold several ``v1=`` values separated by spaces, so a
receiver keeps working while the signing secret is rotated. This is part of the
wire contract: the server signs with :func:`sign_webhook` and the service
client's users verify with :func:`verify_webhook`, both from here. It depends on
the standard library and ``frontdesk.errors`` only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from frontdesk.errors import ProtocolError, TokenInvalid, ValidationFailed

__all__ = [
    "ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "sign_webhook",
    "verify_webhook",
]

ID_HEADER = "Frontdesk-Webhook-Id"
TIMESTAMP_HEADER = "Frontdesk-Timestamp"
SIGNATURE_HEADER = "Frontdesk-Signature"
_SCHEME = "v1="


def _mac(secret: str, body: bytes, timestamp: int) -> str:
    if not secret:
        raise ValidationFailed("the webhook secret must not be empty")
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_webhook(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Frontdesk-Signature`` header value (``"v1=<hex>"``) for one delivery."""
    return _SCHEME + _mac(secret, body, timestamp)


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    raise TokenInvalid(f"the {name} header is missing")


def verify_webhook(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float | None = None,
    tolerance_s: int = 300,
) -> dict[str, Any]:
    """Check a delivery's signature and age, and return its decoded JSON body.

    ``body`` must be the raw request bytes, before any JSON decoding. Raises
    :class:`~frontdesk.errors.TokenInvalid` when a header is missing, the
    signature does not match, or the timestamp is more than ``tolerance_s``
    seconds away from ``now`` (default: the current time), in either direction.
    """
    raw_ts = _header(headers, TIMESTAMP_HEADER).strip()
    if not raw_ts.isascii() or not raw_ts.isdigit() or len(raw_ts) > 12:
        raise TokenInvalid(f"the {TIMESTAMP_HEADER} header is not a unix time")
    timestamp = int(raw_ts)
    expected = _mac(secret, body, timestamp).encode()
    offered = [
        part[len(_SCHEME) :].encode("utf-8", "replace")
        for part in _header(headers, SIGNATURE_HEADER).split()
        if part.startswith(_SCHEME)
    ]
    # compare against every offered value (no early exit) in constant time each
    matches = [hmac.compare_digest(candidate, expected) for candidate in offered]
    if not any(matches):
        raise TokenInvalid("the webhook signature does not match")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise TokenInvalid("the webhook timestamp is outside the accepted window")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError("the webhook body is not JSON") from exc
    if not isinstance(payload, dict):
        raise ProtocolError("the webhook body is not a JSON object")
    return payload
