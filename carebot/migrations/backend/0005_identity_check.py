"""The identity check (carebot/identity): per phone number, when it last confirmed a date of birth, wrong answers in
a row and the lock they cause."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "backend_0005"
down_revision = "backend_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "identity_check" in set(sa.inspect(op.get_bind()).get_table_names()):
        return  # created by create_tables on a development database before this revision existed
    op.create_table(
        "identity_check",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("verified_at", sa.DateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("phone"),
    )


def downgrade() -> None:
    op.drop_table("identity_check")
