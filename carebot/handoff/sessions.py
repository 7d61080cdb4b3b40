"""Server-side staff sessions and login throttling, in the backend database.

A session cookie is still HMAC-signed (carebot.handoff.auth), but it opens the inbox only while its row here is
live: logout deletes it, a password change (`python -m carebot.handoff add-staff NAME`) deletes every session of
that name, and several backend processes sharing the database agree. Only a SHA-256 of the cookie is stored, so
the table cannot be replayed as cookies. Repeated wrong passwords for one name lock that name for a while. The last
accepted TOTP time step per person is kept here too, so a second-factor code is accepted once (no replay).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Optional

from sqlalchemy import Column, DateTime, Integer, String, Table, delete, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from carebot.backend.db import from_db, metadata, to_db
from carebot.clock import utc_now

MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("staff", String(64), nullable=False, index=True),
    Column("expires_at", DateTime, nullable=False),
)
staff_login_failures = Table(
    "staff_login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("staff", String(64), nullable=False, index=True),
    Column("failed_at", DateTime, nullable=False),
)
staff_totp_steps = Table(
    "staff_totp_steps",
    metadata,
    Column("staff", String(64), primary_key=True),
    Column("last_step", Integer, nullable=False),
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StaffSessions:
    """Live sessions and recent login failures; every method is blocking (call through run_db)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start(self, staff: str, token: str, expires_at: dt.datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(staff_sessions).where(staff_sessions.c.expires_at <= to_db(utc_now())))
            conn.execute(
                staff_sessions.insert().values(
                    token_hash=_digest(token), staff=staff, expires_at=to_db(expires_at)
                )
            )

    def is_live(self, token: str, now: dt.datetime) -> bool:
        query = select(staff_sessions.c.expires_at).where(staff_sessions.c.token_hash == _digest(token))
        with self.engine.connect() as conn:
            expires = from_db(conn.execute(query).scalar())
        return expires is not None and expires > now

    def end(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(staff_sessions).where(staff_sessions.c.token_hash == _digest(token)))

    def end_all(self, staff: str) -> int:
        """Log `staff` out everywhere (a password change); how many sessions ended."""
        with self.engine.begin() as conn:
            return conn.execute(delete(staff_sessions).where(staff_sessions.c.staff == staff)).rowcount

    def locked_until(self, staff: str, now: dt.datetime) -> Optional[dt.datetime]:
        """When `staff` may try again after MAX_FAILURES wrong passwords within LOCKOUT; None when not locked."""
        query = select(func.count(), func.max(staff_login_failures.c.failed_at)).where(
            staff_login_failures.c.staff == staff, staff_login_failures.c.failed_at > to_db(now - LOCKOUT)
        )
        with self.engine.connect() as conn:
            count, latest = conn.execute(query).one()
        return from_db(latest) + LOCKOUT if count >= MAX_FAILURES else None

    def record_failure(self, staff: str, now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(staff_login_failures).where(staff_login_failures.c.failed_at <= to_db(now - LOCKOUT))
            )
            conn.execute(staff_login_failures.insert().values(staff=staff, failed_at=to_db(now)))

    def clear_failures(self, staff: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(staff_login_failures).where(staff_login_failures.c.staff == staff))

    def accept_code_step(self, staff: str, step: int) -> bool:
        """Record that `staff` used the TOTP code of `step`; False when that step (or a later one) was already
        used. One conditional statement per outcome, so two backends seeing the same code accept it once."""
        with self.engine.begin() as conn:
            newer = conn.execute(
                update(staff_totp_steps)
                .where(staff_totp_steps.c.staff == staff, staff_totp_steps.c.last_step < step)
                .values(last_step=step)
            ).rowcount
            if newer:
                return True
            try:
                with conn.begin_nested():
                    conn.execute(staff_totp_steps.insert().values(staff=staff, last_step=step))
            except IntegrityError:  # a row exists with this step or a later one: a replay
                return False
            return True
