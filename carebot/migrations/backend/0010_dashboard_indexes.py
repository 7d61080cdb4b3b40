"""The dashboard's reads of the backend tables by period (carebot/dashboard/store.py): staff cases by when they were
created, appointments by when they were made and, for cancellations, by status and last change. Without them each
page scanned the whole tables, which grow with every month the clinic runs."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "backend_0010"
down_revision = "backend_0009"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_handoff_cases_created_at", "handoff_cases", ["created_at"]),
    ("ix_sched_appointment_created", "sched_appointment", ["created"]),
    ("ix_sched_appointment_status_updated", "sched_appointment", ["status", "last_updated"]),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for name, table, columns in INDEXES:
        if name not in {
            index["name"] for index in inspector.get_indexes(table)
        }:  # create_tables may have made it
            op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in INDEXES:
        op.drop_index(name, table_name=table)
