"""Tokens: signing keys, JWTs (EdDSA) for guests, apps, users and resumes; secrets; TURN.

Sans-I/O like the domain core: no clock is read here; ``now`` is passed in.
"""

from __future__ import annotations

from frontdesk.tokens.claims import (
    ACCESS_AUDIENCE,
    SESSION_AUDIENCE,
    AccessClaims,
    GuestClaims,
    ResumeClaims,
    SessionClaims,
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
from frontdesk.tokens.keys import (
    MEETING_AUDIENCE_PREFIX,
    KeyMaterial,
    KeyRing,
    generate_key,
    unverified_claims,
)
from frontdesk.tokens.secrets import (
    hash_secret,
    needs_rehash,
    new_client_id,
    new_client_secret,
    verify_secret,
)
from frontdesk.tokens.turn import ice_servers_with_turn, turn_credentials

__all__ = [
    "ACCESS_AUDIENCE",
    "MEETING_AUDIENCE_PREFIX",
    "SESSION_AUDIENCE",
    "AccessClaims",
    "GuestClaims",
    "KeyMaterial",
    "KeyRing",
    "ResumeClaims",
    "SessionClaims",
    "generate_key",
    "hash_secret",
    "ice_servers_with_turn",
    "issue_access_token",
    "issue_guest_token",
    "issue_resume_token",
    "issue_session_token",
    "meeting_audience",
    "needs_rehash",
    "new_client_id",
    "new_client_secret",
    "turn_credentials",
    "unverified_claims",
    "verify_access_token",
    "verify_guest_token",
    "verify_resume_token",
    "verify_secret",
    "verify_session_token",
]
