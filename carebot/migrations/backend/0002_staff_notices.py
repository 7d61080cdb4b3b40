"""Staff notices: what an erasure freed (a cancelled appointment's time), shown in the staff inbox without a name
or number (carebot/privacy/erasure.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "backend_0002"
down_revision = "backend_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "staff_notices" in set(sa.inspect(op.get_bind()).get_table_names()):
        return  # created by create_tables on a development database before this revision existed
    op.create_table(
        "staff_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("text", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("staff_notices")
