"""What triage adds to every message's NLU: the findings pipeline in the entity extractor (context roles) and the
red-flag screen at the end of the pipeline, against a plain EntityRuler, plus the trained model's whole parse.

Run alone with `python -m bench.triage_nlu_bench` (needs models/carebot.tar.gz), or as `make bench`'s `triage_nlu`.
"""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path
from typing import Callable, List

import spacy
from rasa.core.agent import Agent
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bench.timing import timings_ms
from carebot.lexicon.patterns import load_patterns
from carebot.nlu.components import PatternEntityExtractor, RedFlagClassifier
from evaluation.cases import load_cases

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "carebot.tar.gz"
ROUNDS = 3


def _timed_ms(texts: List[str], work: Callable[[str], object]) -> List[float]:
    return timings_ms(work, texts, ROUNDS)


def _row(name: str, times: List[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"| {name} | {statistics.median(times):.2f} | {p95:.2f} |"


def run() -> str:
    import tempfile

    texts = [case.text for case in load_cases(ROOT / "tests" / "triage_cases.csv")]
    context = ExecutionContext(GraphSchema({}), "bench")
    storage = LocalModelStorage(Path(tempfile.mkdtemp(prefix="triage-nlu-bench-")))
    config = {"patterns_dir": str(ROOT / "data" / "patterns"), "triage_dir": str(ROOT / "data" / "triage")}
    extractor = PatternEntityExtractor.create(
        {**PatternEntityExtractor.get_default_config(), **config}, storage, Resource("entities"), context
    )
    extractor.train(TrainingData())
    screen = RedFlagClassifier.create(
        {**RedFlagClassifier.get_default_config(), **config}, storage, Resource("red_flags"), context
    )
    screen.train(TrainingData())
    plain = spacy.blank("en")  # what the entity extractor did before triage: the EntityRuler alone
    plain.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"}).add_patterns(
        load_patterns(ROOT / "data" / "patterns")
    )

    def message(text: str) -> Message:
        msg = Message(data={"text": text})
        msg.set("intent", {"name": "describe_symptoms", "confidence": 0.9})
        return msg

    prepared = {text: extractor.process([message(text)])[0] for text in texts}
    rows = [
        "| per message (ms) | median | p95 |",
        "|---|---|---|",
        _row("EntityRuler alone (before)", _timed_ms(texts, lambda t: plain(t))),
        _row(
            "PatternEntityExtractor with findings + context (now)",
            _timed_ms(texts, lambda t: extractor.process([message(t)])),
        ),
        _row(
            "RedFlagClassifier (red-flag screen)", _timed_ms(texts, lambda t: screen.process([prepared[t]]))
        ),
    ]
    if MODEL.exists():
        agent = Agent.load(str(MODEL))
        loop = asyncio.new_event_loop()
        rows.append(
            _row(
                "whole trained NLU pipeline (`Agent.parse_message`)",
                _timed_ms(texts, lambda t: loop.run_until_complete(agent.parse_message(t))),
            )
        )
        loop.close()
    return f"{len(texts)} messages of tests/triage_cases.csv, {ROUNDS} rounds, one process.\n\n" + "\n".join(
        rows
    )


if __name__ == "__main__":
    print(run())
