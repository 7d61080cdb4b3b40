"""The answer to a message the bot did not understand, without Rasa's rewind events: repair before escalation.

The first miss says what the bot can do, so the patient can rephrase; from the second in a row the patient is offered
two ways on (talk to a person, see what the bot can do). A staff case is opened only when the patient picks the
person: a misunderstanding is not a case, and nobody is promised a reply they did not ask for (issue 13).

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

from actions.common import say

ACTION_NAME = "action_fallback"
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


class ActionFallback(Action):
    def name(self) -> Text:
        return ACTION_NAME

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        repeated = misunderstood_in_a_row(tracker.events) >= OFFER_WAYS_ON_AFTER
        say(dispatcher, "fallback_offer_ways_on" if repeated else "fallback")
        # Rasa also runs this action when no rule fits the situation (core fallback); it must then wait for the
        # patient, or the policies would pick it again and again in the same turn.
        return [FollowupAction("action_listen")]
