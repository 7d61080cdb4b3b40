"""Issue 20: clinic questions and requests the bot must not turn away (the frozen in-scope holdout).

The other side of the out-of-scope guard: a text is handled when the NLU gives the intent (or FAQ answer) that
answers it or starts its flow; a false decline is one the bot declines (`out_of_scope`) or does not understand
(`nlu_fallback`), unless it asks "Do you mean …?" offering the right answer (counted apart: the patient is one tap
away, but not served yet). Reported per expected label next to the CLINC decline figures.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Callable, Dict, List, Sequence

from evaluation import bot as botlib
from evaluation import config
from evaluation.corpora import Labelled
from evaluation.metrics import rate
from evaluation.report import Section

Parse = Callable[[str], Dict]
HANDLED, ASKED, DECLINED, ELSEWHERE = "handled", "asked which", "declined", "elsewhere"
OUTCOMES = (HANDLED, ASKED, DECLINED, ELSEWHERE)


def handled(expected: str, parse: Dict) -> bool:
    """The NLU answer handles the expected label: its intent or FAQ answer, or for a service the clinic does not
    offer the services question or a booking request with the entity that makes the answer say so (the booking
    form says it, then asks which of the clinic's services to book)."""
    if expected == config.NOT_OFFERED:
        return botlib.intent_name(
            parse
        ) in config.NOT_OFFERED_INTENTS and config.NOT_OFFERED_ENTITY in entities(parse)
    accepted = config.HANDLED_AS.get(expected, frozenset({expected}))
    return botlib.intent_label(parse) in accepted or botlib.intent_name(parse) in accepted


def entities(parse: Dict) -> List[str]:
    return [e.get("entity") for e in parse.get("entities") or []]


def outcome(expected: str, parse: Dict) -> str:
    if handled(expected, parse):
        return HANDLED
    if botlib.intent_name(parse) not in config.DECLINE_INTENTS:
        return ELSEWHERE
    return ASKED if expected in botlib.guesses(parse) else DECLINED


def measure(texts: Sequence[Labelled], parse: Parse) -> Section:
    section = Section(
        f"Clinic requests handled, not declined (in-scope holdout, "
        f"{config.INSCOPE_HOLDOUT.relative_to(config.ROOT)})"
    )
    results = [(text, parse(text.text)) for text in texts]
    outcomes = [outcome(text.label, result) for text, result in results]
    section.rates.append(
        rate("in-scope texts handled (all)", [o == HANDLED for o in outcomes], config.INSCOPE_TARGET)
    )
    section.rates.append(
        rate("… false declines (declined or not understood)", [o == DECLINED for o in outcomes])
    )
    section.rates.append(
        rate('… asked "Do you mean …?" with the right answer offered', [o == ASKED for o in outcomes])
    )
    by_label: Dict[str, List[int]] = defaultdict(list)
    for index, (text, _) in enumerate(results):
        by_label[text.label].append(index)
    rows = ["| expected | texts | " + " | ".join(OUTCOMES) + " |", "|---|---|" + "---|" * len(OUTCOMES)]
    failures: Dict[str, List[str]] = defaultdict(list)
    for label in sorted(by_label):
        indices = by_label[label]
        section.rates.append(
            rate(
                f"… {label} handled", [outcomes[i] == HANDLED for i in indices], config.INSCOPE_INTENT_TARGET
            )
        )
        counts = Counter(outcomes[i] for i in indices)
        rows.append(f"| {label} | {len(indices)} | " + " | ".join(str(counts[o]) for o in OUTCOMES) + " |")
        for i in indices:
            if outcomes[i] != HANDLED:
                failures[f"{label} → `{botlib.intent_label(results[i][1])}`"].append(results[i][0].text)
    section.tables.append(("Per expected label: what the bot did", "\n".join(rows)))
    section.breakdowns.append(
        (
            "Intents given instead (expected → got)",
            "expected → got",
            {caption: len(found) for caption, found in failures.items()},
        )
    )
    section.examples += [
        (caption, found[:3])
        for caption, found in sorted(failures.items(), key=lambda item: -len(item[1]))[:10]
    ]
    section.notes.append(
        f"Handled = the intent (or FAQ answer) that answers the text or starts its flow; a service "
        f"the clinic does not offer must reach {' or '.join(sorted(config.NOT_OFFERED_INTENTS))} "
        f"with a `{config.NOT_OFFERED_ENTITY}` entity. Declined = `out_of_scope` or `nlu_fallback` "
        f'without a "Do you mean …?" question offering the right answer.'
    )
    return section
