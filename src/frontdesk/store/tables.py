"""SQLAlchemy Core tables of the store: the schema the migrations create.

Constraint and index names follow :data:`NAMING_CONVENTION` so that a later
migration can refer to them by a name that is the same on SQLite and
PostgreSQL. Keep this module and ``migrations/versions`` in step: the test
suite compares the migrated database with this metadata.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from frontdesk.errors import ValidationFailed

__all__ = [
    "NAMING_CONVENTION",
    "UTCDateTime",
    "app_branding",
    "apps",
    "events",
    "helpdesk_agents",
    "helpdesk_callbacks",
    "helpdesk_queue_agents",
    "helpdesk_queues",
    "helpdesk_visit_events",
    "helpdesk_visits",
    "meeting_guest_apps",
    "meeting_leases",
    "meetings",
    "metadata",
    "signing_keys",
    "used_tokens",
    "users",
    "webhook_deliveries",
    "webhooks",
]

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp that goes in and comes out as a timezone-aware UTC ``datetime``.

    PostgreSQL stores ``timestamptz``. SQLite has no time zones: the value is
    stored as naive UTC text (which sorts correctly) and UTC is re-attached on
    the way out. A naive ``datetime`` is refused rather than guessed at.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise ValidationFailed(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationFailed("datetimes must carry a time zone")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - driver returned text
            value = datetime.fromisoformat(str(value))
        result: datetime = value
        if result.tzinfo is None:
            return result.replace(tzinfo=UTC)
        return result.astimezone(UTC)


# String without a length is VARCHAR on PostgreSQL (unbounded) and TEXT affinity
# on SQLite; lengths are the domain's business, not the database's.
_str = sa.String

apps = sa.Table(
    "apps",
    metadata,
    sa.Column("client_id", _str(), primary_key=True),
    sa.Column("name", _str(), nullable=False),
    sa.Column("secret_hash", _str(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    # The secret before the last rotation, accepted until previous_secret_until.
    sa.Column("previous_secret_hash", _str(), nullable=True),
    sa.Column("previous_secret_until", UTCDateTime(), nullable=True),
)

# An application's brand (frontdesk.domain.branding); 0010. The logo's bytes
# live here too, read only when the logo itself is served.
app_branding = sa.Table(
    "app_branding",
    metadata,
    sa.Column(
        "client_id",
        _str(),
        sa.ForeignKey("apps.client_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("display_name", _str(), nullable=True),
    sa.Column("accent", _str(), nullable=True),
    sa.Column("logo_type", _str(), nullable=True),
    # The logo is served by this tag (content-addressed, cached for good).
    sa.Column("logo_etag", _str(), nullable=True, index=True),
    sa.Column("logo", sa.LargeBinary(), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("username", _str(), primary_key=True),
    sa.Column("display_name", _str(), nullable=False),
    sa.Column("password_hash", _str(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("disabled", sa.Boolean(), nullable=False),
    # agent | supervisor (frontdesk.domain.model.UserRole); 0008
    sa.Column("role", _str(), nullable=False, server_default=sa.text("'agent'")),
)

meetings = sa.Table(
    "meetings",
    metadata,
    sa.Column("id", _str(), primary_key=True),
    sa.Column("join_code", _str(), nullable=False, unique=True),
    sa.Column("subject", _str(), nullable=False),
    sa.Column("organizer", _str(), nullable=False, index=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("access_policy", _str(), nullable=False),
    sa.Column("lobby_bypass", _str(), nullable=False),
    sa.Column("starts_at", UTCDateTime(), nullable=True),
    sa.Column("ends_at", UTCDateTime(), nullable=True),
    sa.Column("state", _str(), nullable=False, index=True),
    sa.Column("created_by_app", _str(), nullable=True, index=True),
    sa.Column("ended_at", UTCDateTime(), nullable=True),
    sa.Column("revision", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Index(None, "created_at", "id"),
)

used_tokens = sa.Table(
    "used_tokens",
    metadata,
    sa.Column("jti", _str(), primary_key=True),
    sa.Column("meeting_id", _str(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", _str(), primary_key=True),
    sa.Column("private_pem", sa.Text(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("retired_at", UTCDateTime(), nullable=True),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column(
        "meeting_id",
        _str(),
        sa.ForeignKey("meetings.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("type", _str(), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    # When the chat retention policy deleted the event's content (its data then
    # says "redacted": true); the unredacted ones are indexed by type and time.
    sa.Column("redacted_at", UTCDateTime(), nullable=True),
    sa.Index(
        None,
        "type",
        "at",
        sqlite_where=sa.text("redacted_at IS NULL"),
        postgresql_where=sa.text("redacted_at IS NULL"),
    ),
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", _str(), primary_key=True),
    sa.Column(
        "app_id",
        _str(),
        sa.ForeignKey("apps.client_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("url", sa.Text(), nullable=False),
    sa.Column("secret", _str(), nullable=False),
    sa.Column("events", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("extra", sa.JSON(), nullable=False),
)

# The applications whose guest tokens brought a guest into a meeting made by no
# application (an agent's): they may read that meeting's participants and events.
meeting_guest_apps = sa.Table(
    "meeting_guest_apps",
    metadata,
    sa.Column(
        "meeting_id",
        _str(),
        sa.ForeignKey("meetings.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "app_id",
        _str(),
        sa.ForeignKey("apps.client_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# In a cluster, the node that hosts a meeting (or the helpdesk router, under
# the key ``helpdesk``): one owner at a time, until ``expires_at`` (the
# database's clock). ``fence`` grows with every change of owner; an event is
# stored only while its writer's fence is current. No foreign key to meetings
# (since 0007), so a key may name something else than a meeting.
meeting_leases = sa.Table(
    "meeting_leases",
    metadata,
    sa.Column("meeting_id", _str(), primary_key=True),
    sa.Column("owner", _str(), nullable=False, index=True),
    sa.Column("node_url", _str(), nullable=False),
    sa.Column("fence", sa.BigInteger(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)

# The webhook outbox: one row per event per hook, delivered by whichever node
# claims it. ``id`` is the delivery id receivers de-duplicate on; ``payload``
# the event's data. A claim lasts until ``claimed_until`` (the database's
# clock), so a node that dies mid-delivery hands the row back. For a finished
# row (delivered, failed), ``next_attempt_at`` is the time of its last attempt.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", _str(), primary_key=True),
    sa.Column(
        "webhook_id",
        _str(),
        sa.ForeignKey("webhooks.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("app_id", _str(), nullable=False),
    sa.Column("event", _str(), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("meeting_id", _str(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("state", _str(), nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("claimed_by", _str(), nullable=True),
    sa.Column("claimed_until", UTCDateTime(), nullable=True),
    sa.Column("last_error", _str(), nullable=True),
    sa.Column("delivered_at", UTCDateTime(), nullable=True),
    sa.Index(None, "state", "next_attempt_at"),
)

# --- helpdesk: queues, agents, visits (the router's durable state) -------------------
# ``config`` holds topics, languages, opening hours, max wait and service level
# as JSON (the domain validates it); members are rows of helpdesk_queue_agents.
helpdesk_queues = sa.Table(
    "helpdesk_queues",
    metadata,
    sa.Column("name", _str(), primary_key=True),
    sa.Column("config", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

helpdesk_queue_agents = sa.Table(
    "helpdesk_queue_agents",
    metadata,
    sa.Column(
        "queue",
        _str(),
        sa.ForeignKey("helpdesk_queues.name", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("agent_id", _str(), primary_key=True),
)

# An agent's profile (capacity, skills) and state as the router holds it.
helpdesk_agents = sa.Table(
    "helpdesk_agents",
    metadata,
    sa.Column("agent_id", _str(), primary_key=True),
    sa.Column("capacity_video", sa.Integer(), nullable=False),
    sa.Column("capacity_chats", sa.Integer(), nullable=False),
    sa.Column("languages", sa.JSON(), nullable=False),
    sa.Column("topics", sa.JSON(), nullable=False),
    sa.Column("presence", _str(), nullable=False),
    sa.Column("idle_since", UTCDateTime(), nullable=False),
    sa.Column("missed_offers", sa.Integer(), nullable=False),
)

# A visit: the router's view of it plus the meeting and application it belongs to.
helpdesk_visits = sa.Table(
    "helpdesk_visits",
    metadata,
    sa.Column("id", _str(), primary_key=True),
    sa.Column("queue", _str(), nullable=False),
    sa.Column("state", _str(), nullable=False),
    sa.Column("rank", sa.BigInteger(), nullable=False),
    sa.Column("display_name", _str(), nullable=False),
    sa.Column("medium", _str(), nullable=False),
    sa.Column("topic", _str(), nullable=True),
    sa.Column("language", _str(), nullable=True),
    sa.Column("context", _str(), nullable=False),
    sa.Column("agent", _str(), nullable=True),
    sa.Column("offer_deadline", UTCDateTime(), nullable=True),
    sa.Column("target_agent", _str(), nullable=True),
    sa.Column("note", _str(), nullable=False),
    sa.Column("transfers", sa.Integer(), nullable=False),
    sa.Column("passed", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("queued_at", UTCDateTime(), nullable=False),
    sa.Column("accepted_at", UTCDateTime(), nullable=True),
    sa.Column("ended_at", UTCDateTime(), nullable=True),
    sa.Column("meeting_id", _str(), nullable=False),
    sa.Column("app_id", _str(), nullable=True),
    sa.Index(None, "state"),
    sa.Index(None, "queue", "ended_at"),
    sa.Index(None, "meeting_id"),
)

# What happened to each visit, in order (audit and transcripts).
helpdesk_visit_events = sa.Table(
    "helpdesk_visit_events",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("visit_id", _str(), nullable=False, index=True),
    sa.Column("type", _str(), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
)

# A message left by a visitor when the queue was closed or full.
helpdesk_callbacks = sa.Table(
    "helpdesk_callbacks",
    metadata,
    sa.Column("id", _str(), primary_key=True),
    sa.Column("queue", _str(), nullable=False, index=True),
    sa.Column("display_name", _str(), nullable=False),
    sa.Column("message", _str(), nullable=False),
    sa.Column("contact", _str(), nullable=False),
    sa.Column("app_id", _str(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("resolved_at", UTCDateTime(), nullable=True),
    sa.Column("resolved_by", _str(), nullable=True),
)
