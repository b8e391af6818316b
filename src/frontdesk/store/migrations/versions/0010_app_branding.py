"""Branding per trusted application: the display name, accent colour and logo
its visitors see on the guest page (one row per application that set any).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_branding",
        sa.Column("client_id", sa.String(), nullable=False),
        sa.Column("display_name", sa.String(), nullable=True),
        sa.Column("accent", sa.String(), nullable=True),
        sa.Column("logo_type", sa.String(), nullable=True),
        sa.Column("logo_etag", sa.String(), nullable=True),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["apps.client_id"],
            name="fk_app_branding_client_id_apps",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", name="pk_app_branding"),
    )
    op.create_index("ix_app_branding_logo_etag", "app_branding", ["logo_etag"])


def downgrade() -> None:
    op.drop_index("ix_app_branding_logo_etag", table_name="app_branding")
    op.drop_table("app_branding")
