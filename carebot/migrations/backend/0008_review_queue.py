"""Conversation review's queue (carebot/review): patient messages staff marked with the intent they meant, until a
designer exports them as NLU examples."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "backend_0008"
down_revision = "backend_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "review_queue" in set(sa.inspect(op.get_bind()).get_table_names()):
        return  # created by create_tables on a development database before this revision existed
    op.create_table(
        "review_queue",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("intent_was", sa.String(length=128), nullable=True),
        sa.Column("intent", sa.String(length=128), nullable=False),
        sa.Column("marked_by", sa.String(length=64), nullable=False),
        sa.Column("marked_at", sa.DateTime(), nullable=False),
        sa.Column("exported_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", name="uq_review_queue_event"),
    )


def downgrade() -> None:
    op.drop_table("review_queue")
