"""The development sets the language layer was tuned on keep what it learned (tests/fixtures/dev/README.md).

These are regression floors at the figures measured when the tuning ended, not judgements: the frozen holdout
(tests/triage/test_cases.py) is what says whether triage generalises.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from carebot.nlu.findings import current_ids, extract_findings
from evaluation.cases import load_cases, run_case, score

DEV = Path(__file__).resolve().parents[1] / "fixtures" / "dev"
# file, agreement floor, emergencies that must be caught
TRIAGE_SETS = [
    ("triage_dev_d.csv", 0.92, 127),
    ("triage_dev_g.csv", 0.89, 109),
    ("triage_dev_i.csv", 0.85, 94),
    ("triage_dev_k.csv", 0.86, 127),
    ("triage_dev_m.csv", 0.84, 97),
    ("triage_dev_q.csv", 0.86, 79),
    ("triage_dev_s.csv", 0.90, 119),
    ("triage_dev_u.csv", 0.87, 90),
    ("triage_dev_v.csv", 0.87, 84),
    ("triage_dev_w.csv", 0.83, 106),
    ("triage_dev_x.csv", 0.81, 58),
    ("triage_dev_y.csv", 0.74, 62),
]
# file, share of messages that must yield a current finding
SYMPTOM_SETS = [
    ("symptoms_dev_e.csv", 0.99),
    ("symptoms_dev_h.csv", 0.99),
    ("symptoms_dev_j.csv", 0.99),
    ("symptoms_dev_l.csv", 0.99),
    ("symptoms_dev_n.csv", 0.98),
    ("symptoms_dev_r.csv", 0.95),
    ("symptoms_dev_z.csv", 0.99),
    ("symptoms_dev_aa.csv", 0.98),
    ("symptoms_dev_ac.csv", 0.99),
    ("symptoms_dev_ai.csv", 0.99),
    ("symptoms_dev_am.csv", 0.99),
]


@pytest.mark.parametrize("name,agreement_floor,emergencies_floor", TRIAGE_SETS)
def test_dev_set_triage_keeps_its_level(nlp, name, agreement_floor, emergencies_floor):
    results = [run_case(nlp, case) for case in load_cases(DEV / name)]
    figures = score(results)
    caught = sum(r.case.expected == "emergency" and r.outcome.level == "emergency" for r in results)
    missed = [(r.case.line, r.case.text, r.case.expected, r.outcome.level) for r in figures.missed]
    assert caught >= emergencies_floor, missed
    assert figures.agreement >= agreement_floor, missed
    assert figures.over_escalation_rate <= 0.10, missed


@pytest.mark.parametrize("name,floor", SYMPTOM_SETS)
def test_dev_set_symptom_messages_yield_a_current_finding(nlp, name, floor):
    with (DEV / name).open(newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    unread = [text for text in texts if not current_ids(extract_findings(nlp, text))]
    assert 1 - len(unread) / len(texts) >= floor, unread
