"""Every name of tests/fixtures/personal_names.txt, typed at "what is the patient's full name?", is taken as the name.

340+ names from many cultures and forms (Arabic, Chinese, Vietnamese, Indian, Yoruba, Hispanic with two surnames,
Slavic, hyphens, apostrophes, single names, all lower case, "it's …"/"my name is …"), written for Carebot. Each goes
through the trained model (`RASA_MODEL`, else models/carebot.tar.gz from `make train`) as Rasa would parse it, then
through the form's two decisions: is it an interruption (data/forms/answers.yml), and is it a name (clean_name).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest

from carebot.booking import clean_name
from carebot.forms import Reading, read_message

ROOT = Path(__file__).resolve().parents[2]
NAMES = ROOT / "tests" / "fixtures" / "personal_names.txt"
INTRODUCTIONS = (
    "my name",
    "my name's",
    "it's",
    "it’s",
    "i'm",
    "i am",
    "the patient's name",
    "her name",
    "his name",
    "their name",
    "name:",
    "call me",
    "this is",
    "she is",
    "he's",
)


def names() -> List[str]:
    lines = NAMES.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.fixture(scope="module")
def parsed(parse_all) -> Dict[str, Dict]:
    texts = names()
    return dict(zip(texts, parse_all(texts)))


def test_the_list_is_long_and_varied():
    listed = names()
    assert len(listed) >= 300 and len(set(listed)) == len(listed)
    assert sum(len(n.split()) == 1 for n in listed) >= 15  # single names
    assert sum(n == n.lower() and n.isascii() for n in listed) >= 15  # typed all in lower case
    assert sum(n.lower().startswith(INTRODUCTIONS) for n in listed) >= 15
    assert sum(not n.isascii() for n in listed) >= 40  # accents and other scripts


def test_every_name_is_taken_as_the_name_at_the_name_question(parsed):
    refused = []
    for text, parse in parsed.items():
        intent = parse["intent"]
        reading = read_message("appointment_form", "patient_name", text, intent["name"], intent["confidence"])
        name = clean_name(text)
        if reading is not Reading.ANSWER or name is None:
            refused.append(
                f"{text!r}: {reading.value} ({intent['name']} {intent['confidence']:.2f}), name {name!r}"
            )
    assert refused == []


def test_an_introduction_is_not_part_of_the_name(parsed):
    for text in parsed:
        if text.lower().startswith(INTRODUCTIONS):
            name = clean_name(text)
            assert name and not name.lower().startswith(INTRODUCTIONS), text
            assert name.split()[-1].lower() == text.split()[-1].lower().replace("’", "'"), text
