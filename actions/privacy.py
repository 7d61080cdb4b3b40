"""A patient's own privacy requests on WhatsApp (issue 14): "what do you keep about me" and "delete my data".

Erasure asks for confirmation first (rules in data/rules/privacy.yml), then the backend erases its part
(carebot/privacy/api.py: future appointments cancelled with staff told, reminders, staff cases, the patient record,
except what clinic.yml `privacy.kept_after_erasure` keeps). The action's last message carries the
`forget_conversation` and `forget_number` payload: the tracker store then deletes the conversation instead of saving
it, and the WhatsApp channel forgets its own state of the number after the reply has left. If the backend fails, nothing is
erased and the patient is told so. Texts: data/messages/privacy.yml.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import clinic, patient_phone, say
from carebot.payloads import FORGET_CONVERSATION, FORGET_NUMBER
from carebot.phones import mask_phone
from carebot.privacy.client import PrivacyClient, PrivacyError
from carebot.privacy.model import DataSummary, ErasureReport
from carebot.privacy.settings import load_retention

log = logging.getLogger(__name__)


def _unavailable(
    dispatcher: CollectingDispatcher, key: str, error: PrivacyError, phone: str
) -> List[EventType]:
    """Nothing looked up or erased: say so, with the clinic's phone (a patient never meets silence)."""
    log.error("privacy: request of %s failed: %s", mask_phone(phone), error)
    say(dispatcher, key, clinic_phone=clinic().phone)
    return []


def say_what_was_kept(dispatcher: CollectingDispatcher, report: ErasureReport) -> None:
    """One sentence per kind the clinic keeps by law (clinic.yml), so the patient knows what still exists."""
    for kind in sorted(report.kept):
        say(dispatcher, f"erasure_kept_{kind}", count=report.kept[kind])


async def held_about(
    dispatcher: CollectingDispatcher, tracker: Tracker, unavailable: str
) -> Optional[DataSummary]:
    """What the backend holds about the patient, or None after telling them it cannot be looked up now."""
    phone = patient_phone(tracker)
    try:
        async with PrivacyClient() as privacy:
            return await privacy.summary(phone)
    except PrivacyError as error:
        _unavailable(dispatcher, unavailable, error, phone)
        return None


class ActionTellMyData(Action):
    """What is held about this number, in counts, and how long conversations are kept."""

    def name(self) -> Text:
        return "action_tell_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        held = await held_about(dispatcher, tracker, "data_summary_unavailable")
        if held is not None:
            say(
                dispatcher,
                "data_summary",
                clinic_name=clinic().name,
                retention_days=load_retention().conversations,
                **held.to_json(),
            )
        return []


class ActionAskErasure(Action):
    """Confirm before erasing, saying which upcoming appointments it would cancel."""

    def name(self) -> Text:
        return "action_ask_erasure"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        held = await held_about(dispatcher, tracker, "erasure_unavailable")
        if held is not None:
            key = "erasure_confirm_with_appointments" if held.upcoming_appointments else "erasure_confirm"
            say(dispatcher, key, clinic_name=clinic().name, upcoming_appointments=held.upcoming_appointments)
        return []


class ActionEraseMyData(Action):
    """The confirmed erasure: the backend's part now, the conversation and channel state right after this turn."""

    def name(self) -> Text:
        return "action_erase_my_data"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        phone = patient_phone(tracker)
        try:
            async with PrivacyClient() as privacy:
                report = await privacy.erase(phone)
        except PrivacyError as error:
            return _unavailable(dispatcher, "erasure_unavailable", error, phone)
        log.info("privacy: %s erased at their request: %s", mask_phone(phone), report.describe())
        say(
            dispatcher,
            "erasure_done_with_cancellations" if report.cancelled else "erasure_done",
            cancelled=len(report.cancelled),
        )
        say_what_was_kept(dispatcher, report)
        dispatcher.utter_message(json_message={FORGET_CONVERSATION: True, FORGET_NUMBER: True})
        return []
