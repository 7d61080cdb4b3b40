"""Practical questions about the clinic (issue 8): every ask_* intent is answered by one action from clinic.yml.

The answer is computed by carebot.faq at the time the patient wrote (their message's timestamp, in the clinic's
timezone), so "are you open now?" is right even when the action server is slow or runs in UTC. Free-form Q&A
(retrieval intent faq/…) needs no action: the ResponseSelector picks the answer and a rule sends `utter_faq`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import UNOFFERED_ENTITY, clinic, latest_entity, latest_intent, say
from carebot.clinic import Clinic
from carebot.faq import Topic, answer, not_offered_answer, resolve_day

log = logging.getLogger(__name__)

# What each intent asks by default; a named day ("on Saturday", "tomorrow") narrows hours questions to that day.
INTENT_TOPICS: Dict[str, Topic] = {
    "ask_opening_hours": Topic.HOURS_WEEK,
    "ask_open_now": Topic.OPEN_NOW,
    "ask_holiday_closures": Topic.CLOSURES,
    "ask_address": Topic.ADDRESS,
    "share_location": Topic.ADDRESS,  # a patient sending their location wants to know how to get here
    "ask_phone": Topic.PHONE,
    "ask_services": Topic.SERVICES,
    "ask_parking": Topic.PARKING,
    "ask_accessibility": Topic.ACCESSIBILITY,
    "ask_what_to_bring": Topic.WHAT_TO_BRING,
    "ask_website": Topic.WEBSITE,
}


def message_time(tracker: Tracker, facts: Clinic) -> dt.datetime:
    """When the patient wrote the latest message (clinic timezone); now if the tracker carries no timestamp."""
    for event in reversed(tracker.events):
        if event.get("event") == "user" and event.get("timestamp"):
            return dt.datetime.fromtimestamp(float(event["timestamp"]), facts.tz)
    return facts.now()


def choose_topic(
    intent: str, text: str, facts: Clinic, now: dt.datetime
) -> Tuple[Optional[Topic], Optional[dt.date]]:
    """The carebot.faq topic and day for a message. "Are you open on Saturday?" asks about Saturday's hours whether
    the NLU called it opening hours or open-now; "are you open today?" stays an open-now question."""
    topic = INTENT_TOPICS.get(intent)
    if topic not in (Topic.HOURS_WEEK, Topic.OPEN_NOW):
        return topic, None
    day = resolve_day(text, facts, now)
    if day is not None and (topic is Topic.HOURS_WEEK or day != now.astimezone(facts.tz).date()):
        return Topic.HOURS_DAY, day
    return topic, None


class ActionAnswerClinicQuestion(Action):
    def name(self) -> Text:
        return "action_answer_clinic_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        facts = clinic()
        intent = latest_intent(tracker) or ""
        now = message_time(tracker, facts)
        topic, day = choose_topic(intent, tracker.latest_message.get("text") or "", facts, now)
        if topic is None:  # a rule or story sent another intent here: say so politely rather than guess
            log.warning("faq: no clinic answer for intent %s", intent)
            say(dispatcher, "faq_no_answer", clinic_phone=facts.phone)
            return []
        unoffered = facts.unoffered(latest_entity(tracker, UNOFFERED_ENTITY) or "")
        if topic is Topic.SERVICES and unoffered is not None:
            dispatcher.utter_message(text=not_offered_answer(facts, unoffered, now))
        else:
            dispatcher.utter_message(text=answer(topic, facts, now, day))
        return []
