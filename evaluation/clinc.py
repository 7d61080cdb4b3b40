"""Issue 8 on CLINC150: out-of-scope queries and other assistants' requests must be declined politely, and small
talk must reach the right Carebot intent.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Sequence, Tuple

from evaluation import bot as botlib
from evaluation import config
from evaluation.corpora import Labelled
from evaluation.metrics import rate
from evaluation.report import Section

Parse = Callable[[str], Dict]


def predict(queries: Sequence[Labelled], parse: Parse) -> List[str]:
    return [botlib.intent_label(parse(q.text)) for q in queries]


def _declined(predicted: Sequence[str]) -> List[bool]:
    return [intent in config.DECLINE_INTENTS for intent in predicted]


def _failures(
    queries: Sequence[Labelled], predicted: Sequence[str], ok: Sequence[bool]
) -> Dict[str, List[str]]:
    failures: Dict[str, List[str]] = defaultdict(list)
    for query, intent, good in zip(queries, predicted, ok):
        if not good:
            failures[intent].append(f"[{query.label}] {query.text}")
    return failures


def measure_declines(oos: Sequence[Labelled], others: Sequence[Labelled], parse: Parse) -> Section:
    section = Section("Declining what a clinic bot does not do (CLINC150)")
    for name, queries in (("`oos` queries declined", oos), ("other-assistant intents declined", others)):
        predicted = predict(queries, parse)
        ok = _declined(predicted)
        section.rates.append(rate(name, ok, config.TARGET))
        asked = [bool(botlib.guesses(parse(q.text))) for q, good in zip(queries, ok) if good]
        section.rates.append(rate('… of which asked "Do you mean …?" (a clinic topic offered)', asked))
        if queries is others:
            flagged = [good for query, good in zip(queries, ok) if query.flag == "1"]
            section.rates.append(rate("… of which flagged possibly confusable with a health bot", flagged))
            missed_by_label = Counter(q.label for q, good in zip(queries, ok) if not good)
            section.breakdowns.append(
                (
                    "Other-assistant intents most often not declined (CLINC intent)",
                    "CLINC intent",
                    dict(missed_by_label),
                )
            )
        failures = _failures(queries, predicted, ok)
        section.breakdowns.append(
            (
                f"Intents given instead of declining ({name.split(' ')[0]})",
                "Carebot intent",
                {intent: len(texts) for intent, texts in failures.items()},
            )
        )
        section.examples += [
            (f"{name}: got `{intent}`", texts[:3])
            for intent, texts in sorted(failures.items(), key=lambda item: -len(item[1]))[:4]
        ]
    section.notes.append(
        "Declined = intent `out_of_scope` or `nlu_fallback` (both answered by the polite "
        '"can\'t help with that" message).'
    )
    return section


def declined_over_rest(bot: botlib.Bot, text: str) -> Tuple[bool, str]:
    """What the patient sees: a new conversation, this message, and the bot's answer. Declined = the bot answered
    with its "can't help with that" or "didn't understand" message and started nothing (no form, no question)."""
    sender = botlib.fresh_sender()
    bot.say(sender, text)
    tracker = bot.tracker(sender)
    actions = botlib.actions_after_last_user(tracker)
    started = (tracker.get("active_loop") or {}).get("name")
    declined = bool(set(actions) & config.DECLINE_ACTIONS) and not started
    return declined, " → ".join(actions) or "nothing"


def measure_declines_rest(oos: Sequence[Labelled], others: Sequence[Labelled], bot: botlib.Bot) -> Section:
    """The same queries through the REST channel: an intent that only makes sense as an answer (an option number,
    a date) gets the polite fallback when nothing was asked, so the patient is declined all the same."""
    section = Section("Declining what a clinic bot does not do, as the patient sees it (CLINC150 over REST)")
    with ThreadPoolExecutor(max_workers=4) as pool:
        for name, queries in (
            ("`oos` queries declined (REST)", oos),
            ("other-assistant intents declined (REST)", others),
        ):
            results = list(pool.map(lambda q: declined_over_rest(bot, q.text), queries))
            section.rates.append(rate(name, [ok for ok, _ in results], config.TARGET))
            section.breakdowns.append(
                (
                    f"What the bot did instead of declining ({name.split(' ')[0]})",
                    "actions",
                    dict(Counter(went for ok, went in results if not ok)),
                )
            )
    section.notes.append(
        "Declined = the bot's reply was `utter_out_of_scope` or `action_fallback` and no form or "
        "question was started."
    )
    return section


def measure_in_scope(queries: Sequence[Labelled], parse: Parse) -> Section:
    """Mapped intents get a rate each; CLINC intents with no Carebot counterpart show where they went."""
    section = Section("CLINC150 in-scope queries a clinic bot meets")
    queries = [q for q in queries if q.label != config.CLINC_OOS_INTENT]
    predicted = predict(queries, parse)
    by_label: Dict[str, Counter] = defaultdict(Counter)
    examples: Dict[str, List[str]] = defaultdict(list)
    for query, intent in zip(queries, predicted):
        by_label[query.label][intent] += 1
        expected = config.CLINC_TO_CAREBOT.get(query.label)
        if expected and intent != expected:
            examples[f"{query.label} → `{intent}` (expected `{expected}`)"].append(query.text)
    mapped = [(q, p) for q, p in zip(queries, predicted) if q.label in config.CLINC_TO_CAREBOT]
    section.rates.append(
        rate(
            "mapped small talk → the right intent (all)",
            [p == config.CLINC_TO_CAREBOT[q.label] for q, p in mapped],
        )
    )
    for label, expected in config.CLINC_TO_CAREBOT.items():
        section.rates.append(
            rate(f"… {label} → {expected}", [p == expected for q, p in mapped if q.label == label])
        )
    rows = ["| CLINC intent | queries | Carebot intents given (count) |", "|---|---|---|"]
    for label in sorted(set(by_label) - set(config.CLINC_TO_CAREBOT)):
        counts = by_label[label]
        given = ", ".join(f"{intent} {count}" for intent, count in counts.most_common(4))
        rows.append(f"| {label} | {sum(counts.values())} | {given} |")
    section.tables.append(
        ("CLINC intents with no fixed Carebot counterpart (for information)", "\n".join(rows))
    )
    section.examples += [
        (caption, texts[:3])
        for caption, texts in sorted(examples.items(), key=lambda item: -len(item[1]))[:6]
    ]
    return section
