"""The WhatsApp channel's state at the first release with migrations: contacts (opt-out, 24-hour window), held
messages, seen MessageSids.

Revision 0001 is the schema `create_tables` made before migrations existed. It creates only the tables that are
missing, so a database an earlier release created (all or some of these tables, no version row) is adopted as it
is; an empty one gets every table. Later revisions change the schema step by step from here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "channel_0001"
down_revision = None
branch_labels = ("channel",)
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "whatsapp_contacts" not in existing:
        op.create_table(
            "whatsapp_contacts",
            sa.Column("phone", sa.String(length=32), nullable=False),
            sa.Column("last_inbound_at", sa.DateTime(), nullable=True),
            sa.Column("opted_out_at", sa.DateTime(), nullable=True),
            sa.PrimaryKeyConstraint("phone"),
        )
    if "whatsapp_held_messages" not in existing:
        op.create_table(
            "whatsapp_held_messages",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("phone", sa.String(length=32), nullable=False),
            sa.Column("body", sa.Text(), nullable=False),
            sa.Column("media_url", sa.Text(), nullable=True),
            sa.Column("held_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(
            op.f("ix_whatsapp_held_messages_phone"), "whatsapp_held_messages", ["phone"], unique=False
        )
    if "whatsapp_message_sids" not in existing:
        op.create_table(
            "whatsapp_message_sids",
            sa.Column("message_sid", sa.String(length=64), nullable=False),
            sa.Column("received_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("message_sid"),
        )
        op.create_index(
            op.f("ix_whatsapp_message_sids_received_at"),
            "whatsapp_message_sids",
            ["received_at"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("whatsapp_message_sids")
    op.drop_table("whatsapp_held_messages")
    op.drop_table("whatsapp_contacts")
