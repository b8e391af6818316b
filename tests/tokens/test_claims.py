"""The typed token kinds: round trips, validation, and no kind passing for another."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest

from frontdesk.domain.model import Role
from frontdesk.errors import TokenExpired, TokenInvalid, TokenWrongMeeting, ValidationFailed
from frontdesk.tokens import (
    KeyRing,
    issue_access_token,
    issue_guest_token,
    issue_resume_token,
    issue_session_token,
    meeting_audience,
    verify_access_token,
    verify_guest_token,
    verify_resume_token,
    verify_session_token,
)

from .conftest import ISSUER, NOW


def guest(ring: KeyRing, **kw: Any) -> str:
    options: dict[str, Any] = {
        "issuer": ISSUER,
        "meeting_id": "m_1",
        "display_name": "Ann Visitor",
        "ttl_s": 600,
        "single_use": False,
        "now": NOW,
    }
    options.update(kw)
    return issue_guest_token(ring, **options)[0]


def test_meeting_audience() -> None:
    assert meeting_audience("m_1") == "frontdesk:meeting:m_1"
    with pytest.raises(ValidationFailed):
        meeting_audience("")


def test_guest_round_trip(ring: KeyRing) -> None:
    token, issued = issue_guest_token(
        ring,
        issuer=ISSUER,
        meeting_id="m_1",
        display_name="  Ann Visitor ",
        role=Role.ATTENDEE,
        ttl_s=600,
        single_use=True,
        now=NOW,
        app_id="app_abc",
        origins=["https://shop.example"],
    )
    assert issued.display_name == "Ann Visitor"
    assert issued.role is Role.ATTENDEE
    assert issued.subject.startswith("guest:") and len(issued.subject) > 10
    assert issued.issued_at == NOW.replace(microsecond=0)
    assert issued.expires_at == NOW.replace(microsecond=0) + timedelta(seconds=600)
    assert issued.single_use and issued.app_id == "app_abc"
    assert issued.origins == ("https://shop.example",)
    verified = verify_guest_token(ring, token, issuer=ISSUER, meeting_id="m_1", now=NOW)
    assert verified == issued
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["aud"] == "frontdesk:meeting:m_1" and payload["typ"] == "guest"


def test_guest_defaults(ring: KeyRing) -> None:
    token, issued = issue_guest_token(
        ring,
        issuer=ISSUER,
        meeting_id="m_1",
        display_name="Bo",
        ttl_s=60,
        single_use=False,
        now=NOW,
    )
    assert issued.role is Role.GUEST and issued.app_id is None and issued.origins == ()
    assert verify_guest_token(ring, token, issuer=ISSUER, meeting_id="m_1", now=NOW) == issued


def test_guest_tokens_are_distinct(ring: KeyRing) -> None:
    a = issue_guest_token(
        ring, issuer=ISSUER, meeting_id="m_1", display_name="A", ttl_s=60, single_use=True, now=NOW
    )[1]
    b = issue_guest_token(
        ring, issuer=ISSUER, meeting_id="m_1", display_name="A", ttl_s=60, single_use=True, now=NOW
    )[1]
    assert a.jti != b.jti and a.subject != b.subject


@pytest.mark.parametrize(
    "changes",
    [
        {"role": Role.ORGANIZER},
        {"role": "boss"},
        {"display_name": ""},
        {"display_name": "   "},
        {"display_name": "x" * 81},
        {"display_name": "bell\x07"},
        {"display_name": "Alice\u202eAdvisor"},
        {"display_name": "\u200b"},
        {"display_name": "Al\ufeffice"},
        {"ttl_s": 0},
        {"ttl_s": -5},
        {"meeting_id": ""},
        {"issuer": ""},
        {"origins": "https://a.example"},
        {"app_id": ""},
        {"now": NOW.replace(tzinfo=None)},
    ],
)
def test_guest_issue_validation(ring: KeyRing, changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed):
        guest(ring, **changes)


def test_guest_token_carries_the_normal_form(ring: KeyRing) -> None:
    token = guest(ring, display_name="  \uff21\uff4e\uff4e\u3000\tVisitor ")
    claims = verify_guest_token(ring, token, issuer=ISSUER, meeting_id="m_1", now=NOW)
    assert claims.display_name == "Ann Visitor"


def test_guest_wrong_meeting_expired_wrong_issuer(ring: KeyRing) -> None:
    token = guest(ring)
    with pytest.raises(TokenWrongMeeting):
        verify_guest_token(ring, token, issuer=ISSUER, meeting_id="m_2", now=NOW)
    with pytest.raises(TokenExpired):
        verify_guest_token(
            ring, token, issuer=ISSUER, meeting_id="m_1", now=NOW + timedelta(seconds=631)
        )
    with pytest.raises(TokenInvalid):
        verify_guest_token(
            ring, token, issuer=ISSUER, meeting_id="m_1", now=NOW - timedelta(seconds=60)
        )
    with pytest.raises(TokenInvalid):
        verify_guest_token(ring, token, issuer="https://evil.test", meeting_id="m_1", now=NOW)


def forged_guest(ring: KeyRing, **changes: Any) -> str:
    iat = int(NOW.timestamp())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "frontdesk:meeting:m_1",
        "sub": "guest:abc",
        "typ": "guest",
        "jti": "j",
        "iat": iat,
        "exp": iat + 60,
        "name": "Ann",
        "role": "guest",
        "single_use": False,
        "origins": [],
    }
    claims.update(changes)
    return ring.sign({k: v for k, v in claims.items() if v is not None})


def test_forged_guest_control(ring: KeyRing) -> None:
    claims = verify_guest_token(ring, forged_guest(ring), issuer=ISSUER, meeting_id="m_1", now=NOW)
    assert claims.display_name == "Ann" and claims.app_id is None
    assert claims.visit_id is None  # a token from before visits carried one


def test_a_visit_token_names_its_visit(ring: KeyRing) -> None:
    token = guest(ring, visit_id="v_abc")
    claims = verify_guest_token(ring, token, issuer=ISSUER, meeting_id="m_1", now=NOW)
    assert claims.visit_id == "v_abc"
    assert (
        verify_guest_token(ring, guest(ring), issuer=ISSUER, meeting_id="m_1", now=NOW).visit_id
        is None
    )
    for bad in ("", "v" * 65):
        with pytest.raises(ValidationFailed):
            guest(ring, visit_id=bad)


@pytest.mark.parametrize(
    "changes",
    [
        {"role": "organizer"},
        {"role": "king"},
        {"role": None},
        {"role": ["guest"]},
        {"name": ""},
        {"name": None},
        {"name": 5},
        {"name": "y" * 81},
        {"name": "Ann\u2066Visitor"},
        {"name": "\u3164"},
        {"sub": "user:alice"},
        {"sub": None},
        {"single_use": "yes"},
        {"single_use": None},
        {"origins": "https://a"},
        {"origins": [1]},
        {"app_id": 3},
        {"visit": 3},
        {"visit": ""},
        {"visit": "v" * 65},
        {"exp": 10**20},
    ],
)
def test_guest_claims_checked_at_verify(ring: KeyRing, changes: dict[str, Any]) -> None:
    token = forged_guest(ring, **changes)
    with pytest.raises(TokenInvalid):
        verify_guest_token(ring, token, issuer=ISSUER, meeting_id="m_1", now=NOW)


def test_access_round_trip(ring: KeyRing) -> None:
    token, issued = issue_access_token(ring, issuer=ISSUER, client_id="app_x", ttl_s=3600, now=NOW)
    assert issued.client_id == "app_x"
    assert issued.expires_at == NOW.replace(microsecond=0) + timedelta(hours=1)
    assert verify_access_token(ring, token, issuer=ISSUER, now=NOW) == issued
    with pytest.raises(TokenExpired):
        verify_access_token(ring, token, issuer=ISSUER, now=NOW + timedelta(hours=2))
    with pytest.raises(ValidationFailed):
        issue_access_token(ring, issuer=ISSUER, client_id="", ttl_s=3600, now=NOW)


def test_session_round_trip(ring: KeyRing) -> None:
    token, issued = issue_session_token(ring, issuer=ISSUER, username="alice", ttl_s=60, now=NOW)
    assert issued.username == "alice"
    assert verify_session_token(ring, token, issuer=ISSUER, now=NOW) == issued
    with pytest.raises(TokenInvalid):
        verify_session_token(ring, token, issuer="https://other.test", now=NOW)
    with pytest.raises(ValidationFailed):
        issue_session_token(ring, issuer=ISSUER, username="alice", ttl_s=0, now=NOW)


def test_resume_round_trip(ring: KeyRing) -> None:
    token, issued = issue_resume_token(
        ring, issuer=ISSUER, meeting_id="m_1", participant_id="p_7", ttl_s=300, now=NOW
    )
    assert (issued.meeting_id, issued.participant_id) == ("m_1", "p_7")
    got = verify_resume_token(ring, token, issuer=ISSUER, meeting_id="m_1", now=NOW)
    assert got == issued
    with pytest.raises(TokenWrongMeeting):
        verify_resume_token(ring, token, issuer=ISSUER, meeting_id="m_2", now=NOW)


# --- no kind passes for another -------------------------------------------------------

Issuer = Callable[[KeyRing], str]
Verifier = Callable[[KeyRing, str], object]

ISSUERS: dict[str, Issuer] = {
    "guest": lambda r: guest(r),
    "access": lambda r: issue_access_token(r, issuer=ISSUER, client_id="m_1", ttl_s=60, now=NOW)[0],
    "session": lambda r: issue_session_token(r, issuer=ISSUER, username="m_1", ttl_s=60, now=NOW)[
        0
    ],
    "resume": lambda r: issue_resume_token(
        r, issuer=ISSUER, meeting_id="m_1", participant_id="guest:x", ttl_s=60, now=NOW
    )[0],
}
VERIFIERS: dict[str, Verifier] = {
    "guest": lambda r, t: verify_guest_token(r, t, issuer=ISSUER, meeting_id="m_1", now=NOW),
    "access": lambda r, t: verify_access_token(r, t, issuer=ISSUER, now=NOW),
    "session": lambda r, t: verify_session_token(r, t, issuer=ISSUER, now=NOW),
    "resume": lambda r, t: verify_resume_token(r, t, issuer=ISSUER, meeting_id="m_1", now=NOW),
}


@pytest.mark.parametrize("issued", sorted(ISSUERS))
@pytest.mark.parametrize("verified", sorted(VERIFIERS))
def test_kinds_do_not_cross(ring: KeyRing, issued: str, verified: str) -> None:
    token = ISSUERS[issued](ring)
    if issued == verified:
        assert VERIFIERS[verified](ring, token)
    else:
        with pytest.raises(TokenInvalid):
            VERIFIERS[verified](ring, token)


def test_other_nodes_tokens_are_refused(ring: KeyRing, other_ring: KeyRing) -> None:
    for kind, issue in ISSUERS.items():
        with pytest.raises(TokenInvalid):
            VERIFIERS[kind](ring, issue(other_ring))
