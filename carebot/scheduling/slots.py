"""Generate bookable slots from clinic.yml for a rolling horizon, idempotently.

Run at start and daily (and whenever clinic.yml changes). Each provider gets one Schedule and a slot of
`booking.slot_minutes` for every step of their opening hours (their own hours where set, else the clinic's),
skipping closures. Regeneration inserts missing slots (unique on practitioner+start, so it never duplicates),
deletes free slots that are no longer inside opening hours (or are already past), and never touches busy ones.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Dict, Iterator, Optional, Set, Tuple

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.engine import Engine

from carebot.clinic import Clinic, Provider
from carebot.clock import utc_now
from carebot.scheduling import tables as t

UTC = dt.timezone.utc


@dataclass(frozen=True)
class RegenerationReport:
    added: int
    removed: int


def utcnow() -> dt.datetime:
    """Current time as the naive-UTC value the tables store."""
    return utc_now().replace(tzinfo=None)


def schedule_id(practitioner_id: str) -> str:
    return f"sched-{practitioner_id}"


def slot_id(practitioner_id: str, start_utc: dt.datetime) -> str:
    return f"{practitioner_id}-{start_utc:%Y%m%d%H%M}"


def provider_slot_starts(
    clinic: Clinic, provider: Provider, first_day: dt.date, days: int
) -> Iterator[dt.datetime]:
    """Naive-UTC starts of every slot a provider offers over `days` local days (slot must end by closing time)."""
    step = dt.timedelta(minutes=clinic.slot_minutes)
    for offset in range(days):
        for opens, closes in clinic.open_windows(first_day + dt.timedelta(days=offset), provider):
            start, end = opens.astimezone(UTC), closes.astimezone(UTC)
            while start + step <= end:
                yield start.replace(tzinfo=None)
                start += step


def regenerate_slots(engine: Engine, clinic: Clinic, now: Optional[dt.datetime] = None) -> RegenerationReport:
    """Bring practitioners, schedules and free slots in line with clinic.yml, in one transaction."""
    now = now or utcnow()
    first_day = now.replace(tzinfo=UTC).astimezone(clinic.tz).date()
    days = clinic.horizon_weeks * 7
    step = dt.timedelta(minutes=clinic.slot_minutes)
    wanted: Dict[str, Set[dt.datetime]] = {
        p.id: {s for s in provider_slot_starts(clinic, p, first_day, days) if s >= now}
        for p in clinic.providers
    }
    added = removed = 0
    with engine.begin() as conn:
        _sync_practitioners(conn, clinic, now)
        existing: Dict[Tuple[str, dt.datetime], Tuple[str, str]] = {
            (row.practitioner_id, row.start): (row.id, row.status)
            for row in conn.execute(
                select(t.slot.c.id, t.slot.c.practitioner_id, t.slot.c.start, t.slot.c.status).where(
                    t.slot.c.status == "free"
                )
            )
        }
        stale = [sid for (pid, start), (sid, _) in existing.items() if start not in wanted.get(pid, ())]
        for chunk in _chunks(stale, 500):
            removed += conn.execute(
                delete(t.slot).where(and_(t.slot.c.id.in_(chunk), t.slot.c.status == "free"))
            ).rowcount
        taken = {
            (row.practitioner_id, row.start)
            for row in conn.execute(
                select(t.slot.c.practitioner_id, t.slot.c.start).where(t.slot.c.start >= now)
            )
        }
        rows = [
            {
                "id": slot_id(pid, start),
                "schedule_id": schedule_id(pid),
                "practitioner_id": pid,
                "start": start,
                "end": start + step,
                "status": "free",
                "version": 1,
                "last_updated": now,
            }
            for pid, starts in wanted.items()
            for start in sorted(starts)
            if (pid, start) not in taken
        ]
        for chunk in _chunks(rows, 500):
            conn.execute(insert(t.slot), chunk)
            added += len(chunk)
    return RegenerationReport(added=added, removed=removed)


def _sync_practitioners(conn, clinic: Clinic, now: dt.datetime) -> None:
    """Upsert one Practitioner and Schedule per provider; deactivate ones removed from clinic.yml."""
    known = {row.id: row for row in conn.execute(select(t.practitioner))}
    schedules = {row.practitioner_id: row for row in conn.execute(select(t.schedule))}
    for provider in clinic.providers:
        services = " ".join(provider.services)
        row = known.get(provider.id)
        if row is None:
            conn.execute(
                insert(t.practitioner).values(
                    id=provider.id, name=provider.name, active=True, version=1, last_updated=now
                )
            )
        elif row.name != provider.name or not row.active:
            conn.execute(
                update(t.practitioner)
                .where(t.practitioner.c.id == provider.id)
                .values(name=provider.name, active=True, version=row.version + 1, last_updated=now)
            )
        sched = schedules.get(provider.id)
        if sched is None:
            conn.execute(
                insert(t.schedule).values(
                    id=schedule_id(provider.id),
                    practitioner_id=provider.id,
                    service_ids=services,
                    active=True,
                    version=1,
                    last_updated=now,
                )
            )
        elif sched.service_ids != services or not sched.active:
            conn.execute(
                update(t.schedule)
                .where(t.schedule.c.id == sched.id)
                .values(service_ids=services, active=True, version=sched.version + 1, last_updated=now)
            )
    current = {p.id for p in clinic.providers}
    for pid, row in known.items():
        if pid not in current and row.active:
            conn.execute(
                update(t.practitioner)
                .where(t.practitioner.c.id == pid)
                .values(active=False, version=row.version + 1, last_updated=now)
            )
    for pid, sched in schedules.items():
        if pid not in current and sched.active:
            conn.execute(
                update(t.schedule)
                .where(t.schedule.c.id == sched.id)
                .values(active=False, version=sched.version + 1, last_updated=now)
            )


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
