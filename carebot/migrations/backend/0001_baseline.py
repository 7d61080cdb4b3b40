"""The backend's tables at the first release with migrations: scheduling, reminders, handoff, staff sessions, audit log.

Revision 0001 is the schema `create_tables` made before migrations existed. It creates only the tables that are
missing, so a database an earlier release created (all or some of these tables, no version row) is adopted as it
is; an empty one gets every table. Later revisions change the schema step by step from here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "backend_0001"
down_revision = None
branch_labels = ("backend",)
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "audit_log" not in existing:
        op.create_table(
            "audit_log",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("at", sa.DateTime(), nullable=False),
            sa.Column("actor", sa.String(length=80), nullable=False),
            sa.Column("action", sa.String(length=80), nullable=False),
            sa.Column("patient", sa.String(length=64), nullable=True),
            sa.Column("detail", sa.String(length=200), nullable=False),
            sa.Column("prev_hash", sa.String(length=64), nullable=False),
            sa.Column("entry_hash", sa.String(length=64), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
        op.create_index(op.f("ix_audit_log_patient"), "audit_log", ["patient"], unique=False)
    if "handoff_cases" not in existing:
        op.create_table(
            "handoff_cases",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("conversation_id", sa.String(length=128), nullable=False),
            sa.Column("patient_phone", sa.String(length=32), nullable=False),
            sa.Column("reason", sa.String(length=32), nullable=False),
            sa.Column("transcript", sa.Text(), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("resolved_at", sa.DateTime(), nullable=True),
            sa.Column("resolved_by", sa.String(length=64), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(
            "ix_handoff_cases_status_created", "handoff_cases", ["status", "created_at"], unique=False
        )
        op.create_index(
            "uq_handoff_cases_one_open",
            "handoff_cases",
            ["conversation_id"],
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )
    if "reminder_deliveries" not in existing:
        op.create_table(
            "reminder_deliveries",
            sa.Column("idempotency_key", sa.String(length=160), nullable=False),
            sa.Column("delivered_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("idempotency_key"),
        )
    if "reminders" not in existing:
        op.create_table(
            "reminders",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("conversation_id", sa.String(length=128), nullable=False),
            sa.Column("channel", sa.String(length=32), nullable=False),
            sa.Column("kind", sa.String(length=16), nullable=False),
            sa.Column("label", sa.String(length=200), nullable=False),
            sa.Column("dose", sa.String(length=64), nullable=True),
            sa.Column("rrule", sa.Text(), nullable=False),
            sa.Column("dtstart", sa.DateTime(), nullable=False),
            sa.Column("tz", sa.String(length=64), nullable=False),
            sa.Column("description", sa.String(length=300), nullable=False),
            sa.Column("appointment_id", sa.String(length=64), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("revision", sa.Integer(), nullable=False),
            sa.Column("materialised_until", sa.DateTime(), nullable=True),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("updated_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_reminders_appointment_id"), "reminders", ["appointment_id"], unique=False)
        op.create_index(op.f("ix_reminders_conversation_id"), "reminders", ["conversation_id"], unique=False)
    if "sched_appointment" not in existing:
        op.create_table(
            "sched_appointment",
            sa.Column("id", sa.String(length=40), nullable=False),
            sa.Column("status", sa.String(length=20), nullable=False),
            sa.Column("patient_id", sa.String(length=40), nullable=False),
            sa.Column("practitioner_id", sa.String(length=64), nullable=False),
            sa.Column("service_id", sa.String(length=64), nullable=False),
            sa.Column("slot_ids", sa.Text(), nullable=False),
            sa.Column("start", sa.DateTime(), nullable=False),
            sa.Column("end", sa.DateTime(), nullable=False),
            sa.Column("cancellation_reason", sa.String(length=200), nullable=True),
            sa.Column("replaces_id", sa.String(length=40), nullable=True),
            sa.Column("created", sa.DateTime(), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("last_updated", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(
            op.f("ix_sched_appointment_patient_id"), "sched_appointment", ["patient_id"], unique=False
        )
        op.create_index(op.f("ix_sched_appointment_start"), "sched_appointment", ["start"], unique=False)
    if "sched_patient" not in existing:
        op.create_table(
            "sched_patient",
            sa.Column("id", sa.String(length=40), nullable=False),
            sa.Column("family", sa.String(length=200), nullable=False),
            sa.Column("given", sa.String(length=200), nullable=False),
            sa.Column("birth_date", sa.Date(), nullable=True),
            sa.Column("phone", sa.String(length=20), nullable=False),
            sa.Column("gender", sa.String(length=16), nullable=True),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("last_updated", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_sched_patient_phone"), "sched_patient", ["phone"], unique=False)
    if "sched_practitioner" not in existing:
        op.create_table(
            "sched_practitioner",
            sa.Column("id", sa.String(length=64), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("active", sa.Boolean(), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("last_updated", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
    if "sched_schedule" not in existing:
        op.create_table(
            "sched_schedule",
            sa.Column("id", sa.String(length=80), nullable=False),
            sa.Column("practitioner_id", sa.String(length=64), nullable=False),
            sa.Column("service_ids", sa.Text(), nullable=False),
            sa.Column("active", sa.Boolean(), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("last_updated", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("practitioner_id"),
        )
    if "sched_slot" not in existing:
        op.create_table(
            "sched_slot",
            sa.Column("id", sa.String(length=100), nullable=False),
            sa.Column("schedule_id", sa.String(length=80), nullable=False),
            sa.Column("practitioner_id", sa.String(length=64), nullable=False),
            sa.Column("start", sa.DateTime(), nullable=False),
            sa.Column("end", sa.DateTime(), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("last_updated", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("practitioner_id", "start", name="uq_sched_slot_practitioner_start"),
        )
        op.create_index("ix_sched_slot_status_start", "sched_slot", ["status", "start"], unique=False)
    if "staff_login_failures" not in existing:
        op.create_table(
            "staff_login_failures",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("staff", sa.String(length=64), nullable=False),
            sa.Column("failed_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(
            op.f("ix_staff_login_failures_staff"), "staff_login_failures", ["staff"], unique=False
        )
    if "staff_sessions" not in existing:
        op.create_table(
            "staff_sessions",
            sa.Column("token_hash", sa.String(length=64), nullable=False),
            sa.Column("staff", sa.String(length=64), nullable=False),
            sa.Column("expires_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("token_hash"),
        )
        op.create_index(op.f("ix_staff_sessions_staff"), "staff_sessions", ["staff"], unique=False)
    if "handoff_events" not in existing:
        op.create_table(
            "handoff_events",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("case_id", sa.Integer(), nullable=False),
            sa.Column("kind", sa.String(length=24), nullable=False),
            sa.Column("author", sa.String(length=64), nullable=False),
            sa.Column("text", sa.Text(), nullable=False),
            sa.Column("at", sa.DateTime(), nullable=False),
            sa.Column("delivery_status", sa.String(length=24), nullable=True),
            sa.ForeignKeyConstraint(
                ["case_id"],
                ["handoff_cases.id"],
            ),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index(op.f("ix_handoff_events_case_id"), "handoff_events", ["case_id"], unique=False)
    if "reminder_occurrences" not in existing:
        op.create_table(
            "reminder_occurrences",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("reminder_id", sa.Integer(), nullable=False),
            sa.Column("revision", sa.Integer(), nullable=False),
            sa.Column("due_at", sa.DateTime(), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("idempotency_key", sa.String(length=160), nullable=False),
            sa.Column("claimed_by", sa.String(length=128), nullable=True),
            sa.Column("claimed_until", sa.DateTime(), nullable=True),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("sent_at", sa.DateTime(), nullable=True),
            sa.Column("response", sa.String(length=16), nullable=True),
            sa.Column("responded_at", sa.DateTime(), nullable=True),
            sa.Column("snoozed_from", sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(["reminder_id"], ["reminders.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("idempotency_key"),
        )
        op.create_index(
            op.f("ix_reminder_occurrences_reminder_id"), "reminder_occurrences", ["reminder_id"], unique=False
        )
        op.create_index(
            "ix_reminder_occurrences_status_due", "reminder_occurrences", ["status", "due_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("reminder_occurrences")
    op.drop_table("handoff_events")
    op.drop_table("staff_sessions")
    op.drop_table("staff_login_failures")
    op.drop_table("sched_slot")
    op.drop_table("sched_schedule")
    op.drop_table("sched_practitioner")
    op.drop_table("sched_patient")
    op.drop_table("sched_appointment")
    op.drop_table("reminders")
    op.drop_table("reminder_deliveries")
    op.drop_table("handoff_cases")
    op.drop_table("audit_log")
