"""One phone books for several patients (issue 18): the appointment actions on tracker fixtures, with the backends
in memory. Each test reads like the conversation: what the parent says, what the bot asks, what the backend holds.

The clock is Monday 7 December 2026, 08:00 (tests/actions/test_booking.py), so times are exact.
"""

from __future__ import annotations

import datetime as dt

import pytest

from actions import triage
from actions.booking import (
    NEW,
    ActionAppointmentDone,
    ActionListAppointments,
    AskBookingConfirmed,
    AskBookingFor,
    AskPatientName,
)
from actions.identity import AskIdentityBirthDate
from carebot.booking import Choice, Patient, leave_waitlist
from carebot.handoff.client import OpenedCase
from carebot.household import Member
from carebot.triage.engine import start
from carebot.triage.model import Profile
from tests.actions.fake_backends import FakeWaitlist
from tests.actions.test_booking import (  # noqa: F401  (fixtures)
    PHONE,
    SENDER,
    at,
    backend,
    choice,
    form_turn,
    now,
    offers_slot,
    opening,
    reminders,
    said,
    slots_of,
    texts,
    validate,
)

ADDRESS = "12 River Street, London SE1 9RT"
FAMILY = ["Sarah Jones", "Tom Jones", "Emma Jones"]  # the names sarah_tom_and_emma registers, in order


def titles(question):
    return [b["title"] for b in question["buttons"]]


def sarah_tom_and_emma(patients, **sarah):
    """Sarah's phone: Sarah herself (`sarah`: her gender and birth date, when given), her son Tom and her daughter
    Emma (RelatedPerson PRN: Sarah is their parent)."""
    return {
        "sarah": patients.add_patient("Sarah Jones", PHONE, **sarah),
        "tom": patients.add_patient("Tom Jones", PHONE, "PRN", "male", dt.date(2019, 6, 1)),
        "emma": patients.add_patient("Emma Jones", PHONE, "PRN", "female", dt.date(2018, 2, 14)),
    }


@pytest.fixture
def family(backend):
    return sarah_tom_and_emma(backend, gender="female", birth_date=dt.date(1985, 3, 2))


async def said_when_done(make_tracker, dispatcher, domain, confirmed):
    """What action_appointment_done says after the confirming turn's slots `confirmed` (earlier messages cleared)."""
    dispatcher.messages.clear()
    done = make_tracker(slots={"booking_result": confirmed["booking_result"]}, sender_id=SENDER)
    await ActionAppointmentDone().run(dispatcher, done, domain)
    return texts(dispatcher)


def members_slot(backend):
    found = [p for p in backend.patients.values() if p.phone == PHONE]
    relationship = {d.patient_id: d.relationship for d in backend.dependants}
    return [Member(p.id, p.name, relationship.get(p.id), p.gender).to_slot() for p in found]


async def test_a_phone_with_several_patients_is_asked_who_the_appointment_is_for(
    make_tracker, dispatcher, domain, backend, family
):
    slots = await validate(
        opening(make_tracker, "I'd like to book an appointment", "book_appointment"), dispatcher, domain
    )
    assert slots["booking_for"] is None
    assert slots["patient_id"] == family["sarah"].id
    assert slots["requested_slot"] == "booking_for"
    tracker = make_tracker(slots={"household": slots["household"]}, sender_id=SENDER)
    await AskBookingFor().run(dispatcher, tracker, domain)
    (question,) = dispatcher.messages
    assert question["text"] == "Who is the appointment for? Reply with the number, or say *someone else*."
    assert titles(question) == [*FAMILY, "Someone else"]
    assert question["buttons"][2]["payload"] == '/choose_option{"option": "3"}'


@pytest.mark.parametrize(
    "answer, who, relation",
    [
        ("2", "tom", None),
        ("Emma", "emma", None),
        ("it's for me", "sarah", None),
        ("my son", "tom", None),
        ("someone else", NEW, "someone_else"),
        ("my mum", NEW, "mother"),
    ],
)
async def test_the_answer_to_who_it_is_for(
    make_tracker, dispatcher, domain, backend, family, answer, who, relation
):
    tracker = form_turn(make_tracker, answer, "inform", "booking_for", {"household": members_slot(backend)})
    slots = await validate(tracker, dispatcher, domain)
    assert slots["booking_for"] == (family[who].id if who in family else who)
    assert slots["booking_relation"] == relation
    assert slots["requested_slot"] == "booking_service"
    assert texts(dispatcher) == []


async def test_an_answer_naming_nobody_asks_again(make_tracker, dispatcher, domain, backend, family):
    tracker = form_turn(make_tracker, "Bob", "inform", "booking_for", {"household": members_slot(backend)})
    slots = await validate(tracker, dispatcher, domain)
    assert slots["booking_for"] is None and slots["requested_slot"] == "booking_for"
    assert texts(dispatcher) == [
        "Sorry, I didn't catch who it's for: reply with a number, 1 to 4, or a name."
    ]


@pytest.mark.parametrize(
    "request_text, who",
    [
        ("my daughter needs an appointment", "emma"),
        ("can I book Tom in with the GP", "tom"),
        ("book me in please", "sarah"),
    ],
)
async def test_a_request_that_names_the_patient_asks_no_question(
    make_tracker, dispatcher, domain, backend, family, request_text, who
):
    slots = await validate(opening(make_tracker, request_text, "book_appointment"), dispatcher, domain)
    assert slots["booking_for"] == family[who].id
    assert slots["requested_slot"] in ("booking_service", "booking_when")


async def test_booking_for_a_new_son_asks_his_name_and_birth_date_and_registers_him_as_a_dependant(
    make_tracker, dispatcher, domain, backend, reminders, at
):
    sarah = backend.add_patient("Sarah Jones", PHONE, gender="female")
    slots = await validate(
        opening(make_tracker, "I'd like to book a GP appointment for my son", "book_appointment"),
        dispatcher,
        domain,
    )
    assert (slots["booking_for"], slots["booking_relation"]) == (NEW, "son")
    assert slots["requested_slot"] == "booking_when"

    offers = [choice(backend, backend.add_slot(at(8, "09:00"), "dr-patel"))]
    form = {
        "booking_service": "gp",
        "booking_when": "Tuesday 8 December",
        "booking_offers": offers_slot(*offers),
        "household": slots["household"],
        "booking_for": NEW,
        "booking_relation": "son",
        "patient_id": sarah.id,
    }
    picked = await validate(
        form_turn(make_tracker, "1", "choose_option", "booking_slot", form), dispatcher, domain
    )
    assert picked["requested_slot"] == "patient_name"
    await AskPatientName().run(dispatcher, make_tracker(slots=form, sender_id=SENDER), domain)
    assert texts(dispatcher) == ["What is your son's full name?"]

    answered = {
        **form,
        "booking_slot": offers[0].id,
        "patient_name": "Tom Jones",
        "patient_birth_date": "2019-06-01",
    }
    dispatcher.messages.clear()
    await AskBookingConfirmed().run(dispatcher, make_tracker(slots=answered, sender_id=SENDER), domain)
    assert texts(dispatcher) == [
        "Please check: GP appointment for Tom with Dr Asha Patel on Tuesday 8 December at 09:00, "
        f"at {ADDRESS}. Shall I book it?"
    ]

    confirmed = await validate(
        form_turn(make_tracker, "yes", "affirm", "booking_confirmed", answered), dispatcher, domain
    )
    tom = next(p for p in backend.patients.values() if p.name == "Tom Jones")
    assert (tom.birth_date, tom.gender, tom.phone) == (dt.date(2019, 6, 1), "male", PHONE)
    assert [(d.patient_id, d.relationship) for d in backend.dependants] == [(tom.id, "PRN")]
    (appointment,) = backend.appointments.values()
    assert appointment.patient_id == tom.id
    assert (
        "patient_id" not in confirmed
    )  # the phone is still Sarah's: Tom is booked for, not remembered as her

    assert await said_when_done(make_tracker, dispatcher, domain, confirmed) == [
        "Booked: GP appointment for Tom with Dr Asha Patel on Tuesday 8 December at 09:00, "
        f"at {ADDRESS}. I'll remind you before. To change it, just say *reschedule* or *cancel*."
    ]
    assert reminders.created[0][3] == "Tom: GP appointment with Dr Asha Patel"


async def test_a_parent_who_only_booked_for_a_child_is_offered_me_and_registered_as_the_owner(
    make_tracker, dispatcher, domain, backend, at
):
    tom = backend.add_patient("Tom Jones", PHONE, "PRN", "male")
    slots = await validate(
        opening(make_tracker, "book an appointment", "book_appointment"), dispatcher, domain
    )
    assert slots["requested_slot"] == "booking_for"
    await AskBookingFor().run(dispatcher, make_tracker(slots=slots, sender_id=SENDER), domain)
    assert titles(dispatcher.messages[0]) == ["Tom Jones", "Me", "Someone else"]
    dispatcher.messages.clear()
    me = await validate(
        form_turn(make_tracker, "2", "choose_option", "booking_for", {"household": slots["household"]}),
        dispatcher,
        domain,
    )
    assert (me["booking_for"], me["booking_relation"]) == (NEW, None)
    await AskPatientName().run(dispatcher, make_tracker(slots=me, sender_id=SENDER), domain)
    assert texts(dispatcher) == ["As this is your first booking for yourself, what is your full name?"]

    offers = [choice(backend, backend.add_slot(at(8, "09:00"), "dr-patel"))]
    answered = {
        "booking_service": "gp",
        "booking_offers": offers_slot(*offers),
        "booking_slot": offers[0].id,
        "household": slots["household"],
        "booking_for": NEW,
        "patient_name": "Sarah Jones",
        "patient_birth_date": "1985-03-02",
    }
    confirmed = await validate(
        form_turn(make_tracker, "yes", "affirm", "booking_confirmed", answered), dispatcher, domain
    )
    sarah = next(p for p in backend.patients.values() if p.name == "Sarah Jones")
    assert confirmed["patient_id"] == sarah.id and sarah.id != tom.id
    assert [d.patient_id for d in backend.dependants] == [tom.id]


async def test_a_first_visit_for_oneself_is_asked_as_before(make_tracker, dispatcher, domain, backend):
    slots = await validate(
        opening(make_tracker, "book a GP appointment", "book_appointment"), dispatcher, domain
    )
    assert (slots["booking_for"], slots["household"], slots["requested_slot"]) == (None, [], "booking_when")


async def test_the_list_says_whose_appointment_is_whose(
    make_tracker, dispatcher, domain, backend, family, at
):
    await backend.book(family["emma"].id, backend.add_slot(at(8, "10:00"), "dr-patel"), "gp")
    await backend.book(family["sarah"].id, backend.add_slot(at(9, "11:15"), "dr-okafor"), "gp")
    await backend.book(family["tom"].id, backend.add_slot(at(10, "14:30"), "dr-patel"), "child")
    events = await ActionListAppointments().run(dispatcher, make_tracker(sender_id=SENDER), domain)
    assert texts(dispatcher) == [
        "Your upcoming appointments:\n"
        "• Emma – Tuesday 8 December at 10:00 – GP appointment with Dr Asha Patel\n"
        "• Sarah – Wednesday 9 December at 11:15 – GP appointment with Dr Daniel Okafor\n"
        "• Tom – Thursday 10 December at 14:30 – Child health clinic with Dr Asha Patel"
    ]
    assert slots_of(events) == {"patient_id": family["sarah"].id}


async def test_cancelling_emmas_appointment_checks_her_birth_date_and_offers_only_hers(
    make_tracker, dispatcher, domain, backend, family, at, identity_check
):
    identity_check.births = {dt.date(1985, 3, 2), dt.date(2018, 2, 14)}
    emmas = await backend.book(family["emma"].id, backend.add_slot(at(8, "10:00"), "dr-patel"), "gp")
    await backend.book(family["tom"].id, backend.add_slot(at(9, "10:00"), "dr-patel"), "gp")
    slots = await validate(
        opening(make_tracker, "cancel Emma's appointment", "cancel_appointment"), dispatcher, domain
    )
    assert (slots["booking_for"], slots["requested_slot"]) == (family["emma"].id, "identity_birth_date")
    await AskIdentityBirthDate().run(dispatcher, make_tracker(slots=slots, sender_id=SENDER), domain)
    assert texts(dispatcher) == [
        "Before I show or change Emma's appointments, please confirm Emma's date of birth. For example *21/07/1980*."
    ]

    form = {k: v for k, v in slots.items() if k != "requested_slot"}
    answered = await validate(
        form_turn(
            make_tracker,
            "14/02/2018",
            "inform",
            "identity_birth_date",
            {**form, "appointment_task": "cancel"},
        ),
        dispatcher,
        domain,
    )
    assert identity_check.about == [family["emma"].id]
    assert [a["id"] for a in answered["appointments"]] == [emmas.id]
    assert answered["appointment_choice"] == emmas.id
    assert answered["requested_slot"] == "booking_confirmed"

    dispatcher.messages.clear()
    await AskBookingConfirmed().run(
        dispatcher,
        make_tracker(slots={**form, **answered, "appointment_task": "cancel"}, sender_id=SENDER),
        domain,
    )
    assert texts(dispatcher) == [
        "Cancel Emma's appointment: GP appointment with Dr Asha Patel on Tuesday 8 December at 10:00?"
    ]


async def test_with_several_appointments_emmas_is_picked_by_her_name(
    make_tracker, dispatcher, domain, backend, family, at
):
    made = [
        await backend.book(family[who].id, backend.add_slot(at(day, "10:00"), "dr-patel"), "gp")
        for who, day in (("tom", 8), ("emma", 9))
    ]
    appointments = [
        Choice.from_appointment(made[0], "Tom").to_slot(),
        Choice.from_appointment(made[1], "Emma").to_slot(),
    ]
    tracker = form_turn(
        make_tracker,
        "Emma's",
        "inform",
        "appointment_choice",
        {"appointment_task": "cancel", "appointments": appointments, "household": members_slot(backend)},
    )
    slots = await validate(tracker, dispatcher, domain)
    assert slots["appointment_choice"] == made[1].id


# ================================================================================ triage: whom it is about


def symptom_turn(make_tracker, text, entities, state):
    """The triage form starting on a symptom message (action_triage_start has put its findings in triage_state)."""
    return make_tracker(
        text=text,
        intent="describe_symptoms",
        entities=entities,
        slots={"triage_state": state},
        sender_id=SENDER,
    )


async def validate_triage(tracker, dispatcher, domain):
    """The slots the triage form's validation sets on this turn."""
    return slots_of(await triage.ValidateTriageForm().run(dispatcher, tracker, domain))


def assert_lily_the_infant(slots, lily):
    """Lily, 6 to 12 weeks old, is whom it is about: the infant fever protocol, with nothing left to ask."""
    assert slots["triage_for"] == {
        "id": lily.id,
        "name": "Lily Jones",
        "age_group": "infant",
        "young_baby": False,
    }
    assert (slots["triage_state"]["age_group"], slots["triage_state"]["protocols"]) == (
        "infant",
        ["fever_infant"],
    )
    # a baby under 3 months with a fever: no question changes the level
    assert slots["triage_answer"] == triage.DONE


FEVER = {"entity": "symptom", "value": "fever"}


async def test_a_symptom_message_naming_nobody_asks_who_it_is_about(
    make_tracker, dispatcher, domain, no_patients
):
    for name, relationship in (("Sarah Jones", None), ("Tom Jones", "PRN"), ("Emma Jones", "PRN")):
        no_patients.add_patient(name, PHONE, relationship)
    tracker = symptom_turn(
        make_tracker, "high temperature since last night", [FEVER], start(["fever"], Profile()).to_dict()
    )
    slots = await validate_triage(tracker, dispatcher, domain)
    assert slots["triage_for"] is None  # the form asks triage_for first
    assert [m["name"] for m in slots["household"]] == FAMILY
    await triage.AskTriageFor().run(dispatcher, make_tracker(slots=slots, sender_id=SENDER), domain)
    (question,) = dispatcher.messages
    assert question["text"] == "Who is this about? Reply with the number, or say *someone else*."
    assert titles(question) == [*FAMILY, "Someone else"]


async def test_the_answer_gives_the_age_group_from_the_date_of_birth(
    make_tracker, dispatcher, domain, no_patients
):
    today = dt.date.today()
    no_patients.add_patient("Sarah Jones", PHONE, birth_date=dt.date(1985, 3, 2))
    lily = no_patients.add_patient("Lily Jones", PHONE, "PRN", "female", today - dt.timedelta(weeks=6))
    no_patients.add_patient("Tom Jones", PHONE, "PRN", "male", dt.date(2019, 6, 1))
    tracker = make_tracker(
        text="Lily",
        intent="inform",
        slots={
            "triage_state": start(["fever"], Profile()).to_dict(),
            "household": members_slot(no_patients),
            "requested_slot": "triage_for",
            "triage_for": "Lily",
        },
        active_loop="triage_form",
        sender_id=SENDER,
        events=[{"event": "slot", "name": "triage_for", "value": "Lily"}],
    )
    slots = await validate_triage(tracker, dispatcher, domain)
    assert_lily_the_infant(slots, lily)


async def test_my_3_month_old_is_the_registered_baby_and_her_birth_date_picks_the_infant_protocol(
    make_tracker, dispatcher, domain, no_patients
):
    today = dt.date.today()
    no_patients.add_patient("Sarah Jones", PHONE, birth_date=dt.date(1985, 3, 2))
    no_patients.add_patient("Tom Jones", PHONE, "PRN", "male", dt.date(2019, 6, 1))
    lily = no_patients.add_patient("Lily Jones", PHONE, "PRN", "female", today - dt.timedelta(weeks=12))
    # what the NLU reads in "my 3 month old": a child of 3 to 6 months (90 days and over), with a fever
    entities = [
        {"entity": "age_group", "value": "child"},
        {"entity": "symptom", "value": "age_3_to_6_months"},
        FEVER,
    ]
    told = start(["age_3_to_6_months", "fever"], Profile(age_group="child")).to_dict()
    tracker = symptom_turn(make_tracker, "my 3 month old has a high temperature", entities, told)
    slots = await validate_triage(tracker, dispatcher, domain)
    assert_lily_the_infant(slots, lily)
    assert dispatcher.messages == []


async def test_a_stated_age_that_fits_nobody_registered_is_kept_and_nothing_is_asked(
    make_tracker, dispatcher, domain, no_patients
):
    sarah_tom_and_emma(no_patients)
    entities = [{"entity": "age_group", "value": "infant"}, FEVER]
    told = start(["fever"], Profile(age_group="infant")).to_dict()
    tracker = symptom_turn(make_tracker, "my 6 week old has a temperature", entities, told)
    slots = await validate_triage(tracker, dispatcher, domain)
    assert slots["triage_for"] == {"id": None, "name": "child"}
    assert slots["triage_state"]["age_group"] == "infant"


async def test_after_yes_to_consent_the_message_that_told_the_symptoms_says_whom_it_is_about(
    make_tracker, dispatcher, domain, no_patients
):
    tom = sarah_tom_and_emma(no_patients)["tom"]
    told = {"intent": {"name": "describe_symptoms"}, "entities": [FEVER]}
    tracker = make_tracker(
        text="yes",
        intent="affirm",
        slots={"triage_state": start(["fever"], Profile()).to_dict()},
        sender_id=SENDER,
        events=[
            {"event": "user", "text": "Tom has had a temperature since yesterday", "parse_data": told},
            {"event": "action", "name": "action_ask_consent"},
            {"event": "user", "text": "yes", "parse_data": {"intent": {"name": "affirm"}, "entities": []}},
        ],
    )
    slots = await validate_triage(tracker, dispatcher, domain)
    assert slots["triage_for"] == {
        "id": tom.id,
        "name": "Tom Jones",
        "age_group": "child",
        "young_baby": False,
    }
    assert slots["triage_state"]["age_group"] == "child"


async def test_leaving_the_waitlist_takes_everyone_the_phone_books_for_off_it(backend, family):
    waitlist = FakeWaitlist(backend)
    for who in ("sarah", "emma"):
        await waitlist.join(
            family[who].id, "gp", dt.date(2026, 12, 8), dt.date(2026, 12, 9), (), SENDER, "whatsapp"
        )
    await waitlist.join(
        "someone-elses", "gp", dt.date(2026, 12, 8), dt.date(2026, 12, 9), (), "other", "whatsapp"
    )
    assert await leave_waitlist(backend, waitlist, Patient(family["sarah"].id, PHONE)) == 2
    assert waitlist.left == ["entry-1", "entry-2"]


async def test_moving_toms_appointment_says_whose_it_is_at_the_question_and_after(
    make_tracker, dispatcher, domain, backend, reminders, family, at
):
    toms = await backend.book(family["tom"].id, backend.add_slot(at(8, "10:00"), "dr-patel"), "gp")
    new_time = choice(backend, backend.add_slot(at(9, "11:15"), "dr-patel"))
    appointment = Choice.from_appointment(toms, "Tom")
    form = {
        "appointment_task": "reschedule",
        "appointments": [appointment.to_slot()],
        "appointment_choice": toms.id,
        "booking_service": "gp",
        "booking_offers": offers_slot(new_time),
        "booking_slot": new_time.id,
        "household": members_slot(backend),
        "booking_for": family["tom"].id,
    }
    await AskBookingConfirmed().run(dispatcher, make_tracker(slots=form, sender_id=SENDER), domain)
    assert texts(dispatcher) == [
        "Move Tom's appointment (GP appointment) from Tuesday 8 December at 10:00 to Wednesday 9 December at 11:15 "
        "with Dr Asha Patel? Shall I change it?"
    ]
    confirmed = await validate(
        form_turn(make_tracker, "yes", "affirm", "booking_confirmed", form), dispatcher, domain
    )
    assert await said_when_done(make_tracker, dispatcher, domain, confirmed) == [
        "Done: Tom's appointment (GP appointment) is now on Wednesday 9 December at 11:15 with Dr Asha Patel, "
        f"at {ADDRESS}."
    ]
    assert backend.appointments[confirmed["booking_result"]["appointment_id"]].patient_id == family["tom"].id


async def test_a_call_back_case_says_whom_the_symptom_check_was_about(
    make_tracker, dispatcher, domain, monkeypatch
):
    opened = []

    class Handoff:
        async def __aenter__(self):
            return self

        async def __aexit__(self, *_exc):
            return None

        async def open_case(self, conversation_id, phone, reason, transcript):
            opened.append(transcript)
            return OpenedCase(7, True, "A nurse will call you back.")

    monkeypatch.setattr(triage, "handoff_client", Handoff)
    uncertain = start(["chest_pain"], Profile()).to_dict()
    uncertain["answers"] = [["chest_pain_spreading", "not_sure"]]
    about = {"id": "patient-3", "name": "Emma Jones", "age_group": "child", "young_baby": False}
    tracker = make_tracker(slots={"triage_state": uncertain, "triage_for": about}, sender_id=SENDER)
    await triage.ActionTriageOutcome().run(dispatcher, tracker, domain)
    assert [transcript.splitlines()[0] for transcript in opened] == ["Symptom check about: Emma Jones"]
