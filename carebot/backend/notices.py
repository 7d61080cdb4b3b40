"""Staff notices: what staff must know after a patient's privacy request, worded without the patient's name or
number (an appointment time an erasure freed, a case closed because the patient asked for erasure). Shown on the
staff inbox's front page; written by the privacy and handoff features, so the table lives in the shared base."""

from __future__ import annotations

import datetime as dt
from typing import List, Optional, Tuple

from sqlalchemy import Column, DateTime, Integer, String, Table, select
from sqlalchemy.engine import Connection, Engine

from carebot.backend.db import from_db, metadata, to_db

staff_notices = Table(
    "staff_notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("text", String(300), nullable=False),
)


def add_notice(conn: Connection, at: dt.datetime, text: str) -> None:
    """Inside the caller's transaction, so the notice exists exactly when what it reports happened."""
    conn.execute(staff_notices.insert().values(at=to_db(at), text=text[:300]))


def notices(engine: Engine, limit: int = 20) -> List[Tuple[Optional[dt.datetime], str]]:
    """The newest staff notices as (time, text)."""
    with engine.connect() as conn:
        rows = conn.execute(select(staff_notices).order_by(staff_notices.c.id.desc()).limit(limit)).fetchall()
    return [(from_db(row.at), row.text) for row in rows]
