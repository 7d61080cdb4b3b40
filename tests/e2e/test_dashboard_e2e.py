"""The dashboard reads what the real stack writes: a booking, a message the bot did not understand and a request for a
person go through Rasa, the action server and the backend (REST channel), and the dashboard's figures for today count
exactly those patients where docs/dashboard.md says they belong. This is what ties the figures' definitions (event
types, intent, action and slot names, the booking result's shape) to the bot as it runs; the demo seed and the figure
tests rely on the same definitions."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Dict, Iterator

import pytest

from carebot.backend.db import make_engine
from carebot.clinic import Clinic
from carebot.clock import clinic_now
from carebot.dashboard.demo import Ledger
from carebot.dashboard.live import Backdate, drive, scripts, within
from carebot.dashboard.model import Period
from carebot.dashboard.store import DashboardStore
from carebot.privacy import sealing
from tests.e2e.conftest import book_a_gp_appointment


@contextlib.contextmanager
def _store(stack, monkeypatch) -> Iterator[DashboardStore]:
    """The dashboard over the stack's databases, decrypting with the stack's tracker key; its connections closed
    after (the stack's processes keep writing those SQLite files)."""
    var = Path(stack.env["CAREBOT_VAR_DIR"])
    monkeypatch.setenv("CAREBOT_VAR_DIR", str(var))
    sealing.cipher.cache_clear()
    backend, tracker = (
        make_engine(stack.env["CAREBOT_DATABASE_URL"]),
        make_engine(f"sqlite:///{var / 'tracker.db'}"),
    )
    try:
        yield DashboardStore(backend, tracker)
    finally:
        backend.dispose()
        tracker.dispose()
        sealing.cipher.cache_clear()


@pytest.mark.slow
def test_the_dashboard_counts_what_the_real_bot_did(stack, clinic: Clinic, monkeypatch):
    booker, lost, human = (f"whatsapp:+4477008{n:05d}" for n in (11_101, 11_102, 11_103))
    book_a_gp_appointment(stack, booker, "Sam Taylor")
    stack.say(lost, "zorblax quingle fromp")
    stack.say(human, "can I talk to a person please")

    today = clinic_now(clinic.tz).date()
    period = Period.of_days(today, today, clinic.tz)
    with _store(stack, monkeypatch) as store:
        report = store.report(period)
        members = {key: set(store.members(period, key) or ()) for key in report.figures()}
    for step in range(5):  # started, times offered, time picked, identified, booked
        assert booker in members[f"funnel:booking:{step}"], step
    assert booker.split(":", 1)[1] in members["appointments:booked"]
    assert {booker, lost, human} <= members["patients"]
    assert lost in members["not_understood"] and booker not in members["not_understood"]
    assert human in members["paused"] and human in members["handoff:asked_for_human"]
    assert {booker, lost} <= members["contained"] and human not in members["contained"]
    assert report.median_response_seconds is not None and report.median_response_seconds > 0
    assert any(lost in group.senders for group in report.not_understood)


@pytest.mark.slow
def test_the_live_seed_counts_what_the_dashboard_shows(stack, clinic: Clinic, monkeypatch):
    """The seed `make seed-demo` runs, on a few conversations spread over ten days: its own count of each figure,
    for its patients, is the dashboard's, for the whole spread and for its last 7 days, which leave out the two
    oldest (a complete booking and one left after the times). The stack is shared with other tests, so only the
    seed's patients are compared."""
    plan = scripts(
        8, days=10
    )  # two of each kind: a booking, one left after the times, not understood, a person
    senders = [f"whatsapp:+4477008{n:05d}" for n in range(11_301, 11_309)]
    phones = {sender.split(":", 1)[1] for sender in senders}
    today = clinic_now(clinic.tz).date()
    by_day: Dict[int, Ledger] = {}
    with _store(stack, monkeypatch) as store:
        assert store.tracker is not None
        backdate = Backdate(store.tracker, store.backend, clinic.tz, today)
        ledger = drive(
            lambda sender, text: [m.get("text", "") for m in stack.say(sender, text)],
            senders,
            plan,
            moved=backdate,
            by_day=by_day,
        )
        assert sorted(by_day) == [0, 1, 2, 3, 5, 6, 7, 8] and ledger.messages == 20
        for days, booked in ((30, 2), (7, 1)):
            period = Period.of_days(today - dt.timedelta(days=days - 1), today, clinic.tz)
            counted = within(by_day, days)
            keys = list(store.report(period).figures())
            members = {key: set(store.members(period, key) or ()) & (set(senders) | phones) for key in keys}
            checked = 0
            for key in keys:
                if key.startswith(("funnel:", "handoff:", "appointments:booked")) or key in (
                    "patients",
                    "contained",
                    "paused",
                    "not_understood",
                ):
                    assert members[key] == counted.identities(key), (days, key)
                    checked += 1
            assert checked >= 20 and counted.expected()["funnel:booking:4"] == booked, days
            assert len(members["patients"]) == (8 if days == 30 else 6)
        # Each conversation lands whole on its own day: the oldest day holds only the first one.
        oldest = store.members(
            Period.of_days(today - dt.timedelta(days=8), today - dt.timedelta(days=8), clinic.tz), "patients"
        )
        assert oldest == [senders[0]]
