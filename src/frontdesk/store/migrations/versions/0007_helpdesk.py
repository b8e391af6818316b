"""Helpdesk: queues, agents, visits, visit events and callback requests, so the
router's state survives a restart; the lease table loses its foreign key to
meetings so the helpdesk router can be leased (key ``helpdesk``) like a meeting.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("meeting_leases") as batch:
        batch.drop_constraint("fk_meeting_leases_meeting_id_meetings", type_="foreignkey")
    op.create_table(
        "helpdesk_queues",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_helpdesk_queues"),
    )
    op.create_table(
        "helpdesk_queue_agents",
        sa.Column("queue", sa.String(), nullable=False),
        sa.Column("agent_id", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue"],
            ["helpdesk_queues.name"],
            name="fk_helpdesk_queue_agents_queue_helpdesk_queues",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("queue", "agent_id", name="pk_helpdesk_queue_agents"),
    )
    op.create_table(
        "helpdesk_agents",
        sa.Column("agent_id", sa.String(), nullable=False),
        sa.Column("capacity_video", sa.Integer(), nullable=False),
        sa.Column("capacity_chats", sa.Integer(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("presence", sa.String(), nullable=False),
        sa.Column("idle_since", _TS, nullable=False),
        sa.Column("missed_offers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", name="pk_helpdesk_agents"),
    )
    op.create_table(
        "helpdesk_visits",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("queue", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("rank", sa.BigInteger(), nullable=False),
        sa.Column("display_name", sa.String(), nullable=False),
        sa.Column("medium", sa.String(), nullable=False),
        sa.Column("topic", sa.String(), nullable=True),
        sa.Column("language", sa.String(), nullable=True),
        sa.Column("context", sa.String(), nullable=False),
        sa.Column("agent", sa.String(), nullable=True),
        sa.Column("offer_deadline", _TS, nullable=True),
        sa.Column("target_agent", sa.String(), nullable=True),
        sa.Column("note", sa.String(), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("passed", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("queued_at", _TS, nullable=False),
        sa.Column("accepted_at", _TS, nullable=True),
        sa.Column("ended_at", _TS, nullable=True),
        sa.Column("meeting_id", sa.String(), nullable=False),
        sa.Column("app_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_helpdesk_visits"),
    )
    op.create_index("ix_helpdesk_visits_state", "helpdesk_visits", ["state"])
    op.create_index("ix_helpdesk_visits_queue_ended_at", "helpdesk_visits", ["queue", "ended_at"])
    op.create_index("ix_helpdesk_visits_meeting_id", "helpdesk_visits", ["meeting_id"])
    op.create_table(
        "helpdesk_visit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("visit_id", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_helpdesk_visit_events"),
    )
    op.create_index("ix_helpdesk_visit_events_visit_id", "helpdesk_visit_events", ["visit_id"])
    op.create_table(
        "helpdesk_callbacks",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("queue", sa.String(), nullable=False),
        sa.Column("display_name", sa.String(), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("contact", sa.String(), nullable=False),
        sa.Column("app_id", sa.String(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("resolved_at", _TS, nullable=True),
        sa.Column("resolved_by", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_helpdesk_callbacks"),
    )
    op.create_index("ix_helpdesk_callbacks_queue", "helpdesk_callbacks", ["queue"])


def downgrade() -> None:
    op.drop_index("ix_helpdesk_callbacks_queue", table_name="helpdesk_callbacks")
    op.drop_table("helpdesk_callbacks")
    op.drop_index("ix_helpdesk_visit_events_visit_id", table_name="helpdesk_visit_events")
    op.drop_table("helpdesk_visit_events")
    op.drop_index("ix_helpdesk_visits_meeting_id", table_name="helpdesk_visits")
    op.drop_index("ix_helpdesk_visits_queue_ended_at", table_name="helpdesk_visits")
    op.drop_index("ix_helpdesk_visits_state", table_name="helpdesk_visits")
    op.drop_table("helpdesk_visits")
    op.drop_table("helpdesk_agents")
    op.drop_table("helpdesk_queue_agents")
    op.drop_table("helpdesk_queues")
    op.execute("DELETE FROM meeting_leases WHERE meeting_id NOT IN (SELECT id FROM meetings)")
    with op.batch_alter_table("meeting_leases") as batch:
        batch.create_foreign_key(
            "fk_meeting_leases_meeting_id_meetings",
            "meetings",
            ["meeting_id"],
            ["id"],
            ondelete="CASCADE",
        )
