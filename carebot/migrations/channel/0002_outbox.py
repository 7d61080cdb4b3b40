"""The outbox (every outbound WhatsApp message, its state, deadline and Twilio SIDs) and the sender's shared
pacing slot (carebot/channels/outbox.py, carebot/channels/pacing.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "channel_0002"
down_revision = "channel_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "whatsapp_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("media_url", sa.Text(), nullable=True),
        sa.Column("template", sa.String(length=64), nullable=True),
        sa.Column("variables", sa.Text(), nullable=True),
        sa.Column("force", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("route", sa.String(length=16), nullable=True),
        sa.Column("parts_total", sa.Integer(), nullable=False),
        sa.Column("parts_done", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("deadline_at", sa.DateTime(), nullable=False),
        sa.Column("attempt_started_at", sa.DateTime(), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=80), nullable=True),
        sa.Column("settled_at", sa.DateTime(), nullable=True),
        sa.Column("delivery_status", sa.String(length=16), nullable=True),
        sa.Column("delivery_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index(
        "ix_whatsapp_outbox_phone_state", "whatsapp_outbox", ["phone", "state", "id"], unique=False
    )
    op.create_index(
        "ix_whatsapp_outbox_state_next", "whatsapp_outbox", ["state", "next_attempt_at"], unique=False
    )
    op.create_table(
        "whatsapp_outbox_sids",
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("outbox_id", "part"),
    )
    op.create_index(op.f("ix_whatsapp_outbox_sids_sid"), "whatsapp_outbox_sids", ["sid"], unique=False)
    op.create_table(
        "whatsapp_pacing",
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("next_slot", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("sender"),
    )


def downgrade() -> None:
    op.drop_table("whatsapp_pacing")
    op.drop_table("whatsapp_outbox_sids")
    op.drop_table("whatsapp_outbox")
