"""Recurrence expansion in the clinic timezone: wall-clock rules keep their local time across DST, interval rules
keep their real spacing, and end dates / counts end the series."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from carebot.reminders.recurrence import (
    ReminderSpec,
    Schedule,
    describe,
    iter_occurrences,
    next_occurrences,
    spec_from_schedule,
)

LONDON = ZoneInfo("Europe/London")
UTC = dt.timezone.utc


def spec(freq: str, start: dt.datetime, **parts) -> ReminderSpec:
    return spec_from_schedule("metformin", None, Schedule(freq=freq, dtstart=start, **parts), "Europe/London")


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LONDON)


def test_daily_at_one_time():
    daily = spec("DAILY", dt.datetime(2026, 11, 2, 8, 0), times=((8, 0),))
    got = next_occurrences(daily, local(2026, 11, 2, 7, 0), 3)
    assert got == [local(2026, 11, 2, 8), local(2026, 11, 3, 8), local(2026, 11, 4, 8)]


def test_twice_daily_with_different_minutes_adds_no_stray_times():
    twice = spec("DAILY", dt.datetime(2026, 11, 2, 8, 30), times=((8, 30), (20, 0)))
    got = next_occurrences(twice, local(2026, 11, 2, 0, 0), 4)
    assert [(m.hour, m.minute) for m in got] == [(8, 30), (20, 0), (8, 30), (20, 0)]
    assert len(twice.rrule.splitlines()) == 2  # one RRULE per distinct minute


def test_every_n_hours():
    every8 = spec("HOURLY", dt.datetime(2026, 11, 2, 6, 0), interval=8)
    got = next_occurrences(every8, local(2026, 11, 2, 5, 0), 4)
    assert got == [
        local(2026, 11, 2, 6),
        local(2026, 11, 2, 14),
        local(2026, 11, 2, 22),
        local(2026, 11, 3, 6),
    ]


def test_weekdays_skip_the_weekend():
    weekdays = spec(
        "WEEKLY", dt.datetime(2026, 11, 27, 9, 0), byday=("MO", "TU", "WE", "TH", "FR"), times=((9, 0),)
    )
    got = next_occurrences(weekdays, local(2026, 11, 27, 0, 0), 3)  # a Friday
    assert [m.strftime("%a %H:%M") for m in got] == ["Fri 09:00", "Mon 09:00", "Tue 09:00"]
    assert describe(weekdays.schedule) == "on weekdays at 09:00"


def test_until_ends_the_series_inclusively():
    week = spec(
        "DAILY",
        dt.datetime(2026, 11, 28, 21, 0),
        times=((21, 0),),
        until=dt.datetime(2026, 12, 4, 23, 59, 59),
    )
    got = next_occurrences(week, local(2026, 11, 28, 0, 0), 10)
    assert len(got) == 7
    assert got[-1] == local(2026, 12, 4, 21)


def test_count_ends_the_series():
    ten = spec("DAILY", dt.datetime(2026, 11, 28, 8, 0), times=((8, 0),), count=10)
    assert len(next_occurrences(ten, local(2026, 11, 1), 50)) == 10
    assert next_occurrences(ten, local(2026, 12, 7, 8, 0), 5) == []


def test_one_off_occurs_once():
    once = spec("DAILY", dt.datetime(2026, 11, 28, 7, 30), count=1)
    assert once.one_off
    assert next_occurrences(once, local(2026, 11, 28, 7, 0), 5) == [local(2026, 11, 28, 7, 30)]
    assert describe(once.schedule) == "once, on Sat 28 Nov at 07:30"


@pytest.mark.parametrize(
    "start,after,expected_utc_hours",
    [
        # Spring forward (Sun 29 Mar 2026): 08:00 GMT is 08:00Z, 08:00 BST is 07:00Z.
        (dt.datetime(2026, 3, 27, 8, 0), local(2026, 3, 27, 0, 0), [8, 8, 7, 7]),
        # Fall back (Sun 25 Oct 2026): 08:00 BST is 07:00Z, 08:00 GMT is 08:00Z.
        (dt.datetime(2026, 10, 23, 8, 0), local(2026, 10, 23, 0, 0), [7, 7, 8, 8]),
    ],
)
def test_daily_wall_clock_survives_dst_changes(start, after, expected_utc_hours):
    daily = spec("DAILY", start, times=((8, 0),))
    got = next_occurrences(daily, after, 4)
    assert [m.astimezone(LONDON).hour for m in got] == [8, 8, 8, 8]
    assert [m.astimezone(UTC).hour for m in got] == expected_utc_hours


def test_time_inside_the_spring_gap_is_sent_once_an_hour_later():
    nightly = spec("DAILY", dt.datetime(2026, 3, 28, 1, 30), times=((1, 30),))
    got = next_occurrences(nightly, local(2026, 3, 28, 0, 0), 3)
    assert [m.astimezone(UTC) for m in got] == [
        dt.datetime(2026, 3, 28, 1, 30, tzinfo=UTC),  # 01:30 GMT
        dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC),  # 01:30 does not exist: 02:30 BST
        dt.datetime(2026, 3, 30, 0, 30, tzinfo=UTC),  # 01:30 BST
    ]


def test_repeated_hour_in_autumn_is_sent_once():
    nightly = spec("DAILY", dt.datetime(2026, 10, 24, 1, 30), times=((1, 30),))
    got = next_occurrences(nightly, local(2026, 10, 24, 0, 0), 3)
    on_change_day = [m for m in got if m.astimezone(LONDON).date() == dt.date(2026, 10, 25)]
    assert len(on_change_day) == 1
    assert on_change_day[0].astimezone(UTC) == dt.datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )  # the first 01:30 (BST)


@pytest.mark.parametrize("start", [dt.datetime(2026, 3, 28, 20, 0), dt.datetime(2026, 10, 24, 20, 0)])
def test_every_n_hours_keeps_real_spacing_across_dst(start):
    every8 = spec("HOURLY", start, interval=8)
    got = next_occurrences(every8, local(*start.timetuple()[:5]) - dt.timedelta(minutes=1), 6)
    gaps = {b.astimezone(UTC) - a.astimezone(UTC) for a, b in zip(got, got[1:])}
    assert gaps == {dt.timedelta(hours=8)}


def test_schedule_round_trips_through_rrule():
    schedule = Schedule(
        freq="WEEKLY",
        dtstart=dt.datetime(2026, 11, 30, 8, 30),
        byday=("MO", "TH"),
        times=((8, 30), (20, 0)),
        until=dt.datetime(2026, 12, 31, 23, 59, 59),
    )
    assert Schedule.from_rrule(schedule.to_rrule(), schedule.dtstart) == schedule


def test_iter_occurrences_accepts_bare_rule_lines():
    got = list(
        iter_occurrences(
            "FREQ=DAILY;COUNT=2;BYHOUR=9;BYMINUTE=0",
            local(2026, 11, 2, 9),
            "Europe/London",
            local(2026, 11, 1),
        )
    )
    assert got == [local(2026, 11, 2, 9), local(2026, 11, 3, 9)]
