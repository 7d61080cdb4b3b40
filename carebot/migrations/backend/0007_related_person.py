"""Dependants (issue 18): `sched_related_person` links a patient to the phone that books for them (FHIR
RelatedPerson, relationship in v3 RoleCode)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "backend_0007"
down_revision = "backend_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "sched_related_person" in set(sa.inspect(op.get_bind()).get_table_names()):
        return  # created by create_tables on a development database before this revision existed
    op.create_table(
        "sched_related_person",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("patient_id", sa.String(length=40), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("relationship", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sched_related_person_patient_id", "sched_related_person", ["patient_id"])
    op.create_index("ix_sched_related_person_phone", "sched_related_person", ["phone"])


def downgrade() -> None:
    op.drop_table("sched_related_person")
