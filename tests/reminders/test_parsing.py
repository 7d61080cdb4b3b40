"""Reminder phrasings → medication, dose and schedule, checked through the plain-words description and the first
due time (both are what the bot confirms to the patient)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import spacy
import yaml

from carebot.reminders.recurrence import (
    DEFAULT_MEDICINES_FILE,
    ReminderParseError,
    load_medicines,
    next_occurrences,
    parse_reminder,
    parse_times,
)

LONDON = ZoneInfo("Europe/London")
NOW = dt.datetime(2026, 11, 28, 7, 10, tzinfo=LONDON)  # a Saturday morning


@pytest.fixture(scope="module")
def medicines():
    return load_medicines()


CASES = [
    # text, medication, dose, description, first due (local "%a %d %H:%M")
    (
        "remind me to take metformin 500mg at 8am and 8pm every day",
        "metformin",
        "500mg",
        "every day at 08:00 and 20:00",
        "Sat 28 08:00",
    ),
    (
        "remind me to take amoxicillin every 8 hours",
        "amoxicillin",
        None,
        "every 8 hours from 07:15",
        "Sat 28 07:15",
    ),
    (
        "remind me to take my vitamin D on weekdays at 9",
        "vitamin D",
        None,
        "on weekdays at 09:00",
        "Mon 30 09:00",
    ),
    (
        "remind me to take ibuprofen at 9pm for the next 7 days",
        "ibuprofen",
        None,
        "every day at 21:00, until Fri 4 Dec",
        "Sat 28 21:00",
    ),
    (
        "remind me to take ibuprofen in 20 minutes",
        "ibuprofen",
        None,
        "once, on Sat 28 Nov at 07:30",
        "Sat 28 07:30",
    ),
    (
        "remind me to take methotrexate every Monday",
        "methotrexate",
        None,
        "every Monday at 08:00",
        "Mon 30 08:00",
    ),
    ("remind me to take aspirin at 9pm", "aspirin", None, "once, on Sat 28 Nov at 21:00", "Sat 28 21:00"),
    (
        "remind me to use my inhaler twice a day",
        "inhaler",
        None,
        "every day at 08:00 and 20:00",
        "Sat 28 08:00",
    ),
    ("remind me to take vitamin d every morning", "vitamin d", None, "every day at 08:00", "Sat 28 08:00"),
    ("metformin 8:30 and 20:00 daily", "metformin", None, "every day at 08:30 and 20:00", "Sat 28 08:30"),
    (
        "remind me at 8am every day to take levothyroxine",
        "levothyroxine",
        None,
        "every day at 08:00",
        "Sat 28 08:00",
    ),
    (
        "remind me to take 2 tablets of paracetamol three times a day for 5 days",
        "paracetamol",
        "2 tablets",
        "every day at 08:00, 14:00 and 20:00, until Wed 2 Dec",
        "Sat 28 08:00",
    ),
    (
        "remind me about my eye drops every morning and evening",
        "eye drops",
        None,
        "every day at 08:00 and 18:00",
        "Sat 28 08:00",
    ),
    (
        "take doxycycline 100mg daily for 10 doses",
        "doxycycline",
        "100mg",
        "every day at 08:00, 10 times",
        "Sat 28 08:00",
    ),
    (
        "remind me to take my pills tomorrow at 9",
        "pills",
        None,
        "once, on Sun 29 Nov at 09:00",
        "Sun 29 09:00",
    ),
    (
        "remind me to take sertraline every day until Friday",
        "sertraline",
        None,
        "every day at 08:00, until Fri 4 Dec",
        "Sat 28 08:00",
    ),
    (
        "remind me to take the antibiotics every 6 hours starting at 6am",
        "antibiotics",
        None,
        "every 6 hours from 12:00",
        "Sat 28 12:00",
    ),
    (
        "remind me to take zopiclone at bedtime every night",
        "zopiclone",
        None,
        "every day at 22:00",
        "Sat 28 22:00",
    ),
    (
        "remind me to take calcium on mondays and thursdays at 10am",
        "calcium",
        None,
        "every Monday and Thursday at 10:00",
        "Mon 30 10:00",
    ),
    (
        "remind me to take lisinopril every other day at 7",
        "lisinopril",
        None,
        "every other day at 07:00",
        "Mon 30 07:00",
    ),
    ("remind me to take Ozempic every week", "Ozempic", None, "every Saturday at 08:00", "Sat 28 08:00"),
    (
        "remind me to take my insulin in half an hour",
        "insulin",
        None,
        "once, on Sat 28 Nov at 07:40",
        "Sat 28 07:40",
    ),
    (
        "remind me to check my blood sugar in 2 hours",
        "check my blood sugar",
        None,
        "once, on Sat 28 Nov at 09:10",
        "Sat 28 09:10",
    ),
    (
        "remind me to take melatonin tonight",
        "melatonin",
        None,
        "once, on Sat 28 Nov at 21:00",
        "Sat 28 21:00",
    ),
    (
        "please remind me to take Ramipril 5 mg every evening",
        "Ramipril",
        "5 mg",
        "every day at 18:00",
        "Sat 28 18:00",
    ),
    (
        "can you remind me to take folic acid at 12:30 each day",
        "folic acid",
        None,
        "every day at 12:30",
        "Sat 28 12:30",
    ),
    ("remind me to take warfarin at 6pm daily", "warfarin", None, "every day at 18:00", "Sat 28 18:00"),
    (
        "remind me to take prednisolone 40mg every morning for a week",
        "prednisolone",
        "40mg",
        "every day at 08:00, until Fri 4 Dec",
        "Sat 28 08:00",
    ),
    (
        "remind me to take ventolin every 4 hours",
        "ventolin",
        None,
        "every 4 hours from 07:15",
        "Sat 28 07:15",
    ),
    (
        "set a reminder for my blood pressure tablets at 7:45am every day",
        "blood pressure",
        None,
        "every day at 07:45",
        "Sat 28 07:45",
    ),
    (
        "remind me to take omeprazole before breakfast every day",
        "omeprazole",
        None,
        "every day at 08:00",
        "Sat 28 08:00",
    ),
    (
        "remind me to take iron tablets at weekends at 10",
        "iron",
        None,
        "at weekends at 10:00",
        "Sat 28 10:00",
    ),
    (
        "remind me to take vitamin B12 every month",
        "vitamin B12",
        None,
        "every month on day 28 at 08:00",
        "Sat 28 08:00",
    ),
    ("remind me to take aspirin in 1 hour", "aspirin", None, "once, on Sat 28 Nov at 08:10", "Sat 28 08:10"),
    (
        "remind me to take gabapentin four times a day",
        "gabapentin",
        None,
        "every day at 08:00, 12:00, 16:00 and 20:00",
        "Sat 28 08:00",
    ),
    (
        "remind me to take atorvastatin every night at 10pm",
        "atorvastatin",
        None,
        "every day at 22:00",
        "Sat 28 22:00",
    ),
    (
        "remind me to take my Antibiotics at 8am, 2pm and 10pm for 5 days",
        "Antibiotics",
        None,
        "every day at 08:00, 14:00 and 22:00, until Wed 2 Dec",
        "Sat 28 08:00",
    ),
    (
        "take 1 tablet of lisinopril 3x daily",
        "lisinopril",
        "1 tablet",
        "every day at 08:00, 14:00 and 20:00",
        "Sat 28 08:00",
    ),
    (
        "remind me to take amoxicillin twice daily for 7 days",
        "amoxicillin",
        None,
        "every day at 08:00 and 20:00, until Fri 4 Dec",
        "Sat 28 08:00",
    ),
    (
        "remind me to take amlodipine at 7am",
        "amlodipine",
        None,
        "once, on Sun 29 Nov at 07:00",
        "Sun 29 07:00",
    ),
]


@pytest.mark.parametrize("text,medication,dose,description,first", CASES, ids=[c[0][:60] for c in CASES])
def test_phrasing(text, medication, dose, description, first, medicines):
    spec = parse_reminder(text, NOW, "Europe/London", medicines)
    assert (spec.medication, spec.dose, spec.description) == (medication, dose, description)
    assert next_occurrences(spec, NOW, 1)[0].strftime("%a %d %H:%M") == first
    assert spec.dtstart.strftime("%a %d %H:%M") == first  # DTSTART is itself the first occurrence
    assert spec.dtstart.tzinfo is not None and spec.timezone == "Europe/London"


def test_at_least_thirty_phrasings_are_covered():
    assert len(CASES) >= 30


def test_one_off_and_end_are_set(medicines):
    once = parse_reminder("remind me to take ibuprofen in 20 minutes", NOW, "Europe/London", medicines)
    assert once.one_off and once.count == 1
    week = parse_reminder(
        "remind me to take ibuprofen at 9pm for the next 7 days", NOW, "Europe/London", medicines
    )
    assert not week.one_off and week.until == dt.datetime(2026, 12, 4, 23, 59, 59, tzinfo=LONDON)
    assert len(next_occurrences(week, NOW, 30)) == 7


def test_count_over_several_times_a_day_becomes_an_end(medicines):
    spec = parse_reminder(
        "remind me to take metformin at 8am and 8pm for 6 doses", NOW, "Europe/London", medicines
    )
    assert len(next_occurrences(spec, NOW, 50)) == 6


def test_missing_time_asks_when_and_keeps_the_medicine(medicines):
    with pytest.raises(ReminderParseError) as caught:
        parse_reminder("remind me to take metformin", NOW, "Europe/London", medicines)
    assert caught.value.missing == "time" and caught.value.medication == "metformin"
    assert "When should I remind you" in str(caught.value)


def test_missing_medicine_asks_what(medicines):
    with pytest.raises(ReminderParseError) as caught:
        parse_reminder("remind me every day at 8am", NOW, "Europe/London", medicines)
    assert caught.value.missing == "medication"


@pytest.mark.parametrize(
    "text",
    [
        "remind me to take metformin at 25:00 every day",
        "remind me to take metformin every 5 minutes",
        "remind me to take metformin in 0 minutes",
        "remind me to take metformin every 8 hours on mondays",
    ],
)
def test_impossible_schedules_are_refused_with_a_message(text, medicines):
    with pytest.raises(ReminderParseError) as caught:
        parse_reminder(text, NOW, "Europe/London", medicines)
    assert caught.value.missing == "time" and str(caught.value)


def test_known_medicine_found_without_a_cue(medicines):
    spec = parse_reminder("glucophage please, every day at 9", NOW, "Europe/London", medicines)
    assert spec.medication == "glucophage"


def test_medicine_patterns_load_into_spacy_entity_ruler():
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns(yaml.safe_load(DEFAULT_MEDICINES_FILE.read_text()))
    doc = nlp("I take Ventolin and co-codamol")
    assert [(e.text, e.label_, e.ent_id_) for e in doc.ents] == [
        ("Ventolin", "MEDICINE", "salbutamol"),
        ("co-codamol", "MEDICINE", "co-codamol"),
    ]
    assert len(ruler.patterns) >= 100


def test_a_broken_pattern_file_names_the_entry(tmp_path):
    bad = tmp_path / "medicines.yml"
    bad.write_text("- {label: MEDICINE, pattern: metformin}\n- {label: DRUG, pattern: x}\n")
    with pytest.raises(ValueError, match="entry 2"):
        load_medicines(bad)


@pytest.mark.parametrize(
    "text, times",
    [
        ("move my metformin reminder to 9am", [(9, 0)]),
        ("change my vitamin D reminder to 8am and 8pm", [(8, 0), (20, 0)]),
        ("make the insulin one at 7:30", [(7, 30)]),
        ("change it to 21:30", [(21, 30)]),
        ("move my evening reminder to 9", [(21, 0)]),
        ("move metformin to bedtime", [(22, 0)]),
        ("change my metformin 500mg reminder", []),
    ],
)
def test_times_for_changing_a_reminder(text, times):
    assert parse_times(text) == times


def test_an_impossible_time_is_refused():
    with pytest.raises(ValueError):
        parse_times("move it to 25:00")
