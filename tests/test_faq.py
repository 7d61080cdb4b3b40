"""FAQ answers computed from a clinic file at a fixed `now`: weekend, bank holidays and both DST changes (Europe/London)."""

import datetime as dt
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from carebot.clinic import load_clinic
from carebot.faq import Topic, answer, next_opening, resolve_day

LONDON = ZoneInfo("Europe/London")
UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def clinic():
    return load_clinic(Path(__file__).parent / "fixtures" / "faq_clinic.yml")


def london(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LONDON)


# --- a weekend: Friday after closing, Saturday morning only, Sunday closed -------------------------------------------


def test_friday_evening_points_to_saturday_morning(clinic):
    now = london(2026, 11, 27, 17, 30)
    assert answer(Topic.OPEN_NOW, clinic, now) == (
        "No, we're closed right now. We open again tomorrow (Saturday 28 November) at 09:00."
    )
    assert answer(Topic.HOURS_TODAY, clinic, now) == (
        "Today (Friday 27 November) we're open 08:00–12:30 and 13:30–17:00. "
        "We've closed for today. We open again tomorrow (Saturday 28 November) at 09:00."
    )


def test_saturday_after_noon_skips_sunday_to_monday(clinic):
    now = london(2026, 11, 28, 12, 0)  # Saturday closes at 12:00 sharp: 12:00 is already closed
    assert answer(Topic.OPEN_NOW, clinic, now) == (
        "No, we're closed right now. We open again on Monday 30 November at 08:00."
    )
    assert answer(Topic.HOURS_DAY, clinic, now, day=dt.date(2026, 11, 29)) == (
        "We're closed tomorrow (Sunday 29 November). We open again on Monday 30 November at 08:00."
    )


def test_open_now_names_the_end_of_the_current_session_and_lunch_is_closed(clinic):
    assert answer(Topic.OPEN_NOW, clinic, london(2026, 11, 28, 11, 59)) == "Yes, we're open now until 12:00."
    assert answer(Topic.OPEN_NOW, clinic, london(2026, 11, 30, 12, 45)) == (
        "No, we're closed right now. We open again today (Monday 30 November) at 13:30."
    )
    assert answer(Topic.NEXT_OPENING, clinic, london(2026, 11, 30, 14, 0)) == "We're open now until 18:30."


def test_week_view_covers_the_weekend(clinic):
    assert answer(Topic.HOURS_WEEK, clinic, london(2026, 11, 27, 9, 0)) == "\n".join(
        [
            "Our opening hours for the next 7 days:",
            "Fri 27 Nov: 08:00–12:30 and 13:30–17:00",
            "Sat 28 Nov: 09:00–12:00",
            "Sun 29 Nov: closed",
            "Mon 30 Nov: 08:00–12:30 and 13:30–18:30",
            "Tue 1 Dec: 08:00–12:30 and 13:30–18:30",
            "Wed 2 Dec: 08:00–12:30 and 13:30–18:30",
            "Thu 3 Dec: 08:00–12:30 and 13:30–20:00",
        ]
    )


def test_named_day_in_a_later_week(clinic):
    assert answer(Topic.HOURS_DAY, clinic, london(2026, 11, 27, 9, 0), day=dt.date(2026, 12, 3)) == (
        "On Thursday 3 December we're open 08:00–12:30 and 13:30–20:00."
    )


# --- holidays: Christmas Day, Boxing Day (a Saturday) and the Sunday after ------------------------------------------


def test_christmas_eve_evening_skips_the_holidays(clinic):
    now = london(2026, 12, 24, 20, 30)
    assert answer(Topic.OPEN_NOW, clinic, now) == (
        "No, we're closed right now. We open again on Monday 28 December at 08:00."
    )
    assert answer(Topic.HOURS_DAY, clinic, now, day=dt.date(2026, 12, 25)) == (
        "We're closed tomorrow (Friday 25 December) for Christmas Day. We open again on Monday 28 December at 08:00."
    )


def test_on_the_holiday_itself_the_reason_is_given(clinic):
    now = london(2026, 12, 25, 10, 0)  # a Friday, normally open at 10:00
    assert answer(Topic.OPEN_NOW, clinic, now) == (
        "No, we're closed today for Christmas Day. We open again on Monday 28 December at 08:00."
    )
    assert answer(Topic.HOURS_TODAY, clinic, now) == (
        "We're closed today (Friday 25 December) for Christmas Day. We open again on Monday 28 December at 08:00."
    )


def test_week_view_marks_closures_and_a_new_year(clinic):
    assert answer(Topic.HOURS_WEEK, clinic, london(2026, 12, 27, 9, 0)) == "\n".join(
        [
            "Our opening hours for the next 7 days:",
            "Sun 27 Dec: closed",
            "Mon 28 Dec: 08:00–12:30 and 13:30–18:30",
            "Tue 29 Dec: 08:00–12:30 and 13:30–18:30",
            "Wed 30 Dec: 08:00–12:30 and 13:30–18:30",
            "Thu 31 Dec: 08:00–12:30 and 13:30–20:00",
            "Fri 1 Jan: closed (New Year's Day)",
            "Sat 2 Jan: 09:00–12:00",
        ]
    )


def test_closures_list_only_upcoming_ones(clinic):
    assert answer(Topic.CLOSURES, clinic, london(2026, 12, 24, 9, 0)) == "\n".join(
        [
            "We're closed on these days:",
            "• Tomorrow (Friday 25 December): Christmas Day",
            "• Saturday 26 December: Boxing Day",
            "• Friday 1 January 2027: New Year's Day",
        ]
    )
    assert answer(Topic.CLOSURES, clinic, london(2027, 1, 2, 9, 0)) == (
        "We have no holiday closures planned, so our usual weekly hours apply."
    )


# --- DST: clocks go forward on Sunday 28 March 2027 and back on Sunday 25 October 2026 -------------------------------


def test_spring_forward_weekend_opens_at_local_eight(clinic):
    saturday_noon = london(2027, 3, 27, 12, 0)
    assert answer(Topic.OPEN_NOW, clinic, saturday_noon) == (
        "No, we're closed right now. We open again on Monday 29 March at 08:00."
    )
    opens = next_opening(clinic, saturday_noon)
    # 08:00 BST is 07:00 UTC: only 43 hours after Saturday 12:00 GMT, not 44.
    assert opens.astimezone(UTC) == dt.datetime(2027, 3, 29, 7, 0, tzinfo=UTC)
    assert opens.astimezone(UTC) - saturday_noon.astimezone(UTC) == dt.timedelta(hours=43)


def test_a_utc_clock_after_spring_forward_is_read_in_clinic_time(clinic):
    # 07:30 UTC on Monday 29 March 2027 is 08:30 in London (BST): open. A UTC-naive server would say closed.
    assert answer(Topic.OPEN_NOW, clinic, dt.datetime(2027, 3, 29, 7, 30, tzinfo=UTC)) == (
        "Yes, we're open now until 12:30."
    )
    assert answer(
        Topic.HOURS_DAY, clinic, dt.datetime(2027, 3, 28, 1, 30, tzinfo=UTC), day=dt.date(2027, 3, 28)
    ) == ("We're closed today (Sunday 28 March). We open again tomorrow (Monday 29 March) at 08:00.")


def test_fall_back_monday_utc_clock_is_before_opening(clinic):
    # After the clocks go back (Sunday 25 October 2026) London is on GMT: 07:30 UTC is 07:30 local, still closed.
    now = dt.datetime(2026, 10, 26, 7, 30, tzinfo=UTC)
    assert answer(Topic.OPEN_NOW, clinic, now) == (
        "No, we're closed right now. We open again today (Monday 26 October) at 08:00."
    )
    assert next_opening(clinic, now) == dt.datetime(2026, 10, 26, 8, 0, tzinfo=UTC)


# --- fixed facts ----------------------------------------------------------------------------------------------------


def test_fixed_facts_come_from_the_clinic_file(clinic):
    now = london(2026, 11, 27, 9, 0)
    assert answer(Topic.ADDRESS, clinic, now) == (
        "Riverside Family Clinic, 12 River Street, London SE1 9RT.\n"
        "Two minutes' walk from London Bridge station, exit Tooley Street, then first left."
    )
    assert answer(Topic.PHONE, clinic, now) == (
        "You can call Riverside Family Clinic on +44 20 7946 0000. "
        "When we're closed, call 111 for urgent medical advice. In an emergency call 999."
    )
    assert answer(Topic.PARKING, clinic, now).startswith("Parking: No patient car park.")
    assert answer(Topic.WEBSITE, clinic, now) == "Our website: https://riverside-clinic.example"
    assert answer("what_to_bring", clinic, now) == (
        "Please bring: Your photo ID, a list of the medicines you take, and your NHS number if you know it."
    )
    services = answer(Topic.SERVICES, clinic, now).splitlines()
    assert services[0] == "We offer:"
    assert "• Child health clinic — Babies and children under 16, with a parent or carer." in services
    assert len(services) == 1 + len(clinic.services)


def test_missing_fact_sends_the_patient_to_the_phone(clinic):
    bare = replace(clinic, info={})
    assert answer(Topic.PARKING, bare, london(2026, 11, 27, 9, 0)) == (
        "I don't have that information. Please call us on +44 20 7946 0000."
    )


def test_long_closure_falls_back_to_the_phone(clinic):
    shut = replace(
        clinic,
        closures=tuple(
            replace(clinic.closures[0], date=dt.date(2027, 1, 1) + dt.timedelta(days=i)) for i in range(90)
        ),
    )
    assert answer(Topic.OPEN_NOW, shut, london(2027, 1, 1, 9, 0)) == (
        "No, we're closed today for Christmas Day. Please call us on +44 20 7946 0000 to check when we reopen."
    )


def test_bad_input_is_refused_with_a_clear_message(clinic):
    with pytest.raises(ValueError, match="unknown FAQ topic 'parking_fees'"):
        answer("parking_fees", clinic, london(2026, 11, 27, 9, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        answer(Topic.OPEN_NOW, clinic, dt.datetime(2026, 11, 27, 9, 0))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("are you open today", dt.date(2026, 11, 27)),
        ("what about tomorrow?", dt.date(2026, 11, 28)),
        ("on Sat", dt.date(2026, 11, 28)),
        ("open on friday?", dt.date(2026, 11, 27)),
        ("Monday morning", dt.date(2026, 11, 30)),
        ("sometime", None),
    ],
)
def test_resolve_day_picks_the_next_matching_date(clinic, text, expected):
    assert resolve_day(text, clinic, london(2026, 11, 27, 9, 0)) == expected
