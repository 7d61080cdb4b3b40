"""The texts custom actions send, kept in YAML (`data/messages/*.yml`) so designers edit them without Python.

Why not domain responses: Rasa's validator counts a response as unused unless a rule or story names it, so texts
that only actions send (form questions, offers built from live data) would make `rasa data validate` warn.
Rule-driven answers stay in domain.yml; everything an action composes lives here, with `{placeholders}` for data.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

from carebot.settings import PROJECT_ROOT

DEFAULT_MESSAGES_DIR = PROJECT_ROOT / "data" / "messages"


class MessageCatalogueError(ValueError):
    """A broken message file, reported with its file and key."""


@dataclass(frozen=True)
class Template:
    key: str
    text: str
    buttons: Tuple[Tuple[str, str], ...]  # (title, payload)

    @property
    def placeholders(self) -> set:
        """Names to fill in the text and in the buttons (a payload may carry data, e.g. an appointment id)."""
        parts = [self.text, *(part for button in self.buttons for part in button)]
        return {name for part in parts for _, name, _, _ in string.Formatter().parse(part) if name}


@dataclass(frozen=True)
class Rendered:
    text: str
    buttons: List[Dict[str, str]]


def load_catalogue(directory: Path = DEFAULT_MESSAGES_DIR) -> Dict[str, Template]:
    """Every message of every `*.yml` in `directory`; a key defined twice is an error, not a silent override."""
    catalogue: Dict[str, Template] = {}
    for file in sorted(Path(directory).glob("*.yml")):
        try:
            content = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            raise MessageCatalogueError(
                f"{file}{f':{mark.line + 1}' if mark else ''}: not valid YAML"
            ) from None
        messages = content.get("messages") if isinstance(content, dict) else None
        if not isinstance(messages, dict):
            raise MessageCatalogueError(f"{file}: expected a top-level 'messages:' mapping")
        for key, body in messages.items():
            if key in catalogue:
                raise MessageCatalogueError(f"{file}: message '{key}' is defined twice")
            catalogue[key] = _template(file, key, body)
    return catalogue


def _template(file: Path, key: str, body: Any) -> Template:
    if isinstance(body, str):
        body = {"text": body}
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        raise MessageCatalogueError(f"{file}: message '{key}' needs a 'text'")
    buttons = []
    for button in body.get("buttons") or []:
        if not isinstance(button, dict) or "title" not in button or "payload" not in button:
            raise MessageCatalogueError(
                f"{file}: message '{key}': each button needs a 'title' and a 'payload'"
            )
        buttons.append((str(button["title"]), str(button["payload"])))
    try:
        list(string.Formatter().parse(body["text"]))
    except ValueError as error:
        raise MessageCatalogueError(f"{file}: message '{key}': broken placeholder: {error}") from None
    return Template(key, body["text"].strip(), tuple(buttons))


@lru_cache(maxsize=1)
def catalogue() -> Dict[str, Template]:
    return load_catalogue()


def render(key: str, values: Optional[Dict[str, Any]] = None) -> Rendered:
    """The message `key` with its placeholders filled; a missing value is a programming error and raises."""
    template = catalogue()[key]
    values = values or {}
    missing = template.placeholders - set(values)
    if missing:
        raise KeyError(f"message '{key}' needs {sorted(missing)}")
    return Rendered(
        text=template.text.format(**values),
        buttons=[
            {"title": title.format(**values), "payload": payload.format(**values)}
            for title, payload in template.buttons
        ],
    )
