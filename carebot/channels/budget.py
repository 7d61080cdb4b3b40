"""Meta's messaging tier: how many different patients a WhatsApp sender may open a conversation with per 24 hours.

A business-initiated conversation is one the clinic starts with a template outside the 24-hour window (a reminder
to a patient who has not written today, the re-open template). Meta caps the unique recipients of those per rolling
24 hours by the sender's tier (250, then 2,000, 10,000, 100,000, unlimited; `clinic.yml`
`whatsapp.daily_recipient_limit`, 0 for no limit); past it, WhatsApp fails the sends. So the sender asks the budget
before a template goes out: a patient already counted in the last 24 hours costs nothing, a new one takes a place
while there is one, and otherwise the message waits in the outbox until the oldest place frees up (or its deadline
passes and it becomes a dead letter with the reason), instead of being sent to fail.

The count lives in the channel's database (`whatsapp_business_initiated`), shared by every process that sends from
the number; one transaction per decision, serialised by a PostgreSQL advisory lock, or by SQLite's write lock which
the first statement (removing places older than 24 hours) takes. Calls are blocking: wrap them in
`asyncio.to_thread`.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import Engine

from carebot.channels.contacts import _utc_naive, whatsapp_business_initiated

WINDOW = dt.timedelta(hours=24)
_ADVISORY_LOCK = 7_261_016


class RecipientBudget:
    """Places for business-initiated conversations of one sender over a rolling 24 hours."""

    def __init__(self, engine: Engine, sender: str, limit: int) -> None:
        self.engine = engine
        self.sender = sender
        self.limit = limit

    def admit(self, phone: str, now: Optional[dt.datetime] = None) -> Optional[dt.datetime]:
        """None when a template may open (or continue) a conversation with `phone` now; else the time (UTC) at which
        the oldest place frees up."""
        if self.limit <= 0:
            return None
        t = whatsapp_business_initiated.c
        moment = _utc_naive(now)
        mine = t.sender == self.sender
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
            conn.execute(delete(whatsapp_business_initiated).where(mine, t.opened_at <= moment - WINDOW))
            if conn.execute(select(t.phone).where(mine, t.phone == phone)).first() is not None:
                return None
            used, oldest = conn.execute(select(func.count(), func.min(t.opened_at)).where(mine)).one()
            if used < self.limit:
                conn.execute(
                    whatsapp_business_initiated.insert().values(
                        sender=self.sender, phone=phone, opened_at=moment
                    )
                )
                return None
        return (oldest + WINDOW).replace(tzinfo=dt.timezone.utc)

    def used(self, now: Optional[dt.datetime] = None) -> int:
        """Places taken in the last 24 hours (for the operator and the tests)."""
        t = whatsapp_business_initiated.c
        since = _utc_naive(now) - WINDOW
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(t.sender == self.sender, t.opened_at > since)
                ).scalar()
                or 0
            )
