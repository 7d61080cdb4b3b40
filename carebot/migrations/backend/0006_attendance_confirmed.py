"""When the patient confirmed they will come to an appointment (`sched_appointment.attendance_confirmed`, the
reminder's "Confirm"): unconfirmed appointments near their start are shown to staff."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "backend_0006"
down_revision = "backend_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("sched_appointment")}
    if "attendance_confirmed" not in columns:  # create_tables may have made it on a development database
        op.add_column("sched_appointment", sa.Column("attendance_confirmed", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("sched_appointment", "attendance_confirmed")
