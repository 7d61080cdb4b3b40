"""What counts as an answer to a form's free-text question (data/forms/answers.yml), and what the file may say."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Set

import pytest
import yaml

from carebot.forms import (
    ALWAYS_INTERRUPT,
    ANSWERS_FILE,
    STOP_INTENT,
    FormsFileError,
    Reading,
    load_questions,
    read_message,
)

NAME = ("appointment_form", "patient_name")


@pytest.mark.parametrize(
    "text, intent, confidence",
    [
        ("Alex Morgan", "stop", 0.38),  # the classifier half-thinks a name means "stop"
        ("Mohammed Khan", "nlu_fallback", 0.3),
        ("Stopford Jones", "stop", 0.95),  # not a stop phrase, however sure the classifier is
        ("Hope Cancela", "stop", 0.7),
        ("Grace Helper", "help", 0.6),  # another intent, not said plainly
        ("sdkfjh", "nlu_fallback", 1.0),  # the form judges it (and refuses it as a name)
        ("👍👍", "affirm", 0.5),
    ],
)
def test_a_message_is_the_answer_unless_it_clearly_interrupts(text, intent, confidence):
    assert read_message(*NAME, text, intent, confidence) is Reading.ANSWER


@pytest.mark.parametrize(
    "text, intent, confidence",
    [
        ("cancel", "stop", 0.57),
        ("ok never mind thanks", "stop", 0.9),
        ("Please cancel that", "stop", 0.6),
        ("I want to stop", "stop", 0.8),
        ("Forget it!", "stop", 0.5),
        ("I want to talk to a person", "ask_human", 0.99),
        ("bye", "goodbye", 0.95),
        ("what time do you close today", "ask_opening_hours", 0.97),
        ('/send_media{"media_type": "image"}', "send_media", 1.0),  # a photo
        ('/send_media{"media_type": "audio"}', "send_media", 1.0),  # a voice note
        ("/share_location", "share_location", 1.0),
        ("my chest hurts and I can't breathe", "red_flag", 1.0),
    ],
)
def test_a_plain_stop_a_person_a_side_question_media_and_red_flags_interrupt(text, intent, confidence):
    assert read_message(*NAME, text, intent, confidence) is Reading.INTERRUPTION


@pytest.mark.parametrize("text, intent", [("yes", "affirm"), ("no", "deny"), ("ok", "affirm")])
def test_a_sure_yes_or_no_to_a_name_question_asks_again(text, intent):
    assert read_message(*NAME, text, intent, 0.95) is Reading.ASK_AGAIN


def test_asking_for_a_reminder_is_the_answer_to_the_reminder_question_not_an_interruption():
    assert (
        read_message(
            "reminder_form", "reminder_request", "remind me to take metformin at 8am", "set_reminder", 0.99
        )
        is Reading.ANSWER
    )
    assert (
        read_message(
            "reminder_form", "reminder_request", "what are your opening hours", "ask_opening_hours", 0.99
        )
        is Reading.ANSWER
    )  # no side-question rule inside the reminder form: part of the text
    assert (
        read_message("reminder_form", "reminder_request", "I'd like to speak to a nurse", "ask_human", 0.98)
        is Reading.INTERRUPTION
    )


def test_a_question_not_listed_as_free_text_takes_what_its_slot_mapping_lets_through():
    assert read_message("appointment_form", "booking_when", "cancel", "stop", 0.99) is Reading.ANSWER


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "answers.yml"
    path.write_text(body, encoding="utf-8")
    return path


DEFAULTS = """defaults:
  stop_phrases: [cancel]
  interrupting_intents: [ask_human]
  min_confidence: 0.9
  ask_again_intents: [affirm]
"""


@pytest.mark.parametrize(
    "body, problem",
    [
        (
            DEFAULTS
            + "questions:\n  appointment_form:\n    patient_name: {interrupting_intents: [ask_nurse]}\n",
            "answers.yml:8: questions.appointment_form.patient_name.interrupting_intents: intent(s) ['ask_nurse'] "
            "are not in domain.yml",
        ),
        (
            DEFAULTS + "questions:\n  booking_form:\n    patient_name: {}\n",
            "answers.yml:8: questions.booking_form: no such form",
        ),
        (
            DEFAULTS + "questions:\n  appointment_form:\n    patient_nickname: {}\n",
            "appointment_form asks no question 'patient_nickname'",
        ),
        (
            DEFAULTS + "questions:\n  appointment_form:\n    patient_name: {min_confidence: 1.5}\n",
            "answers.yml:8: questions.appointment_form.patient_name.min_confidence: must be a number in (0, 1]",
        ),
        (
            DEFAULTS + "questions:\n  appointment_form:\n    patient_name: {stop_words: [halt]}\n",
            "unknown setting(s) ['stop_words']",
        ),
        (
            "defaults:\n  stop_phrases: [cancel]\nquestions:\n  appointment_form:\n    patient_name: {}\n",
            "missing ['interrupting_intents', 'min_confidence', 'ask_again_intents']",
        ),
        (DEFAULTS + "questions: [\n", "not valid YAML"),
    ],
)
def test_mistakes_in_the_file_name_the_setting(tmp_path, body, problem):
    with pytest.raises(FormsFileError, match=re.escape(problem)):
        load_questions(write(tmp_path, body))


def test_the_shipped_file_lists_the_free_text_questions():
    assert set(load_questions(ANSWERS_FILE)) == {
        ("appointment_form", "booking_for"),
        ("appointment_form", "patient_name"),
        ("appointment_form", "patient_birth_date"),
        ("reminder_form", "reminder_request"),
        ("triage_form", "triage_for"),
        ("triage_form", "triage_answer"),
    }


def intents_with_a_rule_inside(form: str) -> Set[str]:
    """The intents a rule answers while `form` is active (its first step, or any intent of an `or:`)."""
    answered: Set[str] = set()
    for file in (ANSWERS_FILE.parents[1] / "rules").glob("*.yml"):
        for rule in yaml.safe_load(file.read_text(encoding="utf-8")).get("rules") or []:
            if {"active_loop": form} not in (rule.get("condition") or []):
                continue
            first: Dict = rule["steps"][0]
            answered.update(
                [first["intent"]] if "intent" in first else [o["intent"] for o in first.get("or", [])]
            )
    return answered


def test_every_interruption_a_question_allows_has_a_rule_inside_its_form():
    """An interruption with no rule would leave the patient with the fallback and the form hanging."""
    for (form, slot), question in load_questions(ANSWERS_FILE).items():
        may_interrupt = question.interrupting_intents | {STOP_INTENT} | (ALWAYS_INTERRUPT - {"red_flag"})
        missing = may_interrupt - intents_with_a_rule_inside(form)
        assert not missing, f"{form}.{slot}: no rule inside {form} for {sorted(missing)}"
