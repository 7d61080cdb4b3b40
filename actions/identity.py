"""The identity check on chat: a date of birth before appointments are shown or changed (issue 18).

The backend decides whether a check is needed and compares the answer (carebot/identity), so the dates of birth
never reach the action server and every try is counted. Only a message that reads as a date counts as a try: a side
question or a typo gets the question again, not a step towards the lock. Texts: data/messages/identity.yml.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import clinic, patient_phone, say
from actions.handoff import open_handoff
from carebot.booking import BIRTH_DATE_EXAMPLES, parse_birth_date
from carebot.handoff.model import Reason
from carebot.household import Member, members_from_slot
from carebot.identity.client import BackendError, IdentityClient
from carebot.identity.model import LOCKED, NEEDED, VERIFIED, IdentityStatus

IDENTITY_SLOTS = ("identity_for", "identity_birth_date", "identity_result")

logger = logging.getLogger(__name__)
CONFIRMED, LOCKED_ANSWER = (
    "confirmed",
    "locked",
)  # what identity_birth_date holds once answered (never the date)


def identity_client() -> IdentityClient:
    """A client per action run (tests replace this factory with an in-memory fake)."""
    return IdentityClient()


async def identity_status(tracker: Tracker) -> IdentityStatus:
    """Whether this number must confirm a date of birth now; BackendError when the backend cannot say."""
    async with identity_client() as identity:
        return await identity.status(patient_phone(tracker))


def person_concerned(tracker: Tracker) -> Optional[Member]:
    """The patient the request named ("cancel Emma's appointment"), whose date of birth the check asks for."""
    wanted = tracker.get_slot("booking_for")
    return next((m for m in members_from_slot(tracker.get_slot("household")) if m.id == wanted), None)


async def check_birth_date(value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
    """Read an answer to the date-of-birth question and have the backend check it: the slots to set (the question is
    asked again while identity_birth_date stays None)."""
    facts = clinic()
    example = BIRTH_DATE_EXAMPLES[facts.date_order]
    if value in (CONFIRMED, LOCKED_ANSWER):
        return {"identity_birth_date": value}
    born = parse_birth_date(str(value or ""), facts, facts.now().date())
    if born is None:
        say(dispatcher, "identity_unreadable", example=example)
        return {"identity_birth_date": None}
    try:
        async with identity_client() as identity:
            person = person_concerned(tracker)
            found = await identity.check(patient_phone(tracker), born, person.id if person else None)
    except BackendError as error:
        logger.warning("identity check failed: %s", error)
        say(dispatcher, "booking_unavailable_nothing_kept", clinic_phone=facts.phone)
        return {"identity_birth_date": LOCKED_ANSWER, "identity_result": "unavailable"}
    if found.state == NEEDED:
        say(dispatcher, "identity_wrong", attempts_left=found.attempts_left)
        return {"identity_birth_date": None}
    if found.state == LOCKED:
        return {"identity_birth_date": LOCKED_ANSWER, "identity_result": LOCKED}
    return {"identity_birth_date": CONFIRMED, "identity_result": VERIFIED}


async def locked_out(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """Too many wrong dates of birth: say so and hand the conversation to staff (they contact the patient)."""
    say(dispatcher, "identity_locked", clinic_phone=clinic().phone)
    return await open_handoff(tracker, Reason.IDENTITY_LOCKED, dispatcher)


class ValidateIdentityForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_identity_form"

    async def validate_identity_birth_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return await check_birth_date(value, dispatcher, tracker)


class AskIdentityBirthDate(Action):
    def name(self) -> Text:
        return "action_ask_identity_birth_date"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        example = BIRTH_DATE_EXAMPLES[clinic().date_order]
        person = person_concerned(tracker)
        if person is not None:
            say(dispatcher, "identity_ask_for", name=person.first_name, example=example)
        else:
            say(dispatcher, "identity_ask", example=example)
        return []


class ActionIdentityStop(Action):
    def name(self) -> Text:
        return "action_identity_stop"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        say(dispatcher, "identity_stopped")
        return [SlotSet(name, None) for name in IDENTITY_SLOTS]
