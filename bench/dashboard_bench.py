"""The clinic dashboard (`/staff/dashboard`) over 30 days and 10,000 conversations: how long its figures take.

Setup (not timed): the demo seed (carebot/dashboard/demo.py) writes 10,000 scripted conversations over 30 clinic
days (7,000 patients; tracker events sealed as the tracker store seals them, appointments, reminders with their
WhatsApp outbox rows, staff cases), and 5,000 more in the 30 days before, which the period must skip; then ANALYZE,
as autovacuum would after a bulk load. The first page after a start (no slot value read yet) is timed on its own;
then each round computes the whole report (every figure of the page: the grouped per-patient query, response times,
triage and booking outcomes, reminders, appointments, not-understood groups) and renders the page's template, as
`GET /staff/dashboard?from=…&to=…` does after the session check. The figures are checked against the seed's ledger
once, so the timing is of a correct page.

Databases as bench/databases.py says (SQLite, and PostgreSQL in a fresh schema when given a URL). Run alone with
`python -m bench.dashboard_bench [--postgres URL]`, or as the `dashboard` section of `make bench`.
"""

from __future__ import annotations

import datetime as dt
import functools
import statistics
import time
from typing import List, Optional, Tuple

from bench.databases import databases, not_run, postgres_argument, resolve_postgres_url
from carebot.backend.db import make_engine
from carebot.channels.contacts import ContactStore
from carebot.clinic import load_clinic
from carebot.dashboard.demo import Seed
from carebot.dashboard.model import Period
from carebot.dashboard.store import DashboardStore, ensure_tracker_indexes
from carebot.handoff.inbox import _TEMPLATES
from carebot.reminders.dispatcher import whatsapp_delivery_statuses
from carebot.settings import PROJECT_ROOT

CONVERSATIONS = 10_000
BEFORE = 5_000
DAYS = 30
ROUNDS = 7
TARGET_SECONDS = 1.0
LAST_DAY = dt.date(2026, 3, 31)


def _measure(url: str) -> Tuple[List[float], float, float, int]:
    """(seconds per page, the report alone at the median, the first report after a start, tracker events) on the
    database `url`."""
    clinic = load_clinic(PROJECT_ROOT / "clinic.yml")
    engine = make_engine(url)
    channel = ContactStore(url).engine
    seeder = Seed(engine, engine, channel)
    seeder.run(BEFORE, LAST_DAY - dt.timedelta(days=DAYS), DAYS, clinic.tz, prefix="+4477008")
    ledger = seeder.run(CONVERSATIONS, LAST_DAY, DAYS, clinic.tz)
    store = DashboardStore(engine, engine, functools.partial(whatsapp_delivery_statuses, engine=channel))
    period = Period.of_days(LAST_DAY - dt.timedelta(days=DAYS - 1), LAST_DAY, clinic.tz)
    template = _TEMPLATES.get_template("dashboard.html")
    ensure_tracker_indexes(engine)  # made on first use by the backend; not part of a page
    with (
        engine.begin() as connection
    ):  # after a bulk load, as PostgreSQL's autovacuum (or SQLite's optimize) would
        connection.exec_driver_sql("ANALYZE")
    started = time.perf_counter()
    report = store.report(period)  # the first page after a start: no slot value read yet
    cold = time.perf_counter() - started
    shown = report.figures()
    wrong = {
        key: (shown.get(key), value) for key, value in ledger.expected().items() if shown.get(key) != value
    }
    if wrong:
        raise AssertionError(f"dashboard figures differ from the seed: {wrong}")
    pages, reports = [], []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        report = store.report(period)
        computed = time.perf_counter()
        template.render(
            clinic_name=clinic.name,
            report=report,
            period=period,
            admin=True,
            shown=False,
            staff="bench",
            csrf="",
            notice=None,
        )
        pages.append(time.perf_counter() - started)
        reports.append(computed - started)
    with engine.connect() as connection:
        events = connection.exec_driver_sql("SELECT COUNT(*) FROM events").scalar() or 0
    engine.dispose()
    channel.dispose()
    return pages, statistics.median(reports), cold, int(events)


def _row(label: str, pages: List[float], report: float, cold: float, events: int) -> str:
    median, worst = statistics.median(pages), max(pages + [cold])
    verdict = "meets" if worst <= TARGET_SECONDS else "misses"
    return (
        f"| {label} | {events:,} | {cold * 1000:.0f} ms | {median * 1000:.0f} ms (report {report * 1000:.0f} ms) "
        f"| {max(pages) * 1000:.0f} ms | ≤ {TARGET_SECONDS:.0f} s ({verdict}) |"
    )


def run(postgres_url: Optional[str] = None) -> str:
    postgres_url = resolve_postgres_url(postgres_url)
    rows = [_row(label, *_measure(url)) for url, label in databases(postgres_url)]
    if not postgres_url:
        rows.append(not_run(6))
    return "\n".join(
        [
            "### Dashboard page (`carebot/dashboard/store.py` report + `dashboard.html`, in process)\n",
            f"{CONVERSATIONS:,} scripted conversations over {DAYS} days (plus {BEFORE:,} in the {DAYS} days before, "
            f"outside the period); {ROUNDS} rounds, every figure checked against the seed's ledger first.\n",
            "| database | tracker events | first page after a start | page, median | page, slowest | target |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )


if __name__ == "__main__":
    print(run(postgres_argument(__doc__)))
