"""Tap-to-answer WhatsApp messages: an outbox message's buttons (`whatsapp_outbox.offer`) and the Content API
templates created for them (carebot/channels/content.py); the recipients of business-initiated conversations in the
last 24 hours, counted against Meta's messaging tier (carebot/channels/budget.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "channel_0003"
down_revision = "channel_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("whatsapp_outbox", sa.Column("offer", sa.Text(), nullable=True))
    op.create_table(
        "whatsapp_content_templates",
        sa.Column("definition_hash", sa.String(length=64), nullable=False),
        sa.Column("content_sid", sa.String(length=34), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("definition_hash"),
    )
    op.create_table(
        "whatsapp_business_initiated",
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sender", "phone"),
    )
    op.create_index(
        op.f("ix_whatsapp_business_initiated_opened_at"),
        "whatsapp_business_initiated",
        ["opened_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("whatsapp_business_initiated")
    op.drop_table("whatsapp_content_templates")
    with op.batch_alter_table("whatsapp_outbox") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("offer")
