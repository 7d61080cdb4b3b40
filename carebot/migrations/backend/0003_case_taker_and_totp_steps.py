"""Who took a staff case (`handoff_cases.assigned_to`: per-staff visibility in the inbox) and the last TOTP time
step each staff member used (`staff_totp_steps`: a second-factor code is accepted once)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "backend_0003"
down_revision = "backend_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    # Both may exist already: create_tables made them on a development database before this revision existed.
    if "assigned_to" not in {column["name"] for column in inspector.get_columns("handoff_cases")}:
        op.add_column("handoff_cases", sa.Column("assigned_to", sa.String(length=64), nullable=True))
    if "staff_totp_steps" not in set(inspector.get_table_names()):
        op.create_table(
            "staff_totp_steps",
            sa.Column("staff", sa.String(length=64), nullable=False),
            sa.Column("last_step", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("staff"),
        )


def downgrade() -> None:
    op.drop_table("staff_totp_steps")
    op.drop_column("handoff_cases", "assigned_to")
