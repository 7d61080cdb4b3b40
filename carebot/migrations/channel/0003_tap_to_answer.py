"""Tap-to-answer WhatsApp messages: an outbox message's buttons (`whatsapp_outbox.offer`) and the Content API
templates created for them (carebot/channels/content.py)."""

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


def downgrade() -> None:
    op.drop_table("whatsapp_content_templates")
    with op.batch_alter_table("whatsapp_outbox") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("offer")
