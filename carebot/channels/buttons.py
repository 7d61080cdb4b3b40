"""Buttons on WhatsApp: tap-to-answer where WhatsApp allows it, a numbered list otherwise, and the patient's answer
mapped back to the button's payload either way.

Every offer is remembered per patient as a numbered set. The reply "2", the exact title ("Tuesday 10:00"), the
payload itself, or a tap on the option WhatsApp showed all select the same payload. Inside the 24-hour window an
offer of up to 3 short options goes as quick-reply buttons and up to 10 as a list picker (`tap_offer`; the sender
sends it through Twilio's Content API, with the numbered text as its fallback). A tapped option comes back as
`ButtonPayload` (quick reply) or `ListId` (list picker) holding the option's id, `<set tag>.<number>`: the number
selects exactly as typing it does, and the tag (a hash of the offered set) makes a tap on an older message's
button count as its words, never as the option with the same number in the latest set.
Only the buttons of the bot's latest turn are remembered: a bare "2" answering a later open question
("how many tablets did you miss?") must stay a number, not select a stale button.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from carebot.channels.ttl_store import TTLStore

# Decoration patients add around a choice: "2.", "(2)", "2)", "#2", "option 2" is not handled on purpose.
_STRIP = " \t\r\n.,;:!?()[]#*\"'"
_WHITESPACE = re.compile(r"\s+")
# WhatsApp's limits for tap-to-answer messages sent inside the 24-hour window without approval (Twilio's
# twilio/quick-reply and twilio/list-picker pages): an offer that does not fit goes as the numbered list.
QUICK_REPLY = "twilio/quick-reply"
LIST_PICKER = "twilio/list-picker"
MAX_OPTIONS = {QUICK_REPLY: 3, LIST_PICKER: 10}
MAX_TITLE = {QUICK_REPLY: 20, LIST_PICKER: 24}
MAX_BODY = 1024


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


@dataclass(frozen=True)
class TapOffer:
    """An offer WhatsApp can show as buttons: the content type, the prompt and (title, id) per option."""

    kind: str
    body: str
    options: Tuple[Tuple[str, str], ...]

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "body": self.body, "options": [list(o) for o in self.options]})

    @classmethod
    def from_json(cls, raw: str) -> "TapOffer":
        data = json.loads(raw)
        return cls(str(data["kind"]), str(data["body"]), tuple((str(t), str(i)) for t, i in data["options"]))


def offer_tag(buttons: Sequence[Button]) -> str:
    """A short fingerprint of an offered set: the prefix of its options' ids."""
    canonical = json.dumps([[b.title, b.payload] for b in buttons])
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]


def tap_offer(text: str, buttons: Sequence[Button]) -> Optional[TapOffer]:
    """The offer as quick replies (<= 3 options) or a list picker (<= 10), or None when WhatsApp could not show it
    (too many options, a title too long for the button, no prompt, a prompt too long): then it stays numbered."""
    body = text.strip()
    if not buttons or not body or len(body) > MAX_BODY:
        return None
    titles = [b.title.strip() for b in buttons]
    tag = offer_tag(buttons)
    for kind in (QUICK_REPLY, LIST_PICKER):
        if len(titles) <= MAX_OPTIONS[kind] and all(0 < len(t) <= MAX_TITLE[kind] for t in titles):
            options = tuple((title, f"{tag}.{number}") for number, title in enumerate(titles, start=1))
            return TapOffer(kind, body, options)
    return None


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

    async def take(self, sender: str, reply: str, tapped: str = "") -> Optional[str]:
        """Resolve the reply (or the id of the option tapped) against the offered set, then forget the set (a new
        turn starts now). A tap on another set's option counts as its words (the title), never as its number."""
        raw = await self._store.get(self._key(sender))
        if raw is None:
            return None
        await self.forget(sender)
        offered = [Button(title, payload) for title, payload in json.loads(raw)]
        tag, _, number = tapped.rpartition(".")
        if tag and tag == offer_tag(offered) and number.isdigit():
            return match_button(number, offered)
        return None if _canonical(reply).isdigit() and tapped else match_button(reply, offered)
