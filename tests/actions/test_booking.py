"""Every appointment action on tracker fixtures, with the backends replaced by in-memory fakes (fake_backends.py).

The clock is fixed at Monday 7 December 2026, 08:00 in the clinic's timezone, so "tomorrow morning" is always
Tuesday 8 December 08:00-12:00 and the assertions can name exact times.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import booking
from actions.booking import (
    ActionAppointmentDone,
    ActionAppointmentStop,
    ActionListAppointments,
    AskAppointmentChoice,
    AskBookingConfirmed,
    AskBookingService,
    AskBookingSlot,
    AskBookingWhen,
    AskPatientBirthDate,
    AskPatientName,
    ValidateAppointmentForm,
)
from carebot.booking import Choice, asked_window
from carebot.dates import interpret_when
from carebot.messages import render
from carebot.scheduling.client import NotFound
from tests.actions.fake_backends import FakeReminders, FakeScheduling

PHONE = "+447700900001"
SENDER = f"whatsapp:{PHONE}"
ADDRESS = "12 River Street, London SE1 9RT"
WAITLIST_LINE = "None of these? Reply *waitlist* and I'll message you if a time frees up then."


@pytest.fixture
def now(clinic) -> dt.datetime:
    return dt.datetime(2026, 12, 7, 8, 0, tzinfo=clinic.tz)


@pytest.fixture
def at(clinic):
    """at(day, "10:30") → an aware clinic time in December 2026."""

    def build(day: int, clock: str) -> dt.datetime:
        hour, minute = (int(part) for part in clock.split(":"))
        return dt.datetime(2026, 12, day, hour, minute, tzinfo=clinic.tz)

    return build


@pytest.fixture
def backend(clinic, now, monkeypatch) -> FakeScheduling:
    fake = FakeScheduling(clinic, now)
    monkeypatch.setattr(booking, "scheduling_client", lambda: fake)
    monkeypatch.setattr(booking, "now", lambda: now)
    return fake


@pytest.fixture
def reminders(monkeypatch) -> FakeReminders:
    fake = FakeReminders()
    monkeypatch.setattr(booking, "reminders_client", lambda: fake)
    return fake


@pytest.fixture
def known_patient(backend):
    return backend.add_patient("Sam Taylor", PHONE)


def texts(dispatcher: CollectingDispatcher) -> List[str]:
    return [message["text"] for message in dispatcher.messages]


def said(key: str, **values: Any) -> str:
    return render(key, values).text


def slots_of(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The value each slot ends with (events are applied in order)."""
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def offers_slot(*choices: Choice) -> List[Dict[str, Any]]:
    return [c.to_slot() for c in choices]


def choice(backend: FakeScheduling, slot_id: str, service: str = "gp") -> Choice:
    start, who = backend.slots[slot_id]
    return Choice(slot_id, start, who, backend.clinic.provider(who).name, service)


def form_turn(
    make_tracker,
    text: str,
    intent: Optional[str],
    requested: str,
    slots: Optional[Dict[str, Any]] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
):
    """The tracker the validation action gets after the patient answered `requested` with `text`."""
    values = {"appointment_task": "book", **(slots or {}), "requested_slot": requested, requested: text}
    return make_tracker(
        text=text,
        intent=intent,
        slots=values,
        active_loop="appointment_form",
        sender_id=SENDER,
        entities=entities,
        events=[{"event": "slot", "name": requested, "value": text}],
    )


def opening(make_tracker, text: str, intent: str, slots: Optional[Dict[str, Any]] = None):
    """The tracker the validation action gets when the form starts on the patient's first message."""
    return make_tracker(text=text, intent=intent, slots=dict(slots or {}), sender_id=SENDER)


async def validate(tracker, dispatcher, domain) -> Dict[str, Any]:
    return slots_of(await ValidateAppointmentForm().run(dispatcher, tracker, domain))


# ================================================================================ starting the form


async def test_booking_request_with_service_and_day_goes_straight_to_the_times(
    make_tracker, dispatcher, domain, backend
):
    tracker = opening(
        make_tracker,
        "I'd like a physio appointment on Tuesday morning",
        "book_appointment",
        slots={"booking_offers": [{"stale": True}], "booking_result": {"kind": "booked"}},
    )
    slots = await validate(tracker, dispatcher, domain)
    assert slots["appointment_task"] == "book"
    assert slots["booking_service"] == "physio"
    assert slots["booking_when"] == "Tuesday 8 December, morning"
    assert slots["booking_window"]["spans"] == [["2026-12-08T08:00:00+00:00", "2026-12-08T12:00:00+00:00"]]
    assert slots["booking_offers"] is None and slots["booking_result"] is None  # the last run is forgotten
    assert slots["requested_slot"] == "booking_slot"
    assert dispatcher.messages == []


async def test_naming_a_single_service_provider_implies_the_service(
    make_tracker, dispatcher, domain, backend
):
    slots = await validate(
        opening(make_tracker, "I want to see Dr Okafor", "book_appointment"), dispatcher, domain
    )
    assert (slots["booking_provider"], slots["booking_service"]) == ("dr-okafor", "gp")
    assert slots["requested_slot"] == "booking_when"


async def test_a_service_the_clinic_does_not_offer_is_said_so_before_asking_what_to_book(
    make_tracker, dispatcher, domain, backend
):
    dentist = [{"entity": "unoffered_service", "value": "dental", "start": 20, "end": 27}]
    tracker = make_tracker(
        text="can I book in with a dentist", intent="book_appointment", entities=dentist, sender_id=SENDER
    )
    slots = await validate(tracker, dispatcher, domain)
    assert slots["booking_service"] is None and slots["requested_slot"] == "booking_service"
    assert texts(dispatcher) == [
        "Sorry, we don't offer dental care at this clinic. For a dentist, search "
        '"find a dentist" on nhs.uk, or call 111 for urgent dental care.'
    ]


async def test_a_provider_with_several_services_still_asks_which(make_tracker, dispatcher, domain, backend):
    slots = await validate(
        opening(make_tracker, "appointment with Dr Patel please", "book_appointment"), dispatcher, domain
    )
    assert slots["booking_provider"] == "dr-patel"
    assert slots["booking_service"] is None
    assert slots["requested_slot"] == "booking_service"


async def test_a_closed_day_in_the_opening_message_goes_to_the_times_around_it(
    make_tracker, dispatcher, domain, backend
):
    slots = await validate(
        opening(make_tracker, "book the nurse on Sunday", "book_appointment"), dispatcher, domain
    )
    assert slots["booking_when"] == "Sunday 13 December"
    assert slots["booking_window"] == {
        "label": "Sunday 13 December",
        "spans": [],
        "target": None,
        "bounds": ["2026-12-13T00:00:00+00:00", "2026-12-14T00:00:00+00:00"],
        "closed": "closed on Sundays",
    }
    assert slots["requested_slot"] == "booking_slot"
    assert dispatcher.messages == []  # the offer says why, above the times around the day


async def test_cancel_with_one_appointment_asks_straight_for_confirmation(
    make_tracker, dispatcher, domain, backend, known_patient, at
):
    slot_id = backend.add_slot(at(9, "10:30"), "dr-patel")
    appointment = await backend.book(known_patient.id, slot_id, "gp")
    slots = await validate(
        opening(make_tracker, "cancel my appointment", "cancel_appointment"), dispatcher, domain
    )
    assert slots["appointment_task"] == "cancel"
    assert slots["patient_id"] == known_patient.id
    assert slots["appointment_choice"] == appointment.id
    assert slots["booking_service"] == "gp"
    assert slots["requested_slot"] == "booking_confirmed"


async def test_reschedule_with_several_appointments_asks_which(
    make_tracker, dispatcher, domain, backend, known_patient, at
):
    for day in (9, 10):
        await backend.book(known_patient.id, backend.add_slot(at(day, "10:30"), "dr-patel"), "gp")
    slots = await validate(
        opening(make_tracker, "can I move my appointment", "reschedule_appointment"), dispatcher, domain
    )
    assert [a["start"] for a in slots["appointments"]] == [
        "2026-12-09T10:30:00+00:00",
        "2026-12-10T10:30:00+00:00",
    ]
    assert slots["appointment_choice"] is None
    assert slots["requested_slot"] == "appointment_choice"


async def test_a_reminder_button_names_the_appointment_to_change(
    make_tracker, dispatcher, domain, backend, known_patient, at
):
    made = [
        await backend.book(known_patient.id, backend.add_slot(at(day, "10:30"), "dr-patel"), "gp")
        for day in (9, 10)
    ]
    tracker = make_tracker(
        text=f'/reschedule_appointment{{"appointment_id": "{made[1].id}"}}',
        intent="reschedule_appointment",
        sender_id=SENDER,
        entities=[{"entity": "appointment_id", "value": made[1].id}],
    )
    slots = await validate(tracker, dispatcher, domain)
    assert slots["appointment_choice"] == made[1].id
    assert slots["requested_slot"] == "booking_when"


async def test_nothing_to_cancel_says_so_and_ends_the_form(make_tracker, dispatcher, domain, backend):
    slots = await validate(
        opening(make_tracker, "cancel my appointment", "cancel_appointment"), dispatcher, domain
    )
    assert texts(dispatcher) == [said("booking_no_appointments")]
    assert slots["booking_result"] == {"kind": "nothing"}
    assert slots["requested_slot"] is None


async def test_backend_down_when_cancelling_says_so_and_ends_the_form(
    make_tracker, dispatcher, domain, backend, clinic
):
    backend.down = True
    slots = await validate(
        opening(make_tracker, "cancel my appointment", "cancel_appointment"), dispatcher, domain
    )
    assert texts(dispatcher) == [said("booking_unavailable_nothing_kept", clinic_phone=clinic.phone)]
    assert slots["requested_slot"] is None


async def test_cancel_while_booking_stops_the_booking(make_tracker, dispatcher, domain, backend):
    tracker = form_turn(
        make_tracker, "cancel", "cancel_appointment", "booking_when", {"booking_service": "gp"}
    )
    events = await ValidateAppointmentForm().run(dispatcher, tracker, domain)
    assert events == [
        {"event": "slot", "timestamp": None, "name": "booking_result", "value": {"kind": "stopped"}},
        {"event": "slot", "timestamp": None, "name": "requested_slot", "value": None},
    ]


# ================================================================================ service


async def test_a_service_alias_is_accepted(make_tracker, dispatcher, domain, backend):
    slots = await validate(
        form_turn(make_tracker, "a blood test", "inform", "booking_service"), dispatcher, domain
    )
    assert slots["booking_service"] == "nurse"
    assert slots["requested_slot"] == "booking_when"


async def test_an_unknown_service_lists_what_the_clinic_offers(make_tracker, dispatcher, domain, backend):
    slots = await validate(
        form_turn(make_tracker, "the dentist", "inform", "booking_service"), dispatcher, domain
    )
    assert texts(dispatcher) == [
        said(
            "booking_unknown_service",
            services="GP appointment, Practice nurse, Child health clinic, Physiotherapy",
        )
    ]
    assert slots["booking_service"] is None
    assert slots["requested_slot"] == "booking_service"


async def test_a_provider_who_does_not_offer_the_service_is_dropped(
    make_tracker, dispatcher, domain, backend
):
    tracker = form_turn(make_tracker, "GP", "inform", "booking_service", {"booking_provider": "physio-novak"})
    slots = await validate(tracker, dispatcher, domain)
    assert texts(dispatcher) == [
        said("booking_provider_other_service", provider="Tomas Novak", service="GP appointment")
    ]
    assert (slots["booking_service"], slots["booking_provider"]) == ("gp", None)


# ================================================================================ when


async def test_a_day_and_part_of_day_becomes_the_search_window(make_tracker, dispatcher, domain, backend):
    tracker = form_turn(
        make_tracker,
        "tomorrow morning",
        "inform",
        "booking_when",
        {"booking_service": "gp", "booking_when_failures": 1},
    )
    slots = await validate(tracker, dispatcher, domain)
    assert slots["booking_when"] == "Tuesday 8 December, morning"
    assert slots["booking_window"] == {
        "label": "Tuesday 8 December, morning",
        "target": None,
        "closed": "",
        "spans": [["2026-12-08T08:00:00+00:00", "2026-12-08T12:00:00+00:00"]],
        "bounds": ["2026-12-08T08:00:00+00:00", "2026-12-08T12:00:00+00:00"],
    }
    assert slots["booking_when_failures"] == 0
    assert slots["requested_slot"] == "booking_slot"
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    "text, key, reason",
    [
        ("1st January 2020", "booking_when_past", "Wednesday 1 January 2020 has passed"),
        (
            "Tuesday at 7pm",
            "booking_when_outside_hours",
            "open 08:00–12:30 and 13:30–18:30 on Tuesday 8 December",
        ),
    ],
)
async def test_past_days_and_closed_hours_are_explained(
    make_tracker, dispatcher, domain, backend, text, key, reason
):
    slots = await validate(
        form_turn(make_tracker, text, "inform", "booking_when", {"booking_service": "gp"}), dispatcher, domain
    )
    assert texts(dispatcher) == [said(key, reason=reason)]
    assert slots["booking_when"] is None
    assert slots["requested_slot"] == "booking_when"


async def test_an_unreadable_day_counts_failures_and_the_question_changes(
    make_tracker, dispatcher, domain, backend
):
    first = await validate(
        form_turn(make_tracker, "blue", "inform", "booking_when", {"booking_service": "gp"}),
        dispatcher,
        domain,
    )
    assert (first["booking_when"], first["booking_when_failures"]) == (None, 1)
    second = await validate(
        form_turn(
            make_tracker,
            "purple",
            "inform",
            "booking_when",
            {"booking_service": "gp", "booking_when_failures": 1},
        ),
        dispatcher,
        domain,
    )
    assert second["booking_when_failures"] == 2
    assert dispatcher.messages == []  # the repeated question (AskBookingWhen) says what went wrong


async def test_yes_after_two_unreadable_days_searches_from_the_first_free_time(
    make_tracker, dispatcher, domain, backend
):
    tracker = form_turn(
        make_tracker, "yes", "affirm", "booking_when", {"booking_service": "gp", "booking_when_failures": 2}
    )
    slots = await validate(tracker, dispatcher, domain)
    assert slots["booking_when"] == "the first available time"
    assert slots["booking_window"]["spans"][0][0] == "2026-12-07T08:00:00+00:00"
    assert slots["requested_slot"] == "booking_slot"


# ================================================================================ picking a time


@pytest.fixture
def three_offers(backend, at):
    ids = [
        backend.add_slot(at(8, "09:00"), "dr-patel"),
        backend.add_slot(at(8, "10:30"), "dr-okafor"),
        backend.add_slot(at(9, "14:15"), "dr-patel"),
    ]
    return [choice(backend, slot_id) for slot_id in ids]


def picking(make_tracker, text, intent, offers, entities=None, **slots):
    return form_turn(
        make_tracker,
        text,
        intent,
        "booking_slot",
        {
            "booking_service": "gp",
            "booking_when": "Tuesday 8 December",
            "booking_offers": offers_slot(*offers),
            **slots,
        },
        entities=entities,
    )


@pytest.mark.parametrize(
    "text, intent, entities, index",
    [
        ("2", "choose_option", None, 1),
        ("number 3", "choose_option", None, 2),
        ("the first one", "choose_option", None, 0),
        ("the 10:30 one", "choose_option", None, 1),
        ("2:15pm please", "choose_option", None, 2),
        ("Dr Okafor's", "choose_option", None, 1),
        ("the Wednesday one", "choose_option", None, 2),
        ('/choose_option{"option": "3"}', "choose_option", [{"entity": "option", "value": "3"}], 2),
    ],
)
async def test_every_way_of_picking_selects_the_right_time(
    make_tracker, dispatcher, domain, backend, known_patient, three_offers, text, intent, entities, index
):
    slots = await validate(
        picking(make_tracker, text, intent, three_offers, entities, patient_id=known_patient.id),
        dispatcher,
        domain,
    )
    assert slots["booking_slot"] == three_offers[index].id
    assert slots["requested_slot"] == "booking_confirmed"


async def test_a_first_time_patient_is_asked_name_and_birth_date_after_picking(
    make_tracker, dispatcher, domain, backend, three_offers
):
    slots = await validate(picking(make_tracker, "1", "choose_option", three_offers), dispatcher, domain)
    assert slots["booking_slot"] == three_offers[0].id
    assert slots["patient_id"] is None
    assert slots["requested_slot"] == "patient_name"


async def test_a_registered_phone_is_recognised_when_picking(
    make_tracker, dispatcher, domain, backend, known_patient, three_offers
):
    slots = await validate(picking(make_tracker, "1", "choose_option", three_offers), dispatcher, domain)
    assert slots["patient_id"] == known_patient.id
    assert slots["requested_slot"] == "booking_confirmed"


async def test_later_searches_after_the_last_time_shown(
    make_tracker, dispatcher, domain, backend, three_offers
):
    slots = await validate(picking(make_tracker, "later", "more_options", three_offers), dispatcher, domain)
    assert slots["booking_offers"] is None
    assert slots["booking_search_from"] == "2026-12-09T14:16:00+00:00"
    assert slots["requested_slot"] == "booking_slot"


async def test_another_day_searches_from_the_next_morning(
    make_tracker, dispatcher, domain, backend, three_offers
):
    slots = await validate(
        picking(make_tracker, "another day please", "more_options", three_offers), dispatcher, domain
    )
    assert slots["booking_search_from"] == "2026-12-10T00:00:00+00:00"


async def test_anything_earlier_searches_from_the_first_free_time(
    make_tracker, dispatcher, domain, backend, three_offers
):
    slots = await validate(
        picking(make_tracker, "anything earlier?", "more_options", three_offers), dispatcher, domain
    )
    assert slots["booking_when"] == "the first available time"
    assert slots["booking_window"]["spans"][0][0] == "2026-12-07T08:00:00+00:00"
    assert (slots["booking_offers"], slots["booking_search_from"]) == (None, None)


async def test_a_new_day_while_picking_replaces_the_window(
    make_tracker, dispatcher, domain, backend, three_offers
):
    slots = await validate(
        picking(make_tracker, "Friday instead", "inform", three_offers), dispatcher, domain
    )
    assert slots["booking_when"] == "Friday 11 December"
    assert slots["booking_offers"] is None
    assert slots["booking_slot"] is None


async def test_an_answer_that_picks_nothing_is_asked_again(
    make_tracker, dispatcher, domain, backend, three_offers
):
    slots = await validate(picking(make_tracker, "banana", "inform", three_offers), dispatcher, domain)
    assert texts(dispatcher) == [said("booking_pick_again", count=3)]
    assert slots["booking_slot"] is None
    assert slots["requested_slot"] == "booking_slot"


async def test_a_rest_sender_without_a_phone_number_is_told_booking_needs_one(
    make_tracker, dispatcher, domain, backend, three_offers, clinic
):
    tracker = picking(make_tracker, "1", "choose_option", three_offers)
    tracker.sender_id = "me"  # the README's curl example
    slots = await validate(tracker, dispatcher, domain)
    assert texts(dispatcher) == [
        f"To book or look up appointments I need your mobile number, and this chat doesn't have one. Please message "
        f"us on WhatsApp, or call {clinic.phone}."
    ]
    assert slots["booking_slot"] is None
    assert "booking_offers" not in slots


async def test_a_rest_sender_without_a_phone_number_is_told_at_once_and_the_form_ends(
    make_tracker, dispatcher, domain, backend, clinic
):
    tracker = make_tracker(text="book a GP appointment tomorrow", intent="book_appointment", sender_id="me")
    slots = await validate(tracker, dispatcher, domain)
    assert texts(dispatcher) == [said("booking_needs_phone", clinic_phone=clinic.phone)]
    assert slots["booking_result"] == {"kind": "nothing"}  # no questions that could never end in a booking
    assert slots["requested_slot"] is None


async def test_the_list_for_a_rest_sender_without_a_phone_number_says_what_is_needed(
    make_tracker, dispatcher, domain, backend, clinic
):
    tracker = make_tracker(text="my appointments", intent="list_appointments", sender_id="me")
    assert await ActionListAppointments().run(dispatcher, tracker, domain) == []
    assert texts(dispatcher) == [said("booking_needs_phone", clinic_phone=clinic.phone)]


async def test_a_request_the_backend_refuses_is_not_called_an_outage(
    make_tracker, dispatcher, domain, backend, three_offers, known_patient, clinic, monkeypatch
):
    async def refuse(*_args: Any) -> None:
        raise booking.BackendError("serviceType must name a clinic service", 422)

    monkeypatch.setattr(backend, "book", refuse)
    tracker = form_turn(
        make_tracker,
        "yes",
        "affirm",
        "booking_confirmed",
        {
            "booking_service": "gp",
            "booking_offers": offers_slot(*three_offers),
            "booking_slot": three_offers[0].id,
            "patient_id": known_patient.id,
        },
    )
    slots = await validate(tracker, dispatcher, domain)
    assert texts(dispatcher) == [
        f"Sorry, the booking system couldn't accept that (serviceType must name a clinic service). Please call us on "
        f"{clinic.phone} and we'll sort it out."
    ]
    assert slots["booking_confirmed"] is None


async def test_backend_down_while_checking_the_patient_keeps_the_offers(
    make_tracker, dispatcher, domain, backend, three_offers
):
    backend.down = True
    tracker = picking(make_tracker, "1", "choose_option", three_offers)
    slots = await validate(tracker, dispatcher, domain)
    assert texts(dispatcher) == [said("booking_unavailable")]
    assert slots["booking_slot"] is None
    assert "booking_offers" not in slots  # still offered: "try again" shows the same list


async def test_a_new_day_after_nothing_was_free_replaces_the_window(
    make_tracker, dispatcher, domain, backend
):
    tracker = form_turn(
        make_tracker,
        "next Friday",
        "inform",
        "booking_slot",
        {"booking_service": "gp", "booking_when": "Tuesday 8 December"},
    )
    slots = await validate(tracker, dispatcher, domain)
    assert slots["booking_when"] == "Friday 18 December"
    assert slots["requested_slot"] == "booking_slot"


async def test_try_again_with_nothing_on_offer_asks_the_question_again(
    make_tracker, dispatcher, domain, backend
):
    tracker = form_turn(
        make_tracker,
        "try again",
        "affirm",
        "booking_slot",
        {"booking_service": "gp", "booking_when": "Tuesday 8 December"},
    )
    slots = await validate(tracker, dispatcher, domain)
    assert slots["booking_slot"] is None
    assert slots["requested_slot"] == "booking_slot"
    assert dispatcher.messages == []


# ================================================================================ name and date of birth

FIRST_VISIT = {"booking_service": "gp", "booking_when": "Tuesday 8 December"}


def at_question(make_tracker, three_offers, requested: str, text: str, intent: str, confidence: float):
    """The patient's message at a first visit's name or birth-date question, as the classifier read it."""
    earlier = {"patient_name": "Alex Morgan"} if requested == "patient_birth_date" else {}
    tracker = form_turn(
        make_tracker,
        text,
        intent,
        requested,
        {
            **FIRST_VISIT,
            **earlier,
            "booking_offers": offers_slot(*three_offers),
            "booking_slot": three_offers[0].id,
        },
    )
    tracker.latest_message["intent"]["confidence"] = confidence
    return tracker


@pytest.mark.parametrize(
    "text, intent, confidence",
    [("Alex Morgan", "stop", 0.38), ("Mohammed Khan", "nlu_fallback", 0.3), ("Grace Hope", "greet", 0.6)],
)
async def test_a_name_the_classifier_misreads_is_still_the_name(
    make_tracker, dispatcher, domain, backend, three_offers, text, intent, confidence
):
    tracker = at_question(make_tracker, three_offers, "patient_name", text, intent, confidence)
    slots = await validate(tracker, dispatcher, domain)
    assert slots["patient_name"] == text
    assert slots["requested_slot"] == "patient_birth_date"
    assert dispatcher.messages == []


@pytest.mark.parametrize("requested", ["patient_name", "patient_birth_date"])
@pytest.mark.parametrize(
    "text, intent, confidence",
    [
        ("never mind", "stop", 0.93),
        ("can I speak to someone", "ask_human", 0.99),
        ('/send_media{"media_type": "image"}', "send_media", 1.0),
        ('/send_media{"media_type": "audio"}', "send_media", 1.0),
        ("/share_location", "share_location", 1.0),
    ],
)
async def test_a_plain_interruption_hands_the_turn_to_the_rules(
    make_tracker, dispatcher, domain, backend, three_offers, requested, text, intent, confidence
):
    tracker = at_question(make_tracker, three_offers, requested, text, intent, confidence)
    events = await ValidateAppointmentForm().run(dispatcher, tracker, domain)
    assert events == [
        {"event": "slot", "name": requested, "value": None, "timestamp": None},  # not taken as the answer
        {
            "event": "action_execution_rejected",
            "name": "appointment_form",
            "policy": None,
            "confidence": None,
            "timestamp": None,
        },
    ]
    assert dispatcher.messages == []


@pytest.mark.parametrize("requested", ["patient_name", "patient_birth_date"])
async def test_back_in_the_form_after_a_rule_answered_the_photo_the_question_is_asked_again(
    make_tracker, dispatcher, domain, backend, three_offers, requested
):
    # The photo is still the latest message when the form comes back after "I can't open photos…": it was judged
    # then, and must not be rejected a second time (that left the patient with "Sorry, I didn't understand").
    media = '/send_media{"media_type": "image"}'
    tracker = at_question(make_tracker, three_offers, requested, media, "send_media", 1.0)
    tracker.slots[requested] = None  # cleared when the photo was turned away
    tracker.events = [  # as Rasa hands them to the validation action: the form's run comes last
        {"event": "user", "text": media},
        {"event": "action", "name": "utter_media_in_form"},
        {
            "event": "bot",
            "text": "I can't open photos, voice notes or files here, so please type your answer.",
        },
        {"event": "slot", "name": "requested_slot", "value": requested},
        {"event": "action", "name": "appointment_form"},
    ]
    events = await ValidateAppointmentForm().run(dispatcher, tracker, domain)
    assert not [e for e in events if e["event"] == "action_execution_rejected"]
    assert slots_of(events)["requested_slot"] == requested
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    "requested, text, intent, confidence, said_key",
    [
        (
            "patient_name",
            "yes",
            "affirm",
            0.95,
            None,
        ),  # neither a name nor an interruption: the question again
        ("patient_name", "👍", "affirm", 0.5, "booking_name_invalid"),
        ("patient_name", "!!??", "nlu_fallback", 1.0, "booking_name_invalid"),
        ("patient_birth_date", "sdfkjh qwpo", "nlu_fallback", 1.0, "booking_birth_date_invalid"),
        ("patient_birth_date", "🎂", "affirm", 0.4, "booking_birth_date_invalid"),
        ("patient_birth_date", "no", "deny", 0.97, None),
    ],
)
async def test_gibberish_and_emoji_get_the_question_again_and_the_form_goes_on(
    make_tracker, dispatcher, domain, backend, three_offers, requested, text, intent, confidence, said_key
):
    tracker = at_question(make_tracker, three_offers, requested, text, intent, confidence)
    slots = await validate(tracker, dispatcher, domain)
    assert slots[requested] is None
    assert slots["requested_slot"] == requested
    assert texts(dispatcher) == ([said(said_key)] if said_key else [])


@pytest.mark.parametrize(
    "text, expected",
    [("my name is sam taylor", "Sam Taylor"), ("Oluwaseun", "Oluwaseun"), ("12345", None), ("🙂", None)],
)
async def test_the_name_is_words_of_letters(
    make_tracker, dispatcher, domain, backend, three_offers, text, expected
):
    tracker = form_turn(
        make_tracker,
        text,
        "inform",
        "patient_name",
        {
            "booking_service": "gp",
            "booking_when": "Tuesday 8 December",
            "booking_offers": offers_slot(*three_offers),
            "booking_slot": three_offers[0].id,
        },
    )
    slots = await validate(tracker, dispatcher, domain)
    assert slots["patient_name"] == expected
    assert texts(dispatcher) == ([] if expected else [said("booking_name_invalid")])
    assert slots["requested_slot"] == ("patient_birth_date" if expected else "patient_name")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("21/07/1980", "1980-07-21"),
        ("born on 3 March 1990", "1990-03-03"),
        ("01/01/2030", None),
        ("last year", None),
    ],
)
async def test_the_birth_date_is_read_day_first_and_must_be_past(
    make_tracker, dispatcher, domain, backend, three_offers, text, expected
):
    tracker = form_turn(
        make_tracker,
        text,
        "inform",
        "patient_birth_date",
        {
            "booking_service": "gp",
            "booking_when": "Tuesday 8 December",
            "booking_offers": offers_slot(*three_offers),
            "booking_slot": three_offers[0].id,
            "patient_name": "Sam Taylor",
        },
    )
    slots = await validate(tracker, dispatcher, domain)
    assert slots["patient_birth_date"] == expected
    assert texts(dispatcher) == ([] if expected else [said("booking_birth_date_invalid")])


# ================================================================================ confirming and booking


def confirming(make_tracker, text, intent, **slots):
    return form_turn(
        make_tracker, text, intent, "booking_confirmed", {"booking_when": "Tuesday 8 December", **slots}
    )


async def test_yes_books_a_known_patient_and_ends_the_form(
    make_tracker, dispatcher, domain, backend, known_patient, three_offers
):
    tracker = confirming(
        make_tracker,
        "yes",
        "affirm",
        booking_service="gp",
        patient_id=known_patient.id,
        booking_offers=offers_slot(*three_offers),
        booking_slot=three_offers[1].id,
    )
    slots = await validate(tracker, dispatcher, domain)
    (appointment,) = backend.appointments.values()
    assert (appointment.patient_id, appointment.slot_id, appointment.status) == (
        known_patient.id,
        three_offers[1].id,
        "booked",
    )
    assert three_offers[1].id in backend.busy
    assert slots["booking_result"] == {
        "kind": "booked",
        "appointment_id": appointment.id,
        "appointment": Choice.from_appointment(appointment).to_slot(),
    }
    assert slots["requested_slot"] is None


async def test_yes_registers_a_new_patient_with_name_birth_date_and_phone(
    make_tracker, dispatcher, domain, backend, three_offers
):
    tracker = confirming(
        make_tracker,
        "yes",
        "affirm",
        booking_service="gp",
        patient_name="Sam Taylor",
        patient_birth_date="1980-07-21",
        booking_offers=offers_slot(*three_offers),
        booking_slot=three_offers[0].id,
    )
    slots = await validate(tracker, dispatcher, domain)
    (patient,) = backend.patients.values()
    assert (patient.name, patient.birth_date, patient.phone) == ("Sam Taylor", dt.date(1980, 7, 21), PHONE)
    assert slots["patient_id"] == patient.id
    assert backend.appointments[slots["booking_result"]["appointment_id"]].patient_id == patient.id


async def test_a_time_taken_meanwhile_apologises_and_searches_afresh(
    make_tracker, dispatcher, domain, backend, known_patient, three_offers
):
    backend.taken_by_someone_else.add(three_offers[0].id)
    tracker = confirming(
        make_tracker,
        "yes",
        "affirm",
        booking_service="gp",
        patient_id=known_patient.id,
        booking_offers=offers_slot(*three_offers),
        booking_slot=three_offers[0].id,
    )
    slots = await validate(tracker, dispatcher, domain)
    assert texts(dispatcher) == [said("booking_slot_taken")]
    assert (slots["booking_slot"], slots["booking_offers"], slots["booking_confirmed"]) == (None, None, None)
    assert slots["requested_slot"] == "booking_slot"
    assert backend.appointments == {}


async def test_a_remembered_patient_missing_from_the_backend_is_looked_up_again(
    make_tracker, dispatcher, domain, backend, three_offers
):
    tracker = confirming(
        make_tracker,
        "yes",
        "affirm",
        booking_service="gp",
        patient_id="patient-deleted",
        booking_offers=offers_slot(*three_offers),
        booking_slot=three_offers[0].id,
    )
    backend.book = _raise_not_found  # the backend answers 404 for the unknown patient
    slots = await validate(tracker, dispatcher, domain)
    assert slots["patient_id"] is None  # the next pick asks the backend who this phone is
    assert slots["requested_slot"] == "booking_slot"


async def _raise_not_found(*_args):
    raise NotFound("Patient/patient-deleted not found", 404)


async def test_backend_down_at_yes_keeps_every_answer_and_asks_again(
    make_tracker, dispatcher, domain, backend, known_patient, three_offers
):
    backend.down = True
    tracker = confirming(
        make_tracker,
        "yes",
        "affirm",
        booking_service="gp",
        patient_id=known_patient.id,
        booking_offers=offers_slot(*three_offers),
        booking_slot=three_offers[0].id,
    )
    slots = await validate(tracker, dispatcher, domain)
    assert texts(dispatcher) == [said("booking_unavailable")]
    assert slots == {"booking_confirmed": None, "requested_slot": "booking_confirmed"}


async def test_no_at_the_summary_offers_the_times_again(
    make_tracker, dispatcher, domain, backend, known_patient, three_offers
):
    tracker = confirming(
        make_tracker,
        "no",
        "deny",
        booking_service="gp",
        patient_id=known_patient.id,
        booking_offers=offers_slot(*three_offers),
        booking_slot=three_offers[0].id,
    )
    slots = await validate(tracker, dispatcher, domain)
    assert texts(dispatcher) == [said("booking_declined")]
    assert slots["booking_slot"] is None
    assert slots["requested_slot"] == "booking_slot"
    assert backend.appointments == {}


async def test_anything_but_yes_or_no_at_the_summary_is_asked_again(
    make_tracker, dispatcher, domain, backend, known_patient, three_offers
):
    tracker = confirming(
        make_tracker,
        "maybe",
        "inform",
        booking_service="gp",
        patient_id=known_patient.id,
        booking_offers=offers_slot(*three_offers),
        booking_slot=three_offers[0].id,
    )
    slots = await validate(tracker, dispatcher, domain)
    assert texts(dispatcher) == [said("booking_yes_or_no")]
    assert slots["requested_slot"] == "booking_confirmed"


async def test_picking_another_time_at_the_summary_confirms_that_one(
    make_tracker, dispatcher, domain, backend, known_patient, three_offers
):
    tracker = confirming(
        make_tracker,
        "actually the 14:15 one",
        "choose_option",
        booking_service="gp",
        patient_id=known_patient.id,
        booking_offers=offers_slot(*three_offers),
        booking_slot=three_offers[0].id,
    )
    slots = await validate(tracker, dispatcher, domain)
    assert slots["booking_slot"] == three_offers[2].id
    assert slots["requested_slot"] == "booking_confirmed"
    assert dispatcher.messages == [] and backend.appointments == {}


@pytest.fixture
def booked(backend, known_patient, at):
    """Two upcoming GP appointments of the known patient."""

    async def make() -> List[Choice]:
        made = [
            await backend.book(known_patient.id, backend.add_slot(at(day, "10:30"), "dr-patel"), "gp")
            for day in (9, 10)
        ]
        return [Choice.from_appointment(a) for a in made]

    return make


async def test_yes_cancels_the_chosen_appointment_and_frees_its_slot(
    make_tracker, dispatcher, domain, backend, known_patient, booked
):
    appointments = await booked()
    tracker = confirming(
        make_tracker,
        "yes",
        "affirm",
        appointment_task="cancel",
        patient_id=known_patient.id,
        appointments=offers_slot(*appointments),
        appointment_choice=appointments[1].id,
    )
    slots = await validate(tracker, dispatcher, domain)
    assert backend.appointments[appointments[1].id].status == "cancelled"
    assert backend.appointments[appointments[0].id].status == "booked"
    assert appointments[1].id not in backend.busy  # the slot is free for someone else
    assert slots["booking_result"]["kind"] == "cancelled"
    assert slots["requested_slot"] is None


async def test_no_to_cancelling_keeps_the_appointment(
    make_tracker, dispatcher, domain, backend, known_patient, booked
):
    appointments = await booked()
    tracker = confirming(
        make_tracker,
        "no",
        "deny",
        appointment_task="cancel",
        patient_id=known_patient.id,
        appointments=offers_slot(*appointments),
        appointment_choice=appointments[0].id,
    )
    slots = await validate(tracker, dispatcher, domain)
    assert slots["booking_result"] == {"kind": "kept"}
    assert slots["requested_slot"] is None
    assert backend.appointments[appointments[0].id].status == "booked"


async def test_yes_moves_the_appointment_to_the_new_time(
    make_tracker, dispatcher, domain, backend, known_patient, booked, at
):
    appointments = await booked()
    new_slot = backend.add_slot(at(11, "14:00"), "dr-okafor")
    tracker = confirming(
        make_tracker,
        "yes",
        "affirm",
        appointment_task="reschedule",
        patient_id=known_patient.id,
        appointments=offers_slot(*appointments),
        appointment_choice=appointments[0].id,
        booking_service="gp",
        booking_offers=offers_slot(choice(backend, new_slot)),
        booking_slot=new_slot,
    )
    slots = await validate(tracker, dispatcher, domain)
    moved = backend.appointments[slots["booking_result"]["appointment_id"]]
    assert (moved.slot_id, moved.start, moved.status) == (new_slot, at(11, "14:00"), "booked")
    assert backend.appointments[appointments[0].id].status == "cancelled"
    assert appointments[0].id not in backend.busy and new_slot in backend.busy
    assert slots["booking_result"]["kind"] == "rescheduled"
    assert slots["booking_result"]["previous_id"] == appointments[0].id


async def test_choosing_which_appointment_by_number_and_unknown_answers(
    make_tracker, dispatcher, domain, backend, known_patient, booked
):
    appointments = await booked()
    base = {
        "appointment_task": "reschedule",
        "patient_id": known_patient.id,
        "appointments": offers_slot(*appointments),
    }
    slots = await validate(
        form_turn(make_tracker, "the second one", "choose_option", "appointment_choice", base),
        dispatcher,
        domain,
    )
    assert slots["appointment_choice"] == appointments[1].id
    assert slots["requested_slot"] == "booking_when"
    dispatcher.messages.clear()
    slots = await validate(
        form_turn(make_tracker, "the blue one", "inform", "appointment_choice", base), dispatcher, domain
    )
    assert texts(dispatcher) == [said("booking_pick_appointment_again", count=2)]
    assert slots["appointment_choice"] is None


# ================================================================================ the questions


async def test_the_service_question_offers_every_service(make_tracker, dispatcher, domain, backend):
    assert await AskBookingService().run(dispatcher, make_tracker(), domain) == []
    assert dispatcher.messages[0]["text"] == said("booking_ask_service")
    assert [b["title"] for b in dispatcher.messages[0]["buttons"]] == [
        "GP appointment",
        "Practice nurse",
        "Child health clinic",
        "Physiotherapy",
    ]


async def test_the_service_question_offers_only_what_the_named_provider_does(
    make_tracker, dispatcher, domain, backend
):
    await AskBookingService().run(dispatcher, make_tracker(slots={"booking_provider": "dr-patel"}), domain)
    assert dispatcher.messages[0]["buttons"] == [
        {"title": "GP appointment", "payload": "GP appointment"},
        {"title": "Child health clinic", "payload": "Child health clinic"},
    ]


@pytest.mark.parametrize(
    "failures, key",
    [(0, "booking_ask_when"), (1, "booking_when_unreadable"), (2, "booking_ask_when_offer_first")],
)
async def test_the_day_question_changes_after_unreadable_answers(
    make_tracker, dispatcher, domain, backend, failures, key
):
    await AskBookingWhen().run(dispatcher, make_tracker(slots={"booking_when_failures": failures}), domain)
    assert texts(dispatcher) == [said(key)]
    if failures == 2:
        assert dispatcher.messages[0]["buttons"] == [
            {"title": "First free slot", "payload": "first free slot"}
        ]


async def test_the_reschedule_day_question_names_the_appointment(
    make_tracker, dispatcher, domain, backend, booked
):
    appointments = await booked()
    tracker = make_tracker(
        slots={
            "appointment_task": "reschedule",
            "appointments": offers_slot(*appointments),
            "appointment_choice": appointments[0].id,
        }
    )
    await AskBookingWhen().run(dispatcher, tracker, domain)
    assert texts(dispatcher) == [
        said("booking_ask_when_reschedule", service="GP appointment", when="Wednesday 9 December at 10:30")
    ]


def asking_slot(make_tracker, window_text: str, clinic, now, **slots):
    window = asked_window(interpret_when(window_text, clinic, now), window_text, clinic)
    return make_tracker(
        slots={
            "booking_service": "gp",
            "booking_when": window.label,
            "booking_window": window.to_slot(),
            **slots,
        }
    )


async def test_the_times_are_offered_as_numbered_buttons_and_remembered(
    make_tracker, dispatcher, domain, backend, clinic, now, at
):
    for clock in ("08:00", "08:15", "08:30", "08:45", "09:00", "09:15"):
        backend.add_slot(at(8, clock), "dr-patel")
    backend.add_slot(at(8, "13:30"), "dr-okafor")  # afternoon: outside "tomorrow morning"
    events = await AskBookingSlot().run(
        dispatcher, asking_slot(make_tracker, "tomorrow morning", clinic, now), domain
    )
    (message,) = dispatcher.messages
    assert message["text"] == said(
        "booking_offer", service="GP appointment", when="Tuesday 8 December, morning"
    )
    assert [b["title"] for b in message["buttons"]] == [
        f"Tue 8 Dec, {c} · Dr Asha Patel" for c in ("08:00", "08:15", "08:30", "08:45", "09:00")
    ]
    assert message["buttons"][1]["payload"] == '/choose_option{"option": "2"}'
    offered = slots_of(events)["booking_offers"]
    assert [o["start"] for o in offered] == [
        f"2026-12-08T{c}:00+00:00" for c in ("08:00", "08:15", "08:30", "08:45", "09:00")
    ]


async def test_a_named_time_offers_the_closest_times_first(
    make_tracker, dispatcher, domain, backend, clinic, now, at
):
    for doctor in ("dr-okafor", "dr-patel"):
        for clock in ("10:00", "10:15", "10:45", "11:00"):
            backend.add_slot(at(8, clock), doctor)
    events = await AskBookingSlot().run(
        dispatcher, asking_slot(make_tracker, "tomorrow around 10:30", clinic, now), domain
    )
    assert [o["start"][11:16] for o in slots_of(events)["booking_offers"]] == [
        "10:00",
        "10:15",
        "10:15",
        "10:45",
        "10:45",
    ]


async def test_nothing_free_in_the_window_offers_the_nearest_times(
    make_tracker, dispatcher, domain, backend, clinic, now, at
):
    backend.add_slot(at(8, "15:00"), "dr-okafor")
    backend.add_slot(at(10, "09:00"), "dr-patel")
    events = await AskBookingSlot().run(
        dispatcher, asking_slot(make_tracker, "tomorrow morning", clinic, now), domain
    )
    assert texts(dispatcher) == [
        "Sorry, nothing is free for GP appointment (Tuesday 8 December, morning).\n"
        "• 1–2: the nearest after, Tuesday 8 to Thursday 10 December\n"
        "None of these? Reply *waitlist* and I'll message you if a time frees up then.\n"
        "Which would you like? Or tell me another day."
    ]
    assert [o["start"] for o in slots_of(events)["booking_offers"]] == [
        "2026-12-08T15:00:00+00:00",
        "2026-12-10T09:00:00+00:00",
    ]


async def test_no_free_time_at_all_gives_the_clinic_phone(
    make_tracker, dispatcher, domain, backend, clinic, now
):
    events = await AskBookingSlot().run(
        dispatcher, asking_slot(make_tracker, "tomorrow", clinic, now), domain
    )
    assert texts(dispatcher) == [
        said("booking_no_slots", service="GP appointment", weeks=8, clinic_phone=clinic.phone)
    ]
    assert events == []


async def test_backend_down_while_searching_says_so_and_keeps_everything(
    make_tracker, dispatcher, domain, backend, clinic, now
):
    backend.down = True
    events = await AskBookingSlot().run(
        dispatcher, asking_slot(make_tracker, "tomorrow", clinic, now), domain
    )
    assert texts(dispatcher) == [said("booking_unavailable")]
    assert events == []


async def test_offers_already_shown_are_shown_again_without_a_new_search(
    make_tracker, dispatcher, domain, backend, clinic, now, three_offers
):
    tracker = asking_slot(make_tracker, "tomorrow", clinic, now, booking_offers=offers_slot(*three_offers))
    assert await AskBookingSlot().run(dispatcher, tracker, domain) == []
    assert len(dispatcher.messages[0]["buttons"]) == 3
    assert backend.searches == []


async def test_later_offers_the_next_times_and_says_when_there_are_no_more(
    make_tracker, dispatcher, domain, backend, clinic, now, at
):
    backend.add_slot(at(8, "09:00"), "dr-patel")
    later = backend.add_slot(at(8, "11:00"), "dr-patel")
    tracker = asking_slot(
        make_tracker, "tomorrow", clinic, now, booking_search_from="2026-12-08T09:01:00+00:00"
    )
    events = await AskBookingSlot().run(dispatcher, tracker, domain)
    assert texts(dispatcher) == [
        said("booking_offer_more", service="GP appointment", when="Tuesday 8 December, morning")
    ]
    assert [o["id"] for o in slots_of(events)["booking_offers"]] == [later]
    dispatcher.messages.clear()
    tracker = asking_slot(
        make_tracker, "tomorrow", clinic, now, booking_search_from="2026-12-08T11:01:00+00:00"
    )
    events = await AskBookingSlot().run(dispatcher, tracker, domain)
    assert texts(dispatcher) == [said("booking_no_more_slots", service="GP appointment")]
    assert slots_of(events) == {"booking_search_from": None}


# ================================================================================ the words above the list (issue 21)
# Whatever the window, the message above the numbered times names exactly the days of the times under it; when the
# window asked for has nothing free, it says so and lists the alternatives in order, each with its own days.

_DAY_IN_WORDS = re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*day (\d{1,2})\b")
_BUTTON_TIME = re.compile(r"^(\w{3}) (\d{1,2}) \w{3}, (\d\d):\d\d ")
_PART_HOURS = {"morning": range(0, 12), "afternoon": range(12, 17), "evening": range(17, 24)}


def assert_words_match_the_times(message: Dict[str, Any]) -> None:
    """Each line that introduces times ("• 3–5: …", or the heading of a list inside the window) names the first and
    the last day of exactly those times, and a part of the day only when every one of them is in it."""
    times = [_BUTTON_TIME.match(button["title"]).groups() for button in message["buttons"]]
    bullets = [line for line in message["text"].split("\n") if line.startswith("• ")]
    introduced = []
    for line in bullets:
        first, _, last = re.match(r"• (\d+)(?:–(\d+))?:", line).group(1, 1, 2)
        introduced.append((line, times[int(first) - 1 : int(last or first)]))
    assert [
        n for _, group in introduced for n in group
    ] == times or not bullets  # every time is introduced once
    for line, group in introduced or [(message["text"].split("\n")[0], times)]:
        named = _DAY_IN_WORDS.findall(line.split(":", 1)[-1] if line.startswith("• ") else line)
        days = list(dict.fromkeys((weekday, day) for weekday, day, _ in group))
        assert named == ([days[0], days[-1]] if len(days) > 1 else days), line
        for part, hours in _PART_HOURS.items():
            if f", {part}" in line:
                assert all(int(hour) in hours for _, _, hour in group), line


@pytest.fixture
def busy_day(backend, at):
    """Every GP time of a day taken (by other patients)."""

    def fill(day: int) -> None:
        for clock in ("08:00", "10:30", "14:00", "19:45"):
            for doctor in ("dr-patel", "dr-okafor"):
                backend.busy.add(backend.add_slot(at(day, clock), doctor))

    return fill


async def offer_message(dispatcher, make_tracker, domain, clinic, now, when: str, **slots) -> Dict[str, Any]:
    await AskBookingSlot().run(dispatcher, asking_slot(make_tracker, when, clinic, now, **slots), domain)
    (message,) = dispatcher.messages
    assert_words_match_the_times(message)
    return message


def titles(message: Dict[str, Any]) -> List[str]:
    return [button["title"] for button in message["buttons"]]


@pytest.fixture
def around_thursday(backend, busy_day, at):
    """Thursday 10 December full; free on Wednesday evening and Friday morning."""
    busy_day(10)
    for clock in ("17:00", "17:15"):
        backend.add_slot(at(9, clock), "dr-patel")
    for clock in ("08:00", "08:15", "08:30", "08:45"):
        backend.add_slot(at(11, clock), "dr-okafor")


PATEL, OKAFOR = "Dr Asha Patel", "Dr Daniel Okafor"


@pytest.mark.parametrize(
    "when, full_days, taken, free, asked, text, listed",
    [
        pytest.param(
            "Thursday 10 December",
            [10],
            [],
            [(9, "17:00", "dr-patel"), (9, "17:15", "dr-patel")]
            + [(11, clock, "dr-okafor") for clock in ("08:00", "08:15", "08:30", "08:45")],
            {},
            [
                "Sorry, nothing is free for GP appointment (Thursday 10 December).",
                "• 1–2: the nearest before, Wednesday 9 December, evening",
                "• 3–5: the nearest after, Friday 11 December, morning",
            ],
            [
                f"Wed 9 Dec, 17:00 · {PATEL}",
                f"Wed 9 Dec, 17:15 · {PATEL}",
                f"Fri 11 Dec, 08:00 · {OKAFOR}",
                f"Fri 11 Dec, 08:15 · {OKAFOR}",
                f"Fri 11 Dec, 08:30 · {OKAFOR}",
            ],
            id="full day",
        ),
        pytest.param(
            "Tuesday morning",
            [],
            [(8, "09:00", "dr-patel")],
            [(7, "16:00", "dr-okafor"), (8, "14:00", "dr-patel"), (8, "14:15", "dr-patel")],
            {},
            [
                "Sorry, nothing is free for GP appointment (Tuesday 8 December, morning).",
                "• 1: the nearest before, Monday 7 December, afternoon",
                "• 2–3: the nearest after, Tuesday 8 December, afternoon",
            ],
            [f"Mon 7 Dec, 16:00 · {OKAFOR}", f"Tue 8 Dec, 14:00 · {PATEL}", f"Tue 8 Dec, 14:15 · {PATEL}"],
            id="full morning",
        ),
        pytest.param(
            "next week",
            range(14, 20),
            [],
            [(11, "15:00", "dr-patel"), (21, "09:00", "dr-patel")],
            {},
            [
                "Sorry, nothing is free for GP appointment (next week).",
                "• 1: the nearest before, Friday 11 December, afternoon",
                "• 2: the nearest after, Monday 21 December, morning",
            ],
            [f"Fri 11 Dec, 15:00 · {PATEL}", f"Mon 21 Dec, 09:00 · {PATEL}"],
            id="full week",
        ),
        # 09:00 and 09:15 were shown; "later" asked for more than these
        pytest.param(
            "Thursday 10 December",
            [],
            [],
            [(10, "09:00", "dr-patel"), (10, "09:15", "dr-patel"), (11, "08:00", "dr-okafor")],
            {"booking_search_from": "2026-12-10T09:16:00+00:00"},
            [
                "There are no more free times for GP appointment (Thursday 10 December).",
                "• 1: the nearest after, Friday 11 December, morning",
            ],
            [f"Fri 11 Dec, 08:00 · {OKAFOR}"],
            id="later past the last free time",
        ),
        pytest.param(
            "Thursday 10 December",
            [],
            [(10, "09:00", "dr-patel")],
            [(10, "11:00", "dr-okafor"), (11, "08:00", "dr-patel")],
            {"booking_provider": "dr-patel"},
            [
                "Sorry, nothing is free for GP appointment with Dr Asha Patel (Thursday 10 December).",
                "• 1: the nearest after, Friday 11 December, morning",
                "• 2: Thursday 10 December, morning with Dr Daniel Okafor",
            ],
            [f"Fri 11 Dec, 08:00 · {PATEL}", f"Thu 10 Dec, 11:00 · {OKAFOR}"],
            id="named doctor, full day",
        ),
    ],
)
async def test_nothing_free_where_asked_says_so_and_offers_the_alternatives_in_order(
    make_tracker,
    dispatcher,
    domain,
    backend,
    clinic,
    now,
    at,
    busy_day,
    when,
    full_days,
    taken,
    free,
    asked,
    text,
    listed,
):
    for day in full_days:
        busy_day(day)
    for day, clock, doctor in taken:
        backend.busy.add(backend.add_slot(at(day, clock), doctor))
    for day, clock, doctor in free:
        backend.add_slot(at(day, clock), doctor)
    message = await offer_message(dispatcher, make_tracker, domain, clinic, now, when, **asked)
    assert message["text"] == "\n".join(
        [*text, WAITLIST_LINE, "Which would you like? Or tell me another day."]
    )
    assert titles(message) == listed


async def test_the_same_list_shown_again_keeps_its_truthful_words(
    make_tracker, dispatcher, domain, backend, clinic, now, around_thursday
):
    events = await AskBookingSlot().run(
        dispatcher, asking_slot(make_tracker, "Thursday 10 December", clinic, now), domain
    )
    searches = len(backend.searches)
    again = asking_slot(
        make_tracker, "Thursday 10 December", clinic, now, booking_offers=slots_of(events)["booking_offers"]
    )
    assert await AskBookingSlot().run(dispatcher, again, domain) == []  # e.g. after a side question
    first, second = dispatcher.messages
    assert second == first
    assert len(backend.searches) == searches


async def test_a_holiday_says_why_and_offers_the_open_days_around_it(
    make_tracker, dispatcher, domain, backend, clinic, now, at
):
    backend.add_slot(at(24, "17:30"), "dr-okafor")
    backend.add_slot(at(28, "08:00"), "dr-patel")
    slots = await validate(
        form_turn(make_tracker, "the 25th", "inform", "booking_when", {"booking_service": "gp"}),
        dispatcher,
        domain,
    )
    assert slots["requested_slot"] == "booking_slot"
    await AskBookingSlot().run(dispatcher, make_tracker(slots={**slots, "booking_service": "gp"}), domain)
    (message,) = dispatcher.messages
    assert message["text"] == (
        "Sorry, we're closed then (Christmas Day).\n"
        "• 1: the nearest before, Thursday 24 December, evening\n"
        "• 2: the nearest after, Monday 28 December, morning\n"
        "None of these? Reply *waitlist* and I'll message you if a time frees up then.\n"
        "Which would you like? Or tell me another day."
    )
    assert titles(message) == ["Thu 24 Dec, 17:30 · Dr Daniel Okafor", "Mon 28 Dec, 08:00 · Dr Asha Patel"]
    assert_words_match_the_times(message)


async def test_rescheduling_into_a_full_day_gets_the_same_truthful_offer(
    make_tracker, dispatcher, domain, backend, clinic, now, booked, around_thursday
):
    appointments = await booked()  # Wednesday 9 and Thursday 10 at 10:30 with Dr Patel: moving the first
    message = await offer_message(
        dispatcher,
        make_tracker,
        domain,
        clinic,
        now,
        "Thursday 10 December",
        appointment_task="reschedule",
        appointments=offers_slot(*appointments),
        appointment_choice=appointments[0].id,
    )
    assert (
        message["text"].split("\n")[0] == "Sorry, nothing is free for GP appointment (Thursday 10 December)."
    )
    assert titles(message)[2:] == [
        "Fri 11 Dec, 08:00 · Dr Daniel Okafor",
        "Fri 11 Dec, 08:15 · Dr Daniel Okafor",
        "Fri 11 Dec, 08:30 · Dr Daniel Okafor",
    ]


@pytest.fixture
def a_fortnight_of_times(backend, at):
    """Free GP times on every open weekday of the next two weeks: mornings with Dr Patel, afternoons Dr Okafor."""
    for day in (7, 8, 9, 10, 11, 14, 15, 16, 17, 18):
        for clock in ("09:00", "11:00"):
            backend.add_slot(at(day, clock), "dr-patel")
        for clock in ("14:00", "17:30"):
            backend.add_slot(at(day, clock), "dr-okafor")


@pytest.mark.parametrize(
    "when, paging_from, heading",
    [
        ("Thursday 10 December", None, "Free times for GP appointment (Thursday 10 December)."),
        ("tomorrow afternoon", None, "Free times for GP appointment (Tuesday 8 December, afternoon)."),
        ("next week", None, "Free times for GP appointment (Monday 14 to Tuesday 15 December)."),
        ("first free slot", None, "Free times for GP appointment (Monday 7 to Tuesday 8 December)."),
        (
            "next week",
            "2026-12-15T09:01:00+00:00",
            "More free times for GP appointment (Tuesday 15 to Wednesday 16 December).",
        ),
        (
            "Thursday 10 December",
            "2026-12-10T09:01:00+00:00",
            "More free times for GP appointment (Thursday 10 December).",
        ),
        (
            "Thursday 10 December",
            "2026-12-10T14:01:00+00:00",
            "More free times for GP appointment (Thursday 10 December, evening).",
        ),
    ],
)
async def test_every_window_kind_gets_a_heading_naming_the_listed_days(
    make_tracker, dispatcher, domain, backend, clinic, now, a_fortnight_of_times, when, paging_from, heading
):
    message = await offer_message(
        dispatcher,
        make_tracker,
        domain,
        clinic,
        now,
        when,
        **({"booking_search_from": paging_from} if paging_from else {}),
    )
    assert message["text"].startswith(heading + " Which would you like?")


async def test_the_booking_summary_names_everything_the_patient_must_check(
    make_tracker, dispatcher, domain, backend, three_offers
):
    tracker = make_tracker(
        slots={
            "appointment_task": "book",
            "booking_offers": offers_slot(*three_offers),
            "booking_slot": three_offers[1].id,
        }
    )
    await AskBookingConfirmed().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["text"] == (
        "Please check: GP appointment with Dr Daniel Okafor on Tuesday "
        f"8 December at 10:30, at {ADDRESS}. Shall I book it?"
    )
    assert dispatcher.messages[0]["buttons"] == [
        {"title": "Yes", "payload": "/affirm"},
        {"title": "No", "payload": "/deny"},
    ]


async def test_the_cancel_and_reschedule_summaries(
    make_tracker, dispatcher, domain, backend, booked, three_offers
):
    appointments = await booked()
    common = {"appointments": offers_slot(*appointments), "appointment_choice": appointments[0].id}
    await AskBookingConfirmed().run(
        dispatcher, make_tracker(slots={"appointment_task": "cancel", **common}), domain
    )
    await AskBookingConfirmed().run(
        dispatcher,
        make_tracker(
            slots={
                "appointment_task": "reschedule",
                **common,
                "booking_offers": offers_slot(*three_offers),
                "booking_slot": three_offers[2].id,
            }
        ),
        domain,
    )
    assert texts(dispatcher) == [
        "Cancel your appointment: GP appointment with Dr Asha Patel on Wednesday 9 December at 10:30?",
        "Move your appointment (GP appointment) from Wednesday 9 December at 10:30 to Wednesday 9 December at "
        "14:15 with Dr Asha Patel? Shall I change it?",
    ]


async def test_which_appointment_lists_them_as_buttons(make_tracker, dispatcher, domain, backend, booked):
    appointments = await booked()
    await AskAppointmentChoice().run(
        dispatcher, make_tracker(slots={"appointments": offers_slot(*appointments)}), domain
    )
    assert dispatcher.messages[0]["buttons"] == [
        {
            "title": "Wed 9 Dec, 10:30 · Dr Asha Patel (GP appointment)",
            "payload": '/choose_option{"option": "1"}',
        },
        {
            "title": "Thu 10 Dec, 10:30 · Dr Asha Patel (GP appointment)",
            "payload": '/choose_option{"option": "2"}',
        },
    ]


async def test_name_and_birth_date_questions(make_tracker, dispatcher, domain, backend):
    await AskPatientName().run(dispatcher, make_tracker(), domain)
    await AskPatientBirthDate().run(dispatcher, make_tracker(slots={"patient_name": "Sam Taylor"}), domain)
    assert texts(dispatcher) == [
        said("booking_ask_name"),
        said("booking_ask_birth_date", name="Sam", example="21/07/1980"),
    ]


# ================================================================================ endings and the list


async def test_done_after_booking_confirms_sets_reminders_and_clears_the_form(
    make_tracker, dispatcher, domain, backend, reminders, known_patient, three_offers
):
    appointment = await backend.book(known_patient.id, three_offers[1].id, "gp")
    outcome = {
        "kind": "booked",
        "appointment_id": appointment.id,
        "appointment": Choice.from_appointment(appointment).to_slot(),
    }
    tracker = make_tracker(
        slots={"booking_result": outcome, "patient_id": known_patient.id}, sender_id=SENDER
    )
    events = await ActionAppointmentDone().run(dispatcher, tracker, domain)
    assert texts(dispatcher) == [
        said(
            "booking_booked",
            service="GP appointment",
            provider="Dr Daniel Okafor",
            when="Tuesday 8 December at 10:30",
            address=ADDRESS,
        )
    ]
    assert reminders.created == [
        (SENDER, appointment.id, appointment.start, "GP appointment with Dr Daniel Okafor")
    ]
    assert slots_of(events) == {name: None for name in booking.FORM_STATE}  # patient_id is kept


async def test_done_after_rescheduling_replaces_the_reminders(
    make_tracker, dispatcher, domain, backend, reminders, booked
):
    old, new = await booked()
    outcome = {
        "kind": "rescheduled",
        "appointment_id": new.id,
        "appointment": new.to_slot(),
        "previous_id": old.id,
    }
    await ActionAppointmentDone().run(dispatcher, make_tracker(slots={"booking_result": outcome}), domain)
    assert texts(dispatcher) == [
        said(
            "booking_rescheduled",
            service="GP appointment",
            provider="Dr Asha Patel",
            when="Thursday 10 December at 10:30",
            address=ADDRESS,
        )
    ]
    assert reminders.cancelled == [old.id]
    assert [c[1] for c in reminders.created] == [new.id]


async def test_done_after_cancelling_stops_the_reminders(
    make_tracker, dispatcher, domain, backend, reminders, booked
):
    appointments = await booked()
    outcome = {
        "kind": "cancelled",
        "appointment_id": appointments[0].id,
        "appointment": appointments[0].to_slot(),
    }
    await ActionAppointmentDone().run(dispatcher, make_tracker(slots={"booking_result": outcome}), domain)
    assert texts(dispatcher) == [
        said("booking_cancelled", service="GP appointment", when="Wednesday 9 December at 10:30")
    ]
    assert reminders.cancelled == [appointments[0].id] and reminders.created == []


async def test_a_reminder_failure_never_hides_the_booking(
    make_tracker, dispatcher, domain, backend, reminders, booked
):
    reminders.down = True
    appointments = await booked()
    outcome = {
        "kind": "booked",
        "appointment_id": appointments[0].id,
        "appointment": appointments[0].to_slot(),
    }
    await ActionAppointmentDone().run(dispatcher, make_tracker(slots={"booking_result": outcome}), domain)
    assert texts(dispatcher)[0].startswith(
        "Booked: GP appointment with Dr Asha Patel on Wednesday 9 December"
    )


@pytest.mark.parametrize(
    "outcome, expected",
    [
        ({"kind": "kept"}, [said("booking_kept")]),
        ({"kind": "stopped"}, [said("booking_stopped")]),
        ({"kind": "nothing"}, []),
        (None, []),
    ],
)
async def test_done_without_a_change(make_tracker, dispatcher, domain, backend, reminders, outcome, expected):
    await ActionAppointmentDone().run(dispatcher, make_tracker(slots={"booking_result": outcome}), domain)
    assert texts(dispatcher) == expected
    assert reminders.created == [] and reminders.cancelled == []


async def test_stop_says_nothing_changed_and_clears_the_form(make_tracker, dispatcher, domain):
    events = await ActionAppointmentStop().run(
        dispatcher, make_tracker(slots={"booking_service": "gp"}), domain
    )
    assert texts(dispatcher) == [said("booking_stopped")]
    assert slots_of(events) == {name: None for name in booking.FORM_STATE}


async def test_the_list_says_each_upcoming_appointment_in_words(
    make_tracker, dispatcher, domain, backend, known_patient, booked
):
    await booked()
    events = await ActionListAppointments().run(dispatcher, make_tracker(sender_id=SENDER), domain)
    assert texts(dispatcher) == [
        "Your upcoming appointments:\n"
        "• Wednesday 9 December at 10:30: GP appointment with Dr Asha Patel\n"
        "• Thursday 10 December at 10:30: GP appointment with Dr Asha Patel"
    ]
    assert slots_of(events) == {"patient_id": known_patient.id}


async def test_the_list_for_an_unknown_number_and_when_the_backend_is_down(
    make_tracker, dispatcher, domain, backend, clinic
):
    await ActionListAppointments().run(dispatcher, make_tracker(sender_id=SENDER), domain)
    backend.down = True
    await ActionListAppointments().run(dispatcher, make_tracker(sender_id=SENDER), domain)
    assert texts(dispatcher) == [
        said("booking_no_appointments"),
        said("booking_unavailable_nothing_kept", clinic_phone=clinic.phone),
    ]
