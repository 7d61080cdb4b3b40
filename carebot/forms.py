"""Is a message the answer to a form's free-text question, or an interruption? (data/forms/answers.yml)

A linear classifier gives every message some intent, and a name or a reminder text it has never seen often lands on
one with a middling confidence ("Alex Morgan" → `stop`, 0.38). While a free-text question is open, only a clear
interruption may take the message away from the question: a red flag, a photo, voice note or location, a stop said
plainly, or another intent the classifier is sure of. Everything else is the answer, and the form judges it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, Mapping, Optional, Set, Tuple

import yaml

from carebot.clinic import node_line
from carebot.settings import PROJECT_ROOT

ROOT = PROJECT_ROOT
ANSWERS_FILE = ROOT / "data" / "forms" / "answers.yml"
DOMAIN_FILE = ROOT / "domain.yml"
# Intents no text can be an answer to: screened before any form (red_flag), or sent by the channel for a photo,
# voice note or location.
ALWAYS_INTERRUPT = frozenset({"red_flag", "send_media", "share_location"})
STOP_INTENT = "stop"
SETTINGS = ("stop_phrases", "interrupting_intents", "min_confidence", "ask_again_intents")
# Words around a plain stop that do not change it: "please cancel", "ok never mind thanks", "I want to stop".
_FILLER = re.compile(
    r"^(?:(?:ok|okay|please|pls|sorry|just|actually|no|i want to|i wanna|let'?s)\s+)*|"
    r"(?:\s+(?:please|pls|thanks|thank you|now|then|it all|for now))*$"
)
_NOT_WORD = re.compile(r"[^\w' ]+")


class FormsFileError(ValueError):
    """A mistake in data/forms/answers.yml, named with the file and the setting."""


class Reading(enum.Enum):
    ANSWER = "answer"  # the form takes it and judges it (a bad name gets "I need a name, for example …")
    INTERRUPTION = "interruption"  # the form steps aside; the rules for the intent apply
    ASK_AGAIN = "ask_again"  # "yes" to "what is your name?": neither; the question is asked again


def normalise(text: str) -> str:
    """Lower case, punctuation and emoji dropped, spaces collapsed: how stop phrases are compared."""
    return " ".join(_NOT_WORD.sub(" ", text.lower().replace("’", "'")).split())


@dataclass(frozen=True)
class Question:
    """What may interrupt one free-text question."""

    stop_phrases: FrozenSet[str]
    interrupting_intents: FrozenSet[str]
    min_confidence: float
    ask_again_intents: FrozenSet[str]

    def says_stop(self, text: str) -> bool:
        """The message is a stop phrase, alone or wrapped in filler ("ok cancel that please")."""
        plain = normalise(text)
        return plain in self.stop_phrases or _FILLER.sub("", plain).strip() in self.stop_phrases

    def read(self, text: str, intent: Optional[str], confidence: float) -> Reading:
        if intent in ALWAYS_INTERRUPT or self.says_stop(text):
            return Reading.INTERRUPTION
        sure = confidence >= self.min_confidence
        if sure and intent in self.interrupting_intents:
            return Reading.INTERRUPTION
        if sure and intent in self.ask_again_intents:
            return Reading.ASK_AGAIN
        return Reading.ANSWER


class _File:
    """The file being read and its node tree, so each mistake is reported as `file:line: where: problem`."""

    def __init__(self, path: Path, root: Optional[yaml.Node]) -> None:
        self.path, self.root = path, root

    def error(self, where: Tuple[Any, ...], problem: str) -> FormsFileError:
        line = node_line(self.root, where)
        place = ".".join(str(part) for part in where)
        return FormsFileError(
            f"{self.path}{f':{line}' if line else ''}: {place + ': ' if place else ''}{problem}"
        )


def _setting(file: _File, where: Tuple[Any, ...], name: str, value: Any) -> Any:
    if name == "min_confidence":
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 1:
            raise file.error((*where, name), f"must be a number in (0, 1], not {value!r}")
        return float(value)
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise file.error((*where, name), "must be a list of words")
    return frozenset(normalise(item) if name == "stop_phrases" else item for item in value)


def _settings(file: _File, where: Tuple[Any, ...], raw: Any, inherited: Mapping[str, Any]) -> Dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise file.error(where, "must be a mapping of settings")
    unknown = set(raw) - set(SETTINGS)
    if unknown:
        raise file.error(where, f"unknown setting(s) {sorted(unknown)}; known: {list(SETTINGS)}")
    settings = dict(inherited)
    settings.update({name: _setting(file, where, name, value) for name, value in raw.items()})
    missing = [name for name in SETTINGS if name not in settings]
    if missing:
        raise file.error(where, f"missing {missing} (set them under defaults:)")
    return settings


def _domain_names(domain_file: Path) -> Tuple[Set[str], Dict[str, Set[str]]]:
    """The domain's intents, and each form's required slots."""
    domain = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}
    intents = {next(iter(i)) if isinstance(i, dict) else i for i in domain.get("intents") or []}
    forms = {
        name: set((form or {}).get("required_slots") or [])
        for name, form in (domain.get("forms") or {}).items()
    }
    return intents, forms


def _check_intents(file: _File, where: Tuple[Any, ...], settings: Mapping[str, Any], known: Set[str]) -> None:
    for name in ("interrupting_intents", "ask_again_intents"):
        unknown = sorted(set(settings.get(name) or ()) - known)
        if unknown:
            raise file.error((*where, name), f"intent(s) {unknown} are not in domain.yml")


def load_questions(
    file: Path = ANSWERS_FILE, domain_file: Path = DOMAIN_FILE
) -> Dict[Tuple[str, str], Question]:
    """(form, slot) → Question for every free-text question; refuses names the domain does not know."""
    text = file.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        content = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise FormsFileError(f"{file}{f':{mark.line + 1}' if mark else ''}: not valid YAML") from None
    source = _File(file, root)
    if not isinstance(content, dict) or set(content) - {"defaults", "questions"}:
        raise source.error((), "expected only 'defaults:' and 'questions:' at the top")
    intents, forms = _domain_names(domain_file)
    defaults = _settings(source, ("defaults",), content.get("defaults"), {})
    _check_intents(source, ("defaults",), defaults, intents)
    questions: Dict[Tuple[str, str], Question] = {}
    for form, slots in (content.get("questions") or {}).items():
        if form not in forms:
            raise source.error(("questions", form), f"no such form in domain.yml (forms: {sorted(forms)})")
        if not isinstance(slots, dict) or not slots:
            raise source.error(("questions", form), "must map its questions (slots) to settings")
        for slot, raw in slots.items():
            where = ("questions", form, slot)
            if slot not in forms[form]:
                raise source.error(where, f"{form} asks no question '{slot}' in domain.yml")
            settings = _settings(source, where, raw, defaults)
            _check_intents(source, where, raw or {}, intents)
            questions[(form, slot)] = Question(**settings)
    return questions


@lru_cache(maxsize=1)
def free_text_questions() -> Dict[Tuple[str, str], Question]:
    """The validated file, read once per process (the servers restart to pick up edits)."""
    return load_questions()


def read_message(
    form: str, slot: Optional[str], text: str, intent: Optional[str], confidence: float
) -> Reading:
    """How the message counts at this question; a question not listed as free text takes only answers the domain's
    slot mappings let through, so everything reaching its validation is an answer."""
    question = free_text_questions().get((form, slot or ""))
    return question.read(text, intent, confidence) if question else Reading.ANSWER
