"""What review shows and exports, pure: a conversation's turns from its tracker events, and the marked messages as
Rasa NLU YAML (the format of data/nlu/*.yml, accepted by `rasa data validate`)."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import yaml

from carebot.dashboard.model import FUNNELS, TRIAGE_LEVELS

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


# What identifies a patient in a conversation, replaced in a saved test story by a fixed stand-in of the same shape
# (so the story reads as the real one did). Phone numbers anywhere in a text are replaced too.
PERSONAL_SLOTS = {
    "patient_name": "Alex Example",
    "patient_birth_date": "01/01/1970",
    "identity_birth_date": "01/01/1970",
    "patient_id": "patient-0",
}
STAND_IN_PHONE = "+44 7700 900000"  # Ofcom's drama range: never a real patient's
# A phone number in a story: nine digits or more, not part of a word (an id) nor a date (2026-12-09 has eight).
_STORY_PHONE = re.compile(r"(?<![\w+])\+?\d(?:[\s().-]*\d){8,}(?!\w)")
# Events a test story has no step for and whose effect a replay would not reproduce: refused, not silently dropped.
UNREPLAYABLE = ("rewind", "undo", "restart", "export")


class StoryError(ValueError):
    """A conversation that cannot be written as a test story; the message says why, for the reader."""


class _Masker:
    """Replaces the conversation's personal slot values and every phone number with their stand-ins."""

    def __init__(self, events: Sequence[Mapping[str, Any]]) -> None:
        found: Dict[str, str] = {}
        for data in events:
            name, value = data.get("name"), data.get("value")
            if (
                data.get("event") == "slot"
                and name in PERSONAL_SLOTS
                and isinstance(value, str)
                and value.strip()
            ):
                found[value.strip()] = PERSONAL_SLOTS[str(name)]
        # Longest first, so a full name is replaced before a part of it.
        self.pairs = sorted(found.items(), key=lambda pair: -len(pair[0]))

    def text(self, text: str) -> str:
        for value, stand_in in self.pairs:
            text = re.sub(re.escape(value), stand_in, text, flags=re.IGNORECASE)
        return _STORY_PHONE.sub(STAND_IN_PHONE, text)

    def value(self, name: str, value: Any) -> Any:
        if name in PERSONAL_SLOTS and value is not None:
            return PERSONAL_SLOTS[name]
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value("", v) for v in value]
        if isinstance(value, dict):
            return {k: self.value(str(k), v) for k, v in value.items()}
        return value


def _user_step(data: Mapping[str, Any], mask: _Masker) -> Dict[str, Any]:
    """A patient message as a story step: its text (masked) with entities annotated in place, and its intent. A
    button payload (`/intent{...}`) or a message the bot's own processes sent has no patient text: intent and
    entities only, as Rasa reads them."""
    parse = data.get("parse_data") or {}
    intent = str((parse.get("intent") or {}).get("name") or "")
    if not intent:
        raise StoryError("A patient message has no intent: the conversation cannot be replayed.")
    entities = [e for e in parse.get("entities") or [] if e.get("entity")]
    said = str(data.get("text") or "")
    if not said.strip() or said.startswith("/") or said.startswith("EXTERNAL: "):
        step: Dict[str, Any] = {"intent": intent}
        if entities:
            step["entities"] = [
                {str(e["entity"]): mask.value(str(e["entity"]), e.get("value"))} for e in entities
            ]
        return step
    pieces, at = [], 0
    for entity in sorted(entities, key=lambda e: e.get("start") or 0):
        start, end = entity.get("start"), entity.get("end")
        if not isinstance(start, int) or not isinstance(end, int) or start < at or end > len(said):
            continue  # no place in the text (an extractor's guess): the intent carries the turn
        pieces.append(_plain(mask.text(said[at:start])))
        span = _plain(mask.text(said[start:end]))
        value = mask.value(str(entity["entity"]), entity.get("value"))
        label = {"entity": str(entity["entity"])}
        if value is not None and str(value) != span:
            label["value"] = value
        pieces.append(f"[{span}]{json.dumps(label, ensure_ascii=False)}")
        at = end
    pieces.append(_plain(mask.text(said[at:])))
    return {"user": "".join(pieces), "intent": intent}


def _plain(text: str) -> str:
    """Text outside an annotation: brackets would read as one, line breaks as YAML structure."""
    return _SPACE.sub(" ", text).replace("[", "(").replace("]", ")")


def story_steps(events: Iterable[Mapping[str, Any]]) -> Tuple[List[Dict[str, Any]], bool]:
    """A conversation's tracker events (decrypted, in order) as Rasa test-story steps: patient messages (masked)
    with intents and entities, the actions the bot ran, the slots they set and the forms they opened and closed.
    What a session start carries over and `action_listen` are left out, as in Rasa's own stories; bot texts are
    the responses' business, not the story's. StoryError when an event cannot be replayed.

    An action that forced the next one (a `followup` event: action_fallback makes the bot listen after a core
    fallback) has no story step, and a replay without it predicts differently: the story stops before the patient
    message of that turn, and the flag returned is False (the steps are not the whole conversation)."""
    events = list(events)
    mask = _Masker(events)
    steps: List[Dict[str, Any]] = []
    turn = 0  # where the current turn's patient message starts in `steps`
    starting = False  # between action_session_start and the next action_listen: the carried-over slots
    for data in events:
        kind, name = str(data.get("event", "")), data.get("name")
        if kind in UNREPLAYABLE:
            raise StoryError(f"The conversation has a '{kind}' event, which a test story cannot replay.")
        if kind == "followup":
            del steps[turn:]
            break
        if kind == "user":
            turn = len(steps)
        if kind == "action":
            starting = name == "action_session_start" or (starting and name != "action_listen")
            if name not in ("action_listen", "action_session_start"):
                steps.append({"action": str(name)})
        elif starting:
            continue
        elif kind == "user":
            steps.append(_user_step(data, mask))
        elif kind == "slot":
            steps.append({"slot_was_set": [{str(name): mask.value(str(name), data.get("value"))}]})
        elif kind == "active_loop":
            steps.append({"active_loop": name})
    if not any("intent" in step for step in steps):
        raise StoryError("The conversation has no patient message a test story can replay.")
    return steps, not any(data.get("event") == "followup" for data in events)


def story_yaml(title: str, steps: Sequence[Mapping[str, Any]]) -> str:
    """One test story in the format of tests/stories/*.yml (`rasa test core --stories FILE` reads it)."""
    document = {"version": "3.1", "stories": [{"story": title, "steps": list(steps)}]}
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)


# Search by flow and outcome uses the dashboard's own per-patient lists (docs/dashboard.md), so a conversation found
# here is one the dashboard counts in that figure: a flow is the first step of its funnel (booking, reschedule and
# cancel started with their intent, a reminder asked for with set_reminder, triage started by action_triage_start)
# or a hand-off to staff (the bot paused); an outcome is the funnel's last step, a triage level, paused, or a message
# not understood.
FLOWS: Dict[str, str] = {
    **{funnel.key: f"funnel:{funnel.key}:0" for funnel in FUNNELS},
    "handoff": "paused",
}
OUTCOMES: Dict[str, str] = {
    **{funnel.steps[-1][1]: f"funnel:{funnel.key}:{len(funnel.steps) - 1}" for funnel in FUNNELS},
    **{f"triage: {level.replace('_', ' ')}": f"triage_level:{level}" for level in TRIAGE_LEVELS},
    "handed off": "paused",
    "not understood": "not_understood",
}


def confidence_below(text: Optional[str]) -> Optional[float]:
    """The search's "confidence below" field: None when empty; ValueError with a message for the reader when it is
    not a number between 0 and 1."""
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"Confidence below must be a number between 0 and 1, not '{text[:20]}'.") from None
    if not 0 < value <= 1:
        raise ValueError(f"Confidence below must be a number between 0 and 1, not {value:g}.")
    return value
