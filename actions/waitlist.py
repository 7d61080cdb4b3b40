"""The waitlist on chat: an offer of a freed time (triggered by the offer worker), its answer, and leaving the list.

Joining happens inside the appointment form (actions/booking.py): "waitlist" when nothing fits. What is decided
here is only which text to say; the look-ups and changes are carebot/booking.py's. Texts: data/messages/waitlist.yml.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.booking import now, patient, say_backend_problem, scheduling_client, update_reminders
from actions.common import clinic, latest_entity, say
from carebot.booking import accepted_choice, leave_waitlist, long_when, provider_name, service_name
from carebot.messages import render
from carebot.scheduling.client import BackendError
from carebot.waitlist.client import OfferGone, WaitlistClient

logger = logging.getLogger(__name__)
OUTBOX_KIND = "waitlist_offer"


def waitlist_client() -> WaitlistClient:
    """A client per action run (tests replace this factory with an in-memory fake)."""
    return WaitlistClient()


def offer_id(tracker: Tracker) -> Optional[str]:
    """The offer answered: named by the button's payload, else the one offered last (a template's quick reply,
    or "yes" in words)."""
    return latest_entity(tracker, "waitlist_offer_id") or tracker.get_slot("waitlist_offer")


class ActionOfferWaitlistSlot(Action):
    """Speaks an offer the worker triggered: the time, how long it is held, and buttons to book it or let it go."""

    def name(self) -> Text:
        return "action_offer_waitlist_slot"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        facts = clinic()
        offered = latest_entity(tracker, "waitlist_offer_id")
        start, expires = (
            latest_entity(tracker, "appointment_start"),
            latest_entity(tracker, "waitlist_offer_expires"),
        )
        if not (offered and start and expires):  # the patient's own words, not the worker's trigger
            say(dispatcher, "waitlist_no_offer")
            return []
        service = service_name(latest_entity(tracker, "waitlist_service") or "", facts)
        provider = facts.provider(latest_entity(tracker, "waitlist_practitioner") or "")
        what = f"{service} with {provider.name}" if provider else service
        when = long_when(dt.datetime.fromisoformat(start), facts, now().date())
        until_time = dt.datetime.fromisoformat(expires)
        until = until_time.astimezone(facts.tz).strftime("%H:%M")
        key = "waitlist_offer_hold" if facts.waitlist_mode == "hold" else "waitlist_offer_first_tap"
        rendered = render(
            key,
            {"what": what, "when": when, "until": until, "offer": json.dumps({"waitlist_offer_id": offered})},
        )
        message: Dict[str, Any] = {
            "text": rendered.text,
            "buttons": rendered.buttons,
            "template": "waitlist_offer",
            "variables": {"1": what, "2": when, "3": until},
            # One message per offer, never sent after its hold ran out.
            "outbox": {
                "key": f"waitlist-offer-{offered}",
                "kind": OUTBOX_KIND,
                "deadline": until_time.isoformat(),
            },
        }
        dispatcher.utter_message(json_message=message)
        return [SlotSet("waitlist_offer", offered)]


class ActionAcceptWaitlistOffer(Action):
    """ "1" / "yes" to an offer: book it at once; if it went meanwhile, say so (the patient stays on the list)."""

    def name(self) -> Text:
        return "action_accept_waitlist_offer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        wanted = offer_id(tracker)
        if not wanted:
            say(dispatcher, "waitlist_no_offer")
            return []
        facts = clinic()
        try:
            async with waitlist_client() as waitlist:
                accepted = await waitlist.accept(wanted)
        except OfferGone:
            say(dispatcher, "waitlist_offer_ended")
            return [SlotSet("waitlist_offer", None)]
        except BackendError as error:
            logger.warning("waitlist offer not accepted: %s", error)
            say_backend_problem(dispatcher, error, answers_kept=False)
            return []
        appointment = accepted_choice(accepted)
        say(
            dispatcher,
            "waitlist_booked",
            service=service_name(appointment.service_id, facts),
            provider=provider_name(appointment, facts),
            when=long_when(appointment.start, facts, now().date()),
            address=facts.address,
        )
        await update_reminders(tracker, "booked", appointment.id, appointment)
        return [SlotSet("waitlist_offer", None)]


class ActionDeclineWaitlistOffer(Action):
    def name(self) -> Text:
        return "action_decline_waitlist_offer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        wanted = offer_id(tracker)
        if not wanted:
            say(dispatcher, "waitlist_no_offer")
            return []
        try:
            async with waitlist_client() as waitlist:
                await waitlist.decline(wanted)
        except BackendError as error:
            logger.warning(
                "waitlist offer not declined: %s", error
            )  # it lapses on its own at the end of the hold
        say(dispatcher, "waitlist_declined")
        return [SlotSet("waitlist_offer", None)]


class ActionWaitlistOfferGone(Action):
    """The worker says an offer this patient heard of went to another patient first."""

    def name(self) -> Text:
        return "action_waitlist_offer_gone"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        start = latest_entity(tracker, "appointment_start")
        gone = latest_entity(tracker, "waitlist_offer_id")
        if not (gone and start):
            say(dispatcher, "waitlist_no_offer")
            return []
        say(
            dispatcher,
            "waitlist_offer_gone",
            when=long_when(dt.datetime.fromisoformat(start), clinic(), now().date()),
        )
        return [SlotSet("waitlist_offer", None)] if tracker.get_slot("waitlist_offer") == gone else []


class ActionLeaveWaitlist(Action):
    def name(self) -> Text:
        return "action_leave_waitlist"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        try:
            async with scheduling_client() as client, waitlist_client() as waitlist:
                left = await leave_waitlist(client, waitlist, patient(tracker))
        except BackendError as error:
            say_backend_problem(dispatcher, error, answers_kept=False)
            return []
        say(dispatcher, "waitlist_left" if left else "waitlist_not_on_it")
        return [SlotSet("waitlist_offer", None)]
