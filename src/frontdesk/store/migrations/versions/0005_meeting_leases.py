"""Meeting leases: in a cluster, one node at a time hosts a meeting, and every
event it stores is fenced by the lease's number.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meeting_leases",
        sa.Column("meeting_id", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("node_url", sa.String(), nullable=False),
        sa.Column("fence", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name="fk_meeting_leases_meeting_id_meetings",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("meeting_id", name="pk_meeting_leases"),
    )
    op.create_index("ix_meeting_leases_owner", "meeting_leases", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_meeting_leases_owner", table_name="meeting_leases")
    op.drop_table("meeting_leases")
