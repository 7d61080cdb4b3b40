"""The team's case file through findings + engine (no Rasa), with every unscripted answer "I'm not sure"."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from carebot.triage.cases import load_cases, run_case, score
from carebot.triage.engine import MAX_QUESTIONS

CASES = Path(__file__).resolve().parents[1] / "triage_cases.csv"


@pytest.fixture(scope="module")
def results(nlp):
    return [run_case(nlp, case) for case in load_cases(CASES)]


def test_case_file_is_big_and_covers_every_level():
    cases = load_cases(CASES)
    assert len(cases) >= 150
    assert set(Counter(c.expected for c in cases)) == {"emergency", "urgent", "routine", "self_care"}
    assert all(c.note for c in cases)


def test_every_emergency_is_recognised(results):
    missed = [(r.case.line, r.case.text, r.outcome.level) for r in results
              if r.case.expected == "emergency" and r.outcome.level != "emergency"]
    assert not missed


def test_no_non_emergency_is_escalated_to_emergency(results):
    escalated = [(r.case.line, r.case.text, r.case.expected) for r in results
                 if r.case.expected != "emergency" and r.outcome.level == "emergency"]
    assert not escalated


def test_agreement_is_at_least_90_percent(results):
    figures = score(results)
    wrong = [(r.case.line, r.case.text, r.case.expected, r.outcome.level) for r in figures.missed]
    assert figures.agreement >= 0.90, wrong


def test_every_case_ends_within_twelve_questions_without_repeats(results):
    for result in results:
        assert len(result.asked) <= MAX_QUESTIONS and len(set(result.asked)) == len(result.asked)


def test_scripted_answers_name_real_questions_and_options(results, protocols):
    for result in results:
        for question_id, option in result.case.answers.items():
            assert option in [o.id for o in protocols.questions[question_id].options], result.case.line
