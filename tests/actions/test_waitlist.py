"""The waitlist on chat, with in-memory backends: joining from the appointment form when nothing fits (and said
plainly), an offer spoken with its buttons and template, "1"/"yes" booking it, an offer that went, leaving."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Dict, List, Optional

import pytest

from actions import booking, waitlist
from actions.booking import ActionAppointmentDone, AskBookingConfirmed
from actions.waitlist import (
    ActionAcceptWaitlistOffer,
    ActionDeclineWaitlistOffer,
    ActionLeaveWaitlist,
    ActionOfferWaitlistSlot,
)
from carebot.booking import WAITLIST, asked_window, waitlist_span
from carebot.dates import interpret_when
from tests.actions.fake_backends import FakeReminders, FakeScheduling, FakeWaitlist
from tests.actions.test_booking import PHONE, SENDER, form_turn, said, slots_of, texts, validate


@pytest.fixture
def now(clinic) -> dt.datetime:
    return dt.datetime(2026, 12, 7, 8, 0, tzinfo=clinic.tz)  # Monday


@pytest.fixture
def backend(clinic, now, monkeypatch) -> FakeScheduling:
    fake = FakeScheduling(clinic, now)
    monkeypatch.setattr(booking, "scheduling_client", lambda: fake)
    monkeypatch.setattr(booking, "now", lambda: now)
    monkeypatch.setattr(waitlist, "scheduling_client", lambda: fake)
    monkeypatch.setattr(waitlist, "now", lambda: now)
    return fake


@pytest.fixture
def lists(backend, monkeypatch) -> FakeWaitlist:
    fake = FakeWaitlist(backend)
    monkeypatch.setattr(booking, "waitlist_client", lambda: fake)
    monkeypatch.setattr(waitlist, "waitlist_client", lambda: fake)
    return fake


@pytest.fixture
def reminders(monkeypatch) -> FakeReminders:
    fake = FakeReminders()
    monkeypatch.setattr(booking, "reminders_client", lambda: fake)
    return fake


def window_slot(clinic, now, text: str) -> Dict[str, Any]:
    return asked_window(interpret_when(text, clinic, now), text, clinic).to_slot()


# ================================================================================ joining


@pytest.mark.parametrize(
    "text, first, last, parts",
    [
        ("Friday morning", dt.date(2026, 12, 11), dt.date(2026, 12, 11), ("morning",)),
        ("Friday", dt.date(2026, 12, 11), dt.date(2026, 12, 11), ()),
        ("next week", dt.date(2026, 12, 14), dt.date(2026, 12, 19), ()),  # to its last open day
    ],
)
def test_the_window_asked_for_becomes_the_days_and_parts_of_day_to_wait_for(
    clinic, now, text, first, last, parts
):
    window = asked_window(interpret_when(text, clinic, now), text, clinic)
    assert waitlist_span(window, clinic) == (first, last, parts)


async def test_waitlist_when_nothing_fits_asks_to_confirm_then_joins(
    make_tracker, dispatcher, domain, clinic, now, backend, lists
):
    patient = backend.add_patient("Sam Taylor", PHONE)
    form_slots = {
        "booking_service": "gp",
        "booking_when": "Friday morning",
        "booking_window": window_slot(clinic, now, "Friday morning"),
        "patient_id": patient.id,
    }
    tracker = form_turn(make_tracker, "waitlist", "join_waitlist", "booking_slot", form_slots)
    slots = await validate(tracker, dispatcher, domain)
    assert slots["booking_slot"] == WAITLIST and slots["requested_slot"] == "booking_confirmed"

    confirm = make_tracker(
        slots={**form_slots, "booking_slot": WAITLIST, "appointment_task": "book"}, sender_id=SENDER
    )
    await AskBookingConfirmed().run(dispatcher, confirm, domain)
    label = form_slots["booking_window"]["label"]
    assert texts(dispatcher)[-1] == said("booking_confirm_waitlist", service="GP appointment", asked=label)

    yes = form_turn(
        make_tracker, "yes", "affirm", "booking_confirmed", {**form_slots, "booking_slot": WAITLIST}
    )
    slots = await validate(yes, dispatcher, domain)
    assert slots["booking_result"] == {"kind": "waitlisted", "service_id": "gp", "asked": label}
    [joined] = lists.joined
    assert joined["entry"].patient_id == patient.id and joined["entry"].service_id == "gp"
    assert (joined["entry"].date_from, joined["entry"].day_parts) == (dt.date(2026, 12, 11), {"morning"})
    assert joined["conversation_id"] == SENDER

    done = make_tracker(slots={"booking_result": slots["booking_result"]}, sender_id=SENDER)
    await ActionAppointmentDone().run(dispatcher, done, domain)
    assert texts(dispatcher)[-1] == said("booking_waitlisted", service="GP appointment", asked=label)


async def test_a_new_patient_joining_is_asked_who_they_are_and_registered(
    make_tracker, dispatcher, domain, clinic, now, backend, lists
):
    form_slots = {
        "booking_service": "gp",
        "booking_when": "Friday",
        "booking_window": window_slot(clinic, now, "Friday"),
    }
    slots = await validate(
        form_turn(make_tracker, "waiting list", "join_waitlist", "booking_slot", form_slots),
        dispatcher,
        domain,
    )
    assert slots["booking_slot"] == WAITLIST and slots["requested_slot"] == "patient_name"
    answered = {
        **form_slots,
        "booking_slot": WAITLIST,
        "patient_name": "Alex Morgan",
        "patient_birth_date": "1990-04-21",
    }
    slots = await validate(
        form_turn(make_tracker, "yes", "affirm", "booking_confirmed", answered), dispatcher, domain
    )
    registered = [p for p in backend.patients.values() if p.name == "Alex Morgan"]
    assert len(registered) == 1 and slots["patient_id"] == registered[0].id
    assert lists.joined[0]["entry"].patient_id == registered[0].id


async def test_join_waitlist_said_plainly_asks_what_and_when_then_skips_the_times(
    make_tracker, dispatcher, domain, backend, lists
):
    backend.add_patient("Sam Taylor", PHONE)
    opening = make_tracker(
        text="put me on the waiting list for physio", intent="join_waitlist", sender_id=SENDER
    )
    slots = await validate(opening, dispatcher, domain)
    assert slots["appointment_task"] == "waitlist" and slots["booking_service"] == "physio"
    assert slots["requested_slot"] == "booking_when"
    when = form_turn(
        make_tracker,
        "next week",
        "inform",
        "booking_when",
        {"appointment_task": "waitlist", "booking_service": "physio"},
    )
    slots = await validate(when, dispatcher, domain)
    assert slots["booking_slot"] == WAITLIST and slots["requested_slot"] == "booking_confirmed"


async def test_the_offer_of_no_times_mentions_the_waitlist(make_tracker, dispatcher, domain, backend):
    """Nothing free anywhere: the patient hears they can wait for a time, in the words of the messages file."""
    from actions.booking import AskBookingSlot

    tracker = make_tracker(
        slots={
            "appointment_task": "book",
            "booking_service": "gp",
            "booking_window": window_slot(backend.clinic, backend.now, "Friday"),
        },
        active_loop="appointment_form",
        sender_id=SENDER,
    )
    await AskBookingSlot().run(dispatcher, tracker, domain)
    assert "*waitlist*" in texts(dispatcher)[-1]


# ================================================================================ offers and answers


def offer_tracker(
    make_tracker, intent: str, offer: Optional[str], text: str = "", slots=None, start: Optional[str] = None
):
    entities: List[Dict[str, Any]] = []
    if offer:
        entities.append({"entity": "waitlist_offer_id", "value": offer})
    if start:
        entities += [
            {"entity": "appointment_start", "value": start},
            {"entity": "waitlist_offer_expires", "value": "2026-12-07T08:15:00+00:00"},
            {"entity": "waitlist_service", "value": "gp"},
            {"entity": "waitlist_practitioner", "value": "dr-patel"},
        ]
    return make_tracker(text=text, intent=intent, entities=entities, slots=slots or {}, sender_id=SENDER)


async def test_an_offer_is_spoken_with_buttons_a_template_and_its_hold(
    make_tracker, dispatcher, domain, backend
):
    tracker = offer_tracker(make_tracker, "waitlist_offer", "off-1", start="2026-12-11T10:30:00+00:00")
    events = await ActionOfferWaitlistSlot().run(dispatcher, tracker, domain)
    assert slots_of(events) == {"waitlist_offer": "off-1"}
    message = dispatcher.messages[-1]["custom"]
    assert "Friday 11 December at 10:30" in message["text"] and "08:15" in message["text"]
    assert message["template"] == "waitlist_offer" and message["variables"]["3"] == "08:15"
    assert [b["payload"] for b in message["buttons"]] == [
        "/accept_waitlist_offer" + json.dumps({"waitlist_offer_id": "off-1"}),
        "/decline_waitlist_offer" + json.dumps({"waitlist_offer_id": "off-1"}),
    ]
    assert message["outbox"]["key"] == "waitlist-offer-off-1"


@pytest.mark.parametrize("by_button", [True, False])
async def test_one_or_yes_books_the_offer_and_sets_its_reminders(
    make_tracker, dispatcher, domain, clinic, backend, lists, reminders, by_button
):
    patient = backend.add_patient("Sam Taylor", PHONE)
    slot_id = backend.add_slot(dt.datetime(2026, 12, 11, 10, 30, tzinfo=clinic.tz), "dr-patel")
    lists.offers["off-1"] = (patient.id, slot_id, "gp")
    tracker = (
        offer_tracker(make_tracker, "accept_waitlist_offer", "off-1")
        if by_button
        else offer_tracker(make_tracker, "affirm", None, "yes", slots={"waitlist_offer": "off-1"})
    )
    events = await ActionAcceptWaitlistOffer().run(dispatcher, tracker, domain)
    assert slots_of(events) == {"waitlist_offer": None}
    assert texts(dispatcher)[-1].startswith("Booked: GP appointment with Dr")
    assert slot_id in backend.busy and len(reminders.created) == 1


async def test_an_offer_that_went_says_so_and_a_missing_one_is_explained(
    make_tracker, dispatcher, domain, backend, lists
):
    lists.gone.add("off-9")
    await ActionAcceptWaitlistOffer().run(
        dispatcher, offer_tracker(make_tracker, "accept_waitlist_offer", "off-9"), domain
    )
    assert texts(dispatcher)[-1] == said("waitlist_offer_ended")
    await ActionAcceptWaitlistOffer().run(
        dispatcher, offer_tracker(make_tracker, "accept_waitlist_offer", None), domain
    )
    assert texts(dispatcher)[-1] == said("waitlist_no_offer")
    lists.down = True
    await ActionAcceptWaitlistOffer().run(
        dispatcher, offer_tracker(make_tracker, "accept_waitlist_offer", "off-1"), domain
    )
    assert "couldn't reach the booking system" in texts(dispatcher)[-1]


async def test_no_thanks_declines_and_leaving_takes_the_patient_off(
    make_tracker, dispatcher, domain, backend, lists
):
    patient = backend.add_patient("Sam Taylor", PHONE)
    await ActionDeclineWaitlistOffer().run(
        dispatcher, offer_tracker(make_tracker, "deny", None, slots={"waitlist_offer": "off-2"}), domain
    )
    assert lists.declined == ["off-2"] and texts(dispatcher)[-1] == said("waitlist_declined")
    await ActionLeaveWaitlist().run(
        dispatcher, make_tracker(intent="leave_waitlist", sender_id=SENDER), domain
    )
    assert texts(dispatcher)[-1] == said("waitlist_not_on_it")
    await lists.join(patient.id, "gp", dt.date(2026, 12, 11), dt.date(2026, 12, 11), (), SENDER, "whatsapp")
    await ActionLeaveWaitlist().run(
        dispatcher, make_tracker(intent="leave_waitlist", sender_id=SENDER), domain
    )
    assert lists.left == ["entry-1"] and texts(dispatcher)[-1] == said("waitlist_left")
