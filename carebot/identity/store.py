"""Identity checks per phone number: when it last confirmed a date of birth, wrong answers in a row, the lock.

A check compares the answer with the date of birth of every patient registered with the number (a parent may
answer for a child on their phone) inside one transaction that also counts the failure, so concurrent answers
cannot get more than `attempts` tries in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import Column, DateTime, Integer, String, Table, and_, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from carebot.backend.db import from_db, metadata
from carebot.clinic import Clinic
from carebot.identity.model import LOCKED, NEEDED, NOT_NEEDED, VERIFIED, IdentityStatus
from carebot.scheduling import store as scheduling
from carebot.scheduling import tables as sched
from carebot.scheduling.slots import utcnow

identity_check = Table(
    "identity_check",
    metadata,
    Column("phone", String(20), primary_key=True),
    Column("verified_at", DateTime, nullable=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("locked_until", DateTime, nullable=True),
)


def _births(conn: Connection, phone: str, patient_id: Optional[str] = None) -> set:
    """The dates of birth of the number's patients, or of the one patient concerned (a dependant named in the
    chat) when `patient_id` is given."""
    where = sched.patient.c.phone == phone
    if patient_id is not None:
        where = and_(where, sched.patient.c.id == patient_id)
    rows = conn.execute(select(sched.patient.c.birth_date).where(where))
    return {row.birth_date for row in rows if row.birth_date is not None}


def _status(clinic: Clinic, row: Any, has_births: bool, now: dt.datetime) -> IdentityStatus:
    if not clinic.identity_check_enabled or not has_births:
        return IdentityStatus(NOT_NEEDED)
    failures = row.failures if row is not None else 0
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return IdentityStatus(LOCKED, 0, from_db(row.locked_until))
    if row is not None and row.verified_at is not None:
        if now - row.verified_at < dt.timedelta(days=clinic.identity_recheck_days):
            return IdentityStatus(VERIFIED, clinic.identity_attempts)
    if row is not None and row.locked_until is not None:
        failures = 0  # the lock ran out: a fresh set of tries
    return IdentityStatus(NEEDED, clinic.identity_attempts - failures)


def status(engine: Engine, clinic: Clinic, phone: str) -> IdentityStatus:
    with engine.connect() as conn:
        row = conn.execute(select(identity_check).where(identity_check.c.phone == phone)).first()
        return _status(clinic, row, bool(_births(conn, phone)), utcnow())


def check(
    engine: Engine, clinic: Clinic, phone: str, birth_date: dt.date, patient_id: Optional[str] = None
) -> IdentityStatus:
    """Record one answer: VERIFIED when it is the date of birth of a patient of the number (of `patient_id`, the
    person concerned, when given), else NEEDED with the tries left, or LOCKED when that was the last one."""

    _ensure_row(engine, phone)

    def work(conn: Connection) -> IdentityStatus:
        now = utcnow()
        row = conn.execute(
            select(identity_check).where(identity_check.c.phone == phone).with_for_update()
        ).one()
        current = _status(clinic, row, bool(_births(conn, phone)), now)
        if current.state in (NOT_NEEDED, LOCKED):
            return current
        if birth_date in _births(conn, phone, patient_id):
            _set(conn, phone, verified_at=now, failures=0, locked_until=None)
            return IdentityStatus(VERIFIED, clinic.identity_attempts)
        failures = clinic.identity_attempts - current.attempts_left + 1
        if failures >= clinic.identity_attempts:
            until = now + dt.timedelta(minutes=clinic.identity_lock_minutes)
            _set(conn, phone, verified_at=None, failures=failures, locked_until=until)
            return IdentityStatus(LOCKED, 0, from_db(until))
        _set(conn, phone, verified_at=row.verified_at, failures=failures, locked_until=None)
        return IdentityStatus(NEEDED, clinic.identity_attempts - failures)

    return scheduling.in_transaction(engine, work)


def _ensure_row(engine: Engine, phone: str) -> None:
    """The number's row exists before a check locks it (two first answers at once: one insert wins)."""
    try:
        with engine.begin() as conn:
            if (
                conn.execute(select(identity_check.c.phone).where(identity_check.c.phone == phone)).first()
                is None
            ):
                conn.execute(
                    insert(identity_check).values(
                        phone=phone, verified_at=None, failures=0, locked_until=None
                    )
                )
    except IntegrityError:
        pass  # the other answer inserted it


def _set(conn: Connection, phone: str, **values: Optional[Any]) -> None:
    conn.execute(update(identity_check).where(and_(identity_check.c.phone == phone)).values(**values))
