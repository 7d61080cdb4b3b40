"""A seeded clinic for the dashboard tests: the demo seed's conversations in a tracker database, a backend database
and a WhatsApp channel database (SQLite files, or PostgreSQL when TEST_POSTGRES_URL is set), with the seed's ledger."""

from __future__ import annotations

import datetime as dt
import functools
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from carebot.backend.db import make_engine
from carebot.channels.contacts import ContactStore
from carebot.dashboard.demo import Ledger, Seed
from carebot.dashboard.model import Period
from carebot.dashboard.store import DashboardStore
from carebot.reminders.dispatcher import whatsapp_delivery_statuses

LAST_DAY = dt.date(2026, 3, 31)
DAYS = 30
CONVERSATIONS = 240
# Emptied before a PostgreSQL run (the test database is shared between runs, never between helpers).
SEEDED_TABLES = (
    "events",
    "handoff_events",
    "handoff_cases",
    "reminder_occurrences",
    "reminders",
    "sched_appointment",
    "sched_patient",
    "whatsapp_outbox",
)


@dataclass
class Seeded:
    store: DashboardStore
    ledger: Ledger
    period: Period
    tracker_url: str
    backend: Engine
    channel_url: str
    by_day: Dict[int, Ledger] = field(
        default_factory=dict
    )  # days before LAST_DAY → what the seed did that day


def _empty(engine: Engine) -> None:
    present = set(inspect(engine).get_table_names())
    with engine.begin() as connection:
        for table in SEEDED_TABLES:
            if table in present:
                connection.execute(text(f"DELETE FROM {table}"))


def _urls(kind: str, tmp_path: Any) -> tuple:
    if kind == "sqlite":
        return tuple(f"sqlite:///{tmp_path / name}" for name in ("tracker.db", "carebot.db", "whatsapp.db"))
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TEST_POSTGRES_URL not set")
    return url, url, url


def seed(kind: str, tmp_path: Any, clinic: Any) -> Seeded:
    """The demo seed over DAYS days ending LAST_DAY, plus conversations just outside that period (a week before,
    other numbers) that no figure may count."""
    tracker_url, backend_url, channel_url = _urls(kind, tmp_path)
    tracker, backend = make_engine(tracker_url), make_engine(backend_url)
    channel = ContactStore(channel_url).engine
    if kind != "sqlite":
        _empty(backend)
    seeder = Seed(tracker, backend, channel)
    before = LAST_DAY - dt.timedelta(days=DAYS)
    seeder.run(40, before, 7, clinic.tz, prefix="+4477008")
    by_day: Dict[int, Ledger] = {}
    ledger = seeder.run(CONVERSATIONS, LAST_DAY, DAYS, clinic.tz, by_day=by_day)
    seeder.run(20, LAST_DAY + dt.timedelta(days=3), 2, clinic.tz, prefix="+4477007")
    delivery = functools.partial(whatsapp_delivery_statuses, engine=channel)
    store = DashboardStore(backend, tracker, delivery)
    period = Period.of_days(LAST_DAY - dt.timedelta(days=DAYS - 1), LAST_DAY, clinic.tz)
    return Seeded(store, ledger, period, tracker_url, backend, channel_url, by_day)


@pytest.fixture(params=["sqlite", "postgres"])
def seeded(request: Any, tmp_path: Any, clinic: Any) -> Iterator[Seeded]:
    yield seed(request.param, tmp_path, clinic)
