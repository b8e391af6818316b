"""The persistence interface every store implements.

The server and the CLI talk to a :class:`Store`; ``frontdesk.store.sql`` is the
SQLAlchemy implementation for SQLite and PostgreSQL. Methods raise only
``frontdesk.errors`` exceptions (``AlreadyExists``, ``*NotFound``).
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from frontdesk.domain.branding import Branding, Logo
from frontdesk.domain.model import App, Meeting, MeetingState, User
from frontdesk.errors import Unavailable
from frontdesk.store.helpdesk import HelpdeskStore
from frontdesk.store.outbox import ClaimedDelivery, DeliveryState, WebhookDelivery

__all__ = [
    "EventRecord",
    "Fence",
    "Lease",
    "LeaseHeld",
    "LeaseLost",
    "SigningKeyRecord",
    "Store",
    "TokenUse",
    "WebhookRecord",
]


@dataclass(frozen=True, slots=True)
class SigningKeyRecord:
    """An Ed25519 signing key. ``private_pem`` is PKCS#8 PEM."""

    kid: str
    private_pem: str
    created_at: datetime
    # While set and in the past, the key no longer signs; it verifies until
    # ``expires_at`` (then it is dropped from the JWKS).
    retired_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One sequenced meeting event as persisted (the meeting's log)."""

    meeting_id: str
    seq: int
    type: str
    data: dict[str, Any]
    at: datetime
    #: When the chat retention policy deleted its content (None: never).
    redacted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TokenUse:
    """A single-use token spent together with the events it let happen (a join),
    in their transaction: :meth:`Store.append_events`."""

    jti: str
    meeting_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    id: str
    app_id: str
    url: str
    secret: str  # needed in clear to sign deliveries (HMAC-SHA256)
    events: tuple[str, ...]
    created_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fence:
    """Who may write a meeting's events: the lease holder and its fencing number."""

    owner: str
    number: int


@dataclass(frozen=True, slots=True)
class Lease:
    """A node's lease on a meeting: ``owner`` (one node process) hosts it until
    ``expires_at`` (the database's clock); ``node_url`` is where its clients
    connect; ``fence`` grows with every change of owner."""

    meeting_id: str
    owner: str
    node_url: str
    fence: int
    expires_at: datetime

    @property
    def as_fence(self) -> Fence:
        return Fence(self.owner, self.fence)


class LeaseHeld(Unavailable):
    """Another node holds the meeting's lease (``lease`` says which)."""

    def __init__(self, lease: Lease) -> None:
        super().__init__(f"meeting {lease.meeting_id} is hosted by {lease.owner}")
        self.lease = lease


class LeaseLost(Unavailable):
    """A fenced write found the writer's lease gone: another node took the
    meeting over (or may, the lease having expired). Nothing was stored."""

    def __init__(self, meeting_ids: Sequence[str]) -> None:
        super().__init__(f"lease lost for {', '.join(sorted(meeting_ids))}")
        self.meeting_ids = frozenset(meeting_ids)


class Store(abc.ABC):
    """Async persistence. Create with ``await open_store(url)``; close with ``close()``."""

    #: Whether several nodes may share this database (PostgreSQL): then meetings
    #: are hosted by lease and their writes fenced. SQLite serves one process.
    shared: bool = False
    #: Queues, agents, visits and callbacks of the helpdesk.
    helpdesk: HelpdeskStore

    # --- lifecycle -----------------------------------------------------------
    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise ``Unavailable`` when the database cannot be reached."""

    # --- trusted applications -------------------------------------------------
    @abc.abstractmethod
    async def create_app(self, app: App) -> None: ...

    @abc.abstractmethod
    async def get_app(self, client_id: str) -> App: ...

    @abc.abstractmethod
    async def list_apps(self) -> Sequence[App]: ...

    @abc.abstractmethod
    async def update_app_secret(self, app: App) -> None:
        """Store a rotated secret (and the previous one with its overlap)."""

    @abc.abstractmethod
    async def revoke_app(self, client_id: str, now: datetime) -> App: ...

    # --- application branding ----------------------------------------------------
    @abc.abstractmethod
    async def get_branding(self, client_id: str) -> Branding:
        """The application's brand (an empty :class:`Branding` when it set none);
        the logo's bytes are not read (:meth:`get_logo`)."""

    @abc.abstractmethod
    async def save_branding(
        self, client_id: str, *, display_name: str | None, accent: str | None, now: datetime
    ) -> Branding:
        """Set the brand's name and accent (None clears one), keeping its logo.
        ``AppNotFound`` when there is no such application."""

    @abc.abstractmethod
    async def save_logo(self, client_id: str, logo: Logo | None, now: datetime) -> Branding:
        """Set (or, with None, remove) the brand's logo, keeping name and accent."""

    @abc.abstractmethod
    async def get_logo(self, etag: str) -> Logo | None:
        """The logo stored under ``etag`` (its content tag), with its bytes."""

    # --- users -----------------------------------------------------------------
    @abc.abstractmethod
    async def create_user(self, user: User) -> None: ...

    @abc.abstractmethod
    async def get_user(self, username: str) -> User: ...

    @abc.abstractmethod
    async def list_users(self) -> Sequence[User]: ...

    @abc.abstractmethod
    async def update_user(self, user: User) -> None: ...

    @abc.abstractmethod
    async def delete_user(self, username: str) -> None:
        """Remove the account (``UserNotFound`` if there is none)."""

    # --- meetings --------------------------------------------------------------
    @abc.abstractmethod
    async def create_meeting(self, meeting: Meeting) -> None: ...

    @abc.abstractmethod
    async def get_meeting(self, meeting_id: str) -> Meeting: ...

    @abc.abstractmethod
    async def get_meeting_by_join_code(self, join_code: str) -> Meeting: ...

    @abc.abstractmethod
    async def list_meetings(
        self,
        *,
        organizer: str | None = None,
        state: MeetingState | None = None,
        app_id: str | None = None,
        visible_to_app: str | None = None,
        now: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[Meeting]:
        """Newest first. ``app_id``: made by that application; ``visible_to_app``:
        made by it or by no application (the console, the CLI). With ``now``, a
        ``scheduled``/``active`` filter means "open, starting after/by ``now``"."""

    @abc.abstractmethod
    async def idle_meetings(self, before: datetime, *, limit: int = 100) -> Sequence[str]:
        """Open ad hoc meetings (no scheduled start) with nothing stored since ``before``
        (their last event, else their creation): candidates for idle expiry."""

    @abc.abstractmethod
    async def update_meeting(self, meeting: Meeting) -> None:
        """Write ``meeting`` over revision ``meeting.revision - 1`` of an open
        meeting: :class:`MeetingEnded` if it has ended meanwhile, :class:`Conflict`
        if another change came first, :class:`MeetingNotFound` if there is none."""

    # --- single-use guest tokens --------------------------------------------------
    @abc.abstractmethod
    async def consume_token(self, jti: str, meeting_id: str, expires_at: datetime) -> bool:
        """Record a token id as used. True the first time, False ever after."""

    @abc.abstractmethod
    async def is_token_used(self, jti: str) -> bool: ...

    @abc.abstractmethod
    async def purge_used_tokens(self, before: datetime) -> int:
        """Forget used-token records that expired before ``before``."""

    # --- signing keys ------------------------------------------------------------
    @abc.abstractmethod
    async def list_signing_keys(self) -> Sequence[SigningKeyRecord]:
        """Oldest first."""

    @abc.abstractmethod
    async def add_signing_key(self, key: SigningKeyRecord) -> None: ...

    @abc.abstractmethod
    async def retire_signing_keys(
        self, *, except_kid: str, now: datetime, expires_at: datetime
    ) -> None:
        """Retire every key but ``except_kid`` that is not retired yet."""

    @abc.abstractmethod
    async def delete_expired_signing_keys(self, now: datetime) -> int: ...

    # --- meeting event log (live meetings) ----------------------------------------
    @abc.abstractmethod
    async def append_events(
        self,
        events: Sequence[EventRecord],
        fences: Mapping[str, Fence] | None = None,
        spends: Sequence[TokenUse] = (),
    ) -> frozenset[str]:
        """Store a batch of events atomically (one transaction: group commit).

        ``(meeting_id, seq)`` is unique; a duplicate raises ``AlreadyExists`` and
        stores nothing of the batch. With ``fences`` (meeting id -> fence, one for
        every meeting in the batch), the batch is stored only if each fence is
        that meeting's current, unexpired lease, checked in the same transaction
        (and held against a takeover until it commits); otherwise
        :class:`LeaseLost` names the meetings whose lease is gone.

        ``spends`` records single-use token ids as used in the same transaction,
        as :meth:`consume_token` does: the ids returned are those that were used
        already (the events are stored all the same; the caller undoes what
        the token let in). Empty when every token was spent here and now.
        """

    # --- meeting leases (a cluster's hosting) -------------------------------------------
    @abc.abstractmethod
    async def acquire_lease(
        self, meeting_id: str, owner: str, node_url: str, ttl_s: float
    ) -> Lease:
        """Take (or retake) the meeting's lease for ``owner`` for ``ttl_s``: free
        or expired, or already ``owner``'s. The fence grows whenever the owner
        changes. :class:`LeaseHeld` when another owner holds it unexpired."""

    @abc.abstractmethod
    async def renew_leases(self, owner: str, fences: Mapping[str, int], ttl_s: float) -> set[str]:
        """Extend ``owner``'s leases (meeting id -> fence) by ``ttl_s`` from now:
        those still ``owner``'s with that fence, even if expired meanwhile (nobody
        took them over). Returns the meeting ids renewed; the others are lost."""

    @abc.abstractmethod
    async def release_lease(self, meeting_id: str, fence: Fence) -> None:
        """Give the lease up (expire it now) so another node may take it at once."""

    @abc.abstractmethod
    async def current_lease(self, meeting_id: str) -> Lease | None:
        """The meeting's unexpired lease, if any."""

    @abc.abstractmethod
    async def events_since(
        self,
        meeting_id: str,
        after_seq: int,
        limit: int | None = None,
        *,
        types: Collection[str] | None = None,
    ) -> Sequence[EventRecord]:
        """Events with ``seq > after_seq`` in order (only of ``types``, if given)."""

    @abc.abstractmethod
    async def last_seq(self, meeting_id: str) -> int:
        """Highest stored seq of the meeting, 0 when none."""

    @abc.abstractmethod
    async def redact_events(
        self, *, before: datetime, now: datetime, limit: int
    ) -> Sequence[tuple[str, int]]:
        """Delete the content of up to ``limit`` stored events older than
        ``before`` that hold some (the chat retention policy: the types and
        fields of :data:`frontdesk.protocol.events.REDACTABLE`), oldest first
        (of each type),
        in one transaction; each keeps its type, time, sender and recipients and
        is marked redacted at ``now``. Returns the ``(meeting_id, seq)`` of the
        events redacted (fewer than ``limit``: nothing older is left). Several
        nodes may run it at once: a row is redacted once, by one of them."""

    # --- applications that vouched a guest into an agent's meeting ---------------
    @abc.abstractmethod
    async def add_meeting_guest_app(self, meeting_id: str, app_id: str, at: datetime) -> None:
        """Note that ``app_id``'s guest token let a guest into ``meeting_id``
        (idempotent: a second call changes nothing)."""

    @abc.abstractmethod
    async def meeting_guest_apps(self, meeting_id: str) -> frozenset[str]:
        """The applications noted by :meth:`add_meeting_guest_app` for the meeting."""

    # --- webhooks ----------------------------------------------------------------
    @abc.abstractmethod
    async def create_webhook(self, hook: WebhookRecord) -> None: ...

    @abc.abstractmethod
    async def list_webhooks(self, app_id: str | None = None) -> Sequence[WebhookRecord]: ...

    @abc.abstractmethod
    async def delete_webhook(self, hook_id: str, app_id: str) -> None: ...

    # --- webhook outbox (see frontdesk.store.outbox) ------------------------------
    @abc.abstractmethod
    async def enqueue_webhook_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> int:
        """Store new pending deliveries, due now, in one transaction. Idempotent by
        delivery id; a delivery whose hook is gone is skipped. Returns how many
        were stored."""

    @abc.abstractmethod
    async def claim_webhook_deliveries(
        self, node: str, *, limit: int, claim_s: float
    ) -> Sequence[ClaimedDelivery]:
        """Claim up to ``limit`` due pending deliveries (unclaimed, or whose claim
        expired) for ``node`` for ``claim_s`` seconds, oldest due first, and count
        an attempt on each. Two nodes never hold the same claim at once."""

    @abc.abstractmethod
    async def mark_webhook_delivered(self, delivery_id: str) -> bool:
        """Record a pending delivery as delivered (whoever holds its claim now: it
        was delivered). False when it was not pending any more."""

    @abc.abstractmethod
    async def retry_webhook_delivery(
        self, delivery_id: str, node: str, *, delay_s: float, error: str
    ) -> bool:
        """Release ``node``'s claim, due again in ``delay_s`` seconds. False (and
        nothing changed) when the claim is not ``node``'s any more."""

    @abc.abstractmethod
    async def fail_webhook_delivery(self, delivery_id: str, node: str, *, error: str) -> bool:
        """Give a delivery ``node`` holds up for good. False as for a retry."""

    @abc.abstractmethod
    async def release_webhook_claims(self, node: str) -> int:
        """Hand back every pending delivery ``node`` holds (a node stopping), so
        another node may claim them at once."""

    @abc.abstractmethod
    async def purge_webhook_deliveries(self, older_than_s: float) -> int:
        """Delete delivered and failed deliveries whose last attempt is older than
        ``older_than_s`` seconds; pending ones stay whatever their age."""

    @abc.abstractmethod
    async def list_webhook_deliveries(
        self, *, state: DeliveryState | None = None, limit: int = 100
    ) -> Sequence[WebhookDelivery]:
        """Deliveries, oldest first (by publication), optionally in one state."""
