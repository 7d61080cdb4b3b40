"""Waitlist tables on the backend's shared MetaData (times naive UTC, dates clinic-local).

The match index leads with (state, service_id, date_from): a freed slot asks for the waiting entries of a few
services whose range has begun, in the order they joined; `created` then `id` orders them.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Index, Integer, String, Table, UniqueConstraint

from carebot.backend.db import metadata

entry = Table(
    "waitlist_entry",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("patient_id", String(40), nullable=False, index=True),
    Column("service_id", String(64), nullable=False),
    Column("practitioner_id", String(64), nullable=True),
    Column("date_from", Date, nullable=False),
    Column("date_to", Date, nullable=False),
    Column("day_parts", Integer, nullable=False),  # bits of carebot.waitlist.model.DAY_PARTS
    Column("state", String(16), nullable=False),
    Column("conversation_id", String(200), nullable=False),
    Column("channel", String(40), nullable=False),
    Column("appointment_id", String(40), nullable=True),
    Column("created", DateTime, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("last_updated", DateTime, nullable=False),
    Index("ix_waitlist_entry_match", "state", "service_id", "date_from", "created"),
)

offer = Table(
    "waitlist_offer",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("entry_id", String(40), nullable=False),
    Column("patient_id", String(40), nullable=False, index=True),
    Column("slot_id", String(100), nullable=False, index=True),
    Column("service_id", String(64), nullable=False),
    Column("practitioner_id", String(64), nullable=False),
    Column("start", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("appointment_id", String(40), nullable=True),
    Column("delivered_at", DateTime, nullable=True),  # the bot spoke the offer (or, when gone, that it went)
    Column("gone_told_at", DateTime, nullable=True),
    Column("created", DateTime, nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("last_updated", DateTime, nullable=False),
    UniqueConstraint("entry_id", "slot_id", name="uq_waitlist_offer_entry_slot"),  # never the same slot twice
    Index("ix_waitlist_offer_state_expires", "state", "expires_at"),
)
