"""Entities that outlive a connection: applications, users and meetings.

Values are frozen dataclasses validated in ``__post_init__``; changes return
new values (``dataclasses.replace``) so the store and the core never share
mutable state by accident.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, StrEnum

from frontdesk.domain.names import MAX_DISPLAY_NAME, check_display_name, display_name_key
from frontdesk.domain.text import has_surrogate
from frontdesk.errors import IllegalState, MeetingEnded, PermissionDenied, ValidationFailed

__all__ = [
    "MAX_DISPLAY_NAME",
    "MAX_SUBJECT",
    "UNSET",
    "AccessPolicy",
    "App",
    "LobbyBypass",
    "Meeting",
    "MeetingState",
    "Role",
    "Unset",
    "User",
    "UserRole",
    "check_display_name",
    "display_name_key",
    "ensure_supervisor",
    "guest_token_role",
    "new_join_code",
    "new_meeting_id",
    "user_role",
]

MAX_SUBJECT = 200
MAX_USERNAME = 64


class AccessPolicy(StrEnum):
    """What a guest holding only the join URL gets."""

    DIRECT = "direct"  # straight into the meeting
    LOBBY = "lobby"  # waits until an organizer or presenter admits (default)
    DENY = "deny"  # the URL alone is not enough: a guest token is needed


class LobbyBypass(StrEnum):
    """Who skips the lobby even when the policy is ``lobby``."""

    NONE = "none"  # every guest waits (token holders included)
    TOKEN_HOLDERS = "token_holders"  # guests the back end vouched for go straight in


class Role(StrEnum):
    ORGANIZER = "organizer"
    PRESENTER = "presenter"
    ATTENDEE = "attendee"
    GUEST = "guest"

    @property
    def moderates(self) -> bool:
        """Organizers and presenters admit, mute, remove and end."""
        return self in (Role.ORGANIZER, Role.PRESENTER)


class UserRole(StrEnum):
    """What a signed-in user is to the business (not a role inside one meeting).

    Every user is an agent: signs in, organizes meetings, talks to visitors. A
    supervisor is an agent who may also watch any meeting unseen by its guests
    (monitor), whisper to its agents, and barge in."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"

    @property
    def supervises(self) -> bool:
        return self is UserRole.SUPERVISOR


def user_role(value: str) -> UserRole:
    """A user role from its name; an unknown one is a ``validation_failed``."""
    try:
        return UserRole(value)
    except ValueError:
        names = ", ".join(r.value for r in UserRole)
        raise ValidationFailed(f"unknown user role {value!r} (one of {names})") from None


def ensure_supervisor(role: UserRole | str | None) -> None:
    """The one statement of "only supervisors may": raises ``forbidden`` for anyone else."""
    if role is None or user_role(role) is not UserRole.SUPERVISOR:
        raise PermissionDenied("only a supervisor may do this")


def guest_token_role(value: str) -> Role:
    """The role a guest token may carry: any but organizer. The one statement of
    the rule; token issuance, token verification and the meeting core ask it."""
    try:
        role = Role(value)
    except ValueError:
        raise ValidationFailed(f"unknown role {value!r}") from None
    if role is Role.ORGANIZER:
        raise ValidationFailed("a guest token never grants the organizer role")
    return role


class Unset(Enum):
    """The type of :data:`UNSET`: "leave this field as it is" (``None`` clears it)."""

    UNSET = "unset"


UNSET = Unset.UNSET


class MeetingState(StrEnum):
    SCHEDULED = "scheduled"  # created with a start time in the future; joinable
    ACTIVE = "active"
    ENDED = "ended"


def new_meeting_id() -> str:
    """A public meeting id (not a secret: access needs a token or the join code)."""
    return "m_" + secrets.token_urlsafe(12)


def new_join_code() -> str:
    """The secret part of a join URL: 192 bits from the OS CSPRNG."""
    return secrets.token_urlsafe(24)


def _clean_text(value: str, field: str, max_len: int, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be a string")
    value = value.strip()
    if not value and not allow_empty:
        raise ValidationFailed(f"{field} must not be empty")
    if len(value) > max_len:
        raise ValidationFailed(f"{field} is longer than {max_len} characters")
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in value):
        raise ValidationFailed(f"{field} must not contain control characters")
    if has_surrogate(value):
        raise ValidationFailed(f"{field} must be valid Unicode (it holds a lone surrogate)")
    return value


@dataclass(frozen=True, slots=True)
class App:
    """A trusted application (a business back end) with client credentials."""

    client_id: str
    name: str
    secret_hash: str
    created_at: datetime
    revoked_at: datetime | None = None
    #: After a routine rotation the old secret keeps working until
    #: ``previous_secret_until`` (a revocation, by contrast, ends everything).
    previous_secret_hash: str | None = None
    previous_secret_until: datetime | None = None

    def __post_init__(self) -> None:
        _clean_text(self.name, "name", MAX_SUBJECT)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def secret_hashes(self, now: datetime) -> tuple[str, ...]:
        """The hashes a presented secret may match at ``now``: the current one,
        and the previous one during its overlap."""
        if (
            self.previous_secret_hash
            and self.previous_secret_until
            and now < self.previous_secret_until
        ):
            return (self.secret_hash, self.previous_secret_hash)
        return (self.secret_hash,)

    def with_new_secret(self, secret_hash: str, *, now: datetime, overlap_s: int) -> App:
        """The app after a routine rotation: the old secret valid ``overlap_s`` more."""
        if not self.active:
            raise IllegalState("a revoked application cannot get a new secret")
        if overlap_s < 0:
            raise ValidationFailed("the overlap must not be negative")
        return dataclasses.replace(
            self,
            secret_hash=secret_hash,
            previous_secret_hash=self.secret_hash if overlap_s else None,
            previous_secret_until=now + timedelta(seconds=overlap_s) if overlap_s else None,
        )


@dataclass(frozen=True, slots=True)
class User:
    """An organizer or agent who signs in to the user API and the console."""

    username: str
    display_name: str
    password_hash: str
    created_at: datetime
    disabled: bool = False
    role: UserRole = UserRole.AGENT

    def __post_init__(self) -> None:
        if not isinstance(self.role, UserRole):
            object.__setattr__(self, "role", user_role(self.role))
        name = _clean_text(self.username, "username", MAX_USERNAME)
        if not all(c.isalnum() or c in "._-@" for c in name):
            raise ValidationFailed("username may hold letters, digits and . _ - @ only")
        # Loadable under the rule of earlier versions, so an agent named before names
        # were normalised still signs in and can be renamed; a name that enters
        # (Accounts.create / rename, a meeting join) obeys check_display_name.
        _clean_text(self.display_name, "display_name", MAX_DISPLAY_NAME)


@dataclass(frozen=True, slots=True)
class Meeting:
    """A meeting as stored: identity, schedule and policy (not live state)."""

    id: str
    join_code: str
    subject: str
    organizer: str
    created_at: datetime
    access_policy: AccessPolicy = AccessPolicy.LOBBY
    lobby_bypass: LobbyBypass = LobbyBypass.NONE
    start: datetime | None = None
    end: datetime | None = None
    state: MeetingState = MeetingState.ACTIVE
    created_by_app: str | None = None
    ended_at: datetime | None = None
    #: Bumped by every change; the store writes a change only over the revision
    #: it was made from (optimistic concurrency), and invites carry it as SEQUENCE.
    revision: int = 0

    def __post_init__(self) -> None:
        _clean_text(self.subject, "subject", MAX_SUBJECT, allow_empty=True)
        if self.start and self.end and self.end <= self.start:
            raise ValidationFailed("end must be after start")
        if self.end and not self.start and self.end <= self.created_at:
            raise ValidationFailed("end must be after the meeting's creation (or give a start)")
        if self.revision < 0:
            raise ValidationFailed("revision must not be negative")
        for f in ("start", "end", "created_at", "ended_at"):
            v = getattr(self, f)
            if v is not None and v.tzinfo is None:
                raise ValidationFailed(f"{f} must carry a time zone")

    @property
    def ended(self) -> bool:
        return self.state is MeetingState.ENDED

    def ensure_open(self) -> None:
        if self.ended:
            raise MeetingEnded(f"meeting {self.id} has ended")

    def as_of(self, now: datetime) -> Meeting:
        """The meeting with its state as of ``now``: an open meeting is
        ``scheduled`` until its start and ``active`` from then on."""
        if self.ended:
            return self
        state = (
            MeetingState.SCHEDULED
            if self.start is not None and self.start > now
            else MeetingState.ACTIVE
        )
        return self if state is self.state else dataclasses.replace(self, state=state)

    def updated(
        self,
        *,
        subject: str | None = None,
        start: datetime | Unset | None = UNSET,
        end: datetime | Unset | None = UNSET,
        access_policy: AccessPolicy | None = None,
        lobby_bypass: LobbyBypass | None = None,
    ) -> Meeting:
        """The next revision with the given fields changed (``start``/``end`` may be
        set to ``None`` to clear them; left ``UNSET`` they stay); an ended meeting
        cannot change. The result is validated as a whole (end after start)."""
        self.ensure_open()
        changes: dict[str, object] = {"revision": self.revision + 1}
        if subject is not None:
            changes["subject"] = subject.strip()
        if not isinstance(start, Unset):
            changes["start"] = start
        if not isinstance(end, Unset):
            changes["end"] = end
        if access_policy is not None:
            changes["access_policy"] = access_policy
        if lobby_bypass is not None:
            changes["lobby_bypass"] = lobby_bypass
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def ended_copy(self, now: datetime) -> Meeting:
        if self.ended:
            raise IllegalState("meeting already ended")
        return dataclasses.replace(
            self, state=MeetingState.ENDED, ended_at=now, revision=self.revision + 1
        )
