"""KeyRing: signing, the checks of verify(), algorithm attacks, rotation, JWKS."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import math
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from frontdesk.errors import TokenExpired, TokenInvalid, TokenWrongMeeting, ValidationFailed
from frontdesk.tokens import KeyMaterial, KeyRing, generate_key
from frontdesk.tokens.keys import jwk_thumbprint

from .conftest import ISSUER, NOW

AUD = "frontdesk:meeting:m_1"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def claims(**changes: Any) -> dict[str, Any]:
    iat = int(NOW.timestamp())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUD,
        "sub": "guest:x",
        "typ": "guest",
        "jti": "j1",
        "iat": iat,
        "exp": iat + 600,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def verify(ring: KeyRing, token: str, **kw: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"audience": AUD, "now": NOW, "issuer": ISSUER, "typ": "guest"}
    options.update(kw)
    return ring.verify(token, **options)


def public_pem(key: KeyMaterial) -> bytes:
    private = serialization.load_pem_private_key(key.private_pem.encode(), password=None)
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --- keys and the ring --------------------------------------------------------------


def test_generate_key_is_ed25519_pkcs8_named_by_thumbprint() -> None:
    key = generate_key(NOW)
    assert key.private_pem.startswith("-----BEGIN PRIVATE KEY-----")
    private = serialization.load_pem_private_key(key.private_pem.encode(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    assert key.kid == jwk_thumbprint(private.public_key())
    assert key.created_at == NOW and key.retired_at is None and key.expires_at is None
    assert generate_key(NOW).kid != key.kid


def test_thumbprint_matches_rfc8037_vector() -> None:
    # RFC 8037, appendix A.1 (key) and A.3 (its RFC 7638 thumbprint).
    d = base64.urlsafe_b64decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
    public = Ed25519PrivateKey.from_private_bytes(d).public_key()
    assert jwk_thumbprint(public) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_generate_key_refuses_naive_time() -> None:
    with pytest.raises(ValidationFailed):
        generate_key(NOW.replace(tzinfo=None))


def test_ring_needs_an_active_key(key: KeyMaterial) -> None:
    with pytest.raises(ValueError):
        KeyRing([])
    with pytest.raises(ValueError):
        KeyRing([dataclasses.replace(key, retired_at=NOW)])


def test_ring_refuses_duplicates_and_bad_pem(key: KeyMaterial) -> None:
    with pytest.raises(ValueError):
        KeyRing([key, key])
    with pytest.raises(ValueError):
        KeyRing([KeyMaterial(kid="k", private_pem="not a key", created_at=NOW)])
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(ValueError):
        KeyRing([KeyMaterial(kid="k", private_pem=rsa_pem, created_at=NOW)])


def test_newest_active_key_signs_whatever_the_order() -> None:
    old = generate_key(NOW - timedelta(days=2))
    new = generate_key(NOW - timedelta(days=1))
    retired_newer = dataclasses.replace(generate_key(NOW), retired_at=NOW)
    for keys in ([old, new, retired_newer], [retired_newer, new, old]):
        ring = KeyRing(keys)
        assert ring.active_kid == new.kid
        assert ring.kids() == {old.kid, new.kid, retired_newer.kid}


def test_sign_sets_header_and_verify_returns_claims(ring: KeyRing) -> None:
    token = ring.sign(claims())
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": ring.active_kid, "typ": "JWT"}
    assert verify(ring, token) == claims()
    assert ring.has_kid(token)


# --- required claims, issuer, typ, audience -------------------------------------------


@pytest.mark.parametrize("missing", ["exp", "iat", "jti", "aud", "typ"])
def test_required_claims(ring: KeyRing, missing: str) -> None:
    token = ring.sign(claims(**{missing: None}))
    with pytest.raises(TokenInvalid):
        ring.verify(token, audience=AUD, now=NOW)


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": "soon"},
        {"exp": True},
        {"exp": math.nan},
        {"exp": math.inf},
        {"iat": math.nan},
        {"nbf": math.nan},
        {"jti": ""},
        {"jti": 7},
        {"aud": [AUD]},
        {"typ": ["guest"]},
    ],
)
def test_malformed_claims(ring: KeyRing, changes: dict[str, Any]) -> None:
    token = ring.sign(claims(**changes))
    with pytest.raises(TokenInvalid):
        verify(ring, token)


def test_wrong_issuer(ring: KeyRing) -> None:
    with pytest.raises(TokenInvalid):
        verify(ring, ring.sign(claims()), issuer="https://evil.test")
    with pytest.raises(TokenInvalid):
        verify(ring, ring.sign(claims(iss=None)))
    # issuer=None skips the check
    assert verify(ring, ring.sign(claims(iss="https://other.test")), issuer=None)


def test_wrong_typ(ring: KeyRing) -> None:
    with pytest.raises(TokenInvalid):
        verify(ring, ring.sign(claims(typ="resume")))
    assert verify(ring, ring.sign(claims(typ="resume")), typ=None)["typ"] == "resume"


def test_wrong_meeting(ring: KeyRing) -> None:
    token = ring.sign(claims())
    with pytest.raises(TokenWrongMeeting):
        verify(ring, token, audience="frontdesk:meeting:m_2")


@pytest.mark.parametrize(
    ("token_aud", "expected_aud"),
    [
        ("frontdesk:service", "frontdesk:meeting:m_1"),
        ("frontdesk:meeting:m_1", "frontdesk:user"),
        ("frontdesk:service", "frontdesk:user"),
    ],
)
def test_wrong_audience_is_invalid(ring: KeyRing, token_aud: str, expected_aud: str) -> None:
    token = ring.sign(claims(aud=token_aud))
    with pytest.raises(TokenInvalid):
        verify(ring, token, audience=expected_aud, typ=None)


def test_prefix_audience_reports_wrong_meeting(ring: KeyRing) -> None:
    token = ring.sign(claims(aud="frontdesk:meeting:m_1"))
    with pytest.raises(TokenWrongMeeting):
        verify(ring, token, audience="frontdesk:meeting:m_10")


# --- times ----------------------------------------------------------------------------


def test_expiry_with_leeway(ring: KeyRing) -> None:
    token = ring.sign(claims())  # exp = NOW + 600
    assert verify(ring, token, now=NOW + timedelta(seconds=630))
    with pytest.raises(TokenExpired):
        verify(ring, token, now=NOW + timedelta(seconds=631))
    with pytest.raises(TokenExpired):
        verify(ring, token, now=NOW + timedelta(seconds=601), leeway_s=0)
    assert verify(ring, token, now=NOW + timedelta(seconds=700), leeway_s=100)


def test_issued_in_the_future(ring: KeyRing) -> None:
    token = ring.sign(claims())  # iat = NOW
    assert verify(ring, token, now=NOW - timedelta(seconds=30))
    with pytest.raises(TokenInvalid):
        verify(ring, token, now=NOW - timedelta(seconds=31))


def test_not_before(ring: KeyRing) -> None:
    token = ring.sign(claims(nbf=int(NOW.timestamp()) + 120))
    with pytest.raises(TokenInvalid):
        verify(ring, token)
    assert verify(ring, token, now=NOW + timedelta(seconds=90))


def test_verify_refuses_naive_now_and_negative_leeway(ring: KeyRing) -> None:
    token = ring.sign(claims())
    with pytest.raises(ValidationFailed):
        verify(ring, token, now=NOW.replace(tzinfo=None))
    with pytest.raises(ValidationFailed):
        verify(ring, token, leeway_s=-1)


# --- algorithm attacks and foreign keys -------------------------------------------------


def test_alg_none(ring: KeyRing) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": ring.active_kid}).encode())
    payload = b64(json.dumps(claims()).encode())
    real_sig = ring.sign(claims()).split(".")[2]
    for token in (f"{header}.{payload}.", f"{header}.{payload}.{real_sig}"):
        with pytest.raises(TokenInvalid):
            verify(ring, token)
        with pytest.raises(TokenInvalid):
            verify(ring, token, issuer=None, typ=None)


@pytest.mark.parametrize("alg", ["HS256", "HS512"])
def test_hmac_signed_with_the_public_key(ring: KeyRing, key: KeyMaterial, alg: str) -> None:
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    raw = serialization.load_pem_public_key(public_pem(key)).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    header = b64(json.dumps({"alg": alg, "typ": "JWT", "kid": key.kid}).encode())
    payload = b64(json.dumps(claims()).encode())
    signing_input = f"{header}.{payload}".encode()
    for secret in (public_pem(key), raw, b64(raw).encode()):
        signature = b64(hmac.new(secret, signing_input, digest).digest())
        token = f"{header}.{payload}.{signature}"
        assert hmac.compare_digest(
            base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
            hmac.new(secret, signing_input, digest).digest(),
        )
        assert ring.has_kid(token)  # it names our key, so only the alg check stops it
        with pytest.raises(TokenInvalid):
            verify(ring, token)


def test_rs256(ring: KeyRing) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": ring.active_kid})
    with pytest.raises(TokenInvalid):
        verify(ring, token)


def test_eddsa_signed_by_a_foreign_key_claiming_our_kid(ring: KeyRing) -> None:
    forged = jwt.encode(
        claims(), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": ring.active_kid}
    )
    with pytest.raises(TokenInvalid):
        verify(ring, forged)


def test_unknown_or_missing_kid(ring: KeyRing, other_ring: KeyRing, key: KeyMaterial) -> None:
    foreign = other_ring.sign(claims())
    assert verify(other_ring, foreign)
    assert not ring.has_kid(foreign)
    with pytest.raises(TokenInvalid):
        verify(ring, foreign)
    private = serialization.load_pem_private_key(key.private_pem.encode(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    for header in ({"alg": "EdDSA"}, {"alg": "EdDSA", "kid": 42}, {"alg": "EdDSA", "kid": "n"}):
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}"
        token = f"{signing_input}.{b64(private.sign(signing_input.encode()))}"
        assert not ring.has_kid(token)
        with pytest.raises(TokenInvalid):
            verify(ring, token)
    # control: the same hand-made token with our kid is good
    signing_input = (
        f"{b64(json.dumps({'alg': 'EdDSA', 'kid': key.kid}).encode())}"
        f".{b64(json.dumps(claims()).encode())}"
    )
    assert verify(ring, f"{signing_input}.{b64(private.sign(signing_input.encode()))}")


@pytest.mark.parametrize("garbage", ["", "a", "a.b", "a.b.c", "a.b.c.d", "..", "€.€.€", "x" * 5000])
def test_garbage(ring: KeyRing, garbage: str) -> None:
    assert not ring.has_kid(garbage)
    with pytest.raises(TokenInvalid):
        verify(ring, garbage)


def test_header_that_is_not_an_object(ring: KeyRing) -> None:
    token = ring.sign(claims())
    _, payload, signature = token.split(".")
    for header in (b64(b"[1]"), b64(b"not json"), b64(b"\xff\xfe")):
        assert not ring.has_kid(f"{header}.{payload}.{signature}")
        with pytest.raises(TokenInvalid):
            verify(ring, f"{header}.{payload}.{signature}")


# --- rotation and the JWKS ------------------------------------------------------------


def test_rotation() -> None:
    old = generate_key(NOW - timedelta(days=30))
    old_token = KeyRing([old]).sign(claims(exp=int(NOW.timestamp()) + 7200))
    new = generate_key(NOW)
    retired = dataclasses.replace(old, retired_at=NOW, expires_at=NOW + timedelta(hours=1))
    ring = KeyRing([retired, new])

    assert ring.active_kid == new.kid
    assert jwt.get_unverified_header(ring.sign(claims()))["kid"] == new.kid
    assert verify(ring, old_token, now=NOW + timedelta(minutes=59))["jti"] == "j1"
    assert {k["kid"] for k in ring.jwks(NOW + timedelta(minutes=59))["keys"]} == {
        old.kid,
        new.kid,
    }

    after = NOW + timedelta(hours=1)
    with pytest.raises(TokenInvalid):
        verify(ring, old_token, now=after)  # the token itself is good for another hour
    assert [k["kid"] for k in ring.jwks(after)["keys"]] == [new.kid]
    assert verify(ring, ring.sign(claims(exp=int(NOW.timestamp()) + 7200)), now=after)


def test_jwks_content_and_interop(ring: KeyRing, key: KeyMaterial) -> None:
    jwks = ring.jwks(NOW)
    assert jwks == {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": jwks["keys"][0]["x"],
                "kid": key.kid,
                "alg": "EdDSA",
                "use": "sig",
            }
        ]
    }
    jwk = jwks["keys"][0]
    assert "d" not in jwk
    raw = serialization.load_pem_public_key(public_pem(key)).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert jwk["x"] == b64(raw)
    assert key.private_pem.split("\n")[1] not in json.dumps(jwks)
    # A third party verifies our tokens with nothing but the published JWK.
    token = ring.sign(claims())
    public = jwt.PyJWK(jwk).key
    decoded = jwt.decode(
        token, public, algorithms=["EdDSA"], audience=AUD, options={"verify_exp": False}
    )
    assert decoded["jti"] == "j1"
