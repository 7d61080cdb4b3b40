"""Buttons for a channel that has none: render them as a numbered list and map the patient's answer back.

WhatsApp free-form messages cannot carry Rasa buttons, so we number them and remember the set offered to each
patient. The reply "2", the exact title ("Tuesday 10:00") or the payload itself all select the button's payload.
Only the buttons of the bot's latest turn are remembered: a bare "2" answering a later open question
("how many tablets did you miss?") must stay a number, not select a stale button.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence

from carebot.channels.ttl_store import TTLStore

# Decoration patients add around a choice: "2.", "(2)", "2)", "#2", "option 2" is not handled on purpose.
_STRIP = " \t\r\n.,;:!?()[]#*\"'"
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


def buttons_from_rasa(buttons: Iterable[Dict[str, Any]]) -> List[Button]:
    """Rasa button dicts (`title`, `payload`) → Buttons; a button without payload answers with its title."""
    return [Button(str(b.get("title", "")), str(b.get("payload") or b.get("title", ""))) for b in buttons]


def render_numbered(text: str, buttons: Sequence[Button]) -> str:
    """The prompt followed by one numbered line per button."""
    lines = [f"{index}. {button.title}" for index, button in enumerate(buttons, start=1)]
    prompt = text.strip()
    return "\n".join(([prompt, ""] if prompt else []) + lines)


def _canonical(text: str) -> str:
    return _WHITESPACE.sub(" ", text.strip(_STRIP)).casefold()


def match_button(reply: str, buttons: Sequence[Button]) -> Optional[str]:
    """The payload the reply selects: its number, its exact title or its payload; None when it selects nothing."""
    answer = _canonical(reply)
    if not answer:
        return None
    if answer.isdigit():
        index = int(answer)
        return buttons[index - 1].payload if 1 <= index <= len(buttons) else None
    for button in buttons:
        if answer == _canonical(button.title) or reply.strip() == button.payload:
            return button.payload
    return None


class ButtonMemory:
    """The buttons last offered to each patient, kept for `ttl_seconds` in a shared TTL store."""

    def __init__(self, store: TTLStore, ttl_seconds: float = 24 * 3600) -> None:
        self._store = store
        self._ttl = ttl_seconds

    @staticmethod
    def _key(sender: str) -> str:
        return f"buttons:{sender}"

    async def remember(self, sender: str, buttons: Sequence[Button]) -> None:
        payload = json.dumps([[b.title, b.payload] for b in buttons])
        await self._store.set(self._key(sender), payload, self._ttl)

    async def forget(self, sender: str) -> None:
        await self._store.delete(self._key(sender))

    async def take(self, sender: str, reply: str) -> Optional[str]:
        """Resolve the reply against the offered set, then forget the set (a new turn starts now)."""
        raw = await self._store.get(self._key(sender))
        if raw is None:
            return None
        await self.forget(sender)
        offered = [Button(title, payload) for title, payload in json.loads(raw)]
        return match_button(reply, offered)
