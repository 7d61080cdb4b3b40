"""Review's queue in the backend database: patient messages staff marked with the intent they meant, until a
designer exports them. Kept with the shared tables so that the privacy jobs (erasure, retention) reach it
without importing the review package, which reads the tracker through privacy."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, String, Table, Text, UniqueConstraint

from carebot.backend.db import metadata

review_queue = Table(
    "review_queue",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Integer, nullable=False),  # the tracker event of the patient's message
    Column("conversation_id", String(128), nullable=True, index=True),  # its sender: erasure finds it by this
    Column("text", Text, nullable=False),
    Column("intent_was", String(128), nullable=True),
    Column("intent", String(128), nullable=False),
    Column("marked_by", String(64), nullable=False),
    Column("marked_at", DateTime, nullable=False),
    Column("exported_at", DateTime, nullable=True),
    UniqueConstraint("event_id", name="uq_review_queue_event"),
)
