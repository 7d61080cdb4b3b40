"""The answer to a message the bot did not understand, without Rasa's rewind events: repair before escalation.

The first miss says what the bot can do, so the patient can rephrase, or, when the NLU was unsure between things
the clinic does (DomainGuard's guesses, issue 20), asks "Do you mean our address or our opening hours?" with a
button each; from the second in a row the patient is offered two ways on (talk to a person, see what the bot can
do). A staff case is opened only when the patient picks the person: a misunderstanding is not a case, and nobody is
promised a reply they did not ask for (issue 13).

Rasa's default fallback reverts the user turn (UserUtteranceReverted); every later action then re-scans the
history for it, so long WhatsApp conversations slow down. This action only answers, then listens.

"In a row" is read from the tracker's events rather than kept in a slot: a slot would have to be reset by every
other action, and a forgotten reset would leave a patient with the wrong answer.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.common import say, send
from carebot.messages import render

ACTION_NAME = "action_fallback"
# What DomainGuard (carebot/nlu/guard.py) puts on a decline it was unsure about: the intents the patient may mean.
GUESS_ENTITY = "clinic_guess"
OFFER_WAYS_ON_AFTER = 2  # misunderstood messages in a row before the patient is offered a person or the menu
# A new session, a handoff (pause) or its end (resume) starts the count again: staff have just talked to the patient.
COUNT_STOPS_AT = {"session_started", "restart", "pause", "resume"}


def misunderstood_in_a_row(events: Sequence[Dict[str, Any]]) -> int:
    """How many user turns in a row, ending with the latest one (being answered now), got this fallback.

    A turn counts when the fallback answered it, whether the NLU (nlu_fallback) or the policies (core fallback)
    chose it; any other answer in between breaks the run.
    """
    count, answered_by_fallback, latest_seen = 0, False, False
    for event in reversed(events):
        kind = event.get("event")
        if kind in COUNT_STOPS_AT:
            break
        if kind == "action" and event.get("name") == ACTION_NAME:
            answered_by_fallback = True
        elif kind == "user":
            if latest_seen and not answered_by_fallback:
                break
            count, answered_by_fallback, latest_seen = count + 1, False, True
    return count


def ask_which(dispatcher: CollectingDispatcher, guesses: Sequence[str]) -> None:
    """ "Do you mean our address or opening hours?", a button per guess and one for neither (issue 20). A guess
    is asked about, never answered: the patient's words did not settle it."""
    topics = [render(f"clarify_{intent}").text for intent in guesses]
    buttons = [
        {"title": topic[:1].upper() + topic[1:], "payload": f"/{intent}"}
        for intent, topic in zip(guesses, topics)
    ]
    buttons.append({"title": render("clarify_neither").text, "payload": "/deny"})
    send(dispatcher, "clarify_question", buttons, options=" or ".join(topics))


class ActionFallback(Action):
    def name(self) -> Text:
        return ACTION_NAME

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        repeated = misunderstood_in_a_row(tracker.events) >= OFFER_WAYS_ON_AFTER
        guesses = [
            e.get("value")
            for e in tracker.latest_message.get("entities") or []
            if e.get("entity") == GUESS_ENTITY
        ]
        if guesses and not repeated:
            ask_which(dispatcher, guesses)
        else:
            say(dispatcher, "fallback_offer_ways_on" if repeated else "fallback")
        # Rasa also runs this action when no rule fits the situation (core fallback); it must then wait for the
        # patient, or the policies would pick it again and again in the same turn.
        return [FollowupAction("action_listen")]
