"""Waitlist storage: joining and leaving, matching a freed slot to waiting patients, and the atomic accept.

A freed slot reaches the waitlist through `sched_slot_freed` (written by scheduling in the cancellation's own
transaction). `offer_freed` takes those rows and offers each slot, under the slot's row lock, to the waiting entries
that fit it, oldest first: one at a time in "hold" mode, `offer_at_once` together in "first_tap_wins" mode.

Accepting is one transaction: the offer row is locked, the slot run booked with scheduling's conditional update
(`book_in`), the offer and entry closed, and every other open offer of that slot marked `gone`. Two patients
accepting the same slot race on the slot's conditional update, so exactly one booking exists whatever the number
of taps, processes or database (SQLite serialises writers; PostgreSQL re-checks the update's WHERE after the lock).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, List, Optional, Sequence, Tuple

from sqlalchemy import and_, delete, exists, func, insert, select, true, update
from sqlalchemy.engine import Connection, Engine

from carebot.backend.db import from_db
from carebot.backend.errors import ApiError
from carebot.clinic import Clinic
from carebot.scheduling import store as scheduling
from carebot.scheduling import tables as sched
from carebot.scheduling.slots import utcnow
from carebot.waitlist import tables as t
from carebot.waitlist.model import (
    DAY_PARTS,
    OPEN_ENTRY_STATES,
    OfferDelivery,
    WaitingPatient,
    WaitlistSettings,
    day_parts_names,
    part_of_day,
)

FREED_BATCH = 50


def settings_of(clinic: Clinic) -> WaitlistSettings:
    return WaitlistSettings(clinic.waitlist_mode, clinic.waitlist_hold_minutes, clinic.waitlist_offer_at_once)


# ---- joining, leaving, listing ---------------------------------------------------------------------------------


def join(
    engine: Engine,
    clinic: Clinic,
    patient_id: str,
    service_id: str,
    date_from: dt.date,
    date_to: dt.date,
    day_parts: int,
    practitioner_id: Optional[str],
    conversation_id: str,
    channel: str,
) -> Any:
    """Put the patient on the list for the service; an earlier entry of theirs for the same service is replaced
    (the newest request says what they want now)."""
    scheduling.slots_needed(clinic, service_id)  # 422 for an unknown service
    if practitioner_id is not None:
        provider = clinic.provider(practitioner_id)
        if provider is None or service_id not in provider.services:
            raise ApiError(422, f"Practitioner/{practitioner_id[:64]} does not offer '{service_id}'")
    if date_to < date_from:
        raise ApiError(422, "requestedPeriod.end is before its start")
    today = clinic.now().date()
    if date_to < today:
        raise ApiError(422, "requestedPeriod has already passed")
    if (date_to - today).days > clinic.horizon_weeks * 7 + 1:
        raise ApiError(
            422, f"requestedPeriod reaches beyond the booking horizon ({clinic.horizon_weeks} weeks)"
        )

    def work(conn: Connection) -> Any:
        if conn.execute(select(sched.patient.c.id).where(sched.patient.c.id == patient_id)).first() is None:
            raise ApiError(422, f"Patient/{patient_id[:100]} does not exist")
        now = utcnow()
        earlier = [
            row.id
            for row in conn.execute(
                select(t.entry.c.id).where(
                    and_(
                        t.entry.c.patient_id == patient_id,
                        t.entry.c.service_id == service_id,
                        t.entry.c.state.in_(OPEN_ENTRY_STATES),
                    )
                )
            )
        ]
        for entry_id in earlier:
            _close_entry(conn, entry_id, "left", now)
        values = dict(
            id=scheduling.new_id(),
            patient_id=patient_id,
            service_id=service_id,
            practitioner_id=practitioner_id,
            date_from=max(date_from, today),
            date_to=date_to,
            day_parts=day_parts,
            state="active",
            conversation_id=conversation_id,
            channel=channel,
            appointment_id=None,
            created=now,
            version=1,
            last_updated=now,
        )
        conn.execute(insert(t.entry).values(**values))
        return conn.execute(select(t.entry).where(t.entry.c.id == values["id"])).one()

    return scheduling.in_transaction(engine, work)


def leave(engine: Engine, entry_id: str) -> Any:
    """Take the entry off the list; an offer it holds is declined, so the slot goes to the next patient."""

    def work(conn: Connection) -> Any:
        row = _locked(conn, t.entry, entry_id, "waitlist entry")
        if row.state in OPEN_ENTRY_STATES:
            _close_entry(conn, entry_id, "left", utcnow())
        return conn.execute(select(t.entry).where(t.entry.c.id == entry_id)).one()

    return scheduling.in_transaction(engine, work)


def _close_entry(conn: Connection, entry_id: str, state: str, now: dt.datetime) -> None:
    for offer_row in conn.execute(
        select(t.offer).where(and_(t.offer.c.entry_id == entry_id, t.offer.c.state == "open"))
    ).fetchall():
        _end_offer(conn, offer_row, "declined", now)
    conn.execute(
        update(t.entry)
        .where(t.entry.c.id == entry_id)
        .values(state=state, version=t.entry.c.version + 1, last_updated=now)
    )


def search_entries(
    engine: Engine,
    patient_id: Optional[str],
    states: Sequence[str],
    service_id: Optional[str],
    count: int,
    offset: int,
) -> Tuple[List[Any], int]:
    conditions = _common_conditions(t.entry, patient_id, states)
    if service_id:
        conditions.append(t.entry.c.service_id == service_id)
    return _search(engine, t.entry, conditions, count, offset)


def search_offers(
    engine: Engine, patient_id: Optional[str], states: Sequence[str], count: int, offset: int
) -> Tuple[List[Any], int]:
    return _search(engine, t.offer, _common_conditions(t.offer, patient_id, states), count, offset)


def _common_conditions(table: Any, patient_id: Optional[str], states: Sequence[str]) -> List[Any]:
    conditions = []
    if patient_id:
        conditions.append(table.c.patient_id == patient_id)
    if states:
        conditions.append(table.c.state.in_(list(states)))
    return conditions


def _search(
    engine: Engine, table: Any, conditions: List[Any], count: int, offset: int
) -> Tuple[List[Any], int]:
    """A page of `table`'s rows matching every condition, oldest first, and how many match in all."""
    where = and_(*conditions) if conditions else true()
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()
        query = select(table).where(where).order_by(table.c.created, table.c.id).limit(count).offset(offset)
        return list(conn.execute(query)), total


def _locked(conn: Connection, table: Any, ident: str, kind: str) -> Any:
    row = conn.execute(select(table).where(table.c.id == ident).with_for_update()).first()
    if row is None:
        raise ApiError(404, f"{kind} {ident[:100]} not found")
    return row


def waiting_patients(engine: Engine, clinic: Clinic, limit: int = 200) -> List[WaitingPatient]:
    """The open entries in the order they are offered (oldest first), with each patient's name: the staff's view."""
    joined = t.entry.join(sched.patient, sched.patient.c.id == t.entry.c.patient_id)
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.entry, sched.patient.c.given, sched.patient.c.family, sched.patient.c.phone)
            .select_from(joined)
            .where(t.entry.c.state.in_(OPEN_ENTRY_STATES))
            .order_by(t.entry.c.created, t.entry.c.id)
            .limit(limit)
        ).fetchall()
    return [
        WaitingPatient(
            patient_name=" ".join(part for part in (row.given, row.family) if part),
            phone=row.phone,
            service_name=(
                clinic.service(row.service_id).name if clinic.service(row.service_id) else row.service_id
            ),
            date_from=row.date_from,
            date_to=row.date_to,
            day_parts=day_parts_names(row.day_parts),
            state=row.state,
            joined=from_db(row.created),
        )
        for row in rows
    ]


# ---- offering freed slots ----------------------------------------------------------------------------------------


def offer_freed(engine: Engine, clinic: Clinic, batch: int = FREED_BATCH) -> List[str]:
    """Take up to `batch` freed slots (oldest first) and offer each to the waiting entries that fit; the new offer
    ids. Several workers take disjoint rows (SKIP LOCKED on PostgreSQL, one writer at a time on SQLite)."""

    def work(conn: Connection) -> List[str]:
        rows = conn.execute(
            select(sched.slot_freed)
            .order_by(sched.slot_freed.c.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).fetchall()
        if not rows:
            return []
        conn.execute(delete(sched.slot_freed).where(sched.slot_freed.c.id.in_([r.id for r in rows])))
        now, made = utcnow(), []
        for slot_id in dict.fromkeys(r.slot_id for r in rows):
            made += offer_slot(conn, clinic, slot_id, now)
        return made

    return scheduling.in_transaction(engine, work)


def offer_slot(conn: Connection, clinic: Clinic, slot_id: str, now: dt.datetime) -> List[str]:
    """Offer one free slot to the next waiting entries that fit it (none while the slot is busy or held)."""
    slot = conn.execute(select(sched.slot).where(sched.slot.c.id == slot_id).with_for_update()).first()
    if slot is None or slot.status != scheduling.FREE or slot.start <= now:
        return []
    config = settings_of(clinic)
    open_count = conn.execute(
        select(func.count()).where(and_(t.offer.c.slot_id == slot_id, t.offer.c.state == "open"))
    ).scalar_one()
    wanted = config.offers_per_slot - open_count
    if wanted <= 0:
        return []
    services = fitting_services(conn, clinic, slot)
    entries = match_entries(conn, clinic, slot, services, wanted)
    expires = now + config.hold
    made = []
    for entry_row in entries:
        values = dict(
            id=scheduling.new_id(),
            entry_id=entry_row.id,
            patient_id=entry_row.patient_id,
            slot_id=slot.id,
            service_id=entry_row.service_id,
            practitioner_id=slot.practitioner_id,
            start=slot.start,
            expires_at=expires,
            state="open",
            appointment_id=None,
            delivered_at=None,
            gone_told_at=None,
            created=now,
            version=1,
            last_updated=now,
        )
        conn.execute(insert(t.offer).values(**values))
        conn.execute(
            update(t.entry)
            .where(t.entry.c.id == entry_row.id)
            .values(state="offered", version=t.entry.c.version + 1, last_updated=now)
        )
        made.append(values["id"])
    return made


def fitting_services(conn: Connection, clinic: Clinic, slot: Any) -> List[str]:
    """The services of the slot's schedule for which a long-enough run of free slots starts at it."""
    offered = scheduling.schedule_services(conn).get(slot.schedule_id, [])
    needs = {service_id: scheduling.slots_needed(clinic, service_id) for service_id in offered}
    if not needs:
        return []
    run = list(
        conn.execute(
            select(sched.slot.c.start, sched.slot.c.end, sched.slot.c.status)
            .where(
                and_(sched.slot.c.practitioner_id == slot.practitioner_id, sched.slot.c.start >= slot.start)
            )
            .order_by(sched.slot.c.start)
            .limit(max(needs.values()))
        )
    )
    free_run = 0
    for index, row in enumerate(run):
        contiguous = index == 0 or run[index - 1].end == row.start
        if row.status != scheduling.FREE or not contiguous:
            break
        free_run += 1
    return [service_id for service_id, needed in needs.items() if needed <= free_run]


def match_entries(
    conn: Connection, clinic: Clinic, slot: Any, services: Sequence[str], limit: int
) -> List[Any]:
    """The waiting entries the slot fits, in the order they joined: the service, the day inside their range, the
    part of the day they asked for, their practitioner if they named one, and a slot not offered to them before."""
    if not services or limit <= 0:
        return []
    local = slot.start.replace(tzinfo=dt.timezone.utc).astimezone(clinic.tz)
    day, bit = local.date(), DAY_PARTS[part_of_day(local.time())]
    offered_before = exists().where(and_(t.offer.c.entry_id == t.entry.c.id, t.offer.c.slot_id == slot.id))
    return list(
        conn.execute(
            select(t.entry)
            .where(
                and_(
                    t.entry.c.state == "active",
                    t.entry.c.service_id.in_(list(services)),
                    t.entry.c.date_from <= day,
                    t.entry.c.date_to >= day,
                    t.entry.c.day_parts.op("&")(bit) != 0,
                    (t.entry.c.practitioner_id.is_(None))
                    | (t.entry.c.practitioner_id == slot.practitioner_id),
                    ~offered_before,
                )
            )
            .order_by(t.entry.c.created, t.entry.c.id)
            .limit(limit)
            .with_for_update()
        )
    )


def expire(engine: Engine, clinic: Clinic) -> int:
    """Close offers past their hold (their slot goes to the next patient) and entries whose range has passed; how
    many offers expired."""

    def work(conn: Connection) -> int:
        now = utcnow()
        lapsed = conn.execute(
            select(t.offer)
            .where(and_(t.offer.c.state == "open", t.offer.c.expires_at <= now))
            .with_for_update(skip_locked=True)
        ).fetchall()
        for offer_row in lapsed:
            _end_offer(conn, offer_row, "expired", now)
        conn.execute(
            update(t.entry)
            .where(and_(t.entry.c.state == "active", t.entry.c.date_to < clinic.now().date()))
            .values(state="expired", version=t.entry.c.version + 1, last_updated=now)
        )
        return len(lapsed)

    return scheduling.in_transaction(engine, work)


def _end_offer(conn: Connection, offer_row: Any, state: str, now: dt.datetime) -> None:
    """Close an open offer; its entry waits again, and the slot is logged as freed so the next patient hears of it
    (the worker finds nothing to do if it was booked meanwhile)."""
    conn.execute(
        update(t.offer)
        .where(t.offer.c.id == offer_row.id)
        .values(state=state, version=t.offer.c.version + 1, last_updated=now)
    )
    conn.execute(
        update(t.entry)
        .where(and_(t.entry.c.id == offer_row.entry_id, t.entry.c.state == "offered"))
        .values(state="active", version=t.entry.c.version + 1, last_updated=now)
    )
    if state in ("declined", "expired"):
        conn.execute(insert(sched.slot_freed).values(slot_id=offer_row.slot_id, at=now))


# ---- the patient's answer ------------------------------------------------------------------------------------------


def accept(engine: Engine, clinic: Clinic, offer_id: str) -> Tuple[Any, bool]:
    """Book the offered slot for the patient: (the appointment, True) the first time; (the same appointment,
    False) for a repeated tap of the same offer. 409 when the offer ended or another patient took the slot."""

    lost_race: List[bool] = []  # set when the slot itself was taken: the offer is then over for good

    def work(conn: Connection) -> Tuple[Any, bool]:
        lost_race.clear()
        # The slot first, then the offer: every accept of one slot queues on the slot's row, so closing the other
        # offers of the slot never waits on a lock another accept holds (no deadlock on PostgreSQL).
        slot_id = conn.execute(select(t.offer.c.slot_id).where(t.offer.c.id == offer_id)).scalar()
        if slot_id is not None:
            conn.execute(select(sched.slot.c.id).where(sched.slot.c.id == slot_id).with_for_update()).first()
        offer_row = _locked(conn, t.offer, offer_id, "waitlist offer")
        if offer_row.state == "accepted":
            booked = conn.execute(
                select(sched.appointment).where(sched.appointment.c.id == offer_row.appointment_id)
            ).one()
            return booked, False
        if offer_row.state != "open":
            raise ApiError(409, f"this offer has ended ({offer_row.state})")
        now = utcnow()
        if offer_row.expires_at <= now:
            raise ApiError(409, "this offer has ended (expired)")
        lost_race.append(True)
        booked = scheduling.book_in(
            conn, clinic, offer_row.patient_id, offer_row.slot_id, offer_row.service_id
        )
        lost_race.clear()
        conn.execute(
            update(t.offer)
            .where(t.offer.c.id == offer_id)
            .values(
                state="accepted", appointment_id=booked.id, version=t.offer.c.version + 1, last_updated=now
            )
        )
        conn.execute(
            update(t.entry)
            .where(t.entry.c.id == offer_row.entry_id)
            .values(state="booked", appointment_id=booked.id, version=t.entry.c.version + 1, last_updated=now)
        )
        for other in conn.execute(
            select(t.offer).where(and_(t.offer.c.slot_id == offer_row.slot_id, t.offer.c.state == "open"))
        ).fetchall():
            _end_offer(conn, other, "gone", now)
        return booked, True

    try:
        return scheduling.in_transaction(engine, work)
    except ApiError:
        if lost_race:
            _mark_gone(engine, offer_id)
        raise


def _mark_gone(engine: Engine, offer_id: str) -> None:
    """The slot went to someone else (or was booked directly): the offer is over, the entry waits again."""

    def work(conn: Connection) -> None:
        row = conn.execute(select(t.offer).where(t.offer.c.id == offer_id).with_for_update()).first()
        if row is not None and row.state == "open":
            _end_offer(conn, row, "gone", utcnow())

    scheduling.in_transaction(engine, work)


def decline(engine: Engine, offer_id: str) -> Any:
    """ "No thanks": the offer ends, the patient stays on the list, the slot goes to the next one."""

    def work(conn: Connection) -> Any:
        row = _locked(conn, t.offer, offer_id, "waitlist offer")
        if row.state == "open":
            _end_offer(conn, row, "declined", utcnow())
        return conn.execute(select(t.offer).where(t.offer.c.id == offer_id)).one()

    return scheduling.in_transaction(engine, work)


# ---- what the bot must say -----------------------------------------------------------------------------------------


def pending_deliveries(engine: Engine, limit: int = 50) -> List[OfferDelivery]:
    """Open offers not yet spoken, and spoken offers that went to someone else and the patient has not been told."""
    columns = (t.offer, t.entry.c.conversation_id, t.entry.c.channel)
    joined = t.offer.join(t.entry, t.entry.c.id == t.offer.c.entry_id)
    with engine.connect() as conn:
        new = conn.execute(
            select(*columns)
            .select_from(joined)
            .where(and_(t.offer.c.state == "open", t.offer.c.delivered_at.is_(None)))
            .order_by(t.offer.c.created)
            .limit(limit)
        ).fetchall()
        gone = conn.execute(
            select(*columns)
            .select_from(joined)
            .where(
                and_(
                    t.offer.c.state == "gone",
                    t.offer.c.delivered_at.is_not(None),
                    t.offer.c.gone_told_at.is_(None),
                )
            )
            .order_by(t.offer.c.created)
            .limit(limit)
        ).fetchall()
    return [_delivery(row, "offer") for row in new] + [_delivery(row, "gone") for row in gone]


def _delivery(row: Any, kind: str) -> OfferDelivery:
    return OfferDelivery(
        offer_id=row.id,
        conversation_id=row.conversation_id,
        channel=row.channel,
        service_id=row.service_id,
        practitioner_id=row.practitioner_id,
        start=from_db(row.start),
        expires=from_db(row.expires_at),
        kind=kind,
    )


def mark_delivered(engine: Engine, offer_id: str, kind: str) -> None:
    column = "delivered_at" if kind == "offer" else "gone_told_at"
    with engine.begin() as conn:
        conn.execute(update(t.offer).where(t.offer.c.id == offer_id).values(**{column: utcnow()}))
