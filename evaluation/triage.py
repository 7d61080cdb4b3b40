"""`make eval-triage` (`python -m evaluation.triage`): the team's triage cases through the real bot over REST.

Per the contract of issue 6: a fresh sender per case sends the case text; consent, if asked, is given with "yes";
every follow-up question is answered with the case's scripted answers in order, then "I'm not sure", until the
slot `triage_level` is set or 12 bot turns have passed. Targets: emergency recall 100%, no benign case escalated
to emergency, agreement ≥ 90%. Exits 1 when one is missed, so CI can use it (it is not part of `make test`).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence

from evaluation import bot as botlib, config
from evaluation.corpora import CorpusError, TriageCase, read_triage_cases
from evaluation.metrics import Rate, confusion, confusion_table, missed, rate
from evaluation.report import Section, block, console, markdown, write_block

NO_LEVEL = "none"  # triage never ended within the turn limit


@dataclass(frozen=True)
class Outcome:
    case: TriageCase
    level: str
    bot_turns: int
    last_replies: List[str]

    @property
    def agrees(self) -> bool:
        return self.level == self.case.expected


def replies_for(case: TriageCase) -> Iterator[str]:
    """The scripted answers in order, then "I'm not sure" for ever."""
    yield from case.answers
    while True:
        yield config.NOT_SURE


def run_case(bot: botlib.Bot, case: TriageCase) -> Outcome:
    answers = replies_for(case)
    chat = botlib.chat_until(
        bot, botlib.fresh_sender(), case.text,
        done=lambda tracker: botlib.slot(tracker, config.TRIAGE_LEVEL_SLOT) is not None,
        next_reply=lambda: next(answers), max_bot_turns=config.MAX_BOT_TURNS,
    )
    level = botlib.slot(chat.tracker, config.TRIAGE_LEVEL_SLOT)
    return Outcome(case, str(level) if level is not None else NO_LEVEL, chat.bot_turns, chat.last_replies)


def score(outcomes: Sequence[Outcome]) -> List[Rate]:
    emergencies = [o for o in outcomes if o.case.expected == config.EMERGENCY]
    benign = [o for o in outcomes if o.case.expected in config.BENIGN_LEVELS]
    urgent = [o for o in outcomes if o.case.expected == "urgent"]
    return [
        Rate("emergency recall", sum(o.level == config.EMERGENCY for o in emergencies), len(emergencies), 1.0),
        Rate("benign (routine, self_care) escalated to emergency",
             sum(o.level == config.EMERGENCY for o in benign), len(benign), max_count=0),
        rate("overall agreement", [o.agrees for o in outcomes], config.TARGET),
        rate("urgent escalated to emergency (information)", [o.level == config.EMERGENCY for o in urgent]),
        rate("under-triaged (a less urgent level or none)", [_under(o) for o in outcomes]),
        rate("triage ended within 12 bot turns", [o.level != NO_LEVEL for o in outcomes]),
    ]


def _under(outcome: Outcome) -> bool:
    """Got a less urgent level than expected (levels are listed most urgent first), or no level at all."""
    if outcome.level == NO_LEVEL:
        return True
    order = config.TRIAGE_LEVELS
    return outcome.level in order and order.index(outcome.level) > order.index(outcome.case.expected)


def section(outcomes: Sequence[Outcome]) -> Section:
    result = Section(f"Triage cases (tests/triage_cases.csv, {len(outcomes)} cases)", rates=score(outcomes))
    matrix = confusion((o.case.expected, o.level) for o in outcomes)
    result.tables.append(("Confusion matrix (rows expected, columns the bot's `triage_level`)",
                          confusion_table(matrix, config.TRIAGE_LEVELS)))
    disagreements = [o for o in outcomes if not o.agrees]
    if disagreements:
        rows = ["| line | case | expected | got | bot turns |", "|---|---|---|---|---|"]
        rows += [f"| {o.case.line} | {o.case.text.replace('|', '/')} | {o.case.expected} | {o.level} | "
                 f"{o.bot_turns} |" for o in disagreements]
        result.tables.append(("Disagreements", "\n".join(rows)))
    result.examples += [(f"line {o.case.line}: expected {o.case.expected}, got {o.level}; the bot's last words",
                         o.last_replies[-2:]) for o in disagreements[:10]]
    return result


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.triage", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=str(config.TRIAGE_CASES), help="case file (default %(default)s)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    try:
        cases = read_triage_cases(config.ROOT / args.cases)
    except CorpusError as error:
        print(f"eval-triage: {error}", file=sys.stderr)
        return 2
    if not cases:
        print(f"eval-triage: {args.cases} holds no cases", file=sys.stderr)
        return 2
    started = time.monotonic()
    outcomes = []
    try:
        with botlib.running_bot() as bot:
            for number, case in enumerate(cases, start=1):
                outcomes.append(run_case(bot, case))
                if number % 25 == 0:
                    print(f"eval-triage: {number}/{len(cases)} cases", file=sys.stderr, flush=True)
    except botlib.StackError as error:
        print(f"eval-triage: the stack did not start: {error}", file=sys.stderr)
        return 2
    measured = section(outcomes)
    print(console([measured]))
    failed = missed(measured.rates)
    print(f"\neval-triage: {len(cases)} cases in {time.monotonic() - started:.0f} s; "
          + (f"targets missed: {', '.join(r.name for r in failed)}" if failed else "every target met"))
    if not args.no_write:
        write_block(config.DOC, "eval_triage",
                    block("eval_triage", "Evaluation: triage cases", "make eval-triage", markdown([measured])))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
