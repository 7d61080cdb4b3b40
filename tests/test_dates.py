"""Booking phrasings → search windows, against the real clinic.yml.

Opening hours used for the expectations: Mon–Wed 08:00–12:30 + 13:30–18:30, Thu until 20:00, Fri until 17:00,
Sat 09:00–12:00, Sunday closed; closures 25/26 December and 1 January; horizon 8 weeks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from carebot.clinic import ClinicConfigError, default_date_order, load_clinic
from carebot.dates import DateProblem, TimeWindow, interpret_when, parse_when

LONDON = ZoneInfo("Europe/London")
CLINIC = load_clinic()
NOW = dt.datetime(2026, 11, 25, 10, 15, tzinfo=LONDON)  # a Wednesday morning
YEAR_END = dt.datetime(2026, 12, 23, 10, 15, tzinfo=LONDON)  # Wednesday before Christmas
BEFORE_SPRING_FORWARD = dt.datetime(2027, 3, 24, 10, 15, tzinfo=LONDON)  # clocks go forward Sunday 28 March
BEFORE_FALL_BACK = dt.datetime(2026, 10, 21, 10, 15, tzinfo=LONDON)  # clocks go back Sunday 25 October


def at(text: str) -> dt.datetime:
    """'2026-11-26 15:00' as London wall-clock time."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=LONDON)


WINDOWS = [
    # relative days
    ("today", "2026-11-25 10:15", "2026-11-25 18:30"),
    ("tomorrow", "2026-11-26 08:00", "2026-11-26 20:00"),
    ("tmrw", "2026-11-26 08:00", "2026-11-26 20:00"),
    ("the day after tomorrow", "2026-11-27 08:00", "2026-11-27 17:00"),
    ("tomorrow after 3", "2026-11-26 15:00", "2026-11-26 20:00"),
    ("tomorrow morning", "2026-11-26 08:00", "2026-11-26 12:00"),
    ("tomorrow afternoon", "2026-11-26 12:00", "2026-11-26 17:00"),
    ("tomorrow evening", "2026-11-26 17:00", "2026-11-26 20:00"),
    ("first thing tomorrow", "2026-11-26 08:00", "2026-11-26 10:00"),
    ("tonight", "2026-11-25 17:00", "2026-11-25 18:30"),
    ("this afternoon", "2026-11-25 12:00", "2026-11-25 17:00"),
    ("this morning", "2026-11-25 10:15", "2026-11-25 12:00"),
    ("in 10 days", "2026-12-05 09:00", "2026-12-05 12:00"),
    # weekdays: the coming one; "next X" is X of next week
    ("Monday", "2026-11-30 08:00", "2026-11-30 18:30"),
    ("on friday", "2026-11-27 08:00", "2026-11-27 17:00"),
    ("saturday", "2026-11-28 09:00", "2026-11-28 12:00"),
    ("this saturday morning", "2026-11-28 09:00", "2026-11-28 12:00"),
    ("wednesday", "2026-11-25 10:15", "2026-11-25 18:30"),
    ("next Tuesday morning", "2026-12-01 08:00", "2026-12-01 12:00"),
    ("next wednesday", "2026-12-02 08:00", "2026-12-02 18:30"),
    ("thursday at 7", "2026-11-26 19:00", "2026-11-26 19:15"),
    ("friday at 9.30", "2026-11-27 09:30", "2026-11-27 09:45"),
    ("late afternoon on friday", "2026-11-27 15:00", "2026-11-27 17:00"),
    ("monday at noon", "2026-11-30 12:00", "2026-11-30 12:15"),
    ("Tues at midday", "2026-12-01 12:00", "2026-12-01 12:15"),
    ("quarter to 4 on friday", "2026-11-27 15:45", "2026-11-27 16:00"),
    # days of the month and written dates (day-first, as the clinic is in London)
    ("the 14th", "2026-12-14 08:00", "2026-12-14 18:30"),
    ("on the 1st", "2026-12-01 08:00", "2026-12-01 18:30"),
    ("the 25th", "2026-11-25 10:15", "2026-11-25 18:30"),
    ("the 3rd", "2026-12-03 08:00", "2026-12-03 20:00"),
    ("3rd of December", "2026-12-03 08:00", "2026-12-03 20:00"),
    ("the third of december", "2026-12-03 08:00", "2026-12-03 20:00"),
    ("Dec 3", "2026-12-03 08:00", "2026-12-03 20:00"),
    ("December 3rd", "2026-12-03 08:00", "2026-12-03 20:00"),
    ("03/12", "2026-12-03 08:00", "2026-12-03 20:00"),
    ("3/12/2026", "2026-12-03 08:00", "2026-12-03 20:00"),
    ("3.12.26", "2026-12-03 08:00", "2026-12-03 20:00"),
    ("2026-12-03", "2026-12-03 08:00", "2026-12-03 20:00"),
    ("thursday 3rd december at 10", "2026-12-03 10:00", "2026-12-03 10:15"),
    ("3 dec at half past two", "2026-12-03 14:30", "2026-12-03 14:45"),
    ("the 4th at 10.30", "2026-12-04 10:30", "2026-12-04 10:45"),
    ("Dec 4th, 2026", "2026-12-04 08:00", "2026-12-04 17:00"),
    ("4 December 2026", "2026-12-04 08:00", "2026-12-04 17:00"),
    ("1st December in the afternoon", "2026-12-01 12:00", "2026-12-01 17:00"),
    ("3.12.2026 10:00", "2026-12-03 10:00", "2026-12-03 10:15"),
    ("January 2nd", "2027-01-02 09:00", "2027-01-02 12:00"),
    # bare times: today when still possible, else the next day they are
    ("at 4pm", "2026-11-25 16:00", "2026-11-25 16:15"),
    ("4 pm", "2026-11-25 16:00", "2026-11-25 16:15"),
    ("16:00", "2026-11-25 16:00", "2026-11-25 16:15"),
    ("half past two", "2026-11-25 14:30", "2026-11-25 14:45"),
    ("half two", "2026-11-25 14:30", "2026-11-25 14:45"),
    ("quarter past 3", "2026-11-25 15:15", "2026-11-25 15:30"),
    ("10.30", "2026-11-25 10:30", "2026-11-25 10:45"),
    ("ten thirty", "2026-11-25 10:30", "2026-11-25 10:45"),
    ("noon", "2026-11-25 12:00", "2026-11-25 12:15"),
    ("3 o'clock", "2026-11-25 15:00", "2026-11-25 15:15"),
    ("around 11", "2026-11-25 10:30", "2026-11-25 11:30"),
    ("11ish", "2026-11-25 10:30", "2026-11-25 11:30"),
    ("around 10:30", "2026-11-25 10:15", "2026-11-25 11:00"),
    ("before 11", "2026-11-25 10:15", "2026-11-25 11:00"),
    ("after 3", "2026-11-25 15:00", "2026-11-25 18:30"),
    ("after 6 tonight", "2026-11-25 18:00", "2026-11-25 18:30"),
    ("between 2 and 4", "2026-11-25 14:00", "2026-11-25 16:00"),
    ("2-4pm", "2026-11-25 14:00", "2026-11-25 16:00"),
    ("from 1 to 3", "2026-11-25 13:30", "2026-11-25 15:00"),
    ("9am", "2026-11-26 09:00", "2026-11-26 09:15"),
    ("at 8", "2026-11-26 08:00", "2026-11-26 08:15"),
    ("at 7", "2026-11-26 19:00", "2026-11-26 19:15"),
    ("lunchtime", "2026-11-25 12:00", "2026-11-25 14:00"),
    ("evening", "2026-11-25 17:00", "2026-11-25 18:30"),
    # several days
    ("any evening next week", "2026-11-30 17:00", "2026-12-03 20:00"),
    ("next week", "2026-11-30 08:00", "2026-12-05 12:00"),
    ("in a week", "2026-11-30 08:00", "2026-12-05 12:00"),
    ("this week", "2026-11-25 10:15", "2026-11-28 12:00"),
    ("weekend", "2026-11-28 09:00", "2026-11-28 12:00"),
    ("next weekend", "2026-12-05 09:00", "2026-12-05 12:00"),
    ("as soon as possible", "2026-11-25 10:15", "2027-01-20 18:30"),
    ("asap", "2026-11-25 10:15", "2027-01-20 18:30"),
    ("the earliest you have", "2026-11-25 10:15", "2027-01-20 18:30"),
    ("first available", "2026-11-25 10:15", "2027-01-20 18:30"),
    ("whenever", "2026-11-25 10:15", "2027-01-20 18:30"),
    ("asap after 5", "2026-11-25 17:00", "2027-01-20 18:30"),
    ("in 2 weeks", "2026-12-07 08:00", "2026-12-12 12:00"),
    ("in a fortnight", "2026-12-07 08:00", "2026-12-12 12:00"),
    ("2 weeks from now", "2026-12-07 08:00", "2026-12-12 12:00"),
    ("the week after next", "2026-12-07 08:00", "2026-12-12 12:00"),
    ("week commencing 7th december", "2026-12-07 08:00", "2026-12-12 12:00"),
    ("end of the month", "2026-11-25 10:15", "2026-11-30 18:30"),
    ("later this month", "2026-11-26 08:00", "2026-11-30 18:30"),
    ("next month", "2026-12-01 08:00", "2026-12-31 20:00"),
    ("mid december", "2026-12-11 08:00", "2026-12-19 12:00"),
    ("in january", "2027-01-02 09:00", "2027-01-20 18:30"),
    ("Monday or Tuesday", "2026-11-30 08:00", "2026-12-01 18:30"),
    ("mon, wed or fri", "2026-11-25 10:15", "2026-11-30 18:30"),
    ("tuesday or thursday afternoon", "2026-11-26 12:00", "2026-12-01 17:00"),
    ("tomorrow or friday", "2026-11-26 08:00", "2026-11-27 17:00"),
    ("early next week", "2026-11-30 08:00", "2026-12-02 18:30"),
    ("end of next week", "2026-12-03 08:00", "2026-12-05 12:00"),
    ("later this week", "2026-11-26 08:00", "2026-11-28 12:00"),
    ("mornings next week", "2026-11-30 08:00", "2026-12-05 12:00"),
    ("any weekday next week after 5", "2026-11-30 17:00", "2026-12-03 20:00"),
    # inside a sentence
    ("Hi, can I see Dr Patel next Tuesday morning please?", "2026-12-01 08:00", "2026-12-01 12:00"),
    ("I'd like a blood test tomorrow after 3 if possible", "2026-11-26 15:00", "2026-11-26 20:00"),
    ("do you have anything on the 14th?", "2026-12-14 08:00", "2026-12-14 18:30"),
    ("Can I come in at 10:30 on Friday", "2026-11-27 10:30", "2026-11-27 10:45"),
    ("TOMORROW AFTER 3!!", "2026-11-26 15:00", "2026-11-26 20:00"),
    ("can I book for 2 people tomorrow", "2026-11-26 08:00", "2026-11-26 20:00"),
    ("on the 14", "2026-12-14 08:00", "2026-12-14 18:30"),
    ("Tuesday the 8th", "2026-12-08 08:00", "2026-12-08 18:30"),
    ("11 am on 7/12", "2026-12-07 11:00", "2026-12-07 11:15"),
    ("next fri at 11am", "2026-12-04 11:00", "2026-12-04 11:15"),
    ("evening 7:30", "2026-11-26 19:30", "2026-11-26 19:45"),
    ("half past 4 in the afternoon", "2026-11-25 16:30", "2026-11-25 16:45"),
    ("in the next few days", "2026-11-25 10:15", "2026-11-28 12:00"),
    ("Thurs 3 Dec", "2026-12-03 08:00", "2026-12-03 20:00"),
    ("the 7th of next month", "2026-12-07 08:00", "2026-12-07 18:30"),
    ("7 in the evening", "2026-11-26 19:00", "2026-11-26 19:15"),
    ("not before 10 tomorrow", "2026-11-26 10:00", "2026-11-26 20:00"),
]


@pytest.mark.parametrize("text,start,end", WINDOWS)
def test_window(text: str, start: str, end: str) -> None:
    window = parse_when(text, CLINIC, NOW)
    assert window is not None, text
    assert (window.start, window.end) == (at(start), at(end))
    assert window.start.tzinfo is not None and window.start.utcoffset() == at(start).utcoffset()
    assert all(CLINIC.is_open_at(s) and s >= NOW and s < e for s, e in window.spans)


def test_at_least_80_phrasings() -> None:
    assert len({text for text, _, _ in WINDOWS}) >= 80


def test_any_evening_next_week_keeps_only_evenings_the_clinic_is_open() -> None:
    window = parse_when("any evening next week", CLINIC, NOW)
    assert window.spans == (
        (at("2026-11-30 17:00"), at("2026-11-30 18:30")),
        (at("2026-12-01 17:00"), at("2026-12-01 18:30")),
        (at("2026-12-02 17:00"), at("2026-12-02 18:30")),
        (at("2026-12-03 17:00"), at("2026-12-03 20:00")),
    )
    assert window.contains(at("2026-12-01 17:15"))
    assert not window.contains(at("2026-12-01 10:00"))  # inside start..end, but a morning


def test_lunch_break_is_not_offered() -> None:
    window = parse_when("tomorrow", CLINIC, NOW)
    assert window.spans == (
        (at("2026-11-26 08:00"), at("2026-11-26 12:30")),
        (at("2026-11-26 13:30"), at("2026-11-26 20:00")),
    )
    assert not window.contains(at("2026-11-26 12:45"))


def test_weekday_list_covers_exactly_those_days() -> None:
    assert parse_when("mon, wed or fri", CLINIC, NOW).days == (
        dt.date(2026, 11, 25),
        dt.date(2026, 11, 27),
        dt.date(2026, 11, 30),
    )


@pytest.mark.parametrize(
    "text,days",
    [
        (
            "any day next week except friday",
            {
                dt.date(2026, 11, 30),
                dt.date(2026, 12, 1),
                dt.date(2026, 12, 2),
                dt.date(2026, 12, 3),
                dt.date(2026, 12, 5),
            },
        ),
        (
            "anything but saturday next week",
            {
                dt.date(2026, 11, 30),
                dt.date(2026, 12, 1),
                dt.date(2026, 12, 2),
                dt.date(2026, 12, 3),
                dt.date(2026, 12, 4),
            },
        ),
    ],
)
def test_ruled_out_weekdays_are_left_out(text: str, days: set) -> None:
    assert set(parse_when(text, CLINIC, NOW).days) == days


def test_not_monday_means_any_day_but_monday() -> None:
    window = parse_when("not monday or tuesday", CLINIC, NOW)
    assert window.start == NOW and window.label == "any day except Monday or Tuesday"
    assert not {d.weekday() for d in window.days} & {0, 1}


def test_specific_time_is_exact_with_a_target() -> None:
    window = parse_when("tomorrow at 4pm", CLINIC, NOW)
    assert window.exact and window.target == at("2026-11-26 16:00")
    assert window.label == "Thursday 26 November at 16:00"
    around = parse_when("around 10:30 on friday", CLINIC, NOW)
    assert not around.exact and around.target == at("2026-11-27 10:30")
    assert not parse_when("next week", CLINIC, NOW).exact


@pytest.mark.parametrize(
    "text,label",
    [
        ("next Tuesday morning", "Tuesday 1 December, morning"),
        ("tomorrow after 3", "Thursday 26 November, after 15:00"),
        ("Monday", "Monday 30 November"),
        ("any evening next week", "next week, evening"),
        ("as soon as possible", "the first available time"),
        ("January 2nd", "Saturday 2 January 2027"),
        ("monday or tuesday next week", "Monday or Tuesday next week"),
    ],
)
def test_label_says_what_was_understood_in_plain_words(text: str, label: str) -> None:
    assert parse_when(text, CLINIC, NOW).label == label


@pytest.mark.parametrize(
    "text,problem,reason,day",
    [
        ("sunday", DateProblem.CLOSED, "closed on Sundays", dt.date(2026, 11, 29)),
        ("sunday at 10", DateProblem.CLOSED, "closed on Sundays", dt.date(2026, 11, 29)),
        ("25th december", DateProblem.CLOSED, "Christmas Day", dt.date(2026, 12, 25)),
        ("26/12", DateProblem.CLOSED, "Boxing Day", dt.date(2026, 12, 26)),
        ("1st January", DateProblem.CLOSED, "New Year's Day", dt.date(2027, 1, 1)),
        ("today at 9", DateProblem.PAST, "that time has already passed today", dt.date(2026, 11, 25)),
        ("this morning at 8", DateProblem.PAST, "that time has already passed today", dt.date(2026, 11, 25)),
        ("2025-01-01", DateProblem.PAST, "Wednesday 1 January 2025 has passed", dt.date(2025, 1, 1)),
        ("25/11/2025", DateProblem.PAST, "Tuesday 25 November 2025 has passed", dt.date(2025, 11, 25)),
        (
            "saturday afternoon",
            DateProblem.OUTSIDE_HOURS,
            "open 09:00–12:00 on Saturday 28 November",
            dt.date(2026, 11, 28),
        ),
        (
            "friday evening",
            DateProblem.OUTSIDE_HOURS,
            "open 08:00–12:30 and 13:30–17:00 on Friday 27 November",
            dt.date(2026, 11, 27),
        ),
        (
            "at 9pm",
            DateProblem.OUTSIDE_HOURS,
            "open 08:00–12:30 and 13:30–18:30 on Wednesday 25 November",
            dt.date(2026, 11, 25),
        ),
        (
            "March 3rd",
            DateProblem.TOO_FAR,
            "bookings open up to 8 weeks ahead (until Wednesday 20 January 2027)",
            dt.date(2027, 3, 3),
        ),
        ("the 20th of this month", DateProblem.PAST, "Friday 20 November has passed", dt.date(2026, 11, 20)),
        (
            "in 3 months",
            DateProblem.TOO_FAR,
            "bookings open up to 8 weeks ahead (until Wednesday 20 January 2027)",
            dt.date(2027, 2, 1),
        ),
    ],
)
def test_problem_is_reported_with_its_reason(
    text: str, problem: DateProblem, reason: str, day: dt.date
) -> None:
    result = interpret_when(text, CLINIC, NOW)
    assert (result.window, result.problem, result.reason, result.day) == (None, problem, reason, day)
    assert result.label  # the bot can still say what it understood
    assert parse_when(text, CLINIC, NOW) is None


def test_after_closing_today_is_past_but_a_bare_time_moves_to_tomorrow() -> None:
    evening = at("2026-11-25 19:00")
    assert interpret_when("today", CLINIC, evening).problem is DateProblem.PAST
    assert interpret_when("tonight", CLINIC, evening).problem is DateProblem.PAST
    assert (parse_when("at 6pm", CLINIC, evening).start) == at("2026-11-26 18:00")
    # a bare weekday naming today, once today is over, is next week's
    assert parse_when("wednesday", CLINIC, evening).start == at("2026-12-02 08:00")


def test_bare_time_skips_closed_days() -> None:
    saturday_afternoon = at("2026-11-28 13:00")
    assert parse_when("10am", CLINIC, saturday_afternoon).start == at("2026-11-30 10:00")


YEAR_END_WINDOWS = [
    ("the 2nd", "2027-01-02 09:00", "2027-01-02 12:00"),
    ("2 jan", "2027-01-02 09:00", "2027-01-02 12:00"),
    ("the 20th", "2027-01-20 08:00", "2027-01-20 18:30"),
    ("the 4th of next month", "2027-01-04 08:00", "2027-01-04 18:30"),
    ("tomorrow", "2026-12-24 08:00", "2026-12-24 20:00"),
    ("next week", "2026-12-28 08:00", "2027-01-02 12:00"),
    ("end of the month", "2026-12-23 10:15", "2026-12-31 20:00"),
    ("in 2 weeks", "2027-01-04 08:00", "2027-01-09 12:00"),
    ("next month", "2027-01-02 09:00", "2027-01-30 12:00"),
]


@pytest.mark.parametrize("text,start,end", YEAR_END_WINDOWS)
def test_year_end_rolls_into_next_year(text: str, start: str, end: str) -> None:
    window = parse_when(text, CLINIC, YEAR_END)
    assert (window.start, window.end) == (at(start), at(end))


def test_year_end_windows_skip_closures() -> None:
    closed = {dt.date(2026, 12, 25), dt.date(2026, 12, 26), dt.date(2026, 12, 27), dt.date(2027, 1, 1)}
    assert not closed & set(parse_when("end of the month", CLINIC, YEAR_END).days)
    assert dt.date(2027, 1, 1) not in parse_when("next week", CLINIC, YEAR_END).days


@pytest.mark.parametrize(
    "text,problem,reason",
    [
        ("friday", DateProblem.CLOSED, "Christmas Day"),
        ("1/1", DateProblem.CLOSED, "New Year's Day"),
        ("03/01", DateProblem.CLOSED, "closed on Sundays"),
    ],
)
def test_year_end_closures(text: str, problem: DateProblem, reason: str) -> None:
    result = interpret_when(text, CLINIC, YEAR_END)
    assert (result.problem, result.reason) == (problem, reason)


def test_spring_forward_uses_summer_time_after_the_change() -> None:
    before = parse_when("friday at 9", CLINIC, BEFORE_SPRING_FORWARD)
    after = parse_when("monday at 9", CLINIC, BEFORE_SPRING_FORWARD)
    assert before.start == at("2027-03-26 09:00") and before.start.utcoffset() == dt.timedelta(0)
    assert after.start == at("2027-03-29 09:00") and after.start.utcoffset() == dt.timedelta(hours=1)
    assert after.start.astimezone(dt.timezone.utc).hour == 8
    assert after.end - after.start == dt.timedelta(minutes=15)
    week = parse_when("next week", CLINIC, BEFORE_SPRING_FORWARD)
    assert week.start.astimezone(dt.timezone.utc) == dt.datetime(2027, 3, 29, 7, 0, tzinfo=dt.timezone.utc)


def test_fall_back_uses_winter_time_after_the_change() -> None:
    saturday = parse_when("this weekend", CLINIC, BEFORE_FALL_BACK)
    assert saturday.spans == ((at("2026-10-24 09:00"), at("2026-10-24 12:00")),)  # Sunday the 25th is closed
    assert saturday.start.utcoffset() == dt.timedelta(hours=1)
    monday = parse_when("monday morning", CLINIC, BEFORE_FALL_BACK)
    assert (monday.start, monday.end) == (at("2026-10-26 08:00"), at("2026-10-26 12:00"))
    assert monday.start.utcoffset() == dt.timedelta(0)


def test_now_in_another_timezone_is_read_in_clinic_time() -> None:
    utc_now = dt.datetime(2026, 7, 1, 7, 30, tzinfo=dt.timezone.utc)  # 08:30 in London (BST)
    window = parse_when("today", CLINIC, utc_now)
    assert window.start == at("2026-07-01 08:30") and window.start.tzinfo == LONDON


def test_month_first_clinic_reads_numeric_dates_month_first() -> None:
    us_style = dataclasses.replace(CLINIC, date_order="MDY")
    assert parse_when("12/03", us_style, NOW).start == at("2026-12-03 08:00")
    assert parse_when("12/03", CLINIC, NOW) is None  # day-first: 12 March, beyond the horizon
    assert default_date_order("America/Chicago") == "MDY"
    assert default_date_order("Europe/London") == "DMY"
    assert default_date_order("America/Sao_Paulo") == "DMY"


def test_date_order_in_clinic_file_is_validated(tmp_path: Path) -> None:
    text = Path(__file__).resolve().parent.parent.joinpath("clinic.yml").read_text(encoding="utf-8")
    bad = tmp_path / "clinic.yml"
    bad.write_text(text.replace("date_order: DMY", "date_order: DDMM"), encoding="utf-8")
    with pytest.raises(ClinicConfigError, match=r"clinic.yml:\d+: date_order must be one of DMY, MDY, YMD"):
        load_clinic(bad)
    bad.write_text(text.replace("  date_order: DMY", "  # no date_order"), encoding="utf-8")
    assert load_clinic(bad).date_order == "DMY"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello",
        "yes please",
        "the 2 of us",
        "I am 45",
        "may I book please",
        "31/11",
        "99/99",
        "the 45th",
        "at 99",
        "25:00",
        "🙂🙂🙂",
        "📅 ⏰",
        "'; DROP TABLE appointments; --",
        "<script>alert(1)</script>",
        "\x00\x01\x02",
        "a" * 5000,
        "tomorrow " * 600,
        "1" * 5000,
        "%s%s%n",
        "{{7*7}}",
        "../../etc/passwd",
    ],
)
def test_hostile_or_meaningless_text_is_unparseable_and_never_raises(text: str) -> None:
    result = interpret_when(text, CLINIC, NOW)
    assert result.window is None and result.problem is DateProblem.UNPARSEABLE
    assert parse_when(text, CLINIC, NOW) is None


@pytest.mark.parametrize("value", [None, 42, b"tomorrow", ["tomorrow"]])
def test_non_text_is_unparseable(value: object) -> None:
    assert interpret_when(value, CLINIC, NOW).problem is DateProblem.UNPARSEABLE  # type: ignore[arg-type]


def test_window_is_immutable() -> None:
    window = parse_when("tomorrow", CLINIC, NOW)
    assert isinstance(window, TimeWindow)
    with pytest.raises(dataclasses.FrozenInstanceError):
        window.start = NOW  # type: ignore[misc]


def test_random_mixtures_of_date_words_never_raise() -> None:
    """Seeded fuzz: fragments the readers react to, glued at random, must give a window or a problem."""
    import random

    pieces = [
        "the",
        "31st",
        "0th",
        "99",
        "/",
        ".",
        "-",
        ":",
        "at",
        "after",
        "between",
        "and",
        "next",
        "this",
        "week",
        "weekend",
        "month",
        "in",
        "days",
        "feb",
        "29",
        "2027",
        "pm",
        "am",
        "half past",
        "quarter to",
        "monday",
        "sun",
        "evening",
        "asap",
        "tomorrow",
        "of",
        "december",
        "00",
        "12",
        "ish",
        "🙂",
        "'",
        ",",
    ]
    rng = random.Random(20261125)
    for _ in range(400):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        result = interpret_when(text, CLINIC, NOW)
        assert (result.window is None) != (result.problem is None), text
        if result.window:
            assert result.window.start >= NOW and result.window.start < result.window.end, text
