"""Erasure of everything that names one patient, store by store (blocking; call through run_db from handlers).

Each process erases what it owns: the backend its database (`erase_backend`, called by the privacy API the action
server uses when a patient confirms "delete my data"); the WhatsApp channel its state and Redis keys after the
last reply (`erase_channel_state`, `forget_keys`); the tracker store the conversation itself, instead of saving
the turn that asked for it (carebot/privacy/tracker_store.py). Operators and admins erase every store at once
(`erase_everywhere`: `python -m carebot.privacy erase PHONE`, the inbox). What clinic.yml
`privacy.kept_after_erasure` names is kept; the audit log keeps its entries, which name patients only by a keyed hash.

SQLite deletes run with `secure_delete`, so the erased text does not linger in free pages of the file.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, List, Optional, Sequence

from sqlalchemy import Table, delete, func, or_, select, update
from sqlalchemy.engine import Connection, Engine

from carebot.backend.db import from_db, to_db
from carebot.backend.notices import add_notice
from carebot.backend.review_queue import review_queue
from carebot.channels.contacts import forget_number
from carebot.clinic import Clinic
from carebot.erasing import checkpoint, secure_delete
from carebot.handoff.model import Reason
from carebot.handoff.store import handoff_cases, handoff_events
from carebot.identity.store import identity_check
from carebot.privacy.model import (
    ERASURE_REASON,
    HANDOFF_CASES,
    PAST_APPOINTMENTS,
    DataSummary,
    ErasureReport,
    conversation_ids,
)
from carebot.privacy.stores import PatientStores
from carebot.reminders.store import reminder_deliveries, reminder_occurrences, reminders
from carebot.scheduling import tables as t
from carebot.scheduling.store import BUSY, FREE
from carebot.waitlist import tables as waitlist

UPCOMING = ("proposed", "pending", "booked", "waitlist", "arrived", "checked-in")


def _describe(clinic: Clinic, row) -> str:
    service = clinic.service(row.service_id)
    provider = clinic.provider(row.practitioner_id)
    start = from_db(row.start).astimezone(clinic.tz)
    return (
        f"{service.name if service else row.service_id} with {provider.name if provider else row.practitioner_id}"
        f", {start:%a %d %b %Y %H:%M}"
    )


def _patient_ids(conn: Connection, phone: str) -> List[str]:
    return list(conn.execute(select(t.patient.c.id).where(t.patient.c.phone == phone)).scalars())


def summarise(engine: Engine, phone: str, now: Optional[dt.datetime] = None) -> DataSummary:
    """Counts of what the backend holds about `phone` ("what do you keep about me")."""
    now_db = to_db(now or dt.datetime.now(dt.timezone.utc))
    conversations = conversation_ids(phone)
    with engine.connect() as conn:
        patients = _patient_ids(conn, phone)
        appointments = conn.execute(
            select(t.appointment.c.start, t.appointment.c.status).where(
                t.appointment.c.patient_id.in_(patients)
            )
        ).fetchall()
        reminder_count = conn.execute(
            select(func.count())
            .select_from(reminders)
            .where(reminders.c.conversation_id.in_(conversations), reminders.c.status != "stopped")
        ).scalar()
        cases = conn.execute(
            select(func.count())
            .select_from(handoff_cases)
            .where(
                or_(
                    handoff_cases.c.patient_phone == phone, handoff_cases.c.conversation_id.in_(conversations)
                )
            )
        ).scalar()
    upcoming = sum(1 for a in appointments if a.start > now_db and a.status in UPCOMING)
    return DataSummary(
        len(patients), upcoming, sum(1 for a in appointments if a.start <= now_db), reminder_count, cases
    )


def _cancel_upcoming(
    conn: Connection, clinic: Clinic, patients: Sequence[str], now: dt.datetime, report: ErasureReport
) -> None:
    """Cancel future appointments (their slots freed for others) and tell staff which times came free."""
    rows = conn.execute(
        select(t.appointment)
        .where(
            t.appointment.c.patient_id.in_(patients),
            t.appointment.c.start > to_db(now),
            t.appointment.c.status.in_(UPCOMING),
        )
        .with_for_update()
    ).fetchall()
    for row in rows:
        conn.execute(
            update(t.slot)
            .where(t.slot.c.id.in_(row.slot_ids.split()), t.slot.c.status == BUSY)
            .values(status=FREE, version=t.slot.c.version + 1, last_updated=to_db(now))
        )
        what = _describe(clinic, row)
        add_notice(conn, now, f"Cancelled: {what}. Reason: {ERASURE_REASON}. The time is free again.")
        report.cancelled.append(what)
    if rows:
        conn.execute(delete(t.appointment).where(t.appointment.c.id.in_([row.id for row in rows])))
        report.add("upcoming appointments", len(rows))


def _erase_appointments(
    conn: Connection, clinic: Clinic, phone: str, kept: Sequence[str], now: dt.datetime, report: ErasureReport
) -> None:
    patients = _patient_ids(conn, phone)
    if not patients:
        return
    _cancel_upcoming(conn, clinic, patients, now, report)
    past = t.appointment.c.patient_id.in_(patients)
    if PAST_APPOINTMENTS in kept:
        kept_count = conn.execute(select(func.count()).select_from(t.appointment).where(past)).scalar()
        report.keep(PAST_APPOINTMENTS, kept_count)
        if kept_count:
            return  # the appointments name their patient: the record they point to stays with them
    else:
        report.add("past appointments", conn.execute(delete(t.appointment).where(past)).rowcount)
    report.add(
        "patient records", conn.execute(delete(t.patient).where(t.patient.c.id.in_(patients))).rowcount
    )
    links = or_(t.related_person.c.patient_id.in_(patients), t.related_person.c.phone == phone)
    report.add("dependant links", conn.execute(delete(t.related_person).where(links)).rowcount)


def _erase_waitlist(conn: Connection, phone: str, report: ErasureReport) -> None:
    """Waitlist places and the offers made on them: an offer that goes frees its time for the next on the list."""
    places = list(
        conn.execute(
            select(waitlist.entry.c.id).where(
                or_(
                    waitlist.entry.c.patient_id.in_(_patient_ids(conn, phone)),
                    waitlist.entry.c.conversation_id.in_(conversation_ids(phone)),
                )
            )
        ).scalars()
    )
    if places:
        conn.execute(delete(waitlist.offer).where(waitlist.offer.c.entry_id.in_(places)))
        report.add(
            "waitlist places",
            conn.execute(delete(waitlist.entry).where(waitlist.entry.c.id.in_(places))).rowcount,
        )


def _erase_identity_checks(conn: Connection, phone: str, report: ErasureReport) -> None:
    """When the number last proved a date of birth, its wrong answers and lock: they name the number."""
    report.add(
        "identity checks",
        conn.execute(delete(identity_check).where(identity_check.c.phone == phone)).rowcount,
    )


def _erase_review_marks(conn: Connection, phone: str, report: ErasureReport) -> None:
    """The patient's messages staff marked for the NLU data: a copy of their words."""
    report.add(
        "messages marked for review",
        conn.execute(
            delete(review_queue).where(review_queue.c.conversation_id.in_(conversation_ids(phone)))
        ).rowcount,
    )


def _erase_reminders(conn: Connection, phone: str, report: ErasureReport) -> None:
    ids = list(
        conn.execute(
            select(reminders.c.id).where(reminders.c.conversation_id.in_(conversation_ids(phone)))
        ).scalars()
    )
    if not ids:
        return
    keys = select(reminder_occurrences.c.idempotency_key).where(reminder_occurrences.c.reminder_id.in_(ids))
    conn.execute(delete(reminder_deliveries).where(reminder_deliveries.c.idempotency_key.in_(keys)))
    conn.execute(delete(reminder_occurrences).where(reminder_occurrences.c.reminder_id.in_(ids)))
    report.add("reminders", conn.execute(delete(reminders).where(reminders.c.id.in_(ids))).rowcount)


def _erase_cases(conn: Connection, phone: str, kept: Sequence[str], report: ErasureReport) -> None:
    cases = list(
        conn.execute(
            select(handoff_cases.c.id).where(
                or_(
                    handoff_cases.c.patient_phone == phone,
                    handoff_cases.c.conversation_id.in_(conversation_ids(phone)),
                )
            )
        ).scalars()
    )
    if HANDOFF_CASES in kept:
        report.keep(HANDOFF_CASES, len(cases))
    elif cases:
        conn.execute(delete(handoff_events).where(handoff_events.c.case_id.in_(cases)))
        report.add(
            "staff cases", conn.execute(delete(handoff_cases).where(handoff_cases.c.id.in_(cases))).rowcount
        )


WITHDRAWN_TRANSCRIPT = "(removed: the patient withdrew consent; the chat with the bot was deleted)"


def withdraw_consent(
    engine: Engine, conversation_id: str, kept: Sequence[str], report: Optional[ErasureReport] = None
) -> ErasureReport:
    """The backend's part of "I withdraw consent" (the tracker store deletes the conversation itself): the staff
    cases a triage of this conversation opened (they hold the symptoms and the level) are deleted with their
    timelines, and the copy of the bot chat in its other cases is removed, as the consent text promises; unless the
    clinic keeps staff cases as clinical correspondence (clinic.yml `privacy.kept_after_erasure`)."""
    report = report or ErasureReport()
    with engine.begin() as conn:
        secure_delete(conn)
        rows = conn.execute(
            select(handoff_cases.c.id, handoff_cases.c.reason).where(
                handoff_cases.c.conversation_id == conversation_id
            )
        ).fetchall()
        if HANDOFF_CASES in kept:
            report.keep(HANDOFF_CASES, len(rows))
            return report
        triage = [row.id for row in rows if row.reason == Reason.TRIAGE_CALLBACK.value]
        if triage:
            conn.execute(delete(handoff_events).where(handoff_events.c.case_id.in_(triage)))
            conn.execute(delete(handoff_cases).where(handoff_cases.c.id.in_(triage)))
            report.add("staff cases from triage", len(triage))
        others = [row.id for row in rows if row.id not in triage]
        if others:
            removed = conn.execute(
                update(handoff_cases)
                .where(handoff_cases.c.id.in_(others), handoff_cases.c.transcript != "")
                .values(transcript=WITHDRAWN_TRANSCRIPT)
            ).rowcount
            report.add("chat copies in staff cases", removed)
    checkpoint(engine)
    return report


def erase_backend(
    engine: Engine,
    clinic: Clinic,
    phone: str,
    kept: Sequence[str],
    now: Optional[dt.datetime] = None,
    report: Optional[ErasureReport] = None,
) -> ErasureReport:
    """Erase the patient from the backend database in one transaction: waitlist places, appointments (future ones
    cancelled, staff told), the patient record, reminders with their doses, staff cases, identity checks, messages
    marked for review; except what `kept` names."""
    now = now or dt.datetime.now(dt.timezone.utc)
    report = report or ErasureReport()
    with engine.begin() as conn:
        secure_delete(conn)
        _erase_waitlist(conn, phone, report)  # before the patient records it is found by
        _erase_appointments(conn, clinic, phone, kept, now, report)
        _erase_reminders(conn, phone, report)
        _erase_cases(conn, phone, kept, report)
        _erase_identity_checks(conn, phone, report)
        _erase_review_marks(conn, phone, report)
    checkpoint(engine)
    return report


def erase_channel_state(engine: Engine, phone: str, report: Optional[ErasureReport] = None) -> ErasureReport:
    """The WhatsApp channel's memory of the number: its 24-hour window, opt-out and held messages. (An erased
    number has no reminders left, so forgetting an opt-out sends nothing; a new STOP is honoured as ever.)"""
    report = report or ErasureReport()
    for kind, count in forget_number(engine, phone).items():
        report.add(kind, count)
    return report


def erase_conversations(
    engine: Engine, events: Table, phone: str, report: Optional[ErasureReport] = None
) -> ErasureReport:
    """Every event of the patient's conversations in an SQL tracker store (Rasa's `events` table)."""
    report = report or ErasureReport()
    with engine.begin() as conn:
        secure_delete(conn)
        report.add(
            "conversation events",
            conn.execute(delete(events).where(events.c.sender_id.in_(conversation_ids(phone)))).rowcount,
        )
    checkpoint(engine)
    return report


def redis_keys_of(keys: Iterable[str], phone: str) -> List[str]:
    """The keys that name the number (button memory, re-open guard, a lock held at that instant)."""
    digits = phone.lstrip("+")
    return [key for key in keys if digits in key]


def forget_keys(redis_url: str, phone: str, report: Optional[ErasureReport] = None) -> ErasureReport:
    """Delete every Redis key that contains the number (blocking client: the CLI and the inbox use it)."""
    import redis  # only where Redis is configured

    report = report or ErasureReport()
    client = redis.Redis.from_url(redis_url)
    try:
        names = redis_keys_of(
            (key.decode() for key in client.scan_iter(match=f"*{phone.lstrip('+')}*")), phone
        )
        report.add("redis keys", client.delete(*names) if names else 0)
    finally:
        client.close()
    return report


def erase_everywhere(
    stores: PatientStores,
    clinic: Clinic,
    phone: str,
    kept: Sequence[str],
    redis_url: Optional[str] = None,
    now: Optional[dt.datetime] = None,
) -> ErasureReport:
    """Every store at once, for operators and admins (the patient's own request goes store by store)."""
    report = erase_backend(stores.backend, clinic, phone, kept, now)
    erase_channel_state(stores.channel, phone, report)
    if stores.tracker is not None:
        erase_conversations(stores.tracker, stores.tracker_events(), phone, report)
    if redis_url:
        forget_keys(redis_url, phone, report)
    return report
