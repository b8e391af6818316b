"""Chat retention: an event whose content was deleted by the retention policy
says when (``redacted_at``), and the events still holding content are found by
type and time without reading the whole log.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-03 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNREDACTED = sa.text("redacted_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_events_type_at",
        "events",
        ["type", "at"],
        sqlite_where=_UNREDACTED,
        postgresql_where=_UNREDACTED,
    )


def downgrade() -> None:
    op.drop_index("ix_events_type_at", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("redacted_at")
