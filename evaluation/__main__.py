"""`make eval` (`python -m evaluation`): Carebot on external corpora, through the real bot on free ports.

Booking openings and date/time spans (SGD, issue 5), declining and small talk (CLINC150, issue 8), clinic requests
that must not be declined (the frozen in-scope holdout, issue 20), symptom descriptions (issue 6). Prints a table
(and, with `--examples`, a few failing texts), writes the figures (counts only) into the `eval` block of
docs/benchmarks.md, and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Dict, List, Optional

from carebot.clinic import load_clinic
from evaluation import booking, clinc, config, corpora, inscope, symptoms
from evaluation.bot import Bot, StackError, running_bot
from evaluation.metrics import missed
from evaluation.report import Section, block, console, markdown, write_block

PARTS = ("booking", "clinc", "inscope", "symptoms")


def measure_live(
    bot: Bot,
    parts: List[str],
    turns: List[corpora.Turn],
    scope: List[corpora.Labelled],
    others: List[corpora.Labelled],
    inscope_texts: List[corpora.Labelled],
    symptom_texts: List[corpora.Labelled],
    rest_sample: int,
) -> List[Section]:
    """The measures that need the running bot; NLU answers are cached (corpora repeat some queries)."""
    cache: Dict[str, Dict] = {}

    def parse(text: str) -> Dict:
        if text not in cache:
            cache[text] = bot.parse(text)
        return cache[text]

    sections: List[Section] = []
    if "booking" in parts:
        openings = corpora.opening_booking_turns(turns)
        opening_section = booking.measure_nlu(openings, parse)
        booking.measure_rest(booking.rest_sample(openings, rest_sample), bot, opening_section)
        sections.append(opening_section)
        sections.append(booking.measure_spans(corpora.date_time_spans(turns), load_clinic()))  # no bot needed
    if "clinc" in parts:
        oos = [q for q in scope if q.label == config.CLINC_OOS_INTENT]
        sections.append(clinc.measure_declines(oos, others, parse))
        sections.append(clinc.measure_declines_rest(oos, others, bot))
        sections.append(clinc.measure_in_scope(scope, parse))
    if "inscope" in parts:
        sections.append(inscope.measure(inscope_texts, parse))
    if "symptoms" in parts:
        sections.append(symptoms.measure(symptom_texts, parse))
    return sections


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=PARTS, help="measure only these parts")
    parser.add_argument(
        "--rest-sample",
        type=int,
        default=config.REST_BOOKING_SAMPLE,
        help="opening turns replayed as whole conversations over REST (default %(default)s)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument(
        "--examples",
        action="store_true",
        help="also print a few failing texts (corpora and the in-scope holdout: to debug, never to tune on)",
    )
    args = parser.parse_args(argv)
    parts = args.only or list(PARTS)
    folder = config.eval_dir()
    try:
        turns = [t for name in config.SGD_FILES for t in corpora.read_turns(folder / name)]
        scope = corpora.read_labelled(folder / config.CLINC_SCOPE_FILE, "utterance", "intent")
        others = corpora.read_labelled(
            folder / config.CLINC_OTHER_FILE, "utterance", "intent", "possibly_confusable_with_health_bot"
        )
        symptom_texts = corpora.read_labelled(folder / config.SYMPTOM_FILE, "text", "category")
        inscope_texts = corpora.read_labelled(config.INSCOPE_HOLDOUT, "text", "expected")
    except corpora.CorpusError as error:
        print(f"eval: {error}", file=sys.stderr)
        return 2

    started = time.monotonic()
    try:
        with running_bot() as bot:
            sections = measure_live(
                bot, parts, turns, scope, others, inscope_texts, symptom_texts, args.rest_sample
            )
    except StackError as error:
        print(f"eval: the stack did not start: {error}", file=sys.stderr)
        return 2

    print(console(sections, args.examples))
    all_rates = [r for s in sections for r in s.rates]
    failed = missed(all_rates)
    print(
        f"\neval: {len(all_rates)} figures in {time.monotonic() - started:.0f} s; "
        + (f"targets missed: {', '.join(r.name for r in failed)}" if failed else "every target met")
    )
    if not args.no_write:
        command = "make eval" if not args.only else f".venv/bin/python -m evaluation --only {' '.join(parts)}"
        intro = (
            f"External corpora from `EVAL_DIR` (default `../shared/eval`), never trained on; counts only "
            f"here (`--examples` prints some failing texts). Date spans are read as if now were "
            f"{booking.REFERENCE_NOW[0]}-{booking.REFERENCE_NOW[1]:02d}-{booking.REFERENCE_NOW[2]:02d} "
            f"{booking.REFERENCE_NOW[3]:02d}:{booking.REFERENCE_NOW[4]:02d} clinic time.\n\n"
        )
        write_block(config.DOC, "eval", block("eval", "Evaluation", command, intro + markdown(sections)))
        print(f"eval: wrote the `eval` block of {config.DOC.relative_to(config.ROOT)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
