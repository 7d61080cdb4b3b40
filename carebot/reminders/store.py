"""Reminders and their occurrences in the backend database (SQLite by default, PostgreSQL when configured).

A reminder holds the rule (iCalendar RRULE + DTSTART + IANA zone); an occurrence is one due send. Occurrences are
materialised ahead of time over a rolling window, so the dispatcher only ever claims rows, and every send, miss,
reply and snooze is a row an auditor (or the adherence summary) can read back. Each occurrence has a unique
idempotency key derived from (reminder, schedule revision, due time): materialising twice, from two dispatchers or
after a crash, inserts nothing new. Changing a reminder's time bumps its revision and cancels what was pending, so
an occurrence of the old schedule is never sent even if a slow materialiser inserts it afterwards.

`reminder_deliveries` is the sent-log keyed by idempotency key: the receiving side (the Rasa action that utters
the reminder) acknowledges a key before speaking, and only the first acknowledgement speaks. See dispatcher.py.

Times are naive UTC in the database (as in every backend table) and aware at this module's boundary.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import uuid
from dataclasses import replace
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    exists,
    func,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.expression import ColumnElement

from carebot import tokens
from carebot.backend.db import from_db, metadata, to_db
from carebot.clock import utc_now
from carebot.reminders.model import (
    DEFAULT_HORIZON,
    KINDS,
    MATCH_THRESHOLD,
    MAX_BACKFILL,
    UTC,
    Adherence,
    AmbiguousReminder,
    InvalidReminderState,
    NothingToAnswer,
    Occurrence,
    Reminder,
    ReminderError,
    ReminderNotFound,
    label_score,
    meaningful_words,
    spread_offset,
    spread_steps,
)
from carebot.reminders.recurrence import Schedule, describe, iter_occurrences, normalise_rrule

reminders = Table(
    "reminders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "conversation_id", String(128), nullable=False, index=True
    ),  # the Rasa conversation: whatsapp:+44… on WhatsApp
    Column("channel", String(32), nullable=False, default="whatsapp"),  # Rasa output channel for the trigger
    Column("kind", String(16), nullable=False),
    Column("label", String(200), nullable=False),
    Column("dose", String(64), nullable=True),
    Column("rrule", Text, nullable=False),
    Column("dtstart", DateTime, nullable=False),
    Column("tz", String(64), nullable=False),
    Column("description", String(300), nullable=False, default=""),
    Column("appointment_id", String(64), nullable=True, index=True),
    Column("status", String(16), nullable=False, default="active"),
    Column("revision", Integer, nullable=False, default=1),
    Column("materialised_until", DateTime, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

reminder_occurrences = Table(
    "reminder_occurrences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "reminder_id", Integer, ForeignKey("reminders.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("revision", Integer, nullable=False, default=1),
    Column("due_at", DateTime, nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    Column("idempotency_key", String(160), nullable=False, unique=True),
    Column("claimed_by", String(128), nullable=True),
    Column("claimed_until", DateTime, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("sent_at", DateTime, nullable=True),
    Column("response", String(16), nullable=True),
    Column("responded_at", DateTime, nullable=True),
    Column("snoozed_from", Integer, nullable=True),
    Index("ix_reminder_occurrences_status_due", "status", "due_at"),
)

reminder_deliveries = Table(
    "reminder_deliveries",
    metadata,
    Column("idempotency_key", String(160), primary_key=True),
    Column("delivered_at", DateTime, nullable=False),
)

TABLES = (reminders, reminder_occurrences, reminder_deliveries)


def create_tables(engine: Engine) -> None:
    """Create the reminder tables (idempotent) for tests and tools; processes migrate (carebot.migrations)."""
    metadata.create_all(engine, tables=list(TABLES))


@functools.lru_cache(maxsize=1)
def _key_secret() -> bytes:
    return tokens.token(*tokens.REMINDER_KEYS).encode()


def occurrence_key(reminder_id: int, revision: int, due_at: dt.datetime, tag: str = "") -> str:
    """Deterministic per (reminder, schedule revision, due instant): the same occurrence always gets the same key.
    An HMAC suffix makes it unguessable: knowing a reminder's id and time is not enough to acknowledge it."""
    base = f"r{reminder_id}v{revision}{tag}@{to_db(due_at):%Y%m%dT%H%M%SZ}"
    mac = base64.urlsafe_b64encode(hmac.new(_key_secret(), base.encode(), hashlib.sha256).digest()[:16])
    return f"{base}.{mac.decode().rstrip('=')}"


class ReminderStore:
    """All reminder reads and writes; every method is one short transaction (blocking: wrap with run_db)."""

    def __init__(self, engine: Engine, horizon: dt.timedelta = DEFAULT_HORIZON) -> None:
        self.engine = engine
        self.horizon = horizon
        self.is_postgres = engine.dialect.name == "postgresql"

    # ------------------------------------------------------------------------------------------------ reading
    def _reminder(self, row: Any) -> Reminder:
        tz = ZoneInfo(row.tz)
        return Reminder(
            id=row.id,
            conversation_id=row.conversation_id,
            channel=row.channel,
            kind=row.kind,
            label=row.label,
            dose=row.dose,
            rrule=row.rrule,
            dtstart=from_db(row.dtstart).astimezone(tz),
            timezone=row.tz,
            description=row.description,
            appointment_id=row.appointment_id,
            status=row.status,
            revision=row.revision,
            created_at=from_db(row.created_at),
            updated_at=from_db(row.updated_at),
        )

    def _with_next_due(self, conn: Connection, reminder: Reminder, now: dt.datetime) -> Reminder:
        if reminder.status != "active":
            return reminder
        pending = conn.execute(
            select(func.min(reminder_occurrences.c.due_at)).where(
                reminder_occurrences.c.reminder_id == reminder.id,
                reminder_occurrences.c.status.in_(("pending", "claimed", "sending")),
                reminder_occurrences.c.revision == reminder.revision,
            )
        ).scalar()
        if pending is not None:
            next_due = from_db(pending)
        elif reminder.kind == "medication":
            next_due = next(iter_occurrences(reminder.rrule, reminder.dtstart, reminder.timezone, now), None)
        else:
            next_due = None
        tz = ZoneInfo(reminder.timezone)
        return replace(reminder, next_due=next_due.astimezone(tz) if next_due else None)

    def get(self, reminder_id: int, now: Optional[dt.datetime] = None) -> Reminder:
        with self.engine.connect() as conn:
            row = conn.execute(select(reminders).where(reminders.c.id == reminder_id)).first()
            if row is None:
                raise ReminderNotFound(f"no reminder with id {reminder_id}")
            return self._with_next_due(conn, self._reminder(row), now or utc_now())

    def list(
        self,
        conversation_id: str,
        now: Optional[dt.datetime] = None,
        include_stopped: bool = False,
        kind: Optional[str] = None,
    ) -> List[Reminder]:
        """The patient's reminders, oldest first, each with its next due time."""
        query = (
            select(reminders).where(reminders.c.conversation_id == conversation_id).order_by(reminders.c.id)
        )
        if not include_stopped:
            query = query.where(reminders.c.status != "stopped")
        if kind:
            query = query.where(reminders.c.kind == kind)
        with self.engine.connect() as conn:
            return [
                self._with_next_due(conn, self._reminder(row), now or utc_now())
                for row in conn.execute(query)
            ]

    def match(self, conversation_id: str, text: str, now: Optional[dt.datetime] = None) -> Reminder:
        """The reminder the patient means ("stop my vitamin D reminder"); the only one if they name none."""
        candidates = self.list(conversation_id, now, kind="medication")
        if not candidates:
            raise ReminderNotFound("You don't have any medication reminders.")
        if not meaningful_words(text):
            if len(candidates) == 1:
                return candidates[0]
            raise AmbiguousReminder(
                "Which one do you mean: " + ", ".join(r.label for r in candidates) + "?", candidates
            )
        scored = sorted(((label_score(r.label, text), r) for r in candidates), key=lambda item: -item[0])
        best_score, best = scored[0]
        if best_score < MATCH_THRESHOLD:
            names = ", ".join(r.label for r in candidates)
            raise ReminderNotFound(f"I couldn't tell which reminder you mean. Your reminders: {names}.")
        tied = [r for score, r in scored if score >= best_score - 0.05]
        if len(tied) > 1:
            # The same label twice (morning and evening metformin) is told apart by its times.
            same_label = len({r.label.lower() for r in tied}) == 1
            labels = [f"{r.label} ({r.description})" if same_label else r.label for r in tied]
            raise AmbiguousReminder("Which one do you mean: " + ", ".join(labels) + "?", tied)
        return best

    # ------------------------------------------------------------------------------------------------ writing
    def create(
        self,
        conversation_id: str,
        label: str,
        rrule: str,
        dtstart: dt.datetime,
        timezone: str,
        dose: Optional[str] = None,
        kind: str = "medication",
        channel: str = "whatsapp",
        description: Optional[str] = None,
        now: Optional[dt.datetime] = None,
    ) -> Reminder:
        """Store a reminder and materialise its first occurrences (from now on; never backfilled)."""
        now = now or utc_now()
        if kind not in KINDS:
            raise ReminderError(f"kind must be one of {', '.join(KINDS)}")
        if not label.strip():
            raise ReminderError("a reminder needs a label (what to take)")
        dtstart = dtstart.astimezone(_zone(timezone))
        rrule, schedule = _checked_rule(rrule, dtstart)
        description = description or describe(schedule)
        with self.engine.begin() as conn:
            reminder_id = conn.execute(
                reminders.insert().values(
                    conversation_id=conversation_id,
                    channel=channel,
                    kind=kind,
                    label=label.strip()[:200],
                    dose=(dose or None),
                    rrule=rrule,
                    dtstart=to_db(dtstart),
                    tz=timezone,
                    description=description[:300],
                    status="active",
                    revision=1,
                    materialised_until=to_db(now - dt.timedelta(seconds=1)),
                    created_at=to_db(now),
                    updated_at=to_db(now),
                )
            ).inserted_primary_key[0]
        self.materialise(now, reminder_ids=[reminder_id])
        return self.get(reminder_id, now)

    def _set(self, conn: Connection, reminder_id: int, now: dt.datetime, **values: Any) -> None:
        conn.execute(
            update(reminders).where(reminders.c.id == reminder_id).values(updated_at=to_db(now), **values)
        )

    def _cancel_pending(self, conn: Connection, reminder_id: int) -> None:
        conn.execute(
            update(reminder_occurrences)
            .where(
                reminder_occurrences.c.reminder_id == reminder_id,
                reminder_occurrences.c.status.in_(("pending", "claimed")),
            )
            .values(status="cancelled")
        )

    def _current(self, conn: Connection, reminder_id: int) -> Reminder:
        row = conn.execute(select(reminders).where(reminders.c.id == reminder_id)).first()
        if row is None:
            raise ReminderNotFound(f"no reminder with id {reminder_id}")
        return self._reminder(row)

    def reschedule(
        self,
        reminder_id: int,
        rrule: str,
        dtstart: dt.datetime,
        description: Optional[str] = None,
        now: Optional[dt.datetime] = None,
    ) -> Reminder:
        """Replace the rule: pending sends of the old one are cancelled, the new one runs from now."""
        now = now or utc_now()
        with self.engine.begin() as conn:
            current = self._current(conn, reminder_id)
            if current.status == "stopped":
                raise InvalidReminderState("That reminder was stopped; set up a new one instead.")
            dtstart = dtstart.astimezone(_zone(current.timezone))
            rrule, schedule = _checked_rule(rrule, dtstart)
            self._cancel_pending(conn, reminder_id)
            self._set(
                conn,
                reminder_id,
                now,
                rrule=rrule,
                dtstart=to_db(dtstart),
                revision=current.revision + 1,
                description=(description or describe(schedule))[:300],
                materialised_until=to_db(now - dt.timedelta(seconds=1)),
            )
        self.materialise(now, reminder_ids=[reminder_id])
        return self.get(reminder_id, now)

    def change_times(
        self, reminder_id: int, times: Sequence[Tuple[int, int]], now: Optional[dt.datetime] = None
    ) -> Reminder:
        """ "Change my metformin to 9am": keep the rule's days and end, replace its clock times."""
        now = now or utc_now()
        current = self.get(reminder_id, now)
        if not times:
            raise ReminderError("give at least one time")
        tz = ZoneInfo(current.timezone)
        schedule = Schedule.from_rrule(current.rrule, current.dtstart)
        local_now = now.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)
        if schedule.one_off or schedule.sub_daily:
            # One-off: the next such time. Every N hours: the new first dose, keeping the interval.
            hour, minute = sorted(times)[0]
            start = dt.datetime.combine(local_now.date(), dt.time(hour, minute))
            if start <= local_now:
                start += dt.timedelta(days=1)
            schedule = replace(schedule, dtstart=start)
        else:
            day_start = dt.datetime.combine(local_now.date(), dt.time())
            draft = replace(schedule, times=tuple(sorted(set(times))), dtstart=day_start)
            first = next(
                iter_occurrences(draft.to_rrule(), day_start.replace(tzinfo=tz), current.timezone, now), None
            )
            if first is None:
                raise InvalidReminderState("That reminder has already ended.")
            schedule = replace(draft, dtstart=first.replace(tzinfo=None))
        return self.reschedule(
            reminder_id, schedule.to_rrule(), schedule.dtstart.replace(tzinfo=tz), describe(schedule), now
        )

    def pause(self, reminder_id: int, now: Optional[dt.datetime] = None) -> Reminder:
        now = now or utc_now()
        with self.engine.begin() as conn:
            current = self._current(conn, reminder_id)
            if current.status != "active":
                raise InvalidReminderState(f"That reminder is {current.status}, not active.")
            self._cancel_pending(conn, reminder_id)
            self._set(conn, reminder_id, now, status="paused", revision=current.revision + 1)
        return self.get(reminder_id, now)

    def resume(self, reminder_id: int, now: Optional[dt.datetime] = None) -> Reminder:
        """Start again from now: sends that fell in the pause are not caught up."""
        now = now or utc_now()
        with self.engine.begin() as conn:
            current = self._current(conn, reminder_id)
            if current.status != "paused":
                raise InvalidReminderState(f"That reminder is {current.status}, not paused.")
            self._set(
                conn,
                reminder_id,
                now,
                status="active",
                revision=current.revision + 1,
                materialised_until=to_db(now - dt.timedelta(seconds=1)),
            )
        self.materialise(now, reminder_ids=[reminder_id])
        return self.get(reminder_id, now)

    def stop(self, reminder_id: int, now: Optional[dt.datetime] = None) -> Reminder:
        now = now or utc_now()
        with self.engine.begin() as conn:
            current = self._current(conn, reminder_id)
            if current.status == "stopped":
                raise InvalidReminderState("That reminder was already stopped.")
            self._cancel_pending(conn, reminder_id)
            self._set(conn, reminder_id, now, status="stopped", revision=current.revision + 1)
        return self.get(reminder_id, now)

    # ---------------------------------------------------------------------------------------- materialising
    def _insert_ignoring_duplicates(self, conn: Connection, rows: List[Dict[str, Any]]) -> int:
        if not rows:
            return 0
        dialect = postgresql if self.is_postgres else sqlite
        statement = dialect.insert(reminder_occurrences).on_conflict_do_nothing(
            index_elements=["idempotency_key"]
        )
        return conn.execute(statement, rows).rowcount or 0

    def materialise(
        self, now: Optional[dt.datetime] = None, reminder_ids: Optional[Iterable[int]] = None
    ) -> int:
        """Insert the occurrences due up to now + horizon for active medication reminders; idempotent.

        A reminder is revisited only when its window runs low (half the horizon), so this is cheap to call every
        poll. After an outage longer than the horizon the gap is backfilled (at most MAX_BACKFILL), so the
        dispatcher can send what is still within grace and record the rest as missed.
        """
        now = now or utc_now()
        target = now + self.horizon
        query = select(reminders).where(
            reminders.c.status == "active",
            reminders.c.kind == "medication",
            or_(
                reminders.c.materialised_until.is_(None),
                reminders.c.materialised_until < to_db(now + self.horizon / 2),
            ),
        )
        if reminder_ids is not None:
            query = query.where(reminders.c.id.in_(list(reminder_ids)))
        inserted = 0
        with self.engine.connect() as conn:
            rows = conn.execute(query).fetchall()
        for row in rows:
            reminder = self._reminder(row)
            start = max(
                from_db(row.materialised_until) or reminder.dtstart - dt.timedelta(seconds=1),
                now - MAX_BACKFILL,
            )
            batch = []
            for due in iter_occurrences(reminder.rrule, reminder.dtstart, reminder.timezone, start):
                if due > target:
                    break
                batch.append(
                    {
                        "reminder_id": reminder.id,
                        "revision": reminder.revision,
                        "due_at": to_db(due),
                        "status": "pending",
                        "attempts": 0,
                        "idempotency_key": occurrence_key(reminder.id, reminder.revision, due),
                    }
                )
            with self.engine.begin() as conn:
                # Only if the schedule did not change meanwhile: stale rows would be cancelled anyway, but why write.
                changed = conn.execute(
                    update(reminders)
                    .where(
                        reminders.c.id == reminder.id,
                        reminders.c.revision == reminder.revision,
                        reminders.c.status == "active",
                    )
                    .values(materialised_until=to_db(target))
                ).rowcount
                if changed:
                    inserted += self._insert_ignoring_duplicates(conn, batch)
        return inserted

    # ---------------------------------------------------------------------------------------------- dispatch
    _CLAIM_COLUMNS = (
        reminder_occurrences,
        reminders.c.conversation_id,
        reminders.c.channel,
        reminders.c.kind,
        reminders.c.label,
        reminders.c.dose,
        reminders.c.appointment_id,
        reminders.c.tz,
        reminders.c.status.label("reminder_status"),
        reminders.c.revision.label("reminder_revision"),
        reminders.c.dtstart.label("reminder_dtstart"),
    )

    def _occurrence(self, row: Any) -> Occurrence:
        return Occurrence(
            id=row.id,
            reminder_id=row.reminder_id,
            due_at=from_db(row.due_at),
            status=row.status,
            idempotency_key=row.idempotency_key,
            attempts=row.attempts,
            sent_at=from_db(row.sent_at),
            response=row.response,
            conversation_id=row.conversation_id,
            channel=row.channel,
            kind=row.kind,
            label=row.label,
            dose=row.dose,
            appointment_id=row.appointment_id,
            timezone=row.tz,
            reminder_status=row.reminder_status,
            is_current=row.revision == row.reminder_revision,
            reminder_start=from_db(row.reminder_dtstart),
        )

    def claim(
        self,
        worker: str,
        now: dt.datetime,
        limit: int,
        lease: dt.timedelta,
        spread: dt.timedelta = dt.timedelta(0),
    ) -> List[Occurrence]:
        """Atomically take up to `limit` due occurrences (or ones whose lease ran out) for this worker. With a
        `spread`, an occurrence is due at its due time plus its reminder's `spread_offset` (one comparison per
        30-second step, so the query stays plain SQL on SQLite and PostgreSQL); but a snoozed dose, and the doses
        of a reminder set within the last `spread` ("remind me in 2 minutes"), go exactly when due.

        PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED then UPDATE, in one short transaction, so concurrent
        dispatchers each get disjoint rows without waiting on each other. SQLite has one writer at a time
        (BEGIN IMMEDIATE), so a single conditional UPDATE … WHERE id IN (SELECT … LIMIT n) is already atomic.
        The rows are then read back by the batch's unique claim token.
        """
        occ = reminder_occurrences.c
        due = self._due(now, spread)
        claimable = or_(
            and_(occ.status == "pending", due),
            and_(occ.status.in_(("claimed", "sending")), occ.claimed_until < to_db(now)),
        )
        token = f"{worker[:100]}#{uuid.uuid4().hex[:16]}"  # unique per batch: the rows are read back by it
        values = dict(status="claimed", claimed_by=token, claimed_until=to_db(now + lease))
        pick = select(occ.id).where(claimable).order_by(occ.due_at, occ.id).limit(limit)
        with self.engine.begin() as conn:
            if self.is_postgres:
                ids = conn.execute(pick.with_for_update(skip_locked=True)).scalars().all()
                if not ids:
                    return []
                conn.execute(update(reminder_occurrences).where(occ.id.in_(ids)).values(**values))
            else:
                conn.execute(
                    update(reminder_occurrences)
                    .where(occ.id.in_(pick.scalar_subquery()), claimable)
                    .values(**values)
                )
            rows = conn.execute(
                select(*self._CLAIM_COLUMNS)
                .join(reminders, reminders.c.id == occ.reminder_id)
                .where(occ.claimed_by == token, occ.status == "claimed")
                .order_by(occ.due_at, occ.id)
            ).fetchall()
        return [self._occurrence(row) for row in rows]

    @staticmethod
    def _due(now: dt.datetime, spread: dt.timedelta) -> ColumnElement[bool]:
        """The pending occurrences that are due `now` under a spread of +-`spread` (see `claim`)."""
        occ = reminder_occurrences.c
        on_time = occ.due_at <= to_db(now)
        buckets = 2 * spread_steps(spread) + 1
        if buckets == 1:
            return on_time
        spread_out = or_(
            *(
                and_(
                    occ.reminder_id % buckets == bucket,
                    occ.due_at <= to_db(now - spread_offset(bucket, spread)),
                )
                for bucket in range(buckets)
            )
        )
        set_earlier = exists().where(
            reminders.c.id == occ.reminder_id, reminders.c.created_at <= to_db(now - spread)
        )
        spreadable = and_(occ.snoozed_from.is_(None), set_earlier)
        return or_(and_(spreadable, spread_out), and_(not_(spreadable), on_time))

    def _finish(self, ids: Sequence[int], status: str, **extra: Any) -> int:
        if not ids:
            return 0
        occ = reminder_occurrences.c
        with self.engine.begin() as conn:
            return conn.execute(
                update(reminder_occurrences)
                .where(occ.id.in_(list(ids)), occ.status.in_(("claimed", "sending")))
                .values(status=status, claimed_by=None, claimed_until=None, **extra)
            ).rowcount

    def mark_sending(self, ids: Sequence[int], now: dt.datetime, lease: dt.timedelta) -> None:
        """Record the attempt before the call, so a crash after it is known to be a maybe-sent, not a never-sent."""
        if not ids:
            return
        occ = reminder_occurrences.c
        with self.engine.begin() as conn:
            conn.execute(
                update(reminder_occurrences)
                .where(occ.id.in_(list(ids)))
                .values(status="sending", attempts=occ.attempts + 1, claimed_until=to_db(now + lease))
            )

    def mark_sent(self, ids: Sequence[int], now: dt.datetime) -> int:
        return self._finish(ids, "sent", sent_at=to_db(now))

    def mark_missed(self, ids: Sequence[int]) -> int:
        return self._finish(ids, "missed")

    def mark_cancelled(self, ids: Sequence[int]) -> int:
        return self._finish(ids, "cancelled")

    def retry_later(self, ids: Sequence[int], retry_at: dt.datetime) -> None:
        """A failed call: keep it `sending` (it may have arrived) and let the lease lapse at `retry_at`."""
        if not ids:
            return
        occ = reminder_occurrences.c
        with self.engine.begin() as conn:
            conn.execute(
                update(reminder_occurrences)
                .where(occ.id.in_(list(ids)), occ.status == "sending")
                .values(claimed_by=None, claimed_until=to_db(retry_at))
            )

    def expire_pending(self, now: dt.datetime, grace: dt.timedelta) -> int:
        """Never-attempted occurrences past the grace period become `missed` in one statement (after downtime)."""
        occ = reminder_occurrences.c
        with self.engine.begin() as conn:
            return conn.execute(
                update(reminder_occurrences)
                .where(occ.status == "pending", occ.due_at < to_db(now - grace))
                .values(status="missed")
            ).rowcount

    def acknowledge_delivery(
        self, idempotency_key: str, conversation_id: str, now: Optional[dt.datetime] = None
    ) -> bool:
        """The sent-log: True for the first acknowledgement of a key (speak), False for any repeat (stay silent).
        The key must name a dose of a reminder of `conversation_id`: a key issued to another conversation is refused
        (ReminderNotFound), so it can never silence someone else's reminder."""
        now = now or utc_now()
        dialect = postgresql if self.is_postgres else sqlite
        statement = (
            dialect.insert(reminder_deliveries)
            .values(idempotency_key=idempotency_key, delivered_at=to_db(now))
            .on_conflict_do_nothing()
        )
        issued_here = (
            select(reminder_occurrences.c.id)
            .join(reminders, reminders.c.id == reminder_occurrences.c.reminder_id)
            .where(
                reminder_occurrences.c.idempotency_key == idempotency_key,
                reminders.c.conversation_id == conversation_id,
            )
        )
        with self.engine.begin() as conn:
            if conn.execute(issued_here).first() is None:
                raise ReminderNotFound("no reminder of this conversation has that key")
            return bool(conn.execute(statement).rowcount)

    def delivered_keys(self, keys: Sequence[str]) -> Set[str]:
        if not keys:
            return set()
        with self.engine.connect() as conn:
            return set(
                conn.execute(
                    select(reminder_deliveries.c.idempotency_key).where(
                        reminder_deliveries.c.idempotency_key.in_(list(keys))
                    )
                ).scalars()
            )

    def occurrence(self, occurrence_id: int) -> Occurrence:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*self._CLAIM_COLUMNS)
                .join(reminders, reminders.c.id == reminder_occurrences.c.reminder_id)
                .where(reminder_occurrences.c.id == occurrence_id)
            ).first()
        if row is None:
            raise ReminderNotFound(f"no reminder occurrence with id {occurrence_id}")
        return self._occurrence(row)

    # ------------------------------------------------------------------------------------------- adherence
    def record_response(
        self,
        conversation_id: str,
        response: str,
        now: Optional[dt.datetime] = None,
        occurrence_id: Optional[int] = None,
        snooze_minutes: int = 30,
    ) -> Tuple[Occurrence, Optional[Occurrence]]:
        """Record "taken"/"skipped"/"snoozed" for the given occurrence, else the latest one sent to the patient.

        A snooze also creates a one-off occurrence `snooze_minutes` later (returned second); its answer then
        stands for the dose, so the adherence summary counts the dose once.
        """
        now = now or utc_now()
        if response not in ("taken", "skipped", "snoozed"):
            raise ReminderError("response must be taken, skipped or snoozed")
        if response == "snoozed" and not 1 <= snooze_minutes <= 24 * 60:
            raise ReminderError("I can snooze a reminder for 1 minute up to 24 hours.")
        occ = reminder_occurrences.c
        base = (
            select(*self._CLAIM_COLUMNS)
            .join(reminders, reminders.c.id == occ.reminder_id)
            .where(reminders.c.conversation_id == conversation_id, occ.status == "sent")
        )
        if occurrence_id is not None:
            base = base.where(occ.id == occurrence_id)
        else:
            base = base.where(
                reminders.c.kind == "medication", occ.sent_at >= to_db(now - dt.timedelta(days=1))
            )
        with self.engine.begin() as conn:
            # Prefer the newest unanswered send; a late "taken" may still overwrite a "no reply".
            row = (
                conn.execute(
                    base.where(or_(occ.response.is_(None), occ.response == "no_reply"))
                    .order_by(occ.sent_at.desc(), occ.id.desc())
                    .limit(1)
                ).first()
                or conn.execute(base.order_by(occ.sent_at.desc(), occ.id.desc()).limit(1)).first()
            )
            if row is None:
                raise NothingToAnswer("There's no recent reminder to answer.")
            conn.execute(
                update(reminder_occurrences)
                .where(occ.id == row.id)
                .values(response=response, responded_at=to_db(now))
            )
            snooze_id = None
            if response != "snoozed":  # answered after all: the snoozed repeat need not ask again
                conn.execute(
                    update(reminder_occurrences)
                    .where(occ.snoozed_from == row.id, occ.status == "pending")
                    .values(status="cancelled")
                )
            if response == "snoozed":
                due = now + dt.timedelta(minutes=snooze_minutes)
                snooze_id = conn.execute(
                    reminder_occurrences.insert().values(
                        reminder_id=row.reminder_id,
                        revision=row.reminder_revision,
                        due_at=to_db(due),
                        status="pending",
                        attempts=0,
                        snoozed_from=row.id,
                        idempotency_key=occurrence_key(
                            row.reminder_id, row.reminder_revision, due, f"s{row.id}"
                        ),
                    )
                ).inserted_primary_key[0]
        return self.occurrence(row.id), (self.occurrence(snooze_id) if snooze_id else None)

    def mark_no_reply(self, now: dt.datetime, after: dt.timedelta) -> int:
        """Medication reminders sent more than `after` ago with no answer are recorded as "no_reply"."""
        occ = reminder_occurrences.c
        medication = select(reminders.c.id).where(reminders.c.kind == "medication")
        with self.engine.begin() as conn:
            return conn.execute(
                update(reminder_occurrences)
                .where(
                    occ.status == "sent",
                    occ.response.is_(None),
                    occ.sent_at <= to_db(now - after),
                    occ.reminder_id.in_(medication.scalar_subquery()),
                )
                .values(response="no_reply", responded_at=to_db(now))
            ).rowcount

    def adherence(
        self,
        conversation_id: str,
        now: Optional[dt.datetime] = None,
        days: int = 7,
        delivery: Optional[Callable[[Sequence[str]], Dict[str, Optional[str]]]] = None,
    ) -> Adherence:
        """Doses reminded over the last `days`: a snoozed send is not a dose (its follow-up is). With `delivery`
        (occurrence keys → WhatsApp delivery status, from the channel's outbox), how many sent doses reached the
        phone and were read."""
        now = now or utc_now()
        occ = reminder_occurrences.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(reminders.c.label, occ.status, occ.response, occ.idempotency_key)
                .join(reminders, reminders.c.id == occ.reminder_id)
                .where(
                    reminders.c.conversation_id == conversation_id,
                    reminders.c.kind == "medication",
                    occ.due_at >= to_db(now - dt.timedelta(days=days)),
                    occ.due_at <= to_db(now),
                    occ.status.in_(("sent", "missed")),
                )
            ).fetchall()
        totals = {"doses": 0, "taken": 0, "skipped": 0, "no_reply": 0, "missed": 0, "awaiting": 0}
        by_label: Dict[str, Dict[str, int]] = {}
        statuses = delivery([row.idempotency_key for row in rows if row.status == "sent"]) if delivery else {}
        for label, status, response, _key in rows:
            if response == "snoozed":
                continue
            outcome = "missed" if status == "missed" else (response or "awaiting")
            per = by_label.setdefault(label, {k: 0 for k in totals})
            for bucket in (totals, per):
                bucket["doses"] += 1
                bucket[outcome] += 1
        reached = [statuses[key] for key in statuses]
        return Adherence(
            days=days,
            by_label=by_label,
            sent_on_whatsapp=len(reached),
            delivered=sum(1 for s in reached if s in ("delivered", "read")),
            read=reached.count("read"),
            **totals,
        )

    # ---------------------------------------------------------------------------------------- appointments
    def create_appointment_reminders(
        self,
        conversation_id: str,
        appointment_id: str,
        starts_at: dt.datetime,
        label: str,
        hours_before: Sequence[int],
        timezone: str,
        channel: str = "whatsapp",
        now: Optional[dt.datetime] = None,
    ) -> Reminder:
        """Reminders `hours_before` a booked appointment (only those still in the future); idempotent per booking.

        Calling it again for the same appointment and start returns the existing reminder; with a new start
        (rescheduled) the old reminders are stopped and new ones made.
        """
        now = now or utc_now()
        tz = ZoneInfo(timezone)
        with self.engine.connect() as conn:
            existing = conn.execute(
                select(reminders).where(
                    reminders.c.appointment_id == appointment_id, reminders.c.status == "active"
                )
            ).fetchall()
        for row in existing:
            if from_db(row.dtstart) == starts_at.astimezone(UTC):
                return self.get(row.id, now)
            self.stop(row.id, now)
        local = starts_at.astimezone(tz)
        description = f"{_join_hours(hours_before)} before {local:%a} {local.day} {local:%b} at {local:%H:%M}"
        with self.engine.begin() as conn:
            reminder_id = conn.execute(
                reminders.insert().values(
                    conversation_id=conversation_id,
                    channel=channel,
                    kind="appointment",
                    label=label.strip()[:200],
                    rrule="RRULE:FREQ=DAILY;COUNT=1",
                    dtstart=to_db(starts_at),
                    tz=timezone,
                    description=description,
                    appointment_id=appointment_id,
                    status="active",
                    revision=1,
                    materialised_until=to_db(starts_at),
                    created_at=to_db(now),
                    updated_at=to_db(now),
                )
            ).inserted_primary_key[0]
            rows = []
            for hours in sorted(set(hours_before), reverse=True):
                due = starts_at - dt.timedelta(hours=hours)
                if due > now:
                    rows.append(
                        {
                            "reminder_id": reminder_id,
                            "revision": 1,
                            "due_at": to_db(due),
                            "status": "pending",
                            "attempts": 0,
                            "idempotency_key": occurrence_key(reminder_id, 1, due, f"a{hours}h"),
                        }
                    )
            self._insert_ignoring_duplicates(conn, rows)
        return self.get(reminder_id, now)

    def cancel_appointment_reminders(self, appointment_id: str, now: Optional[dt.datetime] = None) -> int:
        """Stop the reminders of a cancelled appointment; returns how many reminders were stopped."""
        now = now or utc_now()
        with self.engine.connect() as conn:
            ids = (
                conn.execute(
                    select(reminders.c.id).where(
                        reminders.c.appointment_id == appointment_id, reminders.c.status != "stopped"
                    )
                )
                .scalars()
                .all()
            )
        for reminder_id in ids:
            self.stop(reminder_id, now)
        return len(ids)

    def occurrences(self, reminder_id: int) -> List[Occurrence]:
        """Every occurrence of a reminder, by due time (for the staff view and tests)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*self._CLAIM_COLUMNS)
                .join(reminders, reminders.c.id == reminder_occurrences.c.reminder_id)
                .where(reminder_occurrences.c.reminder_id == reminder_id)
                .order_by(reminder_occurrences.c.due_at, reminder_occurrences.c.id)
            ).fetchall()
        return [self._occurrence(row) for row in rows]


def _join_hours(hours: Sequence[int]) -> str:
    words = [f"{h} hour{'s' if h != 1 else ''}" for h in sorted(set(hours), reverse=True)]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ValueError, KeyError):
        raise ReminderError(f"unknown timezone '{timezone}' (use an IANA name like Europe/London)") from None


def _checked_rule(rrule: str, dtstart: dt.datetime) -> Tuple[str, Schedule]:
    """The rule in canonical form (each line prefixed RRULE:), refused with a plain message if dateutil can't read it."""
    try:
        lines = normalise_rrule(rrule)
        rrulestr(lines, dtstart=dtstart.replace(tzinfo=None), forceset=True)
        return lines, Schedule.from_rrule(lines, dtstart)
    except (ValueError, KeyError, IndexError) as error:
        raise ReminderError(
            f"not a valid RRULE ({error}); expected e.g. FREQ=DAILY;BYHOUR=8;BYMINUTE=0"
        ) from None
