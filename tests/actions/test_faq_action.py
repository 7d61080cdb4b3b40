"""action_answer_clinic_question: each ask_* intent answered from clinic.yml at the time the patient wrote."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from actions.faq import INTENT_TOPICS, ActionAnswerClinicQuestion, message_time
from carebot.clinic import Clinic, load_clinic

ROOT = Path(__file__).resolve().parents[2]
LONDON = ZoneInfo("Europe/London")
FRIDAY_EVENING = dt.datetime(2026, 11, 27, 17, 30, tzinfo=LONDON)  # the frozen clinic closes 17:00 on Fridays


@pytest.fixture(autouse=True)
def clinic(monkeypatch) -> Clinic:
    """The frozen clinic of tests/test_faq.py: exact texts need fixed hours, and designers edit clinic.yml freely."""
    facts = load_clinic(ROOT / "tests" / "fixtures" / "faq_clinic.yml")
    monkeypatch.setattr("actions.faq.clinic", lambda: facts)
    return facts


def user_event(text: str, intent: str, at: dt.datetime) -> dict:
    return {
        "event": "user",
        "text": text,
        "timestamp": at.timestamp(),
        "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": []},
    }


async def ask(
    make_tracker, dispatcher, domain, intent: str, text: str, at: dt.datetime = FRIDAY_EVENING
) -> str:
    tracker = make_tracker(text=text, intent=intent, events=[user_event(text, intent, at)])
    events = await ActionAnswerClinicQuestion().run(dispatcher, tracker, domain)
    assert events == []
    [message] = dispatcher.messages
    return message["text"]


@pytest.mark.parametrize(
    "intent, text, expected",
    [
        (
            "ask_opening_hours",
            "are you open on saturday",
            "Tomorrow (Saturday 28 November) we're open 09:00–12:00.",
        ),
        # "open now?" about another day is that day's hours; about today it stays a now-question.
        (
            "ask_open_now",
            "are you open on sunday?",
            "We're closed on Sunday 29 November. We open again on Monday 30 November at 08:00.",
        ),
        (
            "ask_open_now",
            "are you open today",
            "No, we're closed right now. We open again tomorrow (Saturday 28 November) at 09:00.",
        ),
        (
            "ask_opening_hours",
            "what time do you close tonight",
            "Today (Friday 27 November) we're open 08:00–12:30 and 13:30–17:00. We've closed for today. "
            "We open again tomorrow (Saturday 28 November) at 09:00.",
        ),
        (
            "ask_opening_hours",
            "when are you open",
            "\n".join(
                [
                    "Our opening hours for the next 7 days:",
                    "Fri 27 Nov: 08:00–12:30 and 13:30–17:00",
                    "Sat 28 Nov: 09:00–12:00",
                    "Sun 29 Nov: closed",
                    "Mon 30 Nov: 08:00–12:30 and 13:30–18:30",
                    "Tue 1 Dec: 08:00–12:30 and 13:30–18:30",
                    "Wed 2 Dec: 08:00–12:30 and 13:30–18:30",
                    "Thu 3 Dec: 08:00–12:30 and 13:30–20:00",
                ]
            ),
        ),
        (
            "ask_holiday_closures",
            "are you open at christmas",
            "\n".join(
                [
                    "We're closed on these days:",
                    "• Friday 25 December: Christmas Day",
                    "• Saturday 26 December: Boxing Day",
                    "• Friday 1 January 2027: New Year's Day",
                ]
            ),
        ),
    ],
)
async def test_hours_questions_are_answered_for_the_day_asked(
    make_tracker, dispatcher, domain, intent, text, expected
):
    assert await ask(make_tracker, dispatcher, domain, intent, text) == expected


async def test_fixed_facts_come_from_the_clinic_file(make_tracker, dispatcher, domain, clinic):
    answers = {}
    for intent in [
        "ask_address",
        "ask_phone",
        "ask_parking",
        "ask_accessibility",
        "ask_what_to_bring",
        "ask_website",
        "ask_services",
        "share_location",
    ]:
        dispatcher.messages.clear()
        answers[intent] = await ask(make_tracker, dispatcher, domain, intent, "tell me")
    assert answers["ask_address"] == f"{clinic.name}, {clinic.address}.\n{clinic.info['directions']}"
    assert answers["share_location"] == answers["ask_address"]
    assert answers["ask_phone"] == (
        f"You can call {clinic.name} on {clinic.phone}. When we're closed, call {clinic.urgent_advice_line} "
        f"for urgent medical advice. In an emergency call {clinic.emergency_number}."
    )
    assert answers["ask_parking"] == f"Parking: {clinic.info['parking']}"
    assert answers["ask_accessibility"] == f"Access: {clinic.info['accessibility']}"
    assert answers["ask_what_to_bring"] == f"Please bring: {clinic.info['what_to_bring']}"
    assert answers["ask_website"] == f"Our website: {clinic.info['website']}"
    assert answers["ask_services"].splitlines() == ["We offer:"] + [
        f"• {s.name} — {s.who_for}" for s in clinic.services
    ]


async def test_open_now_uses_the_clinic_timezone_across_the_dst_change(make_tracker, dispatcher, domain):
    # Monday 29 March 2027, the day after clocks go forward: 07:30 UTC is 08:30 in London, so the clinic is open.
    monday_morning_utc = dt.datetime(2027, 3, 29, 7, 30, tzinfo=dt.timezone.utc)
    assert (
        await ask(make_tracker, dispatcher, domain, "ask_open_now", "are you open now", at=monday_morning_utc)
        == "Yes, we're open now until 12:30."
    )


async def test_the_answer_is_for_when_the_patient_wrote_not_when_the_action_ran(
    make_tracker, dispatcher, domain, clinic
):
    saturday_morning = dt.datetime(2026, 11, 28, 11, 0, tzinfo=LONDON)
    later_events = [
        user_event("are you open now", "ask_open_now", saturday_morning),
        {"event": "action", "name": "action_listen", "timestamp": saturday_morning.timestamp() + 5},
    ]
    tracker = make_tracker(text="are you open now", intent="ask_open_now", events=later_events)
    await ActionAnswerClinicQuestion().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["text"] == "Yes, we're open now until 12:00."
    assert message_time(tracker, clinic) == saturday_morning


async def test_an_intent_without_a_clinic_answer_gets_the_phone_number(
    make_tracker, dispatcher, domain, clinic
):
    text = await ask(make_tracker, dispatcher, domain, "greet", "hello")
    assert text == f"Sorry, I don't have that information here. Please call us on {clinic.phone}."


def test_every_ask_intent_in_the_domain_and_the_nlu_data_has_an_answer(domain):
    nlu = yaml.safe_load((ROOT / "data" / "nlu" / "faq.yml").read_text())["nlu"]
    in_nlu = {
        item["intent"]
        for item in nlu
        if item["intent"].startswith("ask_") or item["intent"] == "share_location"
    }
    assert in_nlu == set(INTENT_TOPICS)
    assert set(INTENT_TOPICS) <= set(domain["intents"])


async def test_a_service_the_clinic_does_not_offer_is_said_so_with_what_it_does_offer(
    make_tracker, dispatcher, domain
):
    text = "do you have a dentist"
    tracker = make_tracker(
        text=text,
        intent="ask_services",
        events=[user_event(text, "ask_services", FRIDAY_EVENING)],
        entities=[{"entity": "unoffered_service", "value": "dental", "start": 14, "end": 21}],
    )
    await ActionAnswerClinicQuestion().run(dispatcher, tracker, domain)
    [message] = dispatcher.messages
    assert message["text"] == "\n".join(
        [
            'Sorry, we don\'t offer dental care at this clinic. For a dentist, search "find a dentist" on nhs.uk.',
            "We offer:",
            "• GP appointment — Adults and children of any age.",
            "• Practice nurse — Adults and children; dressings, blood pressure, smear tests and vaccinations.",
            "• Child health clinic — Babies and children under 16, with a parent or carer.",
            "• Physiotherapy — Adults with muscle, joint or back problems.",
        ]
    )


async def test_a_service_without_advice_is_said_so_in_one_sentence(make_tracker, dispatcher, domain):
    tracker = make_tracker(
        text="botox?",
        intent="ask_services",
        entities=[{"entity": "unoffered_service", "value": "cosmetic", "start": 0, "end": 5}],
    )
    await ActionAnswerClinicQuestion().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["text"].splitlines()[:2] == [
        "Sorry, we don't offer cosmetic treatments at this clinic.",
        "We offer:",
    ]
