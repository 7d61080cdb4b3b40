"""Waitlist matching: a cancellation with 10,000 patients on the waitlist, until the offer is written.

Setup (not timed): the bench clinic of the scheduling section (10 practitioners, 8 weeks of 15-minute slots),
10,000 waitlist entries bulk-inserted with random services, date ranges of 1 to 7 days inside the horizon, parts of
the day and (one in ten) a named practitioner. Each round books a random free slot and cancels it (the cancellation
writes the freed-slot row, as in production), then times `offer_freed`: claim the freed row, lock the slot, find the
services whose run fits, match the entries (service, day, part of the day, practitioner, not offered before, oldest
first), write the offer and mark the entry. The offer is then withdrawn (not timed) so every round sees 10,000.

Databases as bench/databases.py says (SQLite, and PostgreSQL in a fresh schema when given a URL). Run alone with
`python -m bench.waitlist_bench [--postgres URL]`, or as the `waitlist` section of `make bench`.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import List, Optional, Tuple

from sqlalchemy import delete, insert, select, update

from bench.databases import databases, not_run, postgres_argument, resolve_postgres_url
from bench.scheduling_bench import _clinic, _p95
from carebot import migrations
from carebot.backend.db import make_engine
from carebot.clinic import Clinic
from carebot.scheduling import store as scheduling
from carebot.scheduling import tables as sched
from carebot.scheduling.slots import regenerate_slots, utcnow
from carebot.waitlist import store
from carebot.waitlist import tables as t

ENTRIES = 10_000
ROUNDS = 60
TARGET_MS = 50.0


def _populate(engine, clinic: Clinic, rng: random.Random) -> str:
    """10,000 entries of 500 patients; the id of the patient who books and cancels."""
    patients = [
        scheduling.create_patient(engine, f"Wait{n}", "Pat", f"+4477009{n:05d}", None, None).id
        for n in range(500)
    ]
    booker = scheduling.create_patient(engine, "Booker", "Bea", "+447700800000", None, None).id
    today = clinic.now().date()
    horizon = clinic.horizon_weeks * 7
    services = [s.id for s in clinic.services]
    now = utcnow()
    rows = []
    for n in range(ENTRIES):
        first = today + dt.timedelta(days=rng.randrange(horizon))
        rows.append(
            dict(
                id=uuid.uuid4().hex,
                patient_id=patients[n % len(patients)],
                service_id=rng.choice(services),
                practitioner_id=f"p{rng.randrange(10)}" if rng.random() < 0.1 else None,
                date_from=first,
                date_to=first + dt.timedelta(days=rng.randrange(7)),
                day_parts=rng.randrange(1, 8),
                state="active",
                conversation_id=f"whatsapp:+4477009{n % 500:05d}",
                channel="whatsapp",
                appointment_id=None,
                created=now - dt.timedelta(seconds=ENTRIES - n),
                version=1,
                last_updated=now,
            )
        )
    with engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(insert(t.entry), rows[start : start + 1000])
    return booker


def _rounds(engine, clinic: Clinic, booker: str, rng: random.Random) -> Tuple[List[float], int]:
    with engine.connect() as conn:
        services = scheduling.schedule_services(conn)
        later = utcnow() + dt.timedelta(days=1)
        free = [
            (row.id, "gp" if "gp" in services[row.schedule_id] else services[row.schedule_id][0])
            for row in conn.execute(
                select(sched.slot.c.id, sched.slot.c.schedule_id).where(
                    sched.slot.c.status == "free", sched.slot.c.start > later
                )
            )
        ]
    timings, offered = [], 0
    for slot_id, service_id in rng.sample(free, ROUNDS):
        booked = scheduling.book(engine, clinic, booker, slot_id, service_id)
        scheduling.change_status(engine, booked.id, "cancelled", "bench", None)
        started = time.perf_counter()
        made = store.offer_freed(engine, clinic)
        timings.append((time.perf_counter() - started) * 1000)
        offered += len(made)
        with engine.begin() as conn:  # withdraw the offer: the next round sees all 10,000 again
            conn.execute(delete(t.offer))
            conn.execute(update(t.entry).where(t.entry.c.state == "offered").values(state="active"))
            conn.execute(delete(sched.slot_freed))
    return timings, offered


def _measure(url: str, clinic: Clinic) -> Tuple[List[float], int]:
    engine = make_engine(url)
    try:
        migrations.upgrade(engine, migrations.BACKEND)
        regenerate_slots(engine, clinic)
        rng = random.Random(18)
        booker = _populate(engine, clinic, rng)
        return _rounds(engine, clinic, booker, rng)
    finally:
        engine.dispose()


def _row(name: str, timings: List[float], offered: int) -> str:
    verdict = "meets" if _p95(timings) <= TARGET_MS else "MISSES"
    return (
        f"| {name} | {len(timings)} cancellations, {offered} offered | p50 {statistics.median(timings):.1f} ms, "
        f"p95 {_p95(timings):.1f} ms, max {max(timings):.1f} ms | ≤ {TARGET_MS:.0f} ms ({verdict}) |"
    )


def run(postgres_url: Optional[str] = None) -> str:
    postgres_url = resolve_postgres_url(postgres_url)
    with tempfile.TemporaryDirectory() as tmp:
        clinic = _clinic(Path(tmp))
        rows = [_row(label, *_measure(url, clinic)) for url, label in databases(postgres_url)]
    if not postgres_url:
        rows.append(not_run(4))
    return "\n".join(
        [
            "### Waitlist matching (`carebot/waitlist/store.py` `offer_freed`, in process)\n",
            f"{ENTRIES:,} entries on the waitlist; each cancellation's freed slot is matched and its offer written "
            "(one transaction: claim the freed row, lock the slot, fit, match, insert the offer).\n",
            "| database | rounds | time to the offer | target |",
            "|---|---|---|---|",
            *rows,
        ]
    )


if __name__ == "__main__":
    print(run(postgres_argument(__doc__)))
