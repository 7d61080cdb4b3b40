"""Clinic requests are not turned away: the frozen in-scope holdout (tests/fixtures/inscope_holdout.csv, issue 20).

450+ patient questions and requests (clinic facts, FAQ answers, booking, rescheduling, cancelling, listing,
reminders, a person, symptoms, services the clinic does not offer), written before any tuning and never trained on.
Each runs through the trained model; "handled" is judged as `make eval` judges it (evaluation/inscope.py). The
out-of-scope side of the trade-off keeps its own floors in test_scope.py. Floors sit at the measured level
(docs/benchmarks.md), so they catch a regression; the issue's targets are 97% handled, 90% per kind.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Tuple

import pytest

from evaluation import config
from evaluation.corpora import read_labelled
from evaluation.inscope import DECLINED, HANDLED, outcome

# Measured 96.3% handled, 1.1% falsely declined, the weakest kind at 80.0% (faq/cancel_late, 4 of 5) when last raised
# (issue 20 was 69.4% and 18.8% before, then 88.2% and 5.5%, then 89.9% and 4.4%, then 94.1% with the weakest kind
# at 60.0%); raise them as the gap closes.
HANDLED_FLOOR = 0.95
KIND_FLOOR = 0.80  # the least handled kind of request
FALSE_DECLINE_CEILING = 0.02  # declined ("can't help with that") or not understood
CLINIC_INTENTS = {
    "ask_opening_hours",
    "ask_address",
    "ask_phone",
    "ask_parking",
    "ask_accessibility",
    "ask_services",
    "book_appointment",
    "reschedule_appointment",
    "cancel_appointment",
    "list_appointments",
    "set_reminder",
    "ask_human",
    "describe_symptoms",
    config.NOT_OFFERED,
}


@pytest.fixture(scope="module")
def judged(parse_all) -> List[Tuple[str, str]]:
    """(expected, what the bot did) per holdout line."""
    rows = read_labelled(config.INSCOPE_HOLDOUT, "text", "expected")
    parses = parse_all([row.text for row in rows])
    return [(row.label, outcome(row.label, parse)) for row, parse in zip(rows, parses)]


def test_the_holdout_covers_every_kind_of_request():
    rows = read_labelled(config.INSCOPE_HOLDOUT, "text", "expected")
    labels = {row.label for row in rows}
    assert len(rows) >= 400 and len({row.text for row in rows}) == len(rows)
    assert CLINIC_INTENTS <= labels and any(label.startswith("faq/") for label in labels)


def test_clinic_requests_are_handled(judged):
    assert sum(did == HANDLED for _, did in judged) / len(judged) >= HANDLED_FLOOR


def test_few_clinic_requests_are_declined(judged):
    assert sum(did == DECLINED for _, did in judged) / len(judged) <= FALSE_DECLINE_CEILING


def test_every_kind_of_request_is_mostly_handled(judged):
    by_kind: Dict[str, List[bool]] = defaultdict(list)
    for label, did in judged:
        by_kind[label].append(did == HANDLED)
    weakest = {
        label: sum(oks) / len(oks) for label, oks in by_kind.items() if sum(oks) / len(oks) < KIND_FLOOR
    }
    assert weakest == {}
