"""Database fixtures for the reminder tests: a fresh SQLite file per test, and PostgreSQL when TEST_POSTGRES_URL is set."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Iterator, List

import pytest
from sqlalchemy.engine import Engine

from carebot.backend.db import make_engine
from carebot.reminders.store import TABLES, ReminderStore, create_tables, metadata

UTC = dt.timezone.utc
LONDON = "Europe/London"
PATIENT = "+447700900001"


def fresh_engine(url: str) -> Engine:
    engine = make_engine(url)
    metadata.drop_all(engine, tables=list(reversed(TABLES)))
    create_tables(engine)
    return engine


def postgres_url() -> str:
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TEST_POSTGRES_URL not set")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'carebot.db'}" if request.param == "sqlite" else postgres_url()
    engine = fresh_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine: Engine) -> ReminderStore:
    return ReminderStore(engine)


class RecordingDeliverer:
    """Stands in for Rasa + the reminder action: acknowledges the key in the sent-log, speaks only if first."""

    def __init__(self, store: ReminderStore) -> None:
        self.store = store
        self.triggers: List[str] = []  # every trigger received (may repeat after a crash)
        self.spoken: List[str] = []  # what the patient actually received

    async def deliver(self, occurrence) -> None:  # noqa: ANN001 - an Occurrence
        self.triggers.append(occurrence.idempotency_key)
        if self.store.acknowledge_delivery(occurrence.idempotency_key, occurrence.conversation_id):
            self.spoken.append(occurrence.idempotency_key)


class Clock:
    """A settable clock for the dispatcher: tests move time instead of sleeping."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now
