"""Issue 6 on patients' own symptom descriptions: does the message start triage with a current symptom found?"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Callable, Dict, List, Sequence

from evaluation import bot as botlib
from evaluation import config
from evaluation.corpora import Labelled
from evaluation.metrics import rate
from evaluation.report import Section


def starts_triage(parse: Dict) -> str:
    """'ok', or why not: the intent is not a triage intent, or no current symptom entity was found."""
    intent_ok = botlib.intent_name(parse) in config.TRIAGE_INTENTS
    symptom_ok = bool(botlib.current_symptoms(parse.get("entities") or []))
    if intent_ok and symptom_ok:
        return "ok"
    if intent_ok:
        return "triage intent, no current symptom entity"
    return f"intent `{botlib.intent_label(parse)}`" + ("" if symptom_ok else ", no current symptom entity")


def measure(utterances: Sequence[Labelled], parse: Callable[[str], Dict]) -> Section:
    section = Section("Patients' symptom descriptions (symptom_utterances.csv)")
    outcomes: List[bool] = []
    intents, entities = [], []
    why: Counter = Counter()
    missed_category: Counter = Counter()
    examples: Dict[str, List[str]] = defaultdict(list)
    for utterance in utterances:
        result = parse(utterance.text)
        verdict = starts_triage(result)
        outcomes.append(verdict == "ok")
        intents.append(botlib.intent_name(result) in config.TRIAGE_INTENTS)
        entities.append(bool(botlib.current_symptoms(result.get("entities") or [])))
        if verdict != "ok":
            why[verdict] += 1
            missed_category[utterance.label] += 1
            examples[verdict].append(f"[{utterance.label}] {utterance.text}")
    section.rates.append(rate("start triage with ≥ 1 current symptom", outcomes))
    section.rates.append(rate("… triage intent", intents))
    section.rates.append(rate("… ≥ 1 current `symptom` entity", entities))
    section.notes.append(
        f"Triage intents: {', '.join(sorted(config.TRIAGE_INTENTS))}; a symptom entity with a role "
        "(negated, historical, family, hypothetical) does not count."
    )
    section.breakdowns.append(("Why the others did not", "reason", dict(why)))
    section.breakdowns.append(
        ("Categories (the corpus's noisy labels) most often missed", "category", dict(missed_category))
    )
    section.examples += [
        (reason, texts[:4]) for reason, texts in sorted(examples.items(), key=lambda item: -len(item[1]))[:5]
    ]
    return section
