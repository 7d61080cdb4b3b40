"""Appointments on chat: one form (`appointment_form`) books, reschedules or cancels; one action lists.

The form's validation action does the work that can fail (reading dates, asking the backend, booking), so a failure
becomes a clear message and a repeated question instead of a dead end: a slot taken meanwhile re-offers fresh times,
an unreachable backend keeps every answer so "try again" carries on. Texts live in data/messages/booking.yml.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    UNOFFERED_ENTITY,
    clinic,
    latest_entity,
    latest_intent,
    output_channel,
    patient_phone,
    say,
    send,
    step_aside,
)
from actions.identity import IDENTITY_SLOTS, check_birth_date, identity_status, locked_out
from carebot.booking import (
    BIRTH_DATE_EXAMPLES,
    WAITLIST,
    AskedWindow,
    Change,
    Choice,
    NoPhoneNumber,
    Offers,
    Patient,
    asked_window,
    choices_from_slot,
    clean_name,
    find_offers,
    find_patient_id,
    household_of,
    join_waitlist,
    long_when,
    make_change,
    next_page_start,
    offer_subject,
    offer_text,
    parse_birth_date,
    pick,
    provider_name,
    service_name,
    short_when,
    upcoming,
    wants_another_day,
    wants_earlier,
)
from carebot.dates import DateProblem, interpret_when
from carebot.faq import not_offered
from carebot.household import (
    SOMEONE_ELSE,
    Decision,
    Member,
    Relation,
    asks_who,
    decide,
    load_people,
    members_from_slot,
    named_member,
    who_options,
    who_said,
)
from carebot.identity.model import LOCKED, NEEDED, VERIFIED
from carebot.messages import render
from carebot.reminders.client import RemindersClient
from carebot.scheduling.client import BackendError, BackendUnavailable, NotFound, SchedulingClient, SlotTaken
from carebot.waitlist.client import WaitlistClient

logger = logging.getLogger(__name__)

TASK_BY_INTENT = {
    "book_appointment": "book",
    "reschedule_appointment": "reschedule",
    "cancel_appointment": "cancel",
    "join_waitlist": "waitlist",  # asks what and when like a booking, then joins instead of offering times
}
# Everything one run of the form remembers; cleared when it starts and when it ends (patient_id is kept).
FORM_STATE = (
    "appointment_task",
    "booking_service",
    "booking_provider",
    "booking_when",
    "booking_window",
    "booking_when_failures",
    "booking_offers",
    "booking_search_from",
    "booking_slot",
    "patient_name",
    "patient_birth_date",
    "appointment_choice",
    "appointments",
    "booking_confirmed",
    "booking_result",
    "identity_birth_date",
    "identity_result",
    "household",
    "booking_for",
    "booking_relation",
)
NEW = "new"  # booking_for's value when the appointment is for someone not registered yet (asked name and birth date)
# Answers the opening message may already hold ("physio on Friday"; the only appointment there is to cancel).
PREFILLABLE = ("booking_service", "booking_when", "appointment_choice")
UNREADABLE_BEFORE_OFFERING_FIRST_FREE = 2
FIRST_FREE = (
    "first free slot"  # read by carebot.dates as "the first available time"; also the button's payload
)
# A closed day is no problem to explain: it becomes a window of its own, and the times around it are offered.
_WHEN_PROBLEM_MESSAGE = {
    DateProblem.PAST: "booking_when_past",
    DateProblem.OUTSIDE_HOURS: "booking_when_outside_hours",
    DateProblem.TOO_FAR: "booking_when_too_far",
}


def scheduling_client() -> SchedulingClient:
    """A client per action run (tests replace this factory with an in-memory fake)."""
    return SchedulingClient(clinic=clinic())


def reminders_client() -> RemindersClient:
    return RemindersClient()


def waitlist_client() -> WaitlistClient:
    return WaitlistClient()


def now() -> dt.datetime:
    """The clinic's current time: dates the patient writes are relative to it."""
    return clinic().now()


def option_buttons(choices: List[Choice], with_service: bool = False) -> List[Dict[str, str]]:
    """One button per line; the payload names the line by number, which WhatsApp's numbered list maps back."""
    facts = clinic()
    buttons = []
    for number, choice in enumerate(choices, start=1):
        title = f"{short_when(choice.start, facts)} · {provider_name(choice, facts)}"
        if with_service:
            title = f"{title} ({service_name(choice.service_id, facts)})"
        if choice.patient_name:
            title = f"{choice.patient_name} · {title}"
        buttons.append({"title": title, "payload": "/choose_option" + json.dumps({"option": str(number)})})
    return buttons


def latest_option(tracker: Tracker) -> Optional[str]:
    return latest_entity(tracker, "option")


def option_number(text: str, option: Optional[str], count: int) -> Optional[int]:
    """The number of a tapped button or of a bare "2", when it is one of the `count` offered."""
    said = str(option if option is not None else text).strip().rstrip(".")
    return int(said) if said.isdigit() and 1 <= int(said) <= count else None


def offered(tracker: Tracker) -> List[Choice]:
    return choices_from_slot(tracker.get_slot("booking_offers"))


def chosen(tracker: Tracker, slot: str, choices_slot: str) -> Optional[Choice]:
    wanted = tracker.get_slot(slot)
    return next((c for c in choices_from_slot(tracker.get_slot(choices_slot)) if c.id == wanted), None)


def reset_form_state() -> List[EventType]:
    return [SlotSet(name, None) for name in FORM_STATE]


def say_backend_problem(
    dispatcher: CollectingDispatcher, error: BackendError, answers_kept: bool = True
) -> None:
    """Say what happened: no phone number, the booking system refused this request (its reason), or it could not
    be reached (only timeouts, connection errors, 5xx and a refused token: try again)."""
    phone = clinic().phone
    if isinstance(error, NoPhoneNumber):
        say(dispatcher, "booking_needs_phone", clinic_phone=phone)
    elif isinstance(error, BackendUnavailable):
        if answers_kept:
            say(dispatcher, "booking_unavailable")
        else:
            say(dispatcher, "booking_unavailable_nothing_kept", clinic_phone=phone)
    else:
        say(dispatcher, "booking_refused", reason=str(error), clinic_phone=phone)


def patient(tracker: Tracker) -> Patient:
    return Patient(tracker.get_slot("patient_id"), patient_phone(tracker))


def household(tracker: Tracker) -> List[Member]:
    return members_from_slot(tracker.get_slot("household"))


def booking_member(tracker: Tracker) -> Optional[Member]:
    """The registered patient this run of the form is for, when it is known."""
    wanted = tracker.get_slot("booking_for")
    return next((m for m in household(tracker) if m.id == wanted), None)


def booking_relation(tracker: Tracker) -> Optional[Relation]:
    """What a new patient is to the phone's owner ("my son"); None when the owner books for themself."""
    key = tracker.get_slot("booking_relation")
    if key == SOMEONE_ELSE.key:
        return SOMEONE_ELSE
    return next((r for r in load_people().relations if r.key == key), None)


def for_name(tracker: Tracker) -> str:
    """The first name of the dependant the appointment is for ("" when it is for the phone's owner)."""
    if tracker.get_slot("booking_for") == NEW:
        name = tracker.get_slot("patient_name") or ""
        return name.split()[0] if name.split() and booking_relation(tracker) else ""
    member = booking_member(tracker)
    return member.first_name if member is not None and member.relationship is not None else ""


def decided(decision: Decision) -> Dict[str, Any]:
    """The slots a decision about whom the appointment is for sets (nothing while it must be asked)."""
    if decision.member is not None:
        return {"booking_for": decision.member.id, "booking_relation": None}
    if decision.new:
        return {"booking_for": NEW, "booking_relation": decision.relation.key if decision.relation else None}
    return {}


class ValidateAppointmentForm(FormValidationAction):
    """Reads every answer of the appointment form; decides which questions remain (task, first visit or not)."""

    def name(self) -> Text:
        return "validate_appointment_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        if (
            tracker.get_slot("requested_slot") is None
        ):  # the form is starting: forget the last run, read the request
            started = await self.start(dispatcher, tracker)
            tracker.slots.update({event["name"]: event["value"] for event in started})
            # Only answers go through validation: rasa-sdk drops other slots that appear among the candidates.
            tracker.add_slots([e for e in started if e["name"] in PREFILLABLE and e["value"] is not None])
            return started + await super().run(dispatcher, tracker, domain)
        if tracker.get_slot("appointment_task") == "book" and latest_intent(tracker) == "cancel_appointment":
            # "cancel" while booking means "stop booking", not "cancel an appointment I have"
            return [SlotSet("booking_result", {"kind": "stopped"}), SlotSet("requested_slot", None)]
        aside = step_aside(tracker, "appointment_form")
        if aside is not None:
            return aside
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        if tracker.get_slot("booking_result") is not None:
            return []  # done (or nothing to do): the form ends
        task = tracker.get_slot("appointment_task") or "book"
        identity = ["identity_birth_date"] if tracker.get_slot("identity_result") else []
        if task == "cancel":
            return [*identity, "appointment_choice", "booking_confirmed"]
        if task == "reschedule":
            return [*identity, "appointment_choice", "booking_when", "booking_slot", "booking_confirmed"]
        who = tracker.get_slot("booking_for")  # an answer being read is not decided yet: it stays required
        known = who == NEW or booking_member(tracker) is not None
        ask_who = ["booking_for"] if not known and asks_who(household(tracker)) else []
        new_patient = who == NEW or (not known and not tracker.get_slot("patient_id"))
        first_visit = tracker.get_slot("booking_slot") is not None and new_patient
        return [
            *ask_who,
            "booking_service",
            "booking_when",
            "booking_slot",
            *(["patient_name", "patient_birth_date"] if first_visit else []),
            "booking_confirmed",
        ]

    async def start(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        """Fresh state for this run, with what the opening message already said ("physio on Friday morning")."""
        facts = clinic()
        task = TASK_BY_INTENT.get(latest_intent(tracker) or "", "book")
        values: Dict[str, Any] = {name: None for name in FORM_STATE}
        values["appointment_task"] = task
        if not patient(
            tracker
        ).identifiable:  # a REST sender such as "me": say so now, not after five questions
            say(dispatcher, "booking_needs_phone", clinic_phone=facts.phone)
            values["booking_result"] = {"kind": "nothing"}
            return [SlotSet(name, value) for name, value in values.items()]
        text = tracker.latest_message.get("text") or ""
        values.update(await self.who_from_request(tracker, text, task))
        tracker.slots.update(values)
        if task in ("book", "waitlist"):
            provider = facts.match_provider(text)
            service = facts.match_service(text)
            if provider:
                values["booking_provider"] = provider.id
                if service is None and len(provider.services) == 1:
                    service = facts.service(provider.services[0])
            values["booking_service"] = service.id if service else None
            unoffered = facts.unoffered(latest_entity(tracker, UNOFFERED_ENTITY) or "")
            if service is None and unoffered is not None:  # "book me in with a dentist": say so, then ask
                dispatcher.utter_message(text=not_offered(unoffered))
            if interpret_when(text, facts, now()).problem is not DateProblem.UNPARSEABLE:
                values["booking_when"] = text
        else:
            values.update(await self.check_identity_first(dispatcher, tracker))
        return [SlotSet(name, value) for name, value in values.items()]

    async def who_from_request(self, tracker: Tracker, text: str, task: str) -> Dict[str, Any]:
        """Everyone the phone books for, and whom the request names ("for my son", "Emma's appointment"). When the
        backend cannot say, the form goes on as for one patient: the change itself will report the failure."""
        try:
            async with scheduling_client() as client:
                found = await household_of(client, patient(tracker))
        except BackendError as error:
            logger.info("household not loaded: %s", error)
            return {}
        if found is None:
            return {}
        values: Dict[str, Any] = {"household": [m.to_slot() for m in found]}
        owner = next((m for m in found if m.relationship is None), None)
        if owner is not None:
            values["patient_id"] = owner.id
        said = who_said(text, found, load_people())
        if task in ("book", "waitlist"):
            decision = decide(said, found)
            if not found and decision.relation is None:
                return values  # a first visit for oneself: asked as before, after the time is chosen
            return {**values, **decided(decision)}
        if (
            said is not None
        ):  # reschedule or cancel: the appointments of the one named (none named: all of them)
            values.update({k: v for k, v in decided(decide(said, found)).items() if v != NEW})
        return values

    async def check_identity_first(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[str, Any]:
        """Appointments are shown for changing only after the date of birth, when the backend asks for it."""
        try:
            found = await identity_status(tracker)
        except BackendError as error:
            say_backend_problem(dispatcher, error, answers_kept=False)
            return {"booking_result": {"kind": "nothing"}}
        if found.state == LOCKED:
            say(dispatcher, "identity_still_locked", clinic_phone=clinic().phone)
            return {"booking_result": {"kind": "nothing"}}
        if found.state == NEEDED:
            return {"identity_result": NEEDED}  # the form asks identity_birth_date first
        return await self.load_appointments(dispatcher, tracker)

    async def validate_identity_birth_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        checked = await check_birth_date(value, dispatcher, tracker)
        result = checked.get("identity_result")
        if result == VERIFIED:
            return {**checked, **await self.load_appointments(dispatcher, tracker)}
        if result == LOCKED:
            return {**checked, "booking_result": {"kind": "identity_locked"}}
        if result is not None:  # the backend could not check it: nothing is shown
            return {**checked, "booking_result": {"kind": "nothing"}}
        return checked

    async def load_appointments(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[str, Any]:
        member = booking_member(tracker)
        try:
            async with scheduling_client() as client:
                patient_id, appointments = await upcoming(
                    client, patient(tracker), member.id if member else None
                )
        except BackendError as error:
            say_backend_problem(dispatcher, error, answers_kept=False)
            return {"booking_result": {"kind": "nothing"}}
        if not appointments:
            if member is not None and len(household(tracker)) > 1:
                say(dispatcher, "booking_no_appointments_for", name=member.first_name)
            else:
                say(dispatcher, "booking_no_appointments")
            return {"booking_result": {"kind": "nothing"}, "patient_id": patient_id}
        # An appointment reminder's "Reschedule"/"Cancel" button names its appointment (`appointment_id` entity).
        named = latest_entity(tracker, "appointment_id")
        preselected = next((a for a in appointments if a.id == named), None)
        choice = preselected or (appointments[0] if len(appointments) == 1 else None)
        return {
            "patient_id": patient_id,
            "appointments": [a.to_slot() for a in appointments],
            "appointment_choice": choice.id if choice else None,
            # as validate_appointment_choice sets it: a choice made after the date of birth is not validated again
            "booking_service": choice.service_id if choice else None,
        }

    # ---- who it is for (the phone books for several patients) ----

    async def validate_booking_for(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {"booking_for": None}
        members = household(tracker)
        if value == NEW or any(m.id == value for m in members):
            return {"booking_for": value}  # already decided (set by this action before)
        options = who_options(members)
        number = option_number(str(value), latest_option(tracker), len(options))
        said = options[number - 1] if number else who_said(str(value), members, load_people(), answer=True)
        decision = decide(said, members) if said is not None else Decision(ask=True)
        if decision.ask:
            say(dispatcher, "booking_for_again", count=len(options))
            return {"booking_for": None}
        return decided(decision)

    # ---- what to book ----

    async def validate_booking_service(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {"booking_service": None}
        facts = clinic()
        text = str(value)
        service = facts.service(text) or facts.match_service(text)
        named = facts.match_provider(text)
        provider = named or facts.provider(tracker.get_slot("booking_provider") or "")
        if service is None and named and len(named.services) == 1:
            service = facts.service(named.services[0])
        if service is None:
            say(dispatcher, "booking_unknown_service", services=", ".join(s.name for s in facts.services))
            return {"booking_service": None, "booking_provider": provider.id if provider else None}
        if provider and service.id not in provider.services:
            say(dispatcher, "booking_provider_other_service", provider=provider.name, service=service.name)
            provider = None
        return {"booking_service": service.id, "booking_provider": provider.id if provider else None}

    # ---- when ----

    async def validate_booking_when(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {"booking_when": None}
        failures = int(tracker.get_slot("booking_when_failures") or 0)
        text = str(value)
        if failures >= UNREADABLE_BEFORE_OFFERING_FIRST_FREE and latest_intent(tracker) == "affirm":
            text = FIRST_FREE  # "yes" to "shall I just find the first free time?"
        result = interpret_when(text, clinic(), now())
        window = asked_window(result, text, clinic())
        if window is not None:
            chosen_list = {}
            if (
                tracker.get_slot("appointment_task") == "waitlist"
            ):  # no times to offer: the list is the choice
                chosen_list = await self.take_choice(WAITLIST, dispatcher, tracker)
            return {**self.new_window(window), "booking_when_failures": 0, **chosen_list}
        if result.problem is DateProblem.UNPARSEABLE:
            return {"booking_when": None, "booking_when_failures": failures + 1}  # the question says why
        say(dispatcher, _WHEN_PROBLEM_MESSAGE[result.problem], reason=result.reason)
        return {"booking_when": None, "booking_when_failures": 0}

    # ---- which time ----

    async def validate_booking_slot(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {"booking_slot": None}
        choices = offered(tracker)
        if value == WAITLIST or any(choice.id == value for choice in choices):
            return {"booking_slot": value}  # already an id (set by this action before)
        if latest_intent(tracker) == "join_waitlist":  # nothing fits: wait for a time to free up
            return await self.take_choice(WAITLIST, dispatcher, tracker)
        text = str(value)
        if choices and latest_intent(tracker) == "more_options":
            if wants_earlier(text):
                return self.new_window(
                    asked_window(interpret_when(FIRST_FREE, clinic(), now()), FIRST_FREE, clinic())
                )
            start = next_page_start(choices, clinic(), wants_another_day(text))
            return {"booking_slot": None, "booking_offers": None, "booking_search_from": start.isoformat()}
        index = pick(text, latest_option(tracker), choices, clinic())
        if index is not None:
            return await self.take_choice(choices[index].id, dispatcher, tracker)
        result = interpret_when(text, clinic(), now())
        window = asked_window(result, text, clinic())
        if window is not None:  # "actually, Friday instead"
            return self.new_window(window)
        if result.problem in _WHEN_PROBLEM_MESSAGE:
            say(dispatcher, _WHEN_PROBLEM_MESSAGE[result.problem], reason=result.reason)
        elif choices:
            say(dispatcher, "booking_pick_again", count=len(choices))
        # With nothing on offer (backend down, nothing free) asking again searches again: "try again" works.
        return {"booking_slot": None}

    @staticmethod
    def new_window(window: AskedWindow) -> Dict[Text, Any]:
        """Search again in another window; the times shown so far are forgotten."""
        return {
            "booking_slot": None,
            "booking_when": window.label,
            "booking_window": window.to_slot(),
            "booking_offers": None,
            "booking_search_from": None,
        }

    async def take_choice(
        self, chosen_id: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        """A time (its Slot id) or the waitlist: a new patient books or joins once, so find out now whether this
        phone is registered, to know whether to ask who the patient is."""
        if tracker.get_slot("appointment_task") not in ("book", "waitlist") or tracker.get_slot("patient_id"):
            return {"booking_slot": chosen_id}
        try:
            async with scheduling_client() as client:
                patient_id = await find_patient_id(client, patient(tracker))
        except BackendError as error:
            say_backend_problem(dispatcher, error)
            return {"booking_slot": None}
        return {"booking_slot": chosen_id, "patient_id": patient_id}

    # ---- who (first booking) ----

    async def validate_patient_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {"patient_name": None}
        name = clean_name(str(value))
        if name is None:
            say(dispatcher, "booking_name_invalid")
        return {"patient_name": name}

    async def validate_patient_birth_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {"patient_birth_date": None}
        try:
            born: Optional[dt.date] = dt.date.fromisoformat(str(value))
        except ValueError:
            born = parse_birth_date(str(value), clinic(), now().date())
        if born is None:
            say(dispatcher, "booking_birth_date_invalid")
            return {"patient_birth_date": None}
        return {"patient_birth_date": born.isoformat()}

    # ---- which appointment (reschedule, cancel) ----

    async def validate_appointment_choice(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {"appointment_choice": None}
        appointments = choices_from_slot(tracker.get_slot("appointments"))
        match = next((a for a in appointments if a.id == value), None)
        if match is None:
            index = pick(str(value), latest_option(tracker), appointments, clinic())
            match = appointments[index] if index is not None else None
        if match is None:  # "Emma's": the one appointment of the patient named
            named = named_member(str(value), [m for m in household(tracker) if m.first_name])
            theirs = [a for a in appointments if named is not None and a.patient_name == named.first_name]
            match = theirs[0] if len(theirs) == 1 else None
        if match is None:
            say(dispatcher, "booking_pick_appointment_again", count=len(appointments))
            return {"appointment_choice": None}
        return {"appointment_choice": match.id, "booking_service": match.service_id}

    # ---- yes / no, and the change itself ----

    async def validate_booking_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {"booking_confirmed": None}
        intent = latest_intent(tracker)
        task = tracker.get_slot("appointment_task") or "book"
        waiting = tracker.get_slot("booking_slot") == WAITLIST
        if intent == "deny":
            if task == "cancel" or waiting:
                return {"booking_confirmed": False, "booking_result": {"kind": "kept"}}
            say(dispatcher, "booking_declined")
            return {"booking_confirmed": None, "booking_slot": None}
        if intent != "affirm":
            choices = offered(tracker) if task != "cancel" else []
            index = (
                pick(str(value), latest_option(tracker), choices, clinic())
                if intent == "choose_option"
                else None
            )
            if index is not None:  # "actually, the 11:15 one": confirm that one instead
                return {"booking_confirmed": None, "booking_slot": choices[index].id}
            say(dispatcher, "booking_yes_or_no")
            return {"booking_confirmed": None}
        patient_id: Optional[str]
        try:
            async with scheduling_client() as client:
                if waiting:
                    async with waitlist_client() as waitlist:
                        patient_id, outcome = await join_waitlist(
                            client,
                            waitlist,
                            self.change(task, tracker),
                            patient(tracker),
                            tracker.sender_id,
                            output_channel(tracker),
                            clinic(),
                        )
                else:
                    patient_id, outcome = await make_change(
                        client, self.change(task, tracker), patient(tracker)
                    )
            patient_slot = {"patient_id": patient_id} if patient_id else {}
            name = for_name(tracker)
            if name and outcome.get("appointment"):
                outcome["appointment"]["patient_name"] = name
            return {"booking_confirmed": True, "booking_result": outcome, **patient_slot}
        except (SlotTaken, NotFound) as error:
            if task == "cancel":
                say(dispatcher, "booking_appointment_gone")
                return {"booking_confirmed": None, "booking_result": {"kind": "nothing"}}
            logger.info("slot no longer free at confirmation: %s", error)
            say(dispatcher, "booking_slot_taken")
            # patient_id is looked up again at the next pick: a 404 may also mean a remembered patient is gone.
            return {
                "booking_confirmed": None,
                "booking_slot": None,
                "booking_offers": None,
                "booking_search_from": None,
                "patient_id": None,
            }
        except BackendError as error:
            logger.warning("booking backend failed at confirmation: %s", error)
            say_backend_problem(dispatcher, error)
            return {"booking_confirmed": None}

    @staticmethod
    def change(task: str, tracker: Tracker) -> Change:
        """The confirmed form's answers, as the change to make."""
        birth = tracker.get_slot("patient_birth_date")
        return Change(
            task,
            service_id=tracker.get_slot("booking_service"),
            offer=chosen(tracker, "booking_slot", "booking_offers"),
            appointment_id=tracker.get_slot("appointment_choice"),
            appointment=chosen(tracker, "appointment_choice", "appointments"),
            name=tracker.get_slot("patient_name"),
            birth_date=dt.date.fromisoformat(birth) if birth else None,
            window=AskedWindow.from_slot(window) if (window := tracker.get_slot("booking_window")) else None,
            provider_id=tracker.get_slot("booking_provider"),
            patient_id=member.id if (member := booking_member(tracker)) else None,
            relation=booking_relation(tracker) if tracker.get_slot("booking_for") == NEW else None,
            new_patient=tracker.get_slot("booking_for") == NEW,
        )


# ---------------------------------------------------------------------------------------------------------------
# The form's questions.


class AskBookingFor(Action):
    """Asks "who is the appointment for?" with the phone's patients, "me" (owner not registered) and someone else."""

    def name(self) -> Text:
        return "action_ask_booking_for"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        send(dispatcher, "booking_ask_for", who_buttons(household(tracker)))
        return []


def who_buttons(members: List[Member]) -> List[Dict[str, str]]:
    """The answers to "who is it for / about?" as numbered buttons: the patients' names, "Me", "Someone else"."""
    buttons = []
    for number, option in enumerate(who_options(members), start=1):
        if option.member is not None:
            title = option.member.name
        else:
            title = render("booking_for_me" if option.myself else "booking_for_someone_else", {}).text
        buttons.append({"title": title, "payload": "/choose_option" + json.dumps({"option": str(number)})})
    return buttons


class AskBookingService(Action):
    def name(self) -> Text:
        return "action_ask_booking_service"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        facts = clinic()
        provider = facts.provider(tracker.get_slot("booking_provider") or "")
        services = [s for s in facts.services if provider is None or s.id in provider.services]
        send(dispatcher, "booking_ask_service", [{"title": s.name, "payload": s.name} for s in services])
        return []


class AskBookingWhen(Action):
    def name(self) -> Text:
        return "action_ask_booking_when"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        failures = int(tracker.get_slot("booking_when_failures") or 0)
        if failures >= UNREADABLE_BEFORE_OFFERING_FIRST_FREE:
            say(dispatcher, "booking_ask_when_offer_first")
        elif failures:
            say(dispatcher, "booking_when_unreadable")
        elif tracker.get_slot("appointment_task") == "reschedule":
            appointment = chosen(tracker, "appointment_choice", "appointments")
            say(
                dispatcher,
                "booking_ask_when_reschedule",
                service=service_name(appointment.service_id, clinic()),
                when=long_when(appointment.start, clinic(), now().date()),
            )
        else:
            say(dispatcher, "booking_ask_when")
        return []


class AskBookingSlot(Action):
    """Shows the times on offer; searches the backend when there are none yet (first ask, "later", taken, retry).
    The words above the list come from the listed times, so shown again they still say what is listed."""

    def name(self) -> Text:
        return "action_ask_booking_slot"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        facts = clinic()
        service_id, provider_id = tracker.get_slot("booking_service"), tracker.get_slot("booking_provider")
        window = AskedWindow.from_slot(tracker.get_slot("booking_window"))
        start_from = tracker.get_slot("booking_search_from")
        shown = offered(tracker)
        if shown:
            show_offers(dispatcher, tracker, Offers.grouped(shown, window, provider_id), shown, window)
            return []
        try:
            async with scheduling_client() as client:
                offers = await find_offers(
                    client,
                    facts,
                    service_id,
                    window,
                    now=now(),
                    provider_id=provider_id,
                    start_from=dt.datetime.fromisoformat(start_from) if start_from else None,
                )
        except BackendError as error:
            logger.warning("free-slot search failed: %s", error)
            say_backend_problem(dispatcher, error)
            return []
        service = service_name(service_id, facts)
        if not offers.choices:
            if start_from:
                say(dispatcher, "booking_no_more_slots", service=service)
                return [SlotSet("booking_search_from", None)]
            say(
                dispatcher,
                "booking_no_slots",
                service=service,
                weeks=facts.horizon_weeks,
                clinic_phone=facts.phone,
            )
            return []
        show_offers(dispatcher, tracker, offers, offers.choices, window)
        return [SlotSet("booking_offers", [c.to_slot() for c in offers.choices])]


def show_offers(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    offers: Offers,
    listed: List[Choice],
    window: AskedWindow,
) -> None:
    """The numbered times under words built from them (carebot.booking.offer_text), never from the day asked."""
    facts = clinic()
    subject = offer_subject(tracker.get_slot("booking_service"), tracker.get_slot("booking_provider"), facts)
    text = offer_text(
        offers,
        listed,
        window,
        subject,
        facts,
        now().date(),
        paging=bool(tracker.get_slot("booking_search_from")),
    )
    dispatcher.utter_message(text=text, buttons=option_buttons(listed))


class AskPatientName(Action):
    def name(self) -> Text:
        return "action_ask_patient_name"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        relation = booking_relation(tracker)
        if tracker.get_slot("booking_for") != NEW:
            say(dispatcher, "booking_ask_name")
        elif relation is None:
            say(dispatcher, "booking_ask_name_self")
        elif relation is SOMEONE_ELSE:
            say(dispatcher, "booking_ask_name_someone")
        else:
            say(dispatcher, "booking_ask_name_relation", relation=relation.noun)
        return []


class AskPatientBirthDate(Action):
    def name(self) -> Text:
        return "action_ask_patient_birth_date"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        first_name = (tracker.get_slot("patient_name") or "the patient").split()[0]
        say(
            dispatcher,
            "booking_ask_birth_date",
            name=first_name,
            example=BIRTH_DATE_EXAMPLES[clinic().date_order],
        )
        return []


class AskAppointmentChoice(Action):
    def name(self) -> Text:
        return "action_ask_appointment_choice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        appointments = choices_from_slot(tracker.get_slot("appointments"))
        send(dispatcher, "booking_which_appointment", option_buttons(appointments, with_service=True))
        return []


class AskBookingConfirmed(Action):
    """The summary the patient says yes to: service, provider, weekday, date, time and the clinic's address."""

    def name(self) -> Text:
        return "action_ask_booking_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        facts = clinic()
        task = tracker.get_slot("appointment_task") or "book"
        appointment = chosen(tracker, "appointment_choice", "appointments")
        whose = {"name": appointment.patient_name} if appointment and appointment.patient_name else {}
        suffix = "_for" if whose else ""
        if task == "cancel":
            say(
                dispatcher,
                "booking_confirm_cancel" + suffix,
                **whose,
                service=service_name(appointment.service_id, facts),
                provider=provider_name(appointment, facts),
                when=long_when(appointment.start, facts, now().date()),
            )
            return []
        if tracker.get_slot("booking_slot") == WAITLIST:
            window = AskedWindow.from_slot(tracker.get_slot("booking_window"))
            subject = offer_subject(
                tracker.get_slot("booking_service"), tracker.get_slot("booking_provider"), facts
            )
            say(dispatcher, "booking_confirm_waitlist", service=subject, asked=window.label)
            return []
        offer = chosen(tracker, "booking_slot", "booking_offers")
        values = {
            "service": service_name(offer.service_id, facts),
            "provider": provider_name(offer, facts),
            "when": long_when(offer.start, facts, now().date()),
            "address": facts.address,
        }
        if task == "reschedule":
            say(
                dispatcher,
                "booking_confirm_reschedule" + suffix,
                old_when=long_when(appointment.start, facts, now().date()),
                **whose,
                **values,
            )
        elif for_name(tracker):
            say(dispatcher, "booking_confirm_for", name=for_name(tracker), **values)
        else:
            say(dispatcher, "booking_confirm", **values)
        return []


# ---------------------------------------------------------------------------------------------------------------
# Ends of the form, and the list.


class ActionAppointmentDone(Action):
    """Tells the patient what changed, sets or clears the appointment's reminders, and clears the form's state."""

    def name(self) -> Text:
        return "action_appointment_done"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        facts = clinic()
        outcome = tracker.get_slot("booking_result") or {}
        kind = outcome.get("kind")
        if kind == "kept":
            say(dispatcher, "booking_kept")
        elif kind == "stopped":
            say(dispatcher, "booking_stopped")
        elif kind == "identity_locked":
            return reset_form_state() + await locked_out(dispatcher, tracker)
        elif kind == "waitlisted":
            say(
                dispatcher,
                "booking_waitlisted",
                service=service_name(outcome["service_id"], facts),
                asked=outcome["asked"],
            )
        elif kind in ("booked", "rescheduled", "cancelled"):
            appointment = Choice.from_slot_value(outcome["appointment"])
            whose = {"name": appointment.patient_name} if appointment.patient_name else {}
            say(
                dispatcher,
                f"booking_{kind}" + ("_for" if whose else ""),
                **whose,
                service=service_name(appointment.service_id, facts),
                provider=provider_name(appointment, facts),
                when=long_when(appointment.start, facts, now().date()),
                address=facts.address,
            )
            await update_reminders(
                tracker, kind, outcome["appointment_id"], appointment, outcome.get("previous_id")
            )
        return reset_form_state()


async def update_reminders(
    tracker: Tracker, kind: str, appointment_id: str, appointment: Choice, previous_id: Optional[str] = None
) -> None:
    """Reminders before the appointment (clinic.yml hours). A reminder failure never undoes a booking: it is logged
    for staff, and the patient already has the confirmation with the date and time."""
    label = f"{service_name(appointment.service_id, clinic())} with {provider_name(appointment, clinic())}"
    if appointment.patient_name:
        label = f"{appointment.patient_name}: {label}"
    try:
        async with reminders_client() as reminders:
            if kind == "cancelled":
                await reminders.cancel_appointment_reminders(appointment_id)
            if kind == "rescheduled" and previous_id:
                await reminders.cancel_appointment_reminders(previous_id)
            if kind in ("booked", "rescheduled"):
                await reminders.create_appointment_reminders(
                    tracker.sender_id, appointment_id, appointment.start, label
                )
    except BackendError as error:
        logger.warning("appointment %s: reminders not updated (%s)", appointment_id, error)


class ActionAppointmentStop(Action):
    def name(self) -> Text:
        return "action_appointment_stop"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        say(dispatcher, "booking_stopped")
        return reset_form_state()


class ActionListAppointments(Action):
    """The upcoming appointments, once the number has confirmed a date of birth when the backend asks for one (outside
    a form the identity_form asks it, then action_identity_done lists; inside one, the patient is told to ask after)."""

    def name(self) -> Text:
        return "action_list_appointments"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        try:
            found = await identity_status(tracker)
        except BackendError as error:
            say_backend_problem(dispatcher, error, answers_kept=False)
            return []
        if found.state == LOCKED:
            say(dispatcher, "identity_still_locked", clinic_phone=clinic().phone)
            return []
        if found.state == NEEDED:
            if tracker.active_loop.get("name"):
                say(dispatcher, "identity_first")
                return []
            return [SlotSet("identity_for", "list")]
        return await list_appointments(dispatcher, tracker)


async def list_appointments(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """Say the patient's upcoming appointments (or that there are none)."""
    facts = clinic()
    try:
        async with scheduling_client() as client:
            patient_id, appointments = await upcoming(client, patient(tracker))
    except BackendError as error:
        say_backend_problem(dispatcher, error, answers_kept=False)
        return []
    if not appointments:
        say(dispatcher, "booking_no_appointments")
    else:
        lines = "\n".join(
            render(
                "booking_appointment_line_for" if a.patient_name else "booking_appointment_line",
                {
                    "when": long_when(a.start, facts, now().date()),
                    "service": service_name(a.service_id, facts),
                    "provider": provider_name(a, facts),
                    **({"name": a.patient_name} if a.patient_name else {}),
                },
            ).text
            for a in appointments
        )
        say(dispatcher, "booking_appointments_list", appointments=lines)
    return [SlotSet("patient_id", patient_id)] if patient_id else []


class ActionIdentityDone(Action):
    """The date-of-birth question was answered: list the appointments that waited for it, or lock and hand over."""

    def name(self) -> Text:
        return "action_identity_done"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        result = tracker.get_slot("identity_result")
        reset: List[EventType] = [SlotSet(name, None) for name in IDENTITY_SLOTS]
        if result == LOCKED:
            return reset + await locked_out(dispatcher, tracker)
        if result == VERIFIED and tracker.get_slot("identity_for") == "list":
            return reset + await list_appointments(dispatcher, tracker)
        return reset
