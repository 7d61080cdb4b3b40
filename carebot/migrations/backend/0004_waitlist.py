"""The waitlist (carebot/waitlist): its entries and offers, and scheduling's log of freed slots the offers come from."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "backend_0004"
down_revision = "backend_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "waitlist_entry" in set(sa.inspect(op.get_bind()).get_table_names()):
        return  # created by create_tables on a development database before this revision existed
    op.create_table(
        "sched_slot_freed",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("slot_id", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "waitlist_entry",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("patient_id", sa.String(length=40), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("practitioner_id", sa.String(length=64), nullable=True),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("day_parts", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("appointment_id", sa.String(length=40), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_waitlist_entry_match",
        "waitlist_entry",
        ["state", "service_id", "date_from", "created"],
        unique=False,
    )
    op.create_index(op.f("ix_waitlist_entry_patient_id"), "waitlist_entry", ["patient_id"], unique=False)
    op.create_table(
        "waitlist_offer",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("entry_id", sa.String(length=40), nullable=False),
        sa.Column("patient_id", sa.String(length=40), nullable=False),
        sa.Column("slot_id", sa.String(length=100), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("practitioner_id", sa.String(length=64), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("appointment_id", sa.String(length=40), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("gone_told_at", sa.DateTime(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_id", "slot_id", name="uq_waitlist_offer_entry_slot"),
    )
    op.create_index(op.f("ix_waitlist_offer_patient_id"), "waitlist_offer", ["patient_id"], unique=False)
    op.create_index(op.f("ix_waitlist_offer_slot_id"), "waitlist_offer", ["slot_id"], unique=False)
    op.create_index(
        "ix_waitlist_offer_state_expires", "waitlist_offer", ["state", "expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_waitlist_offer_state_expires", table_name="waitlist_offer")
    op.drop_index(op.f("ix_waitlist_offer_slot_id"), table_name="waitlist_offer")
    op.drop_index(op.f("ix_waitlist_offer_patient_id"), table_name="waitlist_offer")
    op.drop_table("waitlist_offer")
    op.drop_index(op.f("ix_waitlist_entry_patient_id"), table_name="waitlist_entry")
    op.drop_index("ix_waitlist_entry_match", table_name="waitlist_entry")
    op.drop_table("waitlist_entry")
    op.drop_table("sched_slot_freed")
