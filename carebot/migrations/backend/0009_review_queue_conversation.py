"""The conversation a marked message came from, so that erasing a patient takes their words out of the review queue
too (rows marked before this revision have none: the retention purge removes them by age)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "backend_0009"
down_revision = "backend_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("review_queue")}
    if "conversation_id" in columns:
        return  # created by create_tables on a development database before this revision existed
    op.add_column("review_queue", sa.Column("conversation_id", sa.String(length=128), nullable=True))
    op.create_index("ix_review_queue_conversation_id", "review_queue", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_review_queue_conversation_id", table_name="review_queue")
    op.drop_column("review_queue", "conversation_id")
