"""Scheduling tables on the backend's shared MetaData. Times are naive UTC; `version` backs ETag/If-Match.

Appointments copy their start, end, practitioner and slot ids, so they stay readable after slot regeneration
removes freed slots (slot ids are references, not foreign keys, for that reason).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Index, Integer, String, Table, Text, UniqueConstraint

from carebot.backend.db import metadata

practitioner = Table(
    "sched_practitioner",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("version", Integer, nullable=False, default=1),
    Column("last_updated", DateTime, nullable=False),
)

schedule = Table(
    "sched_schedule",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("practitioner_id", String(64), nullable=False, unique=True),
    Column("service_ids", Text, nullable=False),  # space-separated service ids from clinic.yml
    Column("active", Boolean, nullable=False, default=True),
    Column("version", Integer, nullable=False, default=1),
    Column("last_updated", DateTime, nullable=False),
)

slot = Table(
    "sched_slot",
    metadata,
    Column(
        "id", String(100), primary_key=True
    ),  # "<practitioner>-<UTC yyyymmddhhmm>": stable across regenerations
    Column("schedule_id", String(80), nullable=False),
    Column("practitioner_id", String(64), nullable=False),
    Column("start", DateTime, nullable=False),
    Column("end", DateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("last_updated", DateTime, nullable=False),
    UniqueConstraint("practitioner_id", "start", name="uq_sched_slot_practitioner_start"),
    Index("ix_sched_slot_status_start", "status", "start"),
)

patient = Table(
    "sched_patient",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("family", String(200), nullable=False),
    Column("given", String(200), nullable=False),
    Column("birth_date", Date, nullable=True),
    Column("phone", String(20), nullable=False, index=True),
    Column("gender", String(16), nullable=True),
    Column("version", Integer, nullable=False, default=1),
    Column("last_updated", DateTime, nullable=False),
)

# A dependant's link to the phone that books for them (FHIR RelatedPerson): `patient_id` is the dependant, `phone`
# the owner's number (the dependant's Patient carries it too, so reminders and offers reach the owner), and
# `relationship` what the owner is to the dependant (v3 RoleCode).
related_person = Table(
    "sched_related_person",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("patient_id", String(40), nullable=False, index=True),
    Column("phone", String(20), nullable=False, index=True),
    Column("relationship", String(16), nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("last_updated", DateTime, nullable=False),
)

appointment = Table(
    "sched_appointment",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("patient_id", String(40), nullable=False, index=True),
    Column("practitioner_id", String(64), nullable=False),
    Column("service_id", String(64), nullable=False),
    Column(
        "slot_ids", Text, nullable=False
    ),  # space-separated; a 30-minute service holds two 15-minute slots
    Column("start", DateTime, nullable=False, index=True),
    Column("end", DateTime, nullable=False),
    Column("cancellation_reason", String(200), nullable=True),
    Column("replaces_id", String(40), nullable=True),
    # When the patient confirmed they will come (the reminder's "Confirm"); unconfirmed near the start: staff see it.
    Column("attendance_confirmed", DateTime, nullable=True),
    Column("created", DateTime, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("last_updated", DateTime, nullable=False),
    # The dashboard's appointments made, and cancelled, in a period (carebot/dashboard/store.py).
    Index("ix_sched_appointment_created", "created"),
    Index("ix_sched_appointment_status_updated", "status", "last_updated"),
)

# Slots freed by a cancellation or a reschedule, written in the same transaction: the waitlist's offer worker
# (carebot.waitlist) takes them in id order, so scheduling never needs to know the waitlist exists.
slot_freed = Table(
    "sched_slot_freed",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slot_id", String(100), nullable=False),
    Column("at", DateTime, nullable=False),
)
