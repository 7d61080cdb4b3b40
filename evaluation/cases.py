"""Triage case files run through findings + engine, without Rasa: the team's case file and the frozen holdout.

One row = one opening patient message, its expected level and the clinical source; optional columns: `answers`
("question_id=option;…", scripted replies), `complaint` and `population` (for per-group figures), and
`answer_sentence` (a free-text reply to the first question, read the way the bot reads it). Every other
follow-up is answered with the run's default reply: "I'm not sure" or "no", the two ways the contract is measured.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from spacy.language import Language

from carebot.nlu.findings import current_ids, denied_ids, extract_findings, profile_from
from carebot.triage.model import LEVELS, NOT_SURE, Outcome, level_rank
from carebot.triage.simulate import simulate

DEFAULT_REPLIES = (NOT_SURE, "no")  # the contract: every follow-up answered "I'm not sure", then again "no"


@dataclass(frozen=True)
class Case:
    line: int
    text: str
    expected: str
    note: str
    answers: Dict[str, str]
    complaint: str = ""
    population: str = ""
    answer_sentence: str = ""


@dataclass(frozen=True)
class Result:
    case: Case
    outcome: Outcome
    asked: Tuple[str, ...]

    @property
    def correct(self) -> bool:
        return self.outcome.level == self.case.expected

    @property
    def direction(self) -> str:
        """'over' (more cautious than expected), 'under' (less: the unsafe side) or 'right'."""
        delta = level_rank(self.outcome.level) - level_rank(self.case.expected)
        return "over" if delta > 0 else "under" if delta < 0 else "right"


@dataclass(frozen=True)
class Score:
    total: int
    agreement: float
    emergency_recall: float
    over_escalated: int  # non-emergency cases sent to emergency
    non_emergencies: int
    over_triaged: int
    under_triaged: int
    missed: Tuple[Result, ...]
    by_level: Mapping[str, Tuple[int, int]] = field(default_factory=dict)  # level -> (right, total)

    @property
    def over_escalation_rate(self) -> float:
        return self.over_escalated / self.non_emergencies if self.non_emergencies else 0.0


def load_cases(path: Path) -> List[Case]:
    """Rows of a case file; a bad level or answer is reported with its line number."""
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
            cases.append(
                Case(
                    line,
                    row["text"],
                    row["expected_level"],
                    row.get("note") or "",
                    answers,
                    row.get("complaint") or "",
                    row.get("population") or "",
                    row.get("answer_sentence") or "",
                )
            )
    return cases


def run_case(nlp: Language, case: Case, default_reply: str = NOT_SURE) -> Result:
    findings = extract_findings(nlp, case.text)

    def read_findings(text: str) -> Tuple[List[str], List[str]]:
        told = extract_findings(nlp, text)
        return current_ids(told), denied_ids(told)

    outcome, asked = simulate(
        current_ids(findings),
        profile_from(findings),
        denied_ids(findings),
        case.answers,
        default_reply=default_reply,
        first_reply=case.answer_sentence,
        read_findings=read_findings,
    )
    return Result(case, outcome, tuple(asked))


def score(results: Sequence[Result]) -> Score:
    emergencies = [r for r in results if r.case.expected == "emergency"]
    recall = (
        sum(r.outcome.level == "emergency" for r in emergencies) / len(emergencies) if emergencies else 1.0
    )
    over = sum(r.outcome.level == "emergency" and r.case.expected != "emergency" for r in results)
    directions = Counter(r.direction for r in results)
    by_level = {
        level: (
            sum(r.correct for r in results if r.case.expected == level),
            sum(r.case.expected == level for r in results),
        )
        for level in LEVELS
    }
    return Score(
        len(results),
        sum(r.correct for r in results) / len(results) if results else 0.0,
        recall,
        over,
        len(results) - len(emergencies),
        directions["over"],
        directions["under"],
        tuple(r for r in results if not r.correct),
        by_level,
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m evaluation.cases FILE…`: each case file through findings + engine, in both reply modes —
    the figures the engine-level tests assert, printed (counts only: a holdout's texts are not for reading)."""
    from carebot.nlu.findings import build_findings_pipeline
    from carebot.triage.engine import PATTERNS_DIR

    nlp = build_findings_pipeline(PATTERNS_DIR)
    for name in argv if argv is not None else sys.argv[1:]:
        cases = load_cases(Path(name))
        for reply in DEFAULT_REPLIES:
            figures = score([run_case(nlp, case, reply) for case in cases])
            emergencies = figures.total - figures.non_emergencies
            print(
                f"{name} [{reply}]: agreement {figures.agreement:.1%} of {figures.total}; emergencies caught "
                f"{round(figures.emergency_recall * emergencies)}/{emergencies}; non-emergencies escalated "
                f"{figures.over_escalated}/{figures.non_emergencies}; over {figures.over_triaged}, "
                f"under {figures.under_triaged}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
