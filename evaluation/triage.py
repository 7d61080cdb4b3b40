"""`make eval-triage` (`python -m evaluation.triage`): the team's triage cases through the real bot over REST.

Per the contract of issue 6: a fresh sender per case sends the case text; consent, if asked, is given with "yes";
a follow-up question the case scripts (`answers`: question_id=option) gets that option's words, any other
"I'm not sure", until the slot `triage_level` is set or 12 bot turns have passed. Targets: emergency recall
100%, no benign case escalated to emergency, agreement ≥ 90%. Exits 1 when one is missed, so CI can use it
(it is not part of `make test`). The case file is read by carebot.triage.cases, as the engine-only check does.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence

import httpx

from carebot.triage.cases import Case, load_cases
from carebot.triage.engine import default_protocols
from carebot.triage.model import LEVELS, Question, level_rank
from evaluation import bot as botlib, config
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


def pending_question(tracker: botlib.Tracker, last_replies: Sequence[str],
                     questions: Mapping[str, Question]) -> Optional[str]:
    """The question id the bot waits for: from its slot, else the question whose words its last message holds."""
    for name in config.TRIAGE_QUESTION_SLOTS:
        value = botlib.slot(tracker, name)
        if isinstance(value, str) and value in questions:
            return value
    said = _words(" ".join(last_replies))
    found = [q.id for q in questions.values() if _words(q.text) and _words(q.text) in said]
    return max(found, key=lambda qid: len(questions[qid].text)) if found else None


def reply_for(case: Case, question_id: Optional[str], questions: Mapping[str, Question]) -> str:
    """The scripted option's own words for a scripted question, else "I'm not sure"."""
    option_id = case.answers.get(question_id or "")
    if option_id is None:
        return config.NOT_SURE
    return questions[question_id].option(option_id).text


def run_case(bot: botlib.Bot, case: Case, questions: Mapping[str, Question]) -> Outcome:
    try:
        chat = botlib.chat_until(
            bot, botlib.fresh_sender(), case.text,
            done=lambda tracker: botlib.slot(tracker, config.TRIAGE_LEVEL_SLOT) is not None,
            next_reply=lambda tracker, replies: reply_for(case, pending_question(tracker, replies, questions),
                                                          questions),
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
        rate(f"triage ended within {config.MAX_BOT_TURNS} bot turns", [o.level != NO_LEVEL for o in outcomes]),
    ]


def section(outcomes: Sequence[Outcome], source: str) -> Section:
    result = Section(f"Triage cases ({source}, {len(outcomes)} cases)", rates=score(outcomes))
    matrix = confusion((o.case.expected, o.level) for o in outcomes)
    result.tables.append(("Confusion matrix (rows expected, columns the bot's `triage_level`)",
                          confusion_table(matrix, tuple(reversed(LEVELS)))))
    disagreements = [o for o in outcomes if not o.agrees]
    if disagreements:
        rows = ["| line | case | expected | got | bot turns |", "|---|---|---|---|---|"]
        rows += [f"| {o.case.line} | {o.case.text.replace('|', '/')} | {o.case.expected} | {o.level} | "
                 f"{o.bot_turns} |" for o in disagreements]
        result.tables.append(("Disagreements", "\n".join(rows)))
    result.examples += [(f"line {o.case.line}: expected {o.case.expected}, got {o.level}; the bot's last words",
                         o.last_replies[-2:] or ["(no reply: a silent bot is a failure in itself)"])
                        for o in disagreements[:10]]
    return result


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.triage", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=str(config.TRIAGE_CASES.relative_to(config.ROOT)),
                        help="case file, relative to the project (default %(default)s)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    path = config.ROOT / args.cases
    try:
        cases = load_cases(path)
    except (OSError, KeyError, ValueError) as error:
        print(f"eval-triage: cannot read {path}: {error}", file=sys.stderr)
        return 2
    if not cases:
        print(f"eval-triage: {args.cases} holds no cases", file=sys.stderr)
        return 2
    questions = default_protocols().questions
    started = time.monotonic()
    outcomes = []
    try:
        with botlib.running_bot() as bot:
            for number, case in enumerate(cases, start=1):
                outcomes.append(run_case(bot, case, questions))
                if number % 25 == 0:
                    print(f"eval-triage: {number}/{len(cases)} cases", file=sys.stderr, flush=True)
    except botlib.StackError as error:
        print(f"eval-triage: the stack did not start: {error}", file=sys.stderr)
        return 2
    measured = section(outcomes, args.cases)
    print(console([measured]))
    failed = missed(measured.rates)
    print(f"\neval-triage: {len(cases)} cases in {time.monotonic() - started:.0f} s; "
          + (f"targets missed: {', '.join(r.name for r in failed)}" if failed else "every target met"))
    if not args.no_write:
        command = "make eval-triage" if args.cases == parser.get_default("cases") \
            else f".venv/bin/python -m evaluation.triage --cases {args.cases}"
        write_block(config.DOC, "eval_triage",
                    block("eval_triage", "Evaluation: triage cases", command, markdown([measured])))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
