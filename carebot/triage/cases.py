"""The team's triage case file (`tests/triage_cases.csv`) run through findings + engine, without Rasa.

One row = one opening patient message, its expected level, a note naming the clinical source, and optional
`answers` ("question_id=option;…"); every other follow-up question is answered "I'm not sure".
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from spacy.language import Language

from carebot.nlu.findings import current_ids, denied_ids, extract_findings, profile_from
from carebot.triage.model import LEVELS, Outcome
from carebot.triage.simulate import simulate


@dataclass(frozen=True)
class Case:
    line: int
    text: str
    expected: str
    note: str
    answers: Dict[str, str]


@dataclass(frozen=True)
class Result:
    case: Case
    outcome: Outcome
    asked: Tuple[str, ...]

    @property
    def correct(self) -> bool:
        return self.outcome.level == self.case.expected


@dataclass(frozen=True)
class Score:
    total: int
    agreement: float
    emergency_recall: float
    over_escalated: int  # non-emergency cases sent to emergency
    missed: Tuple[Result, ...]


def load_cases(path: Path) -> List[Case]:
    """Rows of the case file; a bad level or answer is reported with its line number."""
    cases = []
    with open(path, newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            if row["expected_level"] not in LEVELS:
                raise ValueError(f"{path}:{line}: expected_level must be one of {LEVELS}")
            answers = {}
            for pair in filter(None, (row.get("answers") or "").split(";")):
                if "=" not in pair:
                    raise ValueError(f"{path}:{line}: answers must look like question_id=option;…")
                key, value = pair.split("=", 1)
                answers[key.strip()] = value.strip()
            cases.append(Case(line, row["text"], row["expected_level"], row.get("note", ""), answers))
    return cases


def run_case(nlp: Language, case: Case) -> Result:
    findings = extract_findings(nlp, case.text)
    outcome, asked = simulate(current_ids(findings), profile_from(findings), denied_ids(findings), case.answers)
    return Result(case, outcome, tuple(asked))


def score(results: Sequence[Result]) -> Score:
    emergencies = [r for r in results if r.case.expected == "emergency"]
    recall = sum(r.outcome.level == "emergency" for r in emergencies) / len(emergencies) if emergencies else 1.0
    over = sum(r.outcome.level == "emergency" and r.case.expected != "emergency" for r in results)
    return Score(len(results), sum(r.correct for r in results) / len(results) if results else 0.0, recall, over,
                 tuple(r for r in results if not r.correct))
