"""The WhatsApp inbox (carebot/channels/inbound.py): webhooks kept from their 204 until their turn is handled."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "channel_0004"
down_revision = "channel_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "whatsapp_inbound",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_sid", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("form", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=80), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_sid"),
    )
    op.create_index("ix_whatsapp_inbound_phone", "whatsapp_inbound", ["phone", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("whatsapp_inbound")
