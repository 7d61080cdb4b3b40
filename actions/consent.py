"""Consent to process health information (issue 6): asked once, before the first health question.

Consent can be withdrawn ("I withdraw consent", `ActionWithdrawConsent`). The answer is kept in the slots
`consent_given` (contract: true once given) and `consent_time` (ISO 8601, UTC), which carry over to new
sessions, so it is asked once per patient. The symptoms told before consent are kept in `triage_state`, so after
"yes" triage carries on with them. Red flags never come here: RedFlagPolicy answers them before any consent.
Texts: data/messages/consent.yml.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import clinic, say, times_asked_in_a_row
from actions.privacy import say_what_was_kept
from actions.triage import fresh_triage, load_state, state_from_message, told_findings, told_profile
from carebot import clock
from carebot.payloads import FORGET_CONVERSATION, FORGET_SINCE
from carebot.phones import mask_phone
from carebot.privacy.client import PrivacyClient, PrivacyError
from carebot.privacy.model import ErasureReport
from carebot.privacy.settings import load_retention
from carebot.triage.engine import add_findings
from carebot.triage.model import TriageState

log = logging.getLogger(__name__)


def utc_now() -> dt.datetime:
    """When consent was answered (a function so tests can fix the time)."""
    return clock.utc_now()


def _answered_at() -> SlotSet:
    return SlotSet("consent_time", utc_now().isoformat(timespec="seconds"))


def kept_symptoms(tracker: Tracker, told: TriageState) -> List[EventType]:
    """The symptoms told before consent was asked, with any this reply adds ("and a fever")."""
    before = load_state(tracker)
    if not (told.findings or told.denied):
        return []
    if before is None:
        return fresh_triage(told)
    entities = tracker.latest_message.get("entities") or []
    current, denied = told_findings(entities)
    return fresh_triage(add_findings(before, current, denied, told_profile(entities, before.profile)))


class ActionAskConsent(Action):
    """Keeps the symptoms just told (if any) and asks for consent: what is stored, for how long, how to delete."""

    def name(self) -> Text:
        return "action_ask_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        facts = clinic()
        told = state_from_message(tracker)
        asked = times_asked_in_a_row(tracker, self.name())
        if asked:  # neither yes nor no: ask in short (from the second miss with a person), keep the symptoms
            say(
                dispatcher,
                "consent_again" if asked < 2 else "consent_again_or_person",
                clinic_name=facts.name,
            )
            return kept_symptoms(tracker, told)
        say(
            dispatcher,
            "consent_request",
            clinic_name=facts.name,
            clinic_phone=facts.phone,
            retention_days=load_retention().conversations,
        )
        return fresh_triage(told if told.findings or told.denied else None)


class ActionGiveConsent(Action):
    def name(self) -> Text:
        return "action_give_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        say(dispatcher, "consent_thanks")
        return [SlotSet("consent_given", True), _answered_at()]


class ActionDeclineConsent(Action):
    """No health questions without consent: say what the bot can still do, and how to reach a person."""

    def name(self) -> Text:
        return "action_decline_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        facts = clinic()
        say(dispatcher, "consent_declined", clinic_phone=facts.phone, emergency_number=facts.emergency_number)
        return [SlotSet("consent_given", False), _answered_at(), *fresh_triage(None)]


class ActionWithdrawConsent(Action):
    """Consent withdrawn: no more health questions, and the triage records go with the conversation that holds them
    (symptoms told, answers, levels): the tracker store deletes it instead of saving this turn, and the backend
    deletes the staff cases its triage opened and the copies of the chat in other cases (unless the clinic keeps
    cases by law, which the patient is told). The next health question asks for consent again; appointments and
    reminders stay ("delete my data" erases those)."""

    def name(self) -> Text:
        return "action_withdraw_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        facts = clinic()
        try:
            async with PrivacyClient() as privacy:
                report: Optional[ErasureReport] = await privacy.withdraw_consent(tracker.sender_id)
        except PrivacyError as error:
            log.error("consent: staff cases of %s not cleared: %s", mask_phone(tracker.sender_id), error)
            report = None
        say(dispatcher, "consent_withdrawn", emergency_number=facts.emergency_number)
        if report is None:
            say(dispatcher, "consent_withdrawn_cases_unavailable", clinic_phone=facts.phone)
        else:
            say_what_was_kept(dispatcher, report)
        dispatcher.utter_message(json_message={FORGET_CONVERSATION: True})
        return [SlotSet("consent_given", False), _answered_at(), *fresh_triage(None)]


class ActionAskReminderConsent(Action):
    """Medicine names are health data: before the first reminder, ask to keep them (once; the answer carries over).
    The request is kept in `reminder_draft`, so "yes" sets up the reminder asked for."""

    def name(self) -> Text:
        return "action_ask_reminder_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        asked = times_asked_in_a_row(tracker, self.name())
        if asked:  # neither yes nor no: the reminder asked for is kept
            key = "reminder_consent_again" if asked < 2 else "reminder_consent_again_or_person"
            say(dispatcher, key, clinic_name=clinic().name)
            return []
        say(dispatcher, "reminder_consent_request", clinic_name=clinic().name)
        return [SlotSet("reminder_draft", tracker.latest_message.get("text") or None)]


class ActionGiveReminderConsent(Action):
    def name(self) -> Text:
        return "action_give_reminder_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        say(dispatcher, "consent_thanks")
        return [SlotSet("reminder_consent_given", True)]


def reminder_request_time(tracker: Tracker) -> Optional[float]:
    """When the patient asked for the reminder that led to the consent question (the user message before the
    latest `action_ask_reminder_consent`), or None when it cannot be found."""
    asked = False
    for event in reversed(tracker.events):
        if event.get("event") == "action" and event.get("name") == "action_ask_reminder_consent":
            asked = True
        elif asked and event.get("event") == "user" and isinstance(event.get("timestamp"), (int, float)):
            return float(event["timestamp"])
    return None


class ActionDeclineReminderConsent(Action):
    """No consent to keep medicine names: the request that named the medicine leaves the stored conversation (the
    tracker store deletes it, and everything after it, before saving this turn), as the reply promises."""

    def name(self) -> Text:
        return "action_decline_reminder_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        say(dispatcher, "reminder_consent_declined", clinic_phone=clinic().phone)
        since = reminder_request_time(tracker)
        if since is not None:
            dispatcher.utter_message(json_message={FORGET_SINCE: since})
        return [SlotSet("reminder_consent_given", False), SlotSet("reminder_draft", None)]
