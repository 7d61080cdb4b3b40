"""Reading the evaluation CSV files into small typed records (pure; no bot needed).

Readers take a path so tests can feed tiny files of their own; a missing file is a clear error naming EVAL_DIR.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from evaluation import config


class CorpusError(RuntimeError):
    """An evaluation file is missing or malformed; the message says which file and what to do."""


@dataclass(frozen=True)
class Turn:
    """One SGD user turn: the words, the dialogue's active intent, and the slot values said in this turn."""

    dialogue_id: str
    turn_idx: int
    service: str
    utterance: str
    active_intent: str
    spans: Dict[str, str]

    @property
    def opens_dialogue(self) -> bool:
        return self.turn_idx == 0


@dataclass(frozen=True)
class Labelled:
    """A query with its gold label (CLINC intent, symptom category)."""

    text: str
    label: str
    flag: str = ""  # e.g. CLINC's `possibly_confusable_with_health_bot`


def _rows(path: Path, required: Sequence[str]) -> Iterator[Tuple[int, Dict[str, str]]]:
    if not path.exists():
        raise CorpusError(f"{path} not found (set EVAL_DIR to the folder holding the evaluation corpora)")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in required if name not in (reader.fieldnames or [])]
        if missing:
            raise CorpusError(f"{path}: missing column(s) {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            yield line, row


def slot_spans(raw: str) -> Dict[str, str]:
    """`turn_slot_spans_json` -> {slot: text}; a list value (several mentions) keeps its first text."""
    if not raw or not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise CorpusError(f"turn_slot_spans_json is not JSON: {error}") from error
    spans: Dict[str, str] = {}
    for slot, value in data.items():
        if isinstance(value, list):
            value = value[0] if value else ""
        if isinstance(value, str) and value.strip():
            spans[slot] = value.strip()
    return spans


def read_turns(path: Path) -> List[Turn]:
    columns = ("dialogue_id", "turn_idx", "service", "utterance", "active_intent", "turn_slot_spans_json")
    return [
        Turn(
            row["dialogue_id"],
            int(row["turn_idx"]),
            row["service"],
            row["utterance"],
            row["active_intent"],
            slot_spans(row["turn_slot_spans_json"]),
        )
        for _, row in _rows(path, columns)
    ]


def opening_booking_turns(turns: Iterable[Turn]) -> List[Turn]:
    """The turns issue 5 measures: a dialogue's first user turn, asking to find or book a provider."""
    return [t for t in turns if t.opens_dialogue and t.active_intent in config.SGD_OPENING_INTENTS]


def date_time_spans(
    turns: Iterable[Turn], slots: Sequence[str] = config.SGD_DATE_TIME_SLOTS
) -> List[Tuple[str, str]]:
    """(slot, text) for every date or time the user said, in file order."""
    return [(slot, turn.spans[slot]) for turn in turns for slot in slots if slot in turn.spans]


def read_labelled(
    path: Path, text_column: str, label_column: str, flag_column: Optional[str] = None
) -> List[Labelled]:
    required = (text_column, label_column)
    return [
        Labelled(
            row[text_column].strip(),
            row[label_column].strip(),
            (row.get(flag_column) or "").strip() if flag_column else "",
        )
        for _, row in _rows(path, required)
        if row[text_column].strip()
    ]
