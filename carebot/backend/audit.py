"""Append-only, hash-chained audit log of who did what with which patient's data, in the backend database.

Each entry's `entry_hash` is SHA-256 over the previous entry's hash and this entry's fields, so changing or
deleting an entry in the middle breaks `verify()` from that point on. Patients are named by a keyed hash of their
phone number (HMAC with the `audit_key` secret): an auditor holding the key can find a given patient's entries,
a leaked table alone does not reveal numbers. Purging old entries (retention) keeps the chain checkable: the
oldest remaining entry's `prev_hash` is trusted as the start.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from dataclasses import dataclass
from typing import List, Optional

from sqlalchemy import Column, DateTime, Integer, String, Table, delete, select, text
from sqlalchemy.engine import Connection, Engine

from carebot import tokens
from carebot.backend.db import from_db, metadata, to_db
from carebot.clock import utc_now
from carebot.phones import normalize_phone

GENESIS = "0" * 64
AUDIT_KEY = ("AUDIT_KEY", "audit_key")
_PG_CHAIN_LOCK = 7_140_014  # one advisory lock: concurrent writers append to the chain in turn

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False, index=True),
    Column("actor", String(80), nullable=False),  # "staff:alice", "token:actions", "operator", "patient"
    Column("action", String(80), nullable=False),  # "read case", "reply", "erase", "GET /fhir/Patient"
    Column("patient", String(64), nullable=True, index=True),  # keyed hash of the phone, or NULL
    Column("detail", String(200), nullable=False, default=""),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
)


@functools.lru_cache(maxsize=1)
def _key() -> bytes:
    return tokens.token(*AUDIT_KEY).encode()


def patient_ref(phone: Optional[str]) -> Optional[str]:
    """The keyed hash that stands for a patient's phone in the log (None when there is no phone)."""
    if not phone:
        return None
    return hmac.new(_key(), normalize_phone(phone).encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    action: str
    patient: Optional[str]
    detail: str
    prev_hash: str
    entry_hash: str


def _entry_hash(
    prev_hash: str, at: dt.datetime, actor: str, action: str, patient: Optional[str], detail: str
) -> str:
    fields = "\x1f".join([prev_hash, to_db(at).isoformat(), actor, action, patient or "", detail])
    return hashlib.sha256(fields.encode()).hexdigest()


class AuditLog:
    """Blocking methods (call through run_db from handlers)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(
        self,
        actor: str,
        action: str,
        phone: Optional[str] = None,
        detail: str = "",
        at: Optional[dt.datetime] = None,
    ) -> None:
        at = (at or utc_now()).replace(microsecond=0)
        patient, detail = patient_ref(phone), detail[:200]
        with self.engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE already serialises writers
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_CHAIN_LOCK})
            prev = self._last_hash(conn)
            conn.execute(
                audit_log.insert().values(
                    at=to_db(at),
                    actor=actor[:80],
                    action=action[:80],
                    patient=patient,
                    detail=detail,
                    prev_hash=prev,
                    entry_hash=_entry_hash(prev, at, actor[:80], action[:80], patient, detail),
                )
            )

    @staticmethod
    def _last_hash(conn: Connection) -> str:
        last = conn.execute(select(audit_log.c.entry_hash).order_by(audit_log.c.id.desc()).limit(1)).scalar()
        return last or GENESIS

    def entries(self, limit: int = 200, phone: Optional[str] = None) -> List[AuditEntry]:
        """Newest first; only one patient's when `phone` is given."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if phone:
            query = query.where(audit_log.c.patient == patient_ref(phone))
        with self.engine.connect() as conn:
            return [
                AuditEntry(
                    r.id, from_db(r.at), r.actor, r.action, r.patient, r.detail, r.prev_hash, r.entry_hash
                )
                for r in conn.execute(query)
            ]

    def verify(self) -> Optional[int]:
        """None when the chain is intact, else the id of the first entry that was altered or follows a gap."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).fetchall()
        previous = rows[0].prev_hash if rows else GENESIS
        for row in rows:
            expected = _entry_hash(previous, from_db(row.at), row.actor, row.action, row.patient, row.detail)
            if row.prev_hash != previous or row.entry_hash != expected:
                return row.id
            previous = row.entry_hash
        return None

    def purge_before(self, cutoff: dt.datetime) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(audit_log).where(audit_log.c.at < to_db(cutoff))).rowcount
