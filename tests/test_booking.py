"""carebot.booking on plain values: what a patient's reply picks, which times are offered, who the patient is."""

from __future__ import annotations

import datetime as dt
from typing import List

import pytest

from carebot.booking import (
    AskedWindow,
    Choice,
    asked_window,
    choices_from_slot,
    clean_name,
    days_of,
    find_offers,
    long_when,
    next_page_start,
    parse_birth_date,
    pick,
    short_when,
    wants_another_day,
    wants_earlier,
)
from carebot.dates import interpret_when
from tests.actions.fake_backends import FakeScheduling


@pytest.fixture
def now(clinic) -> dt.datetime:
    return dt.datetime(2026, 12, 7, 8, 0, tzinfo=clinic.tz)  # a Monday


def at(clinic, day: int, clock: str) -> dt.datetime:
    hour, minute = (int(part) for part in clock.split(":"))
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=clinic.tz)


@pytest.fixture
def choices(clinic) -> List[Choice]:
    return [
        Choice("a", at(clinic, 8, "09:00"), "dr-patel", "Dr Asha Patel", "gp"),
        Choice("b", at(clinic, 8, "10:30"), "dr-okafor", "Dr Daniel Okafor", "gp"),
        Choice("c", at(clinic, 10, "15:45"), "nurse-lewis", "Nurse Hannah Lewis", "nurse"),
    ]


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("1", 0),
        ("3", 2),
        ("number 2", 1),
        ("option 3 please", 2),
        ("I'll take number 1", 0),
        ("the first one", 0),
        ("second", 1),
        ("the last one", 2),
        ("the earliest", 0),
        ("the 10:30 one", 1),
        ("10.30", 1),
        ("9am", 0),
        ("the one at 9", 0),
        ("3:45pm works", 2),
        ("15:45", 2),
        ("Dr Okafor's", 1),
        ("with patel", 0),
        ("the nurse one", 2),
        ("the Thursday one", 2),
        ("tues", 0),
        ("4", None),
        ("0", None),
        ("the one at 11", None),
        ("banana", None),
        ("", None),
        ("2pm", None),
    ],
)
def test_a_reply_picks_the_line_it_names(clinic, choices, reply, expected):
    assert pick(reply, None, choices, clinic) == expected


def test_a_button_payload_option_wins_over_the_words(clinic, choices):
    assert pick("anything", "2", choices, clinic) == 1
    assert pick("1", "9", choices, clinic) is None  # a stale button number selects nothing


def test_the_same_service_everywhere_is_not_a_choice(clinic, choices):
    same = [c for c in choices if c.service_id == "gp"]
    assert pick("the GP one", None, same, clinic) is None


def test_choices_survive_the_round_trip_through_a_slot(choices):
    assert choices_from_slot([c.to_slot() for c in choices]) == choices


def test_times_in_words(clinic, choices):
    assert long_when(choices[1].start, clinic, dt.date(2026, 12, 7)) == "Tuesday 8 December at 10:30"
    assert long_when(choices[1].start, clinic, dt.date(2027, 1, 2)) == "Tuesday 8 December 2026 at 10:30"
    assert short_when(choices[2].start, clinic) == "Thu 10 Dec, 15:45"


@pytest.mark.parametrize("text", ["tomorrow around 10:30", "any evening this week", "25 December"])
def test_the_window_survives_the_round_trip_through_a_slot(clinic, now, text):
    window = asked_window(interpret_when(text, clinic, now), text, clinic)
    assert AskedWindow.from_slot(window.to_slot()) == window


def test_a_window_stored_before_bounds_existed_still_reads(clinic, now):
    window = asked_window(interpret_when("tomorrow morning", clinic, now), "tomorrow morning", clinic)
    stored = {key: value for key, value in window.to_slot().items() if key in ("label", "spans", "target")}
    assert AskedWindow.from_slot(stored) == window


def test_a_closed_day_is_a_window_around_the_day_with_its_reason(clinic, now):
    window = asked_window(interpret_when("the 25th", clinic, now), "the 25th", clinic)
    assert window == AskedWindow(
        "Friday 25 December", (), (at(clinic, 25, "00:00"), at(clinic, 26, "00:00")), closed="Christmas Day"
    )
    assert asked_window(interpret_when("1st January 2020", clinic, now), "1st January 2020", clinic) is None


def test_the_days_of_a_list_are_said_from_the_times_themselves(clinic, choices):
    today = dt.date(2026, 12, 7)
    assert days_of(choices[:2], clinic, today) == "Tuesday 8 December, morning"
    assert days_of(choices[2:], clinic, today) == "Thursday 10 December, afternoon"
    assert days_of(choices, clinic, today) == "Tuesday 8 to Thursday 10 December"
    evening = Choice("d", at(clinic, 8, "17:30"), "dr-patel", "Dr Asha Patel", "gp")
    assert days_of([choices[0], evening], clinic, today) == "Tuesday 8 December"
    new_year = Choice("e", dt.datetime(2027, 1, 4, 9, 0, tzinfo=clinic.tz), "dr-patel", "Dr Asha Patel", "gp")
    assert days_of([choices[2], new_year], clinic, today) == "Thursday 10 December to Monday 4 January 2027"


def test_later_and_another_day_start_points(clinic, choices):
    assert next_page_start(choices[:2], clinic, another_day=False) == at(clinic, 8, "10:31")
    assert next_page_start(choices[:2], clinic, another_day=True) == at(clinic, 9, "00:00")
    assert wants_another_day("another day please") and wants_another_day("a different day")
    assert not wants_another_day("later")
    assert (
        wants_earlier("anything earlier?") and wants_earlier("sooner please") and not wants_earlier("later")
    )


# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture
def backend(clinic, now) -> FakeScheduling:
    return FakeScheduling(clinic, now)


async def offers_for(backend, clinic, now, text, **kwargs):
    window = asked_window(interpret_when(text, clinic, now), text, clinic)
    return await find_offers(backend, clinic, "gp", window, now=now, **kwargs)


async def test_offers_are_the_first_free_times_in_the_window(backend, clinic, now):
    for clock in ("08:00", "08:15", "08:30", "08:45", "09:00", "09:15", "14:00"):
        backend.add_slot(at(clinic, 8, clock), "dr-patel")
    offers = await offers_for(backend, clinic, now, "tomorrow morning")
    assert offers.before == offers.after == offers.other_practitioners == ()
    assert [c.start for c in offers.inside] == [
        at(clinic, 8, t) for t in ("08:00", "08:15", "08:30", "08:45", "09:00")
    ]


async def test_a_multi_span_window_only_offers_times_inside_it(backend, clinic, now):
    backend.add_slot(at(clinic, 8, "09:00"), "dr-patel")
    backend.add_slot(at(clinic, 8, "17:30"), "dr-patel")
    backend.add_slot(at(clinic, 10, "10:00"), "dr-patel")
    backend.add_slot(at(clinic, 10, "19:00"), "dr-okafor")  # Thursday late opening
    offers = await offers_for(backend, clinic, now, "any evening this week")
    assert [c.start for c in offers.choices] == [at(clinic, 8, "17:30"), at(clinic, 10, "19:00")]


async def test_a_provider_filter_is_passed_to_the_backend(backend, clinic, now):
    backend.add_slot(at(clinic, 8, "09:00"), "dr-patel")
    backend.add_slot(at(clinic, 8, "09:15"), "dr-okafor")
    offers = await offers_for(backend, clinic, now, "tomorrow", provider_id="dr-okafor")
    assert [c.practitioner_id for c in offers.choices] == ["dr-okafor"]


async def test_nothing_in_the_window_gives_the_nearest_times_on_both_sides(backend, clinic, now):
    backend.add_slot(at(clinic, 8, "08:00"), "dr-patel")  # 2.5 h before
    backend.add_slot(at(clinic, 8, "12:15"), "dr-patel")  # 1.75 h after
    backend.add_slot(at(clinic, 21, "10:30"), "dr-patel")  # two weeks later
    offers = await offers_for(backend, clinic, now, "tomorrow at 10:30")
    assert offers.inside == ()
    assert [c.start for c in offers.before] == [at(clinic, 8, "08:00")]
    assert [c.start for c in offers.after] == [at(clinic, 8, "12:15"), at(clinic, 21, "10:30")]


async def test_the_nearest_earlier_times_are_the_latest_ones_days_before(backend, clinic, now):
    for clock in ("08:00", "08:15", "16:00", "17:45", "18:00"):
        backend.add_slot(at(clinic, 9, clock), "dr-patel")  # Wednesday, the day before the full Thursday
    backend.add_slot(at(clinic, 8, "09:00"), "dr-patel")
    for clock in ("09:00", "09:15", "09:30", "09:45"):
        backend.add_slot(at(clinic, 11, clock), "dr-okafor")
    offers = await offers_for(backend, clinic, now, "Thursday 10 December")
    # five places, shared in turn: after, before, after, before, after
    assert [c.start for c in offers.before] == [at(clinic, 9, "17:45"), at(clinic, 9, "18:00")]
    assert [c.start for c in offers.after] == [at(clinic, 11, t) for t in ("09:00", "09:15", "09:30")]
    assert offers.choices == [*offers.before, *offers.after]


async def test_a_named_practitioner_with_a_full_day_also_gets_the_others_that_day(backend, clinic, now):
    backend.add_slot(at(clinic, 9, "10:00"), "dr-patel")
    backend.add_slot(at(clinic, 10, "11:00"), "dr-okafor")
    backend.add_slot(at(clinic, 11, "09:00"), "dr-patel")
    offers = await offers_for(backend, clinic, now, "Thursday 10 December", provider_id="dr-patel")
    assert [(c.start, c.practitioner_id) for c in offers.choices] == [
        (at(clinic, 9, "10:00"), "dr-patel"),
        (at(clinic, 11, "09:00"), "dr-patel"),
        (at(clinic, 10, "11:00"), "dr-okafor"),
    ]
    assert [c.practitioner_id for c in offers.other_practitioners] == ["dr-okafor"]


async def test_a_closed_day_offers_the_open_days_around_it(backend, clinic, now):
    backend.add_slot(at(clinic, 24, "17:00"), "dr-patel")
    backend.add_slot(at(clinic, 28, "08:00"), "dr-patel")
    offers = await offers_for(backend, clinic, now, "25 December")
    assert ([c.start for c in offers.before], [c.start for c in offers.after]) == (
        [at(clinic, 24, "17:00")],
        [at(clinic, 28, "08:00")],
    )


async def test_later_searches_only_after_the_given_time(backend, clinic, now):
    backend.add_slot(at(clinic, 8, "09:00"), "dr-patel")
    backend.add_slot(at(clinic, 8, "11:00"), "dr-patel")
    offers = await offers_for(backend, clinic, now, "tomorrow", start_from=at(clinic, 8, "09:01"))
    assert [c.start for c in offers.choices] == [at(clinic, 8, "11:00")]
    offers = await offers_for(backend, clinic, now, "tomorrow", start_from=at(clinic, 8, "11:01"))
    assert offers.choices == []


async def test_later_past_the_window_offers_only_what_comes_after_it(backend, clinic, now):
    backend.add_slot(at(clinic, 8, "08:00"), "dr-patel")  # seen before: never offered again as "before"
    backend.add_slot(at(clinic, 8, "09:00"), "dr-patel")
    backend.add_slot(at(clinic, 9, "10:00"), "dr-patel")
    offers = await offers_for(backend, clinic, now, "tomorrow", start_from=at(clinic, 8, "09:01"))
    assert (offers.inside, offers.before) == ((), ())
    assert [c.start for c in offers.after] == [at(clinic, 9, "10:00")]


# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Sam Taylor", "Sam Taylor"),
        ("my name is jane o'brien", "Jane O'Brien"),
        ("I'm Anne-Marie Duff", "Anne-Marie Duff"),
        ("it's José Álvarez", "José Álvarez"),
        ("Sam", "Sam"),
        ("li", "Li"),
        ("Usain St. Leo Bolt", "Usain St. Leo Bolt"),
        ("It’s Patrick O’Neill", "Patrick O'Neill"),
        ("He Jiankui", "He Jiankui"),
        ("Im Soo-jin", "Im Soo-jin"),
        ("王小明", "王小明"),
        ("12 34", None),
        ("call me maybe 555", None),
        ("👍", None),
        ("", None),
    ],
)
def test_a_name_is_any_words_of_letters_with_capitals(text, expected):
    assert clean_name(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("21/07/1980", dt.date(1980, 7, 21)),
        ("03/12/1975", dt.date(1975, 12, 3)),
        ("1992-11-30", dt.date(1992, 11, 30)),
        ("3 March 1990", dt.date(1990, 3, 3)),
        ("born on 21st July 1978", dt.date(1978, 7, 21)),
        ("DOB: 7.8.1965", dt.date(1965, 8, 7)),
        ("my date of birth is 01/02/1960", dt.date(1960, 2, 1)),
        ("01/01/2030", None),
        ("last year", None),
        ("March", None),
        ("31/02/1990", None),
        ("01/01/1850", None),
    ],
)
def test_a_birth_date_is_read_in_the_clinic_date_order(clinic, text, expected):
    assert parse_birth_date(text, clinic, dt.date(2026, 12, 7)) == expected


def test_month_first_clinics_read_numeric_birth_dates_month_first(clinic):
    from dataclasses import replace

    us = replace(clinic, date_order="MDY")
    assert parse_birth_date("03/12/1975", us, dt.date(2026, 12, 7)) == dt.date(1975, 3, 12)
