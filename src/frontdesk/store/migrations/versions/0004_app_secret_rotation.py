"""Applications keep their previous client secret for an overlap after a
rotation, so a routine secret change never breaks a back end mid-deploy.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.add_column(sa.Column("previous_secret_hash", sa.String(), nullable=True))
        batch.add_column(
            sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("apps") as batch:
        batch.drop_column("previous_secret_until")
        batch.drop_column("previous_secret_hash")
