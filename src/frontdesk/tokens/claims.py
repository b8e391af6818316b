"""The four kinds of token Frontdesk issues, each with typed claims.

=========  ============================  ==========  ===========================
kind       audience (``aud``)            ``typ``     subject (``sub``)
=========  ============================  ==========  ===========================
guest      ``frontdesk:meeting:<id>``    ``guest``   ``guest:<random>``
resume     ``frontdesk:meeting:<id>``    ``resume``  the participant id
access     ``frontdesk:service``         ``access``  the application's client id
session    ``frontdesk:user``            ``session`` the username
=========  ============================  ==========  ===========================

``typ`` and ``aud`` together keep one kind from being accepted as another.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from frontdesk.domain.model import Role, check_display_name, guest_token_role
from frontdesk.errors import TokenInvalid, ValidationFailed
from frontdesk.tokens.keys import MEETING_AUDIENCE_PREFIX, KeyRing

__all__ = [
    "ACCESS_AUDIENCE",
    "MEETING_AUDIENCE_PREFIX",
    "SESSION_AUDIENCE",
    "AccessClaims",
    "GuestClaims",
    "ResumeClaims",
    "SessionClaims",
    "issue_access_token",
    "issue_guest_token",
    "issue_resume_token",
    "issue_session_token",
    "meeting_audience",
    "verify_access_token",
    "verify_guest_token",
    "verify_resume_token",
    "verify_session_token",
]

ACCESS_AUDIENCE = "frontdesk:service"
SESSION_AUDIENCE = "frontdesk:user"
GUEST_SUBJECT_PREFIX = "guest:"
#: The longest visit id a guest token may name (ours are ``v_`` + 16 characters).
_MAX_VISIT_ID = 64


def meeting_audience(meeting_id: str) -> str:
    """The ``aud`` of tokens that are good for one meeting only."""
    if not isinstance(meeting_id, str) or not meeting_id:
        raise ValidationFailed("meeting_id must be a non-empty string")
    return MEETING_AUDIENCE_PREFIX + meeting_id


@dataclass(frozen=True, slots=True)
class GuestClaims:
    """What a business back end vouched for when it asked for a guest token."""

    meeting_id: str
    display_name: str
    role: Role
    jti: str
    subject: str
    issued_at: datetime
    expires_at: datetime
    single_use: bool
    origins: tuple[str, ...]
    app_id: str | None
    #: The helpdesk visit the token was minted for (claim ``visit``); tokens
    #: minted before visits carried one, and plain guest tokens, have none.
    visit_id: str | None = None


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """A service API bearer token of one trusted application."""

    client_id: str
    jti: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SessionClaims:
    """A user API session of one organizer or agent."""

    username: str
    jti: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ResumeClaims:
    """Lets a participant who lost the connection take its seat again."""

    meeting_id: str
    participant_id: str
    jti: str
    expires_at: datetime
    #: The application that vouched for the guest (``None`` for a URL guest or
    #: an agent): its revocation ends the seat, resume included.
    app_id: str | None = None


# --- shared helpers ---------------------------------------------------------------


def _new_jti() -> str:
    return secrets.token_urlsafe(16)


def _at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def _claim_time(claims: Mapping[str, Any], name: str) -> datetime:
    value = claims[name]  # KeyRing.verify checked it is a finite number
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise TokenInvalid(f"claim {name!r} is out of range") from exc


def _claim_str(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise TokenInvalid(f"claim {name!r} must be a non-empty string")
    return value


def _check_text(value: str, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationFailed(f"{field} must be a non-empty string")
    return value


def _issue(
    ring: KeyRing,
    *,
    issuer: str,
    audience: str,
    typ: str,
    subject: str,
    ttl_s: int,
    now: datetime,
    extra: Mapping[str, Any] | None = None,
) -> tuple[str, str, int, int]:
    """Sign a token; return ``(token, jti, iat, exp)``."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValidationFailed("now must be a timezone-aware datetime")
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or ttl_s <= 0:
        raise ValidationFailed("ttl_s must be a positive whole number of seconds")
    _check_text(issuer, "issuer")
    iat = int(now.timestamp())
    exp = iat + ttl_s
    jti = _new_jti()
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "typ": typ,
        "jti": jti,
        "iat": iat,
        "exp": exp,
    }
    if extra:
        claims.update(extra)
    return ring.sign(claims), jti, iat, exp


# --- guest tokens -----------------------------------------------------------------


def issue_guest_token(
    ring: KeyRing,
    *,
    issuer: str,
    meeting_id: str,
    display_name: str,
    role: Role = Role.GUEST,
    ttl_s: int,
    single_use: bool,
    now: datetime,
    app_id: str | None = None,
    origins: Sequence[str] = (),
    visit_id: str | None = None,
) -> tuple[str, GuestClaims]:
    """A short-lived token that lets one visitor join one meeting (for a
    helpdesk visit: ``visit_id``, so the visitor's lobby entry names it)."""
    name = check_display_name(display_name)
    role = guest_token_role(role)
    if isinstance(origins, str) or not all(isinstance(o, str) and o for o in origins):
        raise ValidationFailed("origins must be a list of non-empty strings")
    if app_id is not None:
        _check_text(app_id, "app_id")
    if visit_id is not None and len(_check_text(visit_id, "visit_id")) > _MAX_VISIT_ID:
        raise ValidationFailed(f"visit_id must be at most {_MAX_VISIT_ID} characters")
    subject = GUEST_SUBJECT_PREFIX + secrets.token_urlsafe(12)
    extra: dict[str, Any] = {
        "name": name,
        "role": role.value,
        "single_use": bool(single_use),
        "origins": list(origins),
    }
    if app_id is not None:
        extra["app_id"] = app_id
    if visit_id is not None:
        extra["visit"] = visit_id
    token, jti, iat, exp = _issue(
        ring,
        issuer=issuer,
        audience=meeting_audience(meeting_id),
        typ="guest",
        subject=subject,
        ttl_s=ttl_s,
        now=now,
        extra=extra,
    )
    claims = GuestClaims(
        meeting_id=meeting_id,
        display_name=name,
        role=role,
        jti=jti,
        subject=subject,
        issued_at=_at(iat),
        expires_at=_at(exp),
        single_use=bool(single_use),
        origins=tuple(origins),
        app_id=app_id,
        visit_id=visit_id,
    )
    return token, claims


def verify_guest_token(
    ring: KeyRing,
    token: str,
    *,
    issuer: str,
    meeting_id: str,
    now: datetime,
    leeway_s: int = 30,
) -> GuestClaims:
    """The claims of a valid guest token for ``meeting_id``."""
    claims = ring.verify(
        token,
        audience=meeting_audience(meeting_id),
        now=now,
        leeway_s=leeway_s,
        issuer=issuer,
        typ="guest",
    )
    try:
        name = check_display_name(claims.get("name", ""))
    except ValidationFailed as exc:
        raise TokenInvalid("the token's display name is not valid") from exc
    try:
        role = guest_token_role(claims.get("role", ""))
    except ValidationFailed as exc:
        raise TokenInvalid(f"the token's role is not valid: {exc.detail}") from None
    subject = _claim_str(claims, "sub")
    if not subject.startswith(GUEST_SUBJECT_PREFIX):
        raise TokenInvalid("not a guest subject")
    single_use = claims.get("single_use")
    if not isinstance(single_use, bool):
        raise TokenInvalid("claim 'single_use' must be a boolean")
    origins = claims.get("origins", [])
    if not isinstance(origins, list) or not all(isinstance(o, str) and o for o in origins):
        raise TokenInvalid("claim 'origins' must be a list of strings")
    app_id = claims.get("app_id")
    if app_id is not None and (not isinstance(app_id, str) or not app_id):
        raise TokenInvalid("claim 'app_id' must be a string")
    visit_id = claims.get("visit")
    if visit_id is not None and (
        not isinstance(visit_id, str) or not visit_id or len(visit_id) > _MAX_VISIT_ID
    ):
        raise TokenInvalid("claim 'visit' must be a visit id")
    return GuestClaims(
        meeting_id=meeting_id,
        display_name=name,
        role=role,
        jti=claims["jti"],
        subject=subject,
        issued_at=_claim_time(claims, "iat"),
        expires_at=_claim_time(claims, "exp"),
        single_use=single_use,
        origins=tuple(origins),
        app_id=app_id,
        visit_id=visit_id,
    )


# --- service access tokens ----------------------------------------------------------


def issue_access_token(
    ring: KeyRing, *, issuer: str, client_id: str, ttl_s: int, now: datetime
) -> tuple[str, AccessClaims]:
    """A bearer token for the service API (client-credentials grant)."""
    _check_text(client_id, "client_id")
    token, jti, _, exp = _issue(
        ring,
        issuer=issuer,
        audience=ACCESS_AUDIENCE,
        typ="access",
        subject=client_id,
        ttl_s=ttl_s,
        now=now,
    )
    return token, AccessClaims(client_id=client_id, jti=jti, expires_at=_at(exp))


def verify_access_token(
    ring: KeyRing, token: str, *, issuer: str, now: datetime, leeway_s: int = 30
) -> AccessClaims:
    claims = ring.verify(
        token, audience=ACCESS_AUDIENCE, now=now, leeway_s=leeway_s, issuer=issuer, typ="access"
    )
    return AccessClaims(
        client_id=_claim_str(claims, "sub"),
        jti=claims["jti"],
        expires_at=_claim_time(claims, "exp"),
    )


# --- user sessions ------------------------------------------------------------------


def issue_session_token(
    ring: KeyRing, *, issuer: str, username: str, ttl_s: int, now: datetime
) -> tuple[str, SessionClaims]:
    """A session token for the user API and the agent console."""
    _check_text(username, "username")
    token, jti, _, exp = _issue(
        ring,
        issuer=issuer,
        audience=SESSION_AUDIENCE,
        typ="session",
        subject=username,
        ttl_s=ttl_s,
        now=now,
    )
    return token, SessionClaims(username=username, jti=jti, expires_at=_at(exp))


def verify_session_token(
    ring: KeyRing, token: str, *, issuer: str, now: datetime, leeway_s: int = 30
) -> SessionClaims:
    claims = ring.verify(
        token, audience=SESSION_AUDIENCE, now=now, leeway_s=leeway_s, issuer=issuer, typ="session"
    )
    return SessionClaims(
        username=_claim_str(claims, "sub"),
        jti=claims["jti"],
        expires_at=_claim_time(claims, "exp"),
    )


# --- resume tokens ------------------------------------------------------------------


def issue_resume_token(
    ring: KeyRing,
    *,
    issuer: str,
    meeting_id: str,
    participant_id: str,
    ttl_s: int,
    now: datetime,
    app_id: str | None = None,
) -> tuple[str, ResumeClaims]:
    """A token a participant presents to resume its seat after a network drop.
    Single use (the node spends its ``jti``) and short-lived: a connected client
    is handed a fresh one before it expires."""
    _check_text(participant_id, "participant_id")
    token, jti, _, exp = _issue(
        ring,
        issuer=issuer,
        audience=meeting_audience(meeting_id),
        typ="resume",
        subject=participant_id,
        ttl_s=ttl_s,
        now=now,
        extra={"app": app_id} if app_id else None,
    )
    return token, ResumeClaims(
        meeting_id=meeting_id,
        participant_id=participant_id,
        jti=jti,
        expires_at=_at(exp),
        app_id=app_id,
    )


def verify_resume_token(
    ring: KeyRing,
    token: str,
    *,
    issuer: str,
    meeting_id: str,
    now: datetime,
    leeway_s: int = 30,
) -> ResumeClaims:
    claims = ring.verify(
        token,
        audience=meeting_audience(meeting_id),
        now=now,
        leeway_s=leeway_s,
        issuer=issuer,
        typ="resume",
    )
    app = claims.get("app")
    if app is not None and not isinstance(app, str):
        raise TokenInvalid("the app claim must be a string")
    return ResumeClaims(
        meeting_id=meeting_id,
        participant_id=_claim_str(claims, "sub"),
        jti=claims["jti"],
        expires_at=_claim_time(claims, "exp"),
        app_id=app,
    )
