"""The identity check on chat, with in-memory backends: the list and the changes wait for a date of birth when the
backend asks for one; only answers that read as dates count; the third wrong one locks and hands over to staff."""

from __future__ import annotations

import datetime as dt
from typing import Any, List

import pytest

from actions import booking, identity
from actions.booking import ActionAppointmentDone, ActionIdentityDone, ActionListAppointments
from actions.identity import ValidateIdentityForm
from carebot.handoff.model import Reason
from tests.actions.fake_backends import FakeScheduling
from tests.actions.test_booking import PHONE, SENDER, opening, said, slots_of, texts, validate

BORN = dt.date(1980, 7, 21)


@pytest.fixture
def now(clinic) -> dt.datetime:
    return dt.datetime(2026, 12, 7, 8, 0, tzinfo=clinic.tz)


@pytest.fixture
def backend(clinic, now, monkeypatch) -> FakeScheduling:
    fake = FakeScheduling(clinic, now)
    monkeypatch.setattr(booking, "scheduling_client", lambda: fake)
    monkeypatch.setattr(booking, "now", lambda: now)
    patient = fake.add_patient("Sam Taylor", PHONE)
    slot = fake.add_slot(dt.datetime(2026, 12, 9, 10, 30, tzinfo=clinic.tz), "dr-patel")
    fake.appointments["appt-1"] = fake._appointment("appt-1", slot, "gp", patient.id)
    return fake


@pytest.fixture
def handed_over(monkeypatch) -> List[Any]:
    """The staff cases opened, as (reason, conversation id); the pause is what open_handoff returns."""
    opened: List[Any] = []

    async def open_handoff(tracker, reason, dispatcher):
        opened.append((reason, tracker.sender_id))
        return [{"event": "pause"}]

    monkeypatch.setattr(identity, "open_handoff", open_handoff)
    return opened


def answering(make_tracker, text: str, form: str = "identity_form", **slots: Any):
    return make_tracker(
        text=text,
        intent="inform",
        slots={"requested_slot": "identity_birth_date", "identity_birth_date": text, **slots},
        active_loop=form,
        sender_id=SENDER,
        events=[{"event": "slot", "name": "identity_birth_date", "value": text}],
    )


async def identity_answer(make_tracker, dispatcher, domain, text: str, **slots: Any):
    return slots_of(
        await ValidateIdentityForm().run(dispatcher, answering(make_tracker, text, **slots), domain)
    )


async def test_the_list_waits_for_a_date_of_birth_only_when_the_backend_asks(
    make_tracker, dispatcher, domain, backend, identity_check
):
    tracker = make_tracker(text="my appointments", intent="list_appointments", sender_id=SENDER)
    events = await ActionListAppointments().run(dispatcher, tracker, domain)
    assert "Wednesday 9 December at 10:30" in texts(dispatcher)[-1]  # no date of birth on record: no check
    identity_check.births.add(BORN)
    dispatcher.messages.clear()
    events = await ActionListAppointments().run(dispatcher, tracker, domain)
    assert (
        slots_of(events) == {"identity_for": "list"} and dispatcher.messages == []
    )  # the identity_form asks


async def test_only_dates_count_and_the_right_one_lists_the_appointments(
    make_tracker, dispatcher, domain, backend, identity_check
):
    identity_check.births.add(BORN)
    slots = await identity_answer(make_tracker, dispatcher, domain, "what time do you open?")
    assert slots["identity_birth_date"] is None and identity_check.checked == []
    assert texts(dispatcher)[-1] == said("identity_unreadable", example="21/07/1980")
    slots = await identity_answer(make_tracker, dispatcher, domain, "22/07/1980")
    assert slots["identity_birth_date"] is None and texts(dispatcher)[-1] == said(
        "identity_wrong", attempts_left=2
    )
    slots = await identity_answer(make_tracker, dispatcher, domain, "21/07/1980")
    assert slots["identity_birth_date"] == "confirmed" and slots["identity_result"] == "verified"
    done = make_tracker(slots={"identity_result": "verified", "identity_for": "list"}, sender_id=SENDER)
    events = await ActionIdentityDone().run(dispatcher, done, domain)
    assert "Wednesday 9 December at 10:30" in texts(dispatcher)[-1]
    assert slots_of(events)["identity_for"] is None and slots_of(events)["identity_result"] is None


async def test_three_wrong_dates_lock_and_open_a_staff_case(
    make_tracker, dispatcher, domain, backend, identity_check, handed_over
):
    identity_check.births.add(BORN)
    for wrong in ("01/01/1990", "02/02/1990"):
        await identity_answer(make_tracker, dispatcher, domain, wrong)
    slots = await identity_answer(make_tracker, dispatcher, domain, "03/03/1990")
    assert slots["identity_result"] == "locked" and identity_check.checked == [
        dt.date(1990, 1, 1),
        dt.date(1990, 2, 2),
        dt.date(1990, 3, 3),
    ]
    done = make_tracker(slots={"identity_result": "locked", "identity_for": "list"}, sender_id=SENDER)
    events = await ActionIdentityDone().run(dispatcher, done, domain)
    assert handed_over == [(Reason.IDENTITY_LOCKED, SENDER)] and {"event": "pause"} in events
    assert texts(dispatcher)[-1] == said("identity_locked", clinic_phone=backend.clinic.phone)
    assert "10:30" not in " ".join(texts(dispatcher))  # nothing was listed
    dispatcher.messages.clear()
    tracker = make_tracker(text="my appointments", intent="list_appointments", sender_id=SENDER)
    assert await ActionListAppointments().run(dispatcher, tracker, domain) == []
    assert texts(dispatcher) == [said("identity_still_locked", clinic_phone=backend.clinic.phone)]


async def test_cancelling_asks_the_date_of_birth_before_showing_the_appointment(
    make_tracker, dispatcher, domain, backend, identity_check, handed_over
):
    identity_check.births.add(BORN)
    slots = await validate(
        opening(make_tracker, "cancel my appointment", "cancel_appointment"), dispatcher, domain
    )
    assert slots["identity_result"] == "needed" and slots["requested_slot"] == "identity_birth_date"
    assert slots.get("appointments") is None  # not loaded before the check
    right = answering(
        make_tracker, "21/07/1980", "appointment_form", appointment_task="cancel", identity_result="needed"
    )
    slots = await validate(right, dispatcher, domain)
    assert slots["appointment_choice"] == "appt-1" and slots["requested_slot"] == "booking_confirmed"
    assert slots["booking_service"] == "gp"  # what a reschedule searches for

    identity_check.verified, identity_check.failures = False, 2
    wrong = answering(
        make_tracker, "01/01/1990", "appointment_form", appointment_task="cancel", identity_result="needed"
    )
    slots = await validate(wrong, dispatcher, domain)
    assert slots["booking_result"] == {"kind": "identity_locked"} and slots["requested_slot"] is None
    done = make_tracker(slots={"booking_result": slots["booking_result"]}, sender_id=SENDER)
    await ActionAppointmentDone().run(dispatcher, done, domain)
    assert handed_over == [(Reason.IDENTITY_LOCKED, SENDER)]
    assert "appt-1" in backend.appointments and backend.appointments["appt-1"].status == "booked"
