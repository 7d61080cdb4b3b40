"""Issue 5 on Google SGD doctor/dentist/therapist dialogues: do opening requests start booking, and do the dates
and times people said parse with `carebot.dates.interpret_when`?
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Callable, Dict, List, Sequence, Tuple

import httpx

from carebot.clinic import Clinic
from carebot.dates import DateProblem, interpret_when
from evaluation import bot as botlib
from evaluation import config
from evaluation.corpora import Turn
from evaluation.metrics import rate
from evaluation.report import Section

# A fixed "now" (a Monday morning) keeps the figures reproducible; a past or closed day still counts as understood.
REFERENCE_NOW = (2026, 3, 2, 9, 0)


def span_understood(text: str, clinic: Clinic, now: dt.datetime) -> Tuple[bool, str]:
    """(understood, problem): any answer but UNPARSEABLE means the words were read as a day or time."""
    result = interpret_when(text, clinic, now)
    return result.problem is not DateProblem.UNPARSEABLE, (result.problem.value if result.problem else "ok")


def measure_spans(spans: Sequence[Tuple[str, str]], clinic: Clinic) -> Section:
    now = dt.datetime(*REFERENCE_NOW, tzinfo=clinic.tz)
    section = Section("Dates and times said in SGD booking dialogues (`carebot.dates.interpret_when`)")
    outcomes: Dict[str, List[bool]] = {slot: [] for slot in config.SGD_DATE_TIME_SLOTS}
    problems: Counter = Counter()
    failures: Dict[str, List[str]] = {slot: [] for slot in config.SGD_DATE_TIME_SLOTS}
    for slot, text in spans:
        ok, problem = span_understood(text, clinic, now)
        outcomes[slot].append(ok)
        problems[f"{slot}: {problem}"] += 1
        if not ok:
            failures[slot].append(text)
    section.rates.append(
        rate("date/time spans understood", [o for v in outcomes.values() for o in v], config.TARGET)
    )
    section.rates += [rate(f"… {slot} spans", values) for slot, values in outcomes.items()]
    section.breakdowns.append(
        (
            "What `interpret_when` answered (a problem other than `unparseable` still counts as understood)",
            "slot: answer",
            dict(problems),
        )
    )
    section.examples += [
        (f"unparsed {slot} spans (most frequent)", _frequent(texts)) for slot, texts in failures.items()
    ]
    return section


def _frequent(texts: Sequence[str], limit: int = 12) -> List[str]:
    return [f"{count}× {text}" for text, count in Counter(texts).most_common(limit)]


def measure_nlu(openings: Sequence[Turn], parse: Callable[[str], Dict]) -> Section:
    """Share of opening turns whose intent (after fallback) is a booking intent."""
    section = Section("Opening turns that start booking")
    got: Counter = Counter()
    failures: Dict[str, List[str]] = {}
    outcomes = []
    for turn in openings:
        result = parse(turn.utterance)
        ok = botlib.intent_name(result) in config.BOOKING_INTENTS
        intent = botlib.intent_label(result)
        outcomes.append(ok)
        if not ok:
            got[intent] += 1
            failures.setdefault(intent, []).append(turn.utterance)
    section.rates.append(rate("opening turns → booking intent (NLU, all)", outcomes, config.TARGET))
    for active in sorted(config.SGD_OPENING_INTENTS):
        section.rates.append(
            rate(f"… SGD {active}", [o for o, t in zip(outcomes, openings) if t.active_intent == active])
        )
    section.breakdowns.append(
        ("Intents given to opening turns that missed booking (NLU)", "intent", dict(got))
    )
    section.examples += [
        (f"NLU gave `{intent}`", texts[:4])
        for intent, texts in sorted(failures.items(), key=lambda item: -len(item[1]))[:5]
    ]
    return section


def rest_sample(openings: Sequence[Turn], size: int, seed: int = 5) -> List[Turn]:
    """A fixed random sample, so reruns talk about the same dialogues."""
    return sorted(
        random.Random(seed).sample(list(openings), min(size, len(openings))),
        key=lambda t: (t.service, t.dialogue_id),
    )


def booking_over_rest(bot: botlib.Bot, text: str) -> Tuple[bool, str]:
    """A fresh patient sends the opening; consent, if asked first, is given with "yes". (started?, where it went)"""
    sender = botlib.fresh_sender()
    try:
        bot.say(sender, text)
        tracker = bot.tracker(sender)
        if not botlib.booking_started(tracker) and botlib.awaiting_consent(tracker):
            bot.say(sender, config.CONSENT_YES)
            tracker = bot.tracker(sender)
    except httpx.HTTPError as error:  # one broken conversation is a failure to report, not the end of the run
        return False, f"HTTP error {error.__class__.__name__}"
    outcome = f"{botlib.last_user_intent(tracker)} → {', '.join(botlib.actions_after_last_user(tracker)) or 'nothing'}"
    return botlib.booking_started(tracker), outcome


def measure_rest(sample: Sequence[Turn], bot: botlib.Bot, section: Section) -> None:
    outcomes: List[bool] = []
    went: Counter = Counter()
    failures: Dict[str, List[str]] = {}
    for turn in sample:
        ok, outcome = booking_over_rest(bot, turn.utterance)
        outcomes.append(ok)
        if not ok:
            went[outcome] += 1
            failures.setdefault(outcome, []).append(turn.utterance)
    section.rates.append(
        rate(f"opening turns → booking flow started (REST, sample of {len(sample)})", outcomes, config.TARGET)
    )
    section.breakdowns.append(
        (
            "Where the sampled openings that missed booking went (REST: last intent → bot actions)",
            "intent → actions",
            dict(went),
        )
    )
    section.examples += [
        (f"REST went `{outcome}`", texts[:3])
        for outcome, texts in sorted(failures.items(), key=lambda item: -len(item[1]))[:4]
    ]
