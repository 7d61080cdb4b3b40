"""Words and numbers as patients write them: typos, inflections, contractions, readings with their units."""

from __future__ import annotations

import pytest

from carebot.lexicon.measurements import Band, findings_for, read_measurements
from carebot.nlu.findings import current_ids, extract_findings
from carebot.nlu.normalise import Normaliser


@pytest.fixture(scope="module")
def normaliser():
    return Normaliser(["vomiting", "vomitting", "swollen", "temperature", "chest", "rash", "copd", "calpol"])


@pytest.mark.parametrize(
    "word, norm",
    [
        ("temprature", "temperature"),  # a typo of a pattern word
        ("cheast", "chest"),
        ("vomitting", "vomit"),  # a designer's listed misspelling reads as its English word, then its lemma
        ("swelling", "swell"),  # an inflection
        ("rush", "rush"),  # English already: never turned into "rash"
        ("worst", "worst"),  # the lookup table says "wrong": a different word, kept
        ("copd", "copd"),  # a short listed name is no typo
        ("nt", "not"),
        ("ca", "can"),
        ("don't", "not"),  # contractions, split or whole
    ],
)
def test_words_are_read_the_way_patterns_are(normaliser, word, norm):
    assert normaliser.norm(word) == norm


@pytest.mark.parametrize(
    "text, kind, value",
    [
        ("temp 39.2", "temperature_c", 39.2),
        ("she's burning up, 102F", "temperature_c", 38.89),
        ("sugar is 2.8", "blood_sugar_mmol", 2.8),
        ("blood sugar 450 mg/dl", "blood_sugar_mmol", 25.0),
        ("ketones 3.4", "ketones_mmol", 3.4),
        ("sats 89%", "oxygen_saturation", 89.0),
        ("pulse 140", "heart_rate", 140.0),
    ],
)
def test_a_reading_is_read_with_its_unit(text, kind, value):
    [reading] = read_measurements(text)
    assert (reading.kind, reading.value) == (kind, value)


def test_the_latest_reading_of_a_kind_is_the_one_that_counts():
    readings = read_measurements("sugar was 3.6 so I had jelly babies, it's 6.1 now")
    assert [(r.kind, r.value) for r in readings] == [("blood_sugar_mmol", 6.1)]


def test_blood_pressure_is_two_readings():
    readings = read_measurements("bp machine says 220/130 and I feel awful")
    assert [(r.kind, r.value) for r in readings] == [("systolic_bp", 220.0), ("diastolic_bp", 130.0)]
    assert read_measurements("blood pressure was 120 over 80")[0].value == 120.0
    assert read_measurements("see you on 12/05") == []  # a date, not a pressure


def test_an_age_told_after_a_temperature_word_is_not_a_temperature():
    assert read_measurements("I've got a temp. 33M") == []
    assert read_measurements("temp 38.4, 29F") == [read_measurements("temp 38.4")[0]]


def test_weeks_of_pregnancy_and_durations_are_not_readings():
    assert read_measurements("I'm 38 weeks pregnant and have had a cough for 3 days") == []


def test_bands_turn_a_value_into_findings():
    bands = (Band("temperature_c", "fever", 38, None), Band("temperature_c", "high_fever", 39, None))
    [reading] = read_measurements("temp 38.5")
    assert findings_for(reading, bands) == ["fever"]


@pytest.mark.parametrize(
    "text, present, absent",
    [
        ("temp 37.4 but he's grumpy", set(), {"fever"}),  # a normal temperature is no fever
        ("she had a temp of 39.2 this morning, now 37.5 after calpol", set(), {"fever", "high_fever"}),
        ("sats 88% and struggling", {"low_oxygen_severe"}, set()),
        ("my husband is on warfarin and banged his head", {"risk_anticoagulant", "head_injury"}, set()),
        ("no fever, headache or rash", set(), {"fever", "headache", "rash"}),  # a negated list
        (
            "his speech was slurred for 10 minutes, now back to normal",
            {"slurred_speech"},
            set(),
        ),  # a TIA counts
        ("I'm 20 weeks pregnant with a cold", {"cold_symptoms"}, {"duration_6w_plus"}),
        ("I want to end my life", {"suicide_plan"}, set()),
        ("my feet have suddenly swollen", {"swelling_hands_feet", "sudden_onset"}, set()),
        ("bp 220/130, pounding headache", {"very_high_blood_pressure", "headache"}, set()),
        ("my bp is 150/95", {"high_blood_pressure"}, {"very_high_blood_pressure"}),
        ("he's being sick and his pulse is 38", {"slow_heart_rate", "vomiting"}, set()),
    ],
)
def test_findings_from_everyday_words_and_numbers(nlp, text, present, absent):
    found = set(current_ids(extract_findings(nlp, text)))
    assert present <= found and not absent & found, found
