"""Talking to the real bot: start the stack on free ports (bench.stack), parse with NLU, chat over REST, and
read what the tracker says happened. The tracker readers are pure functions over Rasa's tracker JSON.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Sequence

import httpx

from bench.stack import DEFAULT_MODEL, available_services, carebot_stack, start
from evaluation import config

Tracker = Dict[str, Any]


class Bot:
    """The Rasa HTTP API (token-protected) and the REST channel of one running Carebot."""

    def __init__(self, rasa_url: str, token: str) -> None:
        self.rasa_url = rasa_url.rstrip("/")
        self.token = token
        self._http = httpx.Client(timeout=60)

    def close(self) -> None:
        self._http.close()

    def parse(self, text: str) -> Dict[str, Any]:
        """NLU only: intent (after FallbackClassifier) and entities, no conversation state touched."""
        reply = self._http.post(
            f"{self.rasa_url}/model/parse", params={"token": self.token}, json={"text": text}
        )
        reply.raise_for_status()
        return reply.json()

    def say(self, sender: str, text: str) -> List[str]:
        reply = self._http.post(
            f"{self.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text}
        )
        reply.raise_for_status()
        return [m.get("text", "") for m in reply.json() if m.get("text")]

    def tracker(self, sender: str) -> Tracker:
        # Not percent-encoded: Rasa takes the path segment as the conversation id verbatim ("whatsapp:+44…").
        reply = self._http.get(
            f"{self.rasa_url}/conversations/{sender}/tracker", params={"token": self.token}
        )
        reply.raise_for_status()
        return reply.json()


def fresh_sender() -> str:
    """A WhatsApp-style sender no earlier run has used (flows look patients up by phone), so no consent or
    state carries over between cases."""
    return f"whatsapp:+4477{uuid.uuid4().int % 10**9:09d}"


class StackError(RuntimeError):
    """The stack did not come up; the message names the kept log."""


@contextlib.contextmanager
def running_bot(model: Path = DEFAULT_MODEL) -> Iterator[Bot]:
    """The whole stack on free ports with throwaway tokens and databases, stopped afterwards.

    Its files (log, SQLite databases) are removed after a clean run and kept when it failed, for diagnosis.
    EVAL_READY_TIMEOUT (seconds, default 600: the CPU may be shared) bounds the start; EVAL_RASA_URL +
    EVAL_RASA_TOKEN point at an already running bot instead, to iterate without restarting.
    """
    if os.environ.get("EVAL_RASA_URL"):
        bot = Bot(os.environ["EVAL_RASA_URL"], os.environ.get("EVAL_RASA_TOKEN", ""))
        try:
            yield bot
        finally:
            bot.close()
        return
    if not model.exists():
        raise StackError(f"no trained model at {model}: run `make train` first")
    var = Path(tempfile.mkdtemp(prefix="carebot-eval-"))
    stack = start(carebot_stack(var, model=model, services=available_services()), var / "stack.log")
    try:
        try:
            seconds = stack.wait_ready(float(os.environ.get("EVAL_READY_TIMEOUT", "600")))
        except RuntimeError as error:
            raise StackError(f"{error}\n(full log kept in {var / 'stack.log'})") from None
        print(
            f"eval: stack ready in {seconds:.0f} s ({', '.join(stack.services)}) at {stack.rasa_url}",
            file=sys.stderr,
            flush=True,
        )
        bot = Bot(stack.rasa_url, stack.rasa_token)
        try:
            yield bot
        finally:
            bot.close()
    finally:
        stack.stop()
    shutil.rmtree(var, ignore_errors=True)


# --- reading a tracker ------------------------------------------------------------------------------------------
def slot(tracker: Tracker, name: str) -> Any:
    return (tracker.get("slots") or {}).get(name)


def _names(event: Dict[str, Any]) -> List[str]:
    """The action, form or response names an event shows (a bot message carries its `utter_action`)."""
    kind = event.get("event")
    if kind in ("action", "active_loop") and event.get("name"):
        return [event["name"]]
    if kind == "bot":
        utter = (event.get("metadata") or {}).get("utter_action")
        return [utter] if utter else []
    return []


def booking_started(tracker: Tracker) -> bool:
    """The appointment form became active at some point, for booking (not rescheduling or cancelling)."""
    activated = any(
        event.get("event") == "active_loop" and event.get("name") == config.BOOKING_FORM
        for event in tracker.get("events", [])
    )
    return activated and slot(tracker, config.BOOKING_TASK_SLOT) in (None, config.BOOKING_TASK)


def awaiting_consent(tracker: Tracker) -> bool:
    """Consent is not given yet and the bot's latest move was about consent (its form, action or question)."""
    if slot(tracker, config.CONSENT_SLOT) is True:
        return False
    loop = (tracker.get("active_loop") or {}).get("name") or ""
    if config.CONSENT_NAME.search(loop):
        return True
    for event in reversed(tracker.get("events", [])):
        if event.get("event") == "user":
            return False
        names = [n for n in _names(event) if n != "action_listen"]
        if names:
            return bool(config.CONSENT_NAME.search(names[0]))
    return False


def last_user_intent(tracker: Tracker) -> str:
    return ((tracker.get("latest_message") or {}).get("intent") or {}).get("name") or "none"


def actions_after_last_user(tracker: Tracker) -> List[str]:
    """What the bot did in reply to the latest message, e.g. to see where a failure went."""
    names: List[str] = []
    for event in reversed(tracker.get("events", [])):
        if event.get("event") == "user":
            break
        names[:0] = [n for n in _names(event) if n != "action_listen" and n not in names[:1]]
    return names


def current_symptoms(entities: Sequence[Dict[str, Any]]) -> List[str]:
    """Symptom entities about the patient now: a role (negated, historical, family, hypothetical) excludes it."""
    return [
        e.get("value", "") for e in entities if e.get("entity") == config.SYMPTOM_ENTITY and not e.get("role")
    ]


def intent_name(parse: Dict[str, Any]) -> str:
    return (parse.get("intent") or {}).get("name") or "none"


def guesses(parse: Dict[str, Any]) -> List[str]:
    """What the bot asks "Do you mean …?" about instead of declining (DomainGuard's guesses, intent names)."""
    return [e.get("value") for e in parse.get("entities") or [] if e.get("entity") == config.GUESS_ENTITY]


def intent_label(parse: Dict[str, Any]) -> str:
    """The intent, with the retrieval answer for a retrieval intent ("faq/cost"), so a failure names its owner."""
    name = intent_name(parse)
    selectors = parse.get("response_selector") or {}
    selector = (
        selectors.get(name)
        or (selectors.get("default") if name in selectors.get("all_retrieval_intents", []) else None)
        or {}
    )
    return (selector.get("response") or {}).get("intent_response_key") or name


@dataclass(frozen=True)
class Chat:
    """The end of one scripted conversation: how many bot turns it took, the last tracker and the bot's last words
    (from the last turn it said anything)."""

    bot_turns: int
    tracker: Tracker
    last_replies: List[str]


def chat_until(
    bot: Bot,
    sender: str,
    first: str,
    done: Callable[[Tracker], bool],
    next_reply: Callable[[Tracker, List[str]], str],
    max_bot_turns: int,
) -> Chat:
    """Sends `first`, then keeps answering until `done(tracker)`: consent gets "yes", anything else
    `next_reply(tracker, the bot's last messages)`.

    Each message sent is one bot turn; the loop never exceeds `max_bot_turns`, so a stuck flow ends the run.
    """
    replies = bot.say(sender, first)
    last_words = replies
    turns, tracker = 1, bot.tracker(sender)
    while not done(tracker) and turns < max_bot_turns:
        answer = config.CONSENT_YES if awaiting_consent(tracker) else next_reply(tracker, replies)
        replies = bot.say(sender, answer)
        last_words = replies or last_words  # a bot handed to staff stays quiet: report what it said last
        turns, tracker = turns + 1, bot.tracker(sender)
    return Chat(turns, tracker, last_words)
