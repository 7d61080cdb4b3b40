"""Every dashboard figure against the demo seed's own ledger (what the seed did, counted as it did it), on SQLite and
PostgreSQL, with conversations just before and after the period that no figure may count."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from carebot.backend.db import make_engine
from carebot.dashboard.demo import NOT_UNDERSTOOD
from carebot.dashboard.live import within
from carebot.dashboard.model import FUNNELS, Count, Funnel, Period, PeriodError, funnel_report, group_similar
from tests.dashboard.conftest import LAST_DAY

LONDON = ZoneInfo("Europe/London")


def test_every_figure_matches_the_seed(seeded):
    report = seeded.store.report(seeded.period)
    shown = report.figures()
    expected = seeded.ledger.expected()
    groups = shown.keys() - expected.keys()
    assert all(key.startswith("not_understood:") or shown[key] == 0 for key in groups), groups
    assert {key: shown[key] for key in expected} == expected
    assert report.median_response_seconds == seeded.ledger.median_response
    # Not understood: one group per request however it was worded, most frequent first.
    assert [(g.count, g.senders) for g in report.not_understood] == sorted(
        (
            (seeded.ledger.group_counts[name], frozenset(seeded.ledger.groups[name]))
            for name in seeded.ledger.groups
        ),
        key=lambda pair: -pair[0],
    )
    wordings = {
        group: {w.lower().strip("?") for w, g in NOT_UNDERSTOOD if g == group} for _, group in NOT_UNDERSTOOD
    }
    for group in report.not_understood:
        assert any(group.example.lower().strip("?") in found for found in wordings.values())


def test_every_figure_of_the_last_week_matches_the_seed_of_those_days(seeded):
    """The seed spreads its conversations over the 30 days: a 7-day period shows exactly what it did in them."""
    week = Period.of_days(LAST_DAY - dt.timedelta(days=6), LAST_DAY, LONDON)
    counted = within(seeded.by_day, 7)
    assert 0 < counted.conversations < seeded.ledger.conversations
    report = seeded.store.report(week)
    shown = report.figures()
    expected = counted.expected()
    assert {key: shown.get(key, 0) for key in expected} == expected
    assert all(key.startswith("not_understood:") or shown[key] == 0 for key in shown.keys() - expected.keys())
    assert report.median_response_seconds == counted.median_response
    assert sorted(g.count for g in report.not_understood) == sorted(counted.group_counts.values())
    for key in ("patients", "paused", "funnel:booking:4", "appointments:booked", "reminders:read"):
        assert set(seeded.store.members(week, key) or ()) == counted.identities(key), key


def test_each_number_lists_the_patients_behind_it(seeded):
    for key in seeded.ledger.expected():
        assert set(seeded.store.members(seeded.period, key)) == seeded.ledger.identities(key), key
    assert seeded.store.members(seeded.period, "no such figure") is None


def test_questions_stored_before_the_slot_asked_for_was_kept_in_clear_still_count(seeded):
    """`requested_slot` events written before the tracker store kept the slot's name in clear (intent_name NULL)
    are read from their sealed value: the same figures."""
    tracker = make_engine(seeded.tracker_url)
    with tracker.begin() as connection:
        connection.execute(
            text(
                "UPDATE events SET intent_name = NULL WHERE type_name = 'slot' AND action_name = 'requested_slot'"
            )
        )
    tracker.dispose()
    shown = seeded.store.report(seeded.period).figures()
    assert {key: shown[key] for key in seeded.ledger.expected()} == seeded.ledger.expected()


def test_a_period_with_nothing_in_it_is_all_zeros(seeded):
    empty = Period.of_days(dt.date(2025, 1, 1), dt.date(2025, 1, 31), LONDON)
    report = seeded.store.report(empty)
    assert set(report.figures().values()) == {0}
    assert report.not_understood == [] and report.median_response_seconds is None


def test_the_funnel_names_the_step_where_most_patients_leave():
    booking = next(f for f in FUNNELS if f.key == "booking")
    reached = {
        "booking_started": frozenset("abcdef"),
        "time_offered": frozenset("abcde"),
        "picked": frozenset("ab"),
        "confirm_asked": frozenset("ab"),
        "booked": frozenset("a"),
    }
    report = funnel_report(booking, reached)
    assert [c.value for c in report.steps] == [6, 5, 2, 2, 1]
    assert report.left_most == "times offered"
    # A step counts only patients who reached every earlier one.
    odd = Funnel("x", "x", (("one", "one"), ("two", "two")))
    assert [c.value for c in funnel_report(odd, {"one": frozenset("a"), "two": frozenset("ab")}).steps] == [
        1,
        1,
    ]
    assert funnel_report(odd, {}).left_most is None


def test_similar_wordings_group_and_digits_are_hidden():
    groups = group_similar(
        [
            ("p1", "Can you fix my bike?"),
            ("p2", "can u fix my bike please"),
            ("p3", "call me on 07700 900123"),
        ]
    )
    assert [(g.count, sorted(g.senders)) for g in groups] == [(2, ["p1", "p2"]), (1, ["p3"])]
    assert groups[1].example == "call me on …"


@pytest.mark.parametrize(
    "first, last, message",
    [
        ("2026-03-31", "2026-03-01", "ends before it starts"),
        ("31/03/2026", None, "'from' must be a date"),
        ("2024-01-01", "2026-01-01", "at most 366 days"),
    ],
)
def test_a_period_that_cannot_be_shown_says_why(first, last, message):
    with pytest.raises(PeriodError, match=message):
        Period.parse(first, last, dt.date(2026, 4, 1), LONDON)


def test_the_period_is_whole_clinic_days():
    period = Period.parse(None, None, dt.date(2026, 3, 31), LONDON)
    assert (period.first, period.last) == (dt.date(2026, 3, 2), dt.date(2026, 3, 31))
    # London changed to summer time on 29 March 2026: the last day ends at 23:00 UTC.
    assert period.end == dt.datetime(2026, 3, 31, 23, 0, tzinfo=dt.timezone.utc)
    assert Count("x", 1, "k", 4).percent == 25.0
