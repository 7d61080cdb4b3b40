"""What review shows and exports, pure: a conversation's turns from its tracker events, and the marked messages as
Rasa NLU YAML (the format of data/nlu/*.yml, accepted by `rasa data validate`)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

# A phone number in an example would teach the classifier nothing and leak a patient's number into the repository.
_PHONE = re.compile(r"\+?\d[\d\s().-]{6,}\d")
_SPACE = re.compile(r"\s+")
SHOWN_KINDS = ("user", "bot", "action", "slot")


@dataclass(frozen=True)
class Turn:
    """One event of a conversation as a reviewer reads it."""

    event_id: int
    at: dt.datetime
    kind: str  # user / bot / action / slot
    text: str = ""
    intent: str = ""
    confidence: Optional[float] = None
    entities: Tuple[str, ...] = ()
    name: str = ""  # an action's or slot's name
    value: str = ""  # a slot's value, shortened


def turns(events: Iterable[Tuple[int, float, Mapping[str, Any]]]) -> List[Turn]:
    """(event id, timestamp, event data) in order → the turns shown; `action_listen` and empty slots are noise."""
    shown: List[Turn] = []
    for event_id, timestamp, data in events:
        kind = str(data.get("event", ""))
        at = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
        if kind == "user":
            intent = (data.get("parse_data") or {}).get("intent") or {}
            entities = tuple(
                f"{e.get('entity')}={e.get('value')}"
                for e in (data.get("parse_data") or {}).get("entities") or []
            )
            confidence = intent.get("confidence")
            shown.append(
                Turn(
                    event_id,
                    at,
                    kind,
                    str(data.get("text") or ""),
                    str(intent.get("name") or ""),
                    round(float(confidence), 2) if confidence is not None else None,
                    entities,
                )
            )
        elif kind == "bot":
            shown.append(Turn(event_id, at, kind, text=str(data.get("text") or "")))
        elif kind == "action" and data.get("name") != "action_listen":
            shown.append(Turn(event_id, at, kind, name=str(data.get("name") or "")))
        elif kind == "slot" and data.get("value") is not None:
            value = str(data.get("value"))
            shown.append(Turn(event_id, at, kind, name=str(data.get("name") or ""), value=value[:80]))
    return shown


def example_text(text: str) -> Optional[str]:
    """A patient's message as one NLU example line, or None when it must not become one (empty, a phone number)."""
    line = _SPACE.sub(" ", text).strip().replace("[", "(").replace("]", ")")
    if not line or _PHONE.search(line):
        return None
    return line


def nlu_yaml(marked: Sequence[Tuple[str, str]]) -> str:
    """(text, intent) pairs as data/nlu YAML: one block per intent (sorted), each example once."""
    by_intent: Dict[str, List[str]] = {}
    for text, intent in marked:
        line = example_text(text)
        if line and line not in by_intent.setdefault(intent, []):
            by_intent[intent].append(line)
    lines = ['version: "3.1"', "nlu:"]
    for intent in sorted(by_intent):
        if by_intent[intent]:
            lines += [f"  - intent: {intent}", "    examples: |"]
            lines += [f"      - {example}" for example in by_intent[intent]]
    return "\n".join(lines) + "\n"
