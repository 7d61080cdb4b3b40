"""The case files through findings + engine (no Rasa), every unscripted follow-up answered "I'm not sure" and,
in a second run, "no" (the contract's two measurements).

The team's case file (tests/triage_cases.csv) was written alongside the protocols; the holdout
(tests/triage_holdout.csv) was written from NHS/NICE sources by someone who never saw them and is never tuned on.
Floors here are the Done-when of the triage issue; `make eval-triage` reports the full breakdown.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from carebot.triage.engine import CHAT_QUESTION_BUDGET
from evaluation.cases import DEFAULT_REPLIES, load_cases, run_case, score

TESTS = Path(__file__).resolve().parents[1]
CASES = TESTS / "triage_cases.csv"
HOLDOUT = TESTS / "triage_holdout.csv"
# Regression floors at the level measured when they were set (docs/benchmarks.md, `make eval-triage`): agreement is
# 87.5% here (findings + engine; the issue asks 0.85 over REST) and every emergency caught (77/77), as the issue asks.
HOLDOUT_AGREEMENT_FLOOR = 0.87
HOLDOUT_EMERGENCY_RECALL_FLOOR = 1.0


@pytest.fixture(scope="module", params=DEFAULT_REPLIES)
def case_results(nlp, request):
    return [run_case(nlp, case, request.param) for case in load_cases(CASES)]


@pytest.fixture(scope="module", params=DEFAULT_REPLIES)
def holdout_results(nlp, request):
    return [run_case(nlp, case, request.param) for case in load_cases(HOLDOUT)]


def test_case_file_is_big_and_covers_every_level():
    cases = load_cases(CASES)
    assert len(cases) >= 150
    assert set(Counter(c.expected for c in cases)) == {"emergency", "urgent", "routine", "self_care"}
    assert all(c.note for c in cases)


def test_holdout_is_big_varied_and_sourced():
    cases = load_cases(HOLDOUT)
    levels = Counter(c.expected for c in cases)
    assert len(cases) >= 250 and levels["emergency"] >= 50 and levels["self_care"] >= 50
    assert len({c.complaint for c in cases}) >= 35
    assert {"child", "infant", "older", "pregnant"} <= {c.population for c in cases}
    assert all(c.note for c in cases)


def test_every_emergency_in_the_case_file_is_recognised(case_results):
    missed = [
        (r.case.line, r.case.text, r.outcome.level)
        for r in case_results
        if r.case.expected == "emergency" and r.outcome.level != "emergency"
    ]
    assert not missed


def test_no_case_file_non_emergency_is_escalated_to_emergency(case_results):
    escalated = [
        (r.case.line, r.case.text, r.case.expected)
        for r in case_results
        if r.case.expected != "emergency" and r.outcome.level == "emergency"
    ]
    assert not escalated


def test_case_file_agreement_is_at_least_95_percent(case_results):
    figures = score(case_results)
    wrong = [(r.case.line, r.case.text, r.case.expected, r.outcome.level) for r in figures.missed]
    assert figures.agreement >= 0.95, wrong


def test_holdout_emergency_recall_floor(holdout_results):
    """Failures report counts only: printing the held-out texts would invite tuning on them."""
    figures = score(holdout_results)
    assert figures.emergency_recall >= HOLDOUT_EMERGENCY_RECALL_FLOOR, (
        f"emergency recall {figures.emergency_recall:.3f}"
    )


def test_holdout_escalates_at_most_10_percent_of_non_emergencies(holdout_results):
    rate = score(holdout_results).over_escalation_rate
    assert rate <= 0.10, f"{rate:.3f} of non-emergencies escalated"


def test_holdout_agreement_floor(holdout_results):
    agreement = score(holdout_results).agreement
    assert agreement >= HOLDOUT_AGREEMENT_FLOOR, f"agreement {agreement:.3f}"


def test_every_case_ends_within_the_chat_budget_asking_each_question_at_most_twice(case_results):
    for result in case_results:
        assert len(result.asked) <= CHAT_QUESTION_BUDGET, result.case.text
        assert max(Counter(result.asked).values(), default=0) <= 2, (
            result.case.text
        )  # asked, then re-asked once


def test_scripted_answers_name_real_questions_and_options(case_results, protocols):
    for result in case_results:
        for question_id, option in result.case.answers.items():
            assert option in [o.id for o in protocols.questions[question_id].options], result.case.line
