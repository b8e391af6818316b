"""Ed25519 signing keys, the key ring, and JWT signing and verification.

A :class:`KeyRing` holds every key the store knows: the newest key that is not
retired signs; retired keys still verify until their ``expires_at``. Tokens
name their key by ``kid`` (the RFC 7638 thumbprint of the public key).

Verification trusts nothing in a token before its signature checks out, accepts
only ``EdDSA``, insists on canonical base64url (so no two spellings of one token
verify), and checks times against the ``now`` it is given, never a clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from frontdesk.errors import TokenExpired, TokenInvalid, TokenWrongMeeting, ValidationFailed

__all__ = [
    "ALGORITHM",
    "MEETING_AUDIENCE_PREFIX",
    "KeyMaterial",
    "KeyRing",
    "generate_key",
    "jwk_thumbprint",
    "unverified_claims",
]

ALGORITHM = "EdDSA"
MEETING_AUDIENCE_PREFIX = "frontdesk:meeting:"
REQUIRED_CLAIMS = ("exp", "iat", "jti", "aud", "typ")
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# Claims PyJWT would check against its own clock: we check them ourselves.
_DECODE_OPTIONS: jwt.types.Options = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
    "require": [],
}

#: Signatures already checked, per ring: a token presented again (discovery, then
#: the join) skips only the Ed25519 check; its key, claims and times are checked
#: every time.
_VERIFIED_CACHE = 4096


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """One signing key as stored (mirrors ``store.base.SigningKeyRecord``)."""

    kid: str
    private_pem: str
    created_at: datetime
    retired_at: datetime | None = None
    expires_at: datetime | None = None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode_strict(segment: str) -> bytes:
    """Decode base64url without padding, refusing any non-canonical spelling."""
    if len(segment) % 4 == 1:
        raise TokenInvalid("malformed token")
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenInvalid("malformed token") from exc
    if _b64url(data) != segment:
        raise TokenInvalid("malformed token")
    return data


def _json_segment(segment: str) -> Any:
    try:
        return json.loads(_b64url_decode_strict(segment))
    except (ValueError, UnicodeError, RecursionError) as exc:
        raise TokenInvalid("malformed token") from exc


def unverified_claims(token: str) -> dict[str, Any]:
    """A token's claims read *without* checking anything but its shape: only to
    learn which rules apply to it (which meeting it names) before verifying."""
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        raise TokenInvalid("malformed token")
    claims = _json_segment(token.split(".", 2)[1])
    if not isinstance(claims, dict):
        raise TokenInvalid("malformed token")
    return claims


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def jwk_thumbprint(public_key: Ed25519PublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url) of an Ed25519 public key."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": _b64url(_raw_public(public_key))},
        separators=(",", ":"),
        sort_keys=True,
    )
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValidationFailed("now must be a timezone-aware datetime")


def generate_key(now: datetime) -> KeyMaterial:
    """A new Ed25519 key (PKCS#8 PEM) named by its JWK thumbprint."""
    _require_aware(now)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return KeyMaterial(kid=jwk_thumbprint(private.public_key()), private_pem=pem, created_at=now)


@dataclass(frozen=True, slots=True)
class _LoadedKey:
    material: KeyMaterial
    private: Ed25519PrivateKey
    public: Ed25519PublicKey

    def usable_at(self, now: datetime) -> bool:
        expires_at = self.material.expires_at
        return expires_at is None or now < expires_at


def _load(material: KeyMaterial) -> _LoadedKey:
    try:
        private = serialization.load_pem_private_key(
            material.private_pem.encode("ascii"), password=None
        )
    except (ValueError, TypeError, UnicodeError) as exc:
        raise ValueError(f"signing key {material.kid!r} is not a PEM private key") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"signing key {material.kid!r} is not an Ed25519 key")
    return _LoadedKey(material=material, private=private, public=private.public_key())


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenInvalid(f"claim {name!r} must be a number")
    if not math.isfinite(value):
        raise TokenInvalid(f"claim {name!r} must be finite")
    return float(value)


class KeyRing:
    """The signing keys a node knows: one signs, all unexpired ones verify."""

    def __init__(self, keys: Sequence[KeyMaterial]) -> None:
        loaded: dict[str, _LoadedKey] = {}
        for material in keys:
            if material.kid in loaded:
                raise ValueError(f"duplicate signing key id {material.kid!r}")
            loaded[material.kid] = _load(material)
        active = [k for k in loaded.values() if k.material.retired_at is None]
        if not active:
            raise ValueError("the key ring holds no active (unretired) signing key")
        self._keys = loaded
        self._active = max(active, key=lambda k: k.material.created_at)
        # token -> (kid, claims JSON) of tokens whose signature checked out
        self._verified: dict[str, tuple[str, str]] = {}

    def __repr__(self) -> str:
        return f"KeyRing(active_kid={self.active_kid!r}, kids={sorted(self._keys)!r})"

    @property
    def active_kid(self) -> str:
        """The ``kid`` of the key that signs new tokens."""
        return self._active.material.kid

    def kids(self) -> set[str]:
        return set(self._keys)

    def sign(self, claims: Mapping[str, Any]) -> str:
        """A compact JWS over ``claims`` with the active key (header: alg, kid, typ)."""
        return jwt.encode(
            dict(claims),
            self._active.private,
            algorithm=ALGORITHM,
            headers={"kid": self.active_kid, "typ": "JWT"},
        )

    def jwks(self, now: datetime) -> dict[str, Any]:
        """The public keys that still verify at ``now``, as a JWK Set."""
        _require_aware(now)
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": _b64url(_raw_public(key.public)),
                    "kid": kid,
                    "alg": ALGORITHM,
                    "use": "sig",
                }
                for kid, key in sorted(self._keys.items())
                if key.usable_at(now)
            ]
        }

    def has_kid(self, token: str) -> bool:
        """True when the token's header names a key of this ring.

        False for an unknown kid and for anything that is not a well-formed
        token; a server may reload the ring from the store on False.
        """
        if token in self._verified:
            return True
        try:
            header = self._header(token)
        except TokenInvalid:
            return False
        return header.get("kid") in self._keys

    @staticmethod
    def _header(token: str) -> dict[str, Any]:
        if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
            raise TokenInvalid("malformed token")
        header_b64, payload_b64, signature_b64 = token.split(".")
        for segment in (payload_b64, signature_b64):
            _b64url_decode_strict(segment)
        try:
            header = json.loads(_b64url_decode_strict(header_b64))
        except (ValueError, UnicodeError) as exc:
            raise TokenInvalid("malformed token header") from exc
        if not isinstance(header, dict):
            raise TokenInvalid("malformed token header")
        return header

    def verify(
        self,
        token: str,
        *,
        audience: str,
        now: datetime,
        leeway_s: int = 30,
        issuer: str | None = None,
        typ: str | None = None,
    ) -> dict[str, Any]:
        """Check a token's signature, key, claims and times; return its claims.

        Raises ``TokenInvalid`` for anything wrong but these two: an expired
        token raises ``TokenExpired``; a meeting token for another meeting
        raises ``TokenWrongMeeting``.
        """
        _require_aware(now)
        if leeway_s < 0:
            raise ValidationFailed("leeway_s must not be negative")
        key, claims = self._signed_claims(token)
        if not key.usable_at(now):
            raise TokenInvalid("the token's signing key has expired")
        self._check_claims(claims, audience=audience, issuer=issuer, typ=typ)
        self._check_times(claims, now=now, leeway_s=leeway_s)
        return claims

    def _signed_claims(self, token: str) -> tuple[_LoadedKey, dict[str, Any]]:
        """The key that signed ``token`` and its claims, once PyJWT has checked its
        signature; a token checked before is not checked again."""
        seen = self._verified.get(token)
        if seen is not None:
            return self._keys[seen[0]], json.loads(seen[1])
        header = self._header(token)
        if header.get("alg") != ALGORITHM:
            raise TokenInvalid("unsupported token algorithm")
        if "crit" in header or "b64" in header:
            raise TokenInvalid("unsupported token header")
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenInvalid("unknown signing key")
        try:
            claims = jwt.decode(token, key.public, algorithms=[ALGORITHM], options=_DECODE_OPTIONS)
        except jwt.PyJWTError as exc:
            raise TokenInvalid("bad token signature") from exc
        if len(self._verified) >= _VERIFIED_CACHE:
            self._verified.clear()
        self._verified[token] = (key.material.kid, json.dumps(claims))
        return key, claims

    @staticmethod
    def _check_claims(
        claims: Mapping[str, Any], *, audience: str, issuer: str | None, typ: str | None
    ) -> None:
        missing = [name for name in REQUIRED_CLAIMS if name not in claims]
        if missing:
            raise TokenInvalid(f"token lacks required claims: {', '.join(missing)}")
        for name in ("jti", "aud", "typ"):
            if not isinstance(claims[name], str) or not claims[name]:
                raise TokenInvalid(f"claim {name!r} must be a non-empty string")
        if issuer is not None and claims.get("iss") != issuer:
            raise TokenInvalid("token from another issuer")
        if typ is not None and claims["typ"] != typ:
            raise TokenInvalid(f"not a {typ} token")
        token_aud: str = claims["aud"]
        if token_aud != audience:
            if audience.startswith(MEETING_AUDIENCE_PREFIX) and token_aud.startswith(
                MEETING_AUDIENCE_PREFIX
            ):
                raise TokenWrongMeeting("the token is for another meeting")
            raise TokenInvalid("token for another audience")

    @staticmethod
    def _check_times(claims: Mapping[str, Any], *, now: datetime, leeway_s: int) -> None:
        at = now.timestamp()
        if _number(claims, "iat") - leeway_s > at:
            raise TokenInvalid("token issued in the future")
        if "nbf" in claims and _number(claims, "nbf") - leeway_s > at:
            raise TokenInvalid("token not valid yet")
        if _number(claims, "exp") + leeway_s < at:
            raise TokenExpired("the token has expired")
