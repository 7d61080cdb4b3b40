"""Everyday clinic questions and chat replies are handled by the trained NLU (tests/fixtures/dev/
clinic_questions_dev_t.csv, a dev set tuned on: a regression floor, not a judgement; the frozen in-scope holdout is
measured by `make eval`)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from evaluation.inscope import handled

DEV_SET = Path(__file__).resolve().parents[1] / "fixtures" / "dev" / "clinic_questions_dev_t.csv"
HANDLED_FLOOR = 340  # of 400; 347 when the tuning ended (retraining moves it by a few: the response selector)
LABEL_FLOOR = 0.65  # no label falls far behind the others (faq/cost was lowest, 28/40)


def test_clinic_questions_and_chat_replies_are_handled(parse_all):
    with DEV_SET.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    parses = parse_all([row["text"] for row in rows])
    results = [(row["label"], handled(row["label"], parse)) for row, parse in zip(rows, parses)]
    missed = [(row["label"], row["text"]) for row, (_, ok) in zip(rows, results) if not ok]
    assert sum(ok for _, ok in results) >= HANDLED_FLOOR, missed
    totals, oks = Counter(label for label, _ in results), Counter(label for label, ok in results if ok)
    behind = {
        label: f"{oks[label]}/{totals[label]}" for label in totals if oks[label] < LABEL_FLOOR * totals[label]
    }
    assert not behind, behind
