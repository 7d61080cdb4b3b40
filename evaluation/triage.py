"""`make eval-triage` (`python -m evaluation.triage`): the triage case files through the real bot over REST.

Per the contract of issue 6: a fresh sender per case sends the case text; consent, if asked, is given with "yes";
a follow-up question the case scripts (`answers`: question_id=option) gets that option's words, any other the
run's default reply, until the slot `triage_level` is set or 12 bot turns have passed. Each file runs twice, every
unscripted follow-up answered "I'm not sure" and then "no". Two files: the team's case file, and the holdout
(tests/triage_holdout.csv) written from NHS/NICE sources by someone who never saw the protocols, never tuned on.
Targets: emergency recall 100%, at most 10% of non-emergencies escalated to emergency, agreement >= 85% (holdout)
or 90% (case file). Exits 1 when one is missed. Read by evaluation.cases, as the engine-only tests do.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence

import httpx

from carebot.triage.engine import default_protocols
from carebot.triage.model import LEVELS, Question, level_rank
from evaluation import bot as botlib
from evaluation import config
from evaluation.cases import Case, load_cases
from evaluation.metrics import Rate, confusion, confusion_table, missed, rate
from evaluation.report import Section, block, console, markdown, write_block

NO_LEVEL = "none"  # triage never ended within the turn limit


@dataclass(frozen=True)
class Outcome:
    case: Case
    level: str
    bot_turns: int
    last_replies: List[str]

    @property
    def agrees(self) -> bool:
        return self.level == self.case.expected


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def pending_question(
    tracker: botlib.Tracker, last_replies: Sequence[str], questions: Mapping[str, Question]
) -> Optional[str]:
    """The question id the bot waits for: from its slot, else the question whose words its last message holds."""
    for name in config.TRIAGE_QUESTION_SLOTS:
        value = botlib.slot(tracker, name)
        if isinstance(value, str) and value in questions:
            return value
    said = _words(" ".join(last_replies))
    found = [q.id for q in questions.values() if _words(q.text) and _words(q.text) in said]
    return max(found, key=lambda qid: len(questions[qid].text)) if found else None


def reply_for(
    case: Case, question_id: Optional[str], questions: Mapping[str, Question], default: str = config.NOT_SURE
) -> str:
    """The scripted option's own words for a scripted question, else the run's default reply."""
    option_id = case.answers.get(question_id or "")
    if option_id is None:
        return default
    return questions[question_id].option(option_id).text


def run_case(
    bot: botlib.Bot, case: Case, questions: Mapping[str, Question], default: str = config.NOT_SURE
) -> Outcome:
    try:
        chat = botlib.chat_until(
            bot,
            botlib.fresh_sender(),
            case.text,
            done=lambda tracker: botlib.slot(tracker, config.TRIAGE_LEVEL_SLOT) is not None,
            next_reply=lambda tracker, replies: reply_for(
                case, pending_question(tracker, replies, questions), questions, default
            ),
            max_bot_turns=config.MAX_BOT_TURNS,
        )
    except httpx.HTTPError as error:  # one broken conversation is a miss to report, not the end of the run
        return Outcome(case, NO_LEVEL, 0, [f"(HTTP error {error.__class__.__name__})"])
    level = botlib.slot(chat.tracker, config.TRIAGE_LEVEL_SLOT)
    return Outcome(case, str(level) if level is not None else NO_LEVEL, chat.bot_turns, chat.last_replies)


def _under(outcome: Outcome) -> bool:
    """A less urgent level than expected, or no level at all."""
    if outcome.level == NO_LEVEL:
        return True
    return outcome.level in LEVELS and level_rank(outcome.level) < level_rank(outcome.case.expected)


def _over(outcome: Outcome) -> bool:
    return outcome.level in LEVELS and level_rank(outcome.level) > level_rank(outcome.case.expected)


def score(outcomes: Sequence[Outcome], agreement_target: float = config.TARGET) -> List[Rate]:
    emergencies = [o for o in outcomes if o.case.expected == config.EMERGENCY]
    non_emergencies = [o for o in outcomes if o.case.expected != config.EMERGENCY]
    urgent = [o for o in outcomes if o.case.expected == "urgent"]
    return [
        Rate(
            "emergency recall", sum(o.level == config.EMERGENCY for o in emergencies), len(emergencies), 1.0
        ),
        Rate(
            "non-emergencies escalated to emergency (at most 10%)",
            sum(o.level == config.EMERGENCY for o in non_emergencies),
            len(non_emergencies),
            max_count=int(config.MAX_OVER_ESCALATION * len(non_emergencies)),
        ),
        rate("overall agreement", [o.agrees for o in outcomes], agreement_target),
        rate("urgent escalated to emergency (information)", [o.level == config.EMERGENCY for o in urgent]),
        rate("over-triaged (a more urgent level)", [_over(o) for o in outcomes]),
        rate("under-triaged (a less urgent level or none)", [_under(o) for o in outcomes]),
        rate(
            f"triage ended within {config.MAX_BOT_TURNS} bot turns", [o.level != NO_LEVEL for o in outcomes]
        ),
    ]


def by_complaint(outcomes: Sequence[Outcome]) -> str:
    """Right / over / under per complaint area (files that have the column): where the misses cluster."""
    groups: Dict[str, List[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.case.complaint or "-", []).append(outcome)
    rows = ["| complaint | cases | right | over-triaged | under-triaged |", "|---|---|---|---|---|"]
    rows += [
        f"| {name} | {len(group)} | {sum(o.agrees for o in group)} | {sum(_over(o) for o in group)} | "
        f"{sum(_under(o) for o in group)} |"
        for name, group in sorted(groups.items())
    ]
    return "\n".join(rows)


def _shown(case: Case, texts_shown: bool) -> str:
    if texts_shown:
        return case.text.replace("|", "/")
    return (
        f"(holdout: {case.complaint or 'complaint not given'}, {case.population or 'population not given'})"
    )


def section(
    outcomes: Sequence[Outcome],
    source: str,
    reply: str = config.NOT_SURE,
    agreement_target: float = config.TARGET,
    texts_shown: bool = True,
) -> Section:
    """The figures of one run; `texts_shown=False` for a holdout, whose texts must not become tuning material."""
    result = Section(
        f'Triage cases ({source}, {len(outcomes)} cases, follow-ups answered "{reply}")',
        rates=score(outcomes, agreement_target),
    )
    matrix = confusion((o.case.expected, o.level) for o in outcomes)
    result.tables.append(
        (
            "Confusion matrix (rows expected, columns the bot's `triage_level`)",
            confusion_table(matrix, tuple(reversed(LEVELS))),
        )
    )
    if any(o.case.complaint for o in outcomes):
        result.tables.append(("Per complaint area", by_complaint(outcomes)))
    disagreements = [o for o in outcomes if not o.agrees]
    if disagreements:
        rows = ["| line | case | expected | got | bot turns |", "|---|---|---|---|---|"]
        rows += [
            f"| {o.case.line} | {_shown(o.case, texts_shown)} | {o.case.expected} | {o.level} | {o.bot_turns} |"
            for o in disagreements
        ]
        result.tables.append(("Disagreements", "\n".join(rows)))
    result.examples += [
        (
            f"line {o.case.line}: expected {o.case.expected}, got {o.level}; the bot's last words",
            o.last_replies[-2:] or ["(no reply: a silent bot is a failure in itself)"],
        )
        for o in disagreements[:10]
    ]
    return result


def run_file(
    bot: botlib.Bot, cases: Sequence[Case], questions: Mapping[str, Question], reply: str, label: str
) -> List[Outcome]:
    outcomes = []
    for number, case in enumerate(cases, start=1):
        outcomes.append(run_case(bot, case, questions, reply))
        if number % 50 == 0:
            print(
                f'eval-triage: {label}, "{reply}": {number}/{len(cases)} cases', file=sys.stderr, flush=True
            )
    return outcomes


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.triage", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases",
        nargs="+",
        default=[str(p.relative_to(config.ROOT)) for p in config.TRIAGE_FILES],
        help="case files, relative to the project (default %(default)s)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    files = []
    for name in args.cases:
        try:
            cases = load_cases(config.ROOT / name)
        except (OSError, KeyError, ValueError) as error:
            print(f"eval-triage: cannot read {name}: {error}", file=sys.stderr)
            return 2
        if not cases:
            print(f"eval-triage: {name} holds no cases", file=sys.stderr)
            return 2
        files.append((name, cases))
    questions = default_protocols().questions
    started = time.monotonic()
    sections = []
    try:
        with botlib.running_bot() as bot:
            for name, cases in files:
                target = config.TRIAGE_AGREEMENT_TARGETS.get(config.ROOT / name, config.TARGET)
                for reply in config.TRIAGE_REPLIES:
                    outcomes = run_file(bot, cases, questions, reply, name)
                    texts_shown = config.ROOT / name != config.TRIAGE_HOLDOUT
                    sections.append(section(outcomes, name, reply, target, texts_shown))
    except botlib.StackError as error:
        print(f"eval-triage: the stack did not start: {error}", file=sys.stderr)
        return 2
    print(console(sections, examples=True))  # the holdout's texts are already left out (texts_shown)
    failed = [r for measured in sections for r in missed(measured.rates)]
    total = sum(len(cases) for _, cases in files) * len(config.TRIAGE_REPLIES)
    print(
        f"\neval-triage: {total} conversations in {time.monotonic() - started:.0f} s; "
        + (f"targets missed: {', '.join(sorted({r.name for r in failed}))}" if failed else "every target met")
    )
    if not args.no_write:
        command = (
            "make eval-triage"
            if args.cases == parser.get_default("cases")
            else f".venv/bin/python -m evaluation.triage --cases {' '.join(args.cases)}"
        )
        write_block(
            config.DOC,
            "eval_triage",
            block("eval_triage", "Evaluation: triage cases", command, markdown(sections)),
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
