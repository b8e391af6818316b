"""The applications that vouched a guest into an agent's meeting: webhooks and the
participant list of such a meeting are for them alone (and not for every app).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meeting_guest_apps",
        sa.Column("meeting_id", sa.String(), nullable=False),
        sa.Column("app_id", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name="fk_meeting_guest_apps_meeting_id_meetings",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["apps.client_id"],
            name="fk_meeting_guest_apps_app_id_apps",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("meeting_id", "app_id", name="pk_meeting_guest_apps"),
    )


def downgrade() -> None:
    op.drop_table("meeting_guest_apps")
