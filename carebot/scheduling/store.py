"""Scheduling storage operations (synchronous; the HTTP layer runs them on worker threads via `run_db`).

Booking is a conditional `UPDATE … SET status='busy' WHERE id IN (…) AND status='free'` whose rowcount must equal
the number of slots the service needs: the database, not the application, decides who wins a race, so it holds
for many processes on SQLite (BEGIN IMMEDIATE) and PostgreSQL (row locks re-check the WHERE after a wait).
Every write runs in one transaction; any ApiError raised inside rolls the whole transaction back.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from sqlalchemy import Table, and_, func, insert, or_, select, true, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from carebot.backend.errors import ApiError
from carebot.clinic import Clinic
from carebot.scheduling import tables as t
from carebot.scheduling.resources import DateRange, date_condition
from carebot.scheduling.slots import utcnow

FREE, BUSY = "free", "busy"
MAX_ATTEMPTS = 3
RETRYABLE_PGCODES = {"40P01", "40001"}  # deadlock_detected, serialization_failure
T = TypeVar("T")
# Appointment status transitions a client may make with PUT/PATCH (booking and rescheduling have their own paths).
TRANSITIONS = {
    "booked": {"cancelled", "arrived", "checked-in", "fulfilled", "noshow"},
    "arrived": {"fulfilled", "noshow"},
    "checked-in": {"fulfilled", "noshow"},
}


@dataclass(frozen=True)
class SlotQuery:
    statuses: Sequence[str] = ()
    start_ranges: Sequence[DateRange] = ()
    schedule_ids: Sequence[str] = ()
    practitioner_ids: Sequence[str] = ()
    service_id: Optional[str] = None
    count: int = 20
    offset: int = 0


def new_id() -> str:
    return uuid.uuid4().hex


def _insert_new(conn: Connection, table: Table, now: dt.datetime, **fields: Any) -> Any:
    """A new resource row (a fresh id, version 1, last updated `now`), as the database now holds it."""
    values = dict(id=new_id(), **fields, version=1, last_updated=now)
    conn.execute(insert(table).values(**values))
    return conn.execute(select(table).where(table.c.id == values["id"])).one()


def schedule_services(conn: Connection) -> Dict[str, List[str]]:
    """Schedule id -> service ids (a handful of rows; read per request so clinic.yml changes show at once)."""
    return {
        row.id: row.service_ids.split()
        for row in conn.execute(select(t.schedule.c.id, t.schedule.c.service_ids))
    }


def practitioner_names(conn: Connection) -> Dict[str, str]:
    return {row.id: row.name for row in conn.execute(select(t.practitioner.c.id, t.practitioner.c.name))}


def slots_needed(clinic: Clinic, service_id: str) -> int:
    service = clinic.service(service_id)
    if service is None:
        raise ApiError(
            422, f"unknown service '{service_id[:60]}' (known: {', '.join(s.id for s in clinic.services)})"
        )
    return max(1, service.duration_minutes // clinic.slot_minutes)


def search_slots(engine: Engine, clinic: Clinic, query: SlotQuery) -> Tuple[List[Any], int]:
    """Slots matching `query`, sorted by start. With `status=free` and a service, a slot matches only if it
    starts a run of free slots long enough for that service (a 30-minute visit needs two 15-minute slots)."""
    s0 = t.slot.alias("s0")
    conditions = [date_condition(s0.c.start, date_range) for date_range in query.start_ranges]
    if query.statuses:
        conditions.append(s0.c.status.in_(query.statuses))
    if query.schedule_ids:
        conditions.append(s0.c.schedule_id.in_(query.schedule_ids))
    if query.practitioner_ids:
        conditions.append(s0.c.practitioner_id.in_(query.practitioner_ids))
    source: Any = s0
    with engine.connect() as conn:
        if query.service_id is not None:
            offering = [
                sid for sid, services in schedule_services(conn).items() if query.service_id in services
            ]
            conditions.append(s0.c.schedule_id.in_(offering))
            if list(query.statuses) == [FREE]:
                previous = s0
                for index in range(1, slots_needed(clinic, query.service_id)):
                    following = t.slot.alias(f"s{index}")
                    source = source.join(
                        following,
                        and_(
                            following.c.practitioner_id == previous.c.practitioner_id,
                            following.c.start == previous.c.end,
                            following.c.status == FREE,
                        ),
                    )
                    previous = following
        where = and_(*conditions) if conditions else None
        total_query = select(func.count()).select_from(source)
        rows_query = select(s0).select_from(source).order_by(s0.c.start, s0.c.practitioner_id)
        if where is not None:
            total_query, rows_query = total_query.where(where), rows_query.where(where)
        total = conn.execute(total_query).scalar_one()
        rows = list(conn.execute(rows_query.limit(query.count).offset(query.offset))) if query.count else []
    return rows, total


def get_row(engine: Engine, table: Any, ident: str, kind: str) -> Any:
    with engine.connect() as conn:
        row = conn.execute(select(table).where(table.c.id == ident)).first()
    if row is None:
        raise ApiError(404, f"{kind}/{ident[:100]} not found")
    return row


# ---- patients ------------------------------------------------------------------------------------------------------


def create_patient(
    engine: Engine, family: str, given: str, phone: str, birth_date: Optional[dt.date], gender: Optional[str]
) -> Any:
    now = utcnow()
    with engine.begin() as conn:
        return _insert_new(
            conn,
            t.patient,
            now,
            family=family,
            given=given,
            phone=phone,
            birth_date=birth_date,
            gender=gender,
        )


def search_patients(
    engine: Engine,
    phone: Optional[str],
    birth_date: Optional[dt.date],
    name: Optional[str],
    count: int,
    offset: int,
) -> Tuple[List[Any], int]:
    conditions = []
    if phone:
        conditions.append(t.patient.c.phone == phone)
    if birth_date:
        conditions.append(t.patient.c.birth_date == birth_date)
    if name:
        prefix = name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            or_(
                func.lower(t.patient.c.family).like(prefix, escape="\\"),
                func.lower(t.patient.c.given).like(prefix, escape="\\"),
            )
        )
    where = and_(*conditions) if conditions else true()
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(t.patient).where(where)).scalar_one()
        rows = (
            list(
                conn.execute(
                    select(t.patient)
                    .where(where)
                    .order_by(t.patient.c.last_updated, t.patient.c.id)
                    .limit(count)
                    .offset(offset)
                )
            )
            if count
            else []
        )
    return rows, total


# ---- related persons (dependants) ----------------------------------------------------------------------------------


def create_related_person(engine: Engine, patient_id: str, phone: str, relationship: str) -> Any:
    """Link the patient to the phone that books for them; 422 if the patient does not exist."""
    now = utcnow()
    with engine.begin() as conn:
        if conn.execute(select(t.patient.c.id).where(t.patient.c.id == patient_id)).first() is None:
            raise ApiError(422, f"Patient/{patient_id[:100]} does not exist")
        return _insert_new(
            conn, t.related_person, now, patient_id=patient_id, phone=phone, relationship=relationship
        )


def search_related_persons(
    engine: Engine, phone: Optional[str], patient_id: Optional[str], count: int, offset: int
) -> Tuple[List[Any], int]:
    conditions = []
    if phone:
        conditions.append(t.related_person.c.phone == phone)
    if patient_id:
        conditions.append(t.related_person.c.patient_id == patient_id)
    where = and_(*conditions) if conditions else true()
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(t.related_person).where(where)).scalar_one()
        rows = list(
            conn.execute(
                select(t.related_person)
                .where(where)
                .order_by(t.related_person.c.last_updated, t.related_person.c.id)
                .limit(count)
                .offset(offset)
            )
        )
    return rows, total


# ---- appointments --------------------------------------------------------------------------------------------------


def search_appointments(
    engine: Engine,
    patient_id: Optional[str],
    statuses: Sequence[str],
    start_ranges: Sequence[DateRange],
    count: int,
    offset: int,
) -> Tuple[List[Any], int]:
    conditions = [date_condition(t.appointment.c.start, date_range) for date_range in start_ranges]
    if patient_id:
        conditions.append(t.appointment.c.patient_id == patient_id)
    if statuses:
        conditions.append(t.appointment.c.status.in_(statuses))
    where = and_(*conditions) if conditions else true()
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(t.appointment).where(where)).scalar_one()
        rows = (
            list(
                conn.execute(
                    select(t.appointment)
                    .where(where)
                    .order_by(t.appointment.c.start, t.appointment.c.id)
                    .limit(count)
                    .offset(offset)
                )
            )
            if count
            else []
        )
    return rows, total


def in_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run `work` in one transaction; when PostgreSQL aborts it to break a deadlock (two reschedules locking the
    same slots in opposite order) or a serialization conflict, run it again from the start, up to 3 times."""
    attempt = 1
    while True:
        try:
            with engine.begin() as conn:
                return work(conn)
        except OperationalError as error:
            if attempt >= MAX_ATTEMPTS or getattr(error.orig, "pgcode", None) not in RETRYABLE_PGCODES:
                raise
            attempt += 1


def book(engine: Engine, clinic: Clinic, patient_id: str, slot_id: str, service_id: Optional[str]) -> Any:
    """Book the slot run starting at `slot_id` for the patient; 409 if any of it is taken."""
    return in_transaction(engine, lambda conn: _book(conn, clinic, patient_id, slot_id, service_id, None))


def book_in(conn: Connection, clinic: Clinic, patient_id: str, slot_id: str, service_id: str) -> Any:
    """Book inside the caller's transaction (the waitlist accepts an offer and closes it in one): 409 if taken."""
    return _book(conn, clinic, patient_id, slot_id, service_id, None)


def _book(
    conn: Connection,
    clinic: Clinic,
    patient_id: str,
    slot_id: str,
    service_id: Optional[str],
    replaces_id: Optional[str],
) -> Any:
    if conn.execute(select(t.patient.c.id).where(t.patient.c.id == patient_id)).first() is None:
        raise ApiError(422, f"Patient/{patient_id[:100]} does not exist")
    first = conn.execute(select(t.slot).where(t.slot.c.id == slot_id)).first()
    if first is None:
        raise ApiError(404, f"Slot/{slot_id[:100]} not found (it may have been removed from the schedule)")
    offered = schedule_services(conn).get(first.schedule_id, [])
    if service_id is None:
        if len(offered) != 1:
            raise ApiError(422, "serviceType is required: this practitioner offers " + ", ".join(offered))
        service_id = offered[0]
    needed = slots_needed(clinic, service_id)
    if service_id not in offered:
        raise ApiError(422, f"the practitioner of Slot/{slot_id} does not offer '{service_id}'")
    now = utcnow()
    if first.start <= now:
        raise ApiError(422, f"Slot/{slot_id} has already started")
    run = list(
        conn.execute(
            select(t.slot)
            .where(and_(t.slot.c.practitioner_id == first.practitioner_id, t.slot.c.start >= first.start))
            .order_by(t.slot.c.start)
            .limit(needed)
        )
    )
    contiguous = len(run) == needed and all(a.end == b.start for a, b in zip(run, run[1:]))
    if not contiguous:
        raise ApiError(
            409, f"Slot/{slot_id} does not start {needed} consecutive slots, as '{service_id}' needs"
        )
    ids = [row.id for row in run]
    claimed = conn.execute(
        update(t.slot)
        .where(and_(t.slot.c.id.in_(ids), t.slot.c.status == FREE))
        .values(status=BUSY, version=t.slot.c.version + 1, last_updated=now)
    ).rowcount
    if claimed != needed:
        raise ApiError(409, f"Slot/{slot_id} is no longer free")
    return _insert_new(
        conn,
        t.appointment,
        now,
        status="booked",
        patient_id=patient_id,
        practitioner_id=first.practitioner_id,
        service_id=service_id,
        slot_ids=" ".join(ids),
        start=run[0].start,
        end=run[-1].end,
        cancellation_reason=None,
        replaces_id=replaces_id,
        created=now,
    )


def _locked_appointment(conn: Connection, appointment_id: str, if_match: Optional[int]) -> Any:
    row = conn.execute(
        select(t.appointment).where(t.appointment.c.id == appointment_id).with_for_update()
    ).first()
    if row is None:
        raise ApiError(404, f"Appointment/{appointment_id[:100]} not found")
    if if_match is not None and row.version != if_match:
        raise ApiError(
            412,
            f"Appointment/{appointment_id} is at version {row.version}, not {if_match}; "
            "read it again before changing it",
        )
    return row


def _free_slots(conn: Connection, slot_ids: Sequence[str], now: dt.datetime) -> None:
    """Free the slots and log the run's first one as freed (the waitlist offers it), in the caller's transaction."""
    freed = conn.execute(
        update(t.slot)
        .where(and_(t.slot.c.id.in_(list(slot_ids)), t.slot.c.status == BUSY))
        .values(status=FREE, version=t.slot.c.version + 1, last_updated=now)
    ).rowcount
    if freed and slot_ids:
        conn.execute(insert(t.slot_freed).values(slot_id=slot_ids[0], at=now))


def change_status(
    engine: Engine, appointment_id: str, status: str, reason: Optional[str], if_match: Optional[int]
) -> Any:
    """Move an appointment to `status`; cancelling frees its slots in the same transaction."""

    def work(conn: Connection) -> Any:
        row = _locked_appointment(conn, appointment_id, if_match)
        if status == row.status:
            return row
        if status not in TRANSITIONS.get(row.status, set()):
            raise ApiError(409, f"an appointment that is '{row.status}' cannot become '{status}'")
        now = utcnow()
        if status == "cancelled":
            _free_slots(conn, row.slot_ids.split(), now)
        conn.execute(
            update(t.appointment)
            .where(t.appointment.c.id == appointment_id)
            .values(
                status=status,
                cancellation_reason=reason if status == "cancelled" else None,
                version=row.version + 1,
                last_updated=now,
            )
        )
        return conn.execute(select(t.appointment).where(t.appointment.c.id == appointment_id)).one()

    return in_transaction(engine, work)


def confirm_attendance(engine: Engine, appointment_id: str) -> Any:
    """The patient said they will come: recorded once (a repeat keeps the first time); 409 unless booked."""

    def work(conn: Connection) -> Any:
        row = _locked_appointment(conn, appointment_id, None)
        if row.status != "booked":
            raise ApiError(409, f"only a booked appointment can be confirmed; this one is '{row.status}'")
        if row.attendance_confirmed is None:
            now = utcnow()
            conn.execute(
                update(t.appointment)
                .where(t.appointment.c.id == appointment_id)
                .values(attendance_confirmed=now, version=row.version + 1, last_updated=now)
            )
        return conn.execute(select(t.appointment).where(t.appointment.c.id == appointment_id)).one()

    return in_transaction(engine, work)


@dataclass(frozen=True)
class AttendanceFlag:
    """A booked appointment staff should look at: unconfirmed with its start inside the cut-off, or started
    without being marked (a possible no-show). `no_shows` counts the patient's earlier ones."""

    appointment_id: str
    start: dt.datetime  # naive UTC
    service_id: str
    patient_name: str
    phone: str
    confirmed: bool
    started: bool
    no_shows: int


def attendance_flags(
    engine: Engine, cutoff: dt.timedelta, looking_back: dt.timedelta
) -> List[AttendanceFlag]:
    """Booked appointments unconfirmed within `cutoff` of their start, and those started in the last `looking_back`
    still booked (staff record them fulfilled or no-show), earliest first."""
    now = utcnow()
    no_shows = (
        select(func.count())
        .where(and_(t.appointment.c.patient_id == t.patient.c.id, t.appointment.c.status == "noshow"))
        .correlate(t.patient)
        .scalar_subquery()
    )
    due = and_(
        t.appointment.c.start > now,
        t.appointment.c.start <= now + cutoff,
        t.appointment.c.attendance_confirmed.is_(None),
    )
    past = and_(t.appointment.c.start <= now, t.appointment.c.start > now - looking_back)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                t.appointment,
                t.patient.c.given,
                t.patient.c.family,
                t.patient.c.phone,
                no_shows.label("no_shows"),
            )
            .select_from(t.appointment.join(t.patient, t.patient.c.id == t.appointment.c.patient_id))
            .where(and_(t.appointment.c.status == "booked", or_(due, past)))
            .order_by(t.appointment.c.start)
        ).fetchall()
    return [
        AttendanceFlag(
            row.id,
            row.start,
            row.service_id,
            " ".join(part for part in (row.given, row.family) if part),
            row.phone,
            row.attendance_confirmed is not None,
            row.start <= now,
            row.no_shows,
        )
        for row in rows
    ]


class StaffAttendance:
    """What the staff inbox needs of attendance (it knows this only as a protocol): the flagged appointments, and
    recording a no-show. Blocking calls."""

    LOOKING_BACK = dt.timedelta(hours=24)

    def __init__(self, engine: Engine, clinic: Clinic) -> None:
        self.engine, self.clinic = engine, clinic

    def flags(self) -> List[AttendanceFlag]:
        return attendance_flags(
            self.engine, dt.timedelta(hours=self.clinic.confirm_cutoff_hours), self.LOOKING_BACK
        )

    def no_show(self, appointment_id: str) -> Any:
        return change_status(self.engine, appointment_id, "noshow", None, None)


def reschedule(
    engine: Engine, clinic: Clinic, appointment_id: str, new_slot_id: str, if_match: Optional[int]
) -> Tuple[Any, Any]:
    """Cancel an appointment and book the same patient and service at `new_slot_id`, all or nothing."""

    def work(conn: Connection) -> Tuple[Any, Any]:
        old = _locked_appointment(conn, appointment_id, if_match)
        if old.status != "booked":
            raise ApiError(409, f"only a booked appointment can be rescheduled; this one is '{old.status}'")
        now = utcnow()
        _free_slots(conn, old.slot_ids.split(), now)
        conn.execute(
            update(t.appointment)
            .where(t.appointment.c.id == appointment_id)
            .values(
                status="cancelled",
                cancellation_reason="rescheduled",
                version=old.version + 1,
                last_updated=now,
            )
        )
        new = _book(conn, clinic, old.patient_id, new_slot_id, old.service_id, replaces_id=appointment_id)
        old = conn.execute(select(t.appointment).where(t.appointment.c.id == appointment_id)).one()
        return old, new

    return in_transaction(engine, work)
