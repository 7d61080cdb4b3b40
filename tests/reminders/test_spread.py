"""Reminders due at one moment are spread over +-spread: each goes out at its due time plus its reminder's fixed
offset, never before, and a burst due on the hour leaves evenly over the window (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from carebot.clinic import load_clinic
from carebot.reminders.dispatcher import DispatcherSettings
from carebot.reminders.model import SPREAD_STEP, spread_offset
from carebot.reminders.store import ReminderStore

from .conftest import UTC

DUE = dt.datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
SPREAD = dt.timedelta(minutes=5)
LEASE = dt.timedelta(minutes=30)


def test_a_burst_due_on_the_hour_leaves_evenly_over_the_window_each_reminder_at_its_offset(engine) -> None:
    store = ReminderStore(engine)
    created = dt.datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    for patient in range(210):
        store.create(
            f"+4477009{patient:05d}",
            "metformin",
            "RRULE:FREQ=DAILY;COUNT=1",
            DUE,
            "Europe/London",
            now=created,
        )
    claimed_at = {}
    moment = DUE - SPREAD - SPREAD_STEP
    while moment <= DUE + SPREAD:
        for occurrence in store.claim("w", moment, 1000, LEASE, SPREAD):
            claimed_at[occurrence.reminder_id] = moment
        moment += SPREAD_STEP
    assert len(claimed_at) == 210  # every one went, none was held past the window
    assert all(at == DUE + spread_offset(reminder, SPREAD) for reminder, at in claimed_at.items())
    per_step = Counter(claimed_at.values())
    assert len(per_step) == 21 and max(per_step.values()) == 10  # 210 over 21 half-minutes, none bunched
    assert min(claimed_at.values()) == DUE - SPREAD and max(claimed_at.values()) == DUE + SPREAD


def test_without_a_spread_reminders_go_exactly_when_due(engine) -> None:
    store = ReminderStore(engine)
    store.create(
        "+447700900001", "metformin", "RRULE:FREQ=DAILY;COUNT=1", DUE, "Europe/London", now=DUE - LEASE
    )
    assert store.claim("w", DUE - dt.timedelta(seconds=1), 10, LEASE) == []
    assert len(store.claim("w", DUE, 10, LEASE)) == 1


def test_the_clinic_file_sets_the_dispatchers_spread() -> None:
    assert DispatcherSettings.from_clinic(load_clinic()).spread == dt.timedelta(minutes=5)
    assert spread_offset(7, dt.timedelta(0)) == dt.timedelta(0)


def test_a_reminder_set_just_now_and_a_snoozed_dose_are_not_moved(engine) -> None:
    store = ReminderStore(engine)
    soon = store.create(
        "+447700900002", "ibuprofen", "RRULE:FREQ=DAILY;COUNT=1", DUE, "Europe/London", now=DUE - SPREAD / 2
    )
    assert store.claim("w", DUE - dt.timedelta(seconds=1), 10, LEASE, SPREAD) == []  # never early
    [occurrence] = store.claim("w", DUE, 10, LEASE, SPREAD)  # and never late
    assert occurrence.reminder_id == soon.id
