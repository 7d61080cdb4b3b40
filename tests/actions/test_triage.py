"""Triage and consent actions (actions/triage.py, actions/consent.py): exact events and messages, with
entities from the real findings pipeline."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any, Dict, List, Optional

import pytest

import actions.consent as consent
import actions.triage as triage
from carebot.handoff.client import HandoffUnavailable, OpenedCase
from carebot.nlu.findings import build_findings_pipeline, extract_findings
from carebot.triage.engine import (
    CHAT_QUESTION_BUDGET,
    PATTERNS_DIR,
    answer,
    default_protocols,
    next_question,
    outcome,
    start,
)
from carebot.triage.model import Profile


@pytest.fixture(scope="module")
def nlp():
    return build_findings_pipeline(PATTERNS_DIR)


@pytest.fixture
def told(nlp, make_tracker):
    """A tracker whose latest message is `text`, with the entities the NLU pipeline gives it."""

    def build(text: str, intent: str = "describe_symptoms", **kwargs: Any):
        entities = [f.as_entity() for f in extract_findings(nlp, text)]
        return make_tracker(text=text, intent=intent, entities=entities, **kwargs)

    return build


def slots(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def state_slot(findings, profile: Profile = Profile(), answers=()) -> Dict[str, Any]:
    state = start(findings, profile)
    for question_id, reply in answers:
        state = answer(state, question_id, reply)
    return state.to_dict()


async def validate(tracker, dispatcher, domain) -> Dict[str, Any]:
    return slots(await triage.ValidateTriageForm().run(dispatcher, tracker, domain))


# --- reading the NLU's findings -----------------------------------------------------------------------------------


def test_only_current_symptoms_count_and_negated_ones_are_ruled_out(nlp):
    entities = [
        f.as_entity()
        for f in extract_findings(
            nlp, "no chest pain, my dad had a stroke, but I have a headache and a fever"
        )
    ]
    current, denied = triage.told_findings(entities)
    assert current == ["headache", "fever"]
    assert denied == ["chest_pain"]


def test_profile_keeps_what_the_message_does_not_state(nlp):
    baby = [f.as_entity() for f in extract_findings(nlp, "my 6 week old has a temperature")]
    assert triage.told_profile(baby) == Profile(age_group="infant", pregnant=False)
    silent = [f.as_entity() for f in extract_findings(nlp, "and a cough")]
    assert triage.told_profile(silent, Profile("child", True)) == Profile("child", True)


# --- consent ----------------------------------------------------------------------------------------------------------


async def test_consent_is_asked_with_what_is_stored_and_the_symptoms_are_kept(
    told, dispatcher, domain, clinic
):
    events = await consent.ActionAskConsent().run(
        dispatcher, told("I've had a sore throat for 2 days"), domain
    )
    kept = slots(events)["triage_state"]
    assert kept["findings"] == ["sore_throat", "duration_under_3d"]
    assert slots(events)["triage_level"] is None
    [message] = dispatcher.messages
    assert clinic.name in message["text"] and clinic.phone in message["text"] and "30 days" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/deny"]


async def test_consent_without_symptoms_keeps_no_state(told, dispatcher, domain):
    events = await consent.ActionAskConsent().run(dispatcher, told("can you check my symptoms"), domain)
    assert slots(events)["triage_state"] is None


def consent_asked(text: str, intent: str = "describe_symptoms") -> List[Dict[str, Any]]:
    """The events of a chat where `text` was told and the consent question asked, waiting for the reply."""
    return [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}},
        {"event": "action", "name": "action_ask_consent"},
        {"event": "bot", "text": "Before I ask about your health: … Do you agree?"},
        {"event": "action", "name": "action_listen"},
    ]


def asked_again(reply: str) -> List[Dict[str, Any]]:
    """The consent question asked again in short, and the patient's next reply to it."""
    return [
        {"event": "action", "name": "action_ask_consent"},
        {"event": "bot", "text": "Sorry, I need a *yes* or *no* to that: …"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": reply},
    ]


@pytest.mark.parametrize(
    "reply, intent", [("asdkjh qwe", "nlu_fallback"), ("🤷", "nlu_fallback"), ("😀", "thank")]
)
async def test_a_reply_that_is_neither_yes_nor_no_asks_consent_again_in_short_and_keeps_the_symptoms(
    told, dispatcher, domain, clinic, reply, intent
):
    kept = state_slot(["sore_throat"])
    events = consent_asked("I have a sore throat") + [{"event": "user", "text": reply}]
    tracker = told(reply, intent=intent, events=events, slots={"triage_state": kept})
    assert await consent.ActionAskConsent().run(dispatcher, tracker, domain) == []  # the symptoms stay
    [message] = dispatcher.messages
    assert (
        message["text"].startswith("Sorry, I need a *yes* or *no* to that") and clinic.name in message["text"]
    )
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/deny"]


async def test_after_a_photo_consent_is_asked_again_and_symptoms_told_meanwhile_are_added(
    told, dispatcher, domain
):
    events = consent_asked("I have a sore throat") + [
        {"event": "user", "text": '/send_media{"media_type": "image"}'},
        {"event": "action", "name": "utter_media_in_form"},
        *asked_again("and a fever since yesterday"),
    ]
    tracker = told(
        "and a fever since yesterday", events=events, slots={"triage_state": state_slot(["sore_throat"])}
    )
    events = await consent.ActionAskConsent().run(dispatcher, tracker, domain)
    assert slots(events)["triage_state"]["findings"][:2] == ["sore_throat", "fever"]
    assert dispatcher.messages[0]["text"].startswith("Sorry, I still need a *yes* or *no*")  # the second time


async def test_the_second_miss_in_a_row_offers_a_person_as_well(told, dispatcher, domain):
    events = consent_asked("I have a sore throat") + [{"event": "user", "text": "asdkjh"}, *asked_again("🤷")]
    tracker = told(
        "🤷", intent="nlu_fallback", events=events, slots={"triage_state": state_slot(["sore_throat"])}
    )
    assert await consent.ActionAskConsent().run(dispatcher, tracker, domain) == []
    [message] = dispatcher.messages
    assert "or 3 to talk to a person" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/deny", "/ask_human"]


async def test_consent_asked_after_another_question_is_asked_in_full(told, dispatcher, domain):
    events = consent_asked("I have a sore throat") + [
        {"event": "user", "text": "no"},
        {"event": "action", "name": "action_decline_consent"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "I have a cough"},
    ]
    events = await consent.ActionAskConsent().run(dispatcher, told("I have a cough", events=events), domain)
    assert slots(events)["triage_state"]["findings"] == ["cough"]
    assert dispatcher.messages[0]["text"].startswith("Before I ask about your health")


async def test_reminder_consent_asked_again_keeps_the_reminder_asked_for(make_tracker, dispatcher, domain):
    events = [
        {"event": "user", "text": "remind me to take metformin at 8am"},
        {"event": "action", "name": "action_ask_reminder_consent"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "qwpoi"},
    ]
    tracker = make_tracker(
        text="qwpoi",
        intent="nlu_fallback",
        events=events,
        slots={"reminder_draft": "remind me to take metformin at 8am"},
    )
    assert await consent.ActionAskReminderConsent().run(dispatcher, tracker, domain) == []
    assert "the names of your medicines" in dispatcher.messages[0]["text"]
    assert dispatcher.messages[0]["text"].startswith("Sorry, I need a *yes* or *no*")


async def test_consent_given_is_recorded_with_its_time(make_tracker, dispatcher, domain, monkeypatch):
    monkeypatch.setattr(consent, "utc_now", lambda: dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.timezone.utc))
    events = await consent.ActionGiveConsent().run(
        dispatcher, make_tracker(text="yes", intent="affirm"), domain
    )
    assert slots(events) == {"consent_given": True, "consent_time": "2026-03-02T09:30:00+00:00"}
    assert dispatcher.messages[0]["text"] == "Thank you, that's noted."


async def test_declined_consent_says_what_is_still_possible_and_forgets_the_symptoms(
    make_tracker, dispatcher, domain, clinic
):
    tracker = make_tracker(text="no", intent="deny", slots={"triage_state": state_slot(["cough"])})
    events = await consent.ActionDeclineConsent().run(dispatcher, tracker, domain)
    assert slots(events)["consent_given"] is False and slots(events)["triage_state"] is None
    text = dispatcher.messages[0]["text"]
    assert clinic.phone in text and clinic.emergency_number in text and "book" in text


# --- the questions ----------------------------------------------------------------------------------------------------


async def test_form_start_asks_the_first_question_the_findings_left_open(make_tracker, dispatcher, domain):
    tracker = make_tracker(slots={"triage_state": state_slot(["chest_pain"])})
    assert await validate(tracker, dispatcher, domain) == {
        "triage_for": {"id": None, "name": None},  # a phone without patients: nobody to ask about
        "household": [],
        "triage_state": state_slot(["chest_pain"]),
        "triage_retries": 0,
        "triage_question": "chest_pain_spreading",
        "triage_answer": None,
    }


async def test_findings_already_told_are_not_asked_again(make_tracker, dispatcher, domain):
    told_state = start(["chest_pain"], Profile(), denied=["sweating"]).to_dict()  # "chest pain, not sweating"
    values = await validate(make_tracker(slots={"triage_state": told_state}), dispatcher, domain)
    asked = []
    while values["triage_answer"] != triage.DONE:
        asked.append(values["triage_question"])
        values = await validate(
            make_tracker(text="2", slots={**values, "requested_slot": "triage_answer", "triage_answer": "2"}),
            dispatcher,
            domain,
        )
    assert "chest_pain_sweating" not in asked and "chest_pain_spreading" in asked


async def test_a_yes_that_makes_it_an_emergency_ends_the_questions(make_tracker, dispatcher, domain):
    tracker = make_tracker(
        text="1",
        slots={
            "triage_state": state_slot(["chest_pain"]),
            "requested_slot": "triage_answer",
            "triage_answer": "1",
            "triage_question": "chest_pain_spreading",
        },
    )
    result = await validate(tracker, dispatcher, domain)
    assert result["triage_answer"] == triage.DONE and result["triage_question"] is None
    assert result["triage_state"]["answers"] == [["chest_pain_spreading", "yes"]]


async def test_a_free_text_answer_adds_the_new_symptoms(told, dispatcher, domain):
    tracker = told(
        "no, but now I'm sweating a lot",
        intent="deny",
        slots={
            "triage_state": state_slot(["chest_pain"]),
            "requested_slot": "triage_answer",
            "triage_answer": "no, but now I'm sweating a lot",
            "triage_question": "chest_pain_spreading",
        },
    )
    result = await validate(tracker, dispatcher, domain)
    assert "sweating" in result["triage_state"]["findings"]
    assert (
        result["triage_answer"] == triage.DONE
    )  # chest pain with sweating: heart attack signs, no more questions


async def test_an_unreadable_answer_is_asked_again_then_counts_as_not_sure(make_tracker, dispatcher, domain):
    base = {
        "triage_state": state_slot(["chest_pain"]),
        "requested_slot": "triage_answer",
        "triage_answer": "purple",
        "triage_question": "chest_pain_spreading",
    }
    first = await validate(make_tracker(text="purple", slots=base), dispatcher, domain)
    assert first == {
        "triage_state": base["triage_state"],
        "triage_question": "chest_pain_spreading",
        "triage_retries": 1,
        "triage_answer": None,
    }
    assert dispatcher.messages[0]["text"].startswith("Sorry, I didn't understand that answer.")
    second = await validate(
        make_tracker(text="purple", slots={**base, "triage_retries": 1}), dispatcher, domain
    )
    assert second["triage_state"]["answers"] == [["chest_pain_spreading", "not_sure"]]
    assert second["triage_retries"] == 0 and second["triage_question"] != "chest_pain_spreading"


def at_cough_question(make_tracker, text: str, intent: str, confidence: float = 1.0, answer: Any = "same"):
    """The tracker the triage form's validation gets for `text` at "are you short of breath?"; a free-text
    question's slot takes every message, so the answer slot holds the text unless `answer` says otherwise."""
    tracker = make_tracker(
        text=text,
        intent=intent,
        slots={
            "triage_state": state_slot(["cough"]),
            "requested_slot": "triage_answer",
            "triage_question": "cough_breathless",
            "triage_answer": text if answer == "same" else answer,
        },
    )
    tracker.latest_message["intent"]["confidence"] = confidence
    return tracker


@pytest.mark.parametrize(
    "text, intent, confidence",
    [
        ("stop", "stop", 0.9),
        ("never mind", "nlu_fallback", 0.3),  # a plain stop, whatever the classifier made of it
        ("can I talk to a real person", "ask_human", 1.0),
        ("I want to book an appointment", "book_appointment", 0.99),
        ('/send_media{"media_type": "image"}', "send_media", 1.0),
        ('/send_media{"media_type": "audio"}', "send_media", 1.0),
        ("/share_location", "share_location", 1.0),
    ],
)
async def test_a_message_that_is_not_an_answer_is_left_to_the_rules(
    make_tracker, dispatcher, domain, text, intent, confidence
):
    tracker = at_cough_question(make_tracker, text, intent, confidence)
    events = await triage.ValidateTriageForm().run(dispatcher, tracker, domain)
    assert [e["event"] for e in events] == ["slot", "action_execution_rejected"]
    assert slots(events) == {"triage_answer": None}  # a voice note is no "I'm not sure"
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    "text, intent, confidence",
    [
        ("no thanks", "deny", 0.89),  # an answer here, not a stop
        ("I'd like a person to check it, yes", "ask_human", 0.6),  # not said plainly enough to leave
        ("sdfkjh qwpo", "nlu_fallback", 1.0),  # unreadable: asked again by the engine, the form goes on
    ],
)
async def test_replies_that_are_not_clear_interruptions_are_read_as_answers(
    make_tracker, dispatcher, domain, text, intent, confidence
):
    tracker = at_cough_question(make_tracker, text, intent, confidence)
    events = await triage.ValidateTriageForm().run(dispatcher, tracker, domain)
    assert "action_execution_rejected" not in [e["event"] for e in events]
    assert "triage_state" in slots(events)


async def test_back_in_the_symptom_check_after_a_photo_the_same_question_is_asked_again(
    make_tracker, dispatcher, domain
):
    # the answer slot was cleared when the voice note was turned away
    tracker = at_cough_question(make_tracker, '/send_media{"media_type": "audio"}', "send_media", answer=None)
    tracker.events = [  # as Rasa hands them to the validation action: the form's run comes last
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": '/send_media{"media_type": "audio"}'},
        {"event": "action", "name": "utter_media_in_form"},
        {"event": "slot", "name": "requested_slot", "value": "triage_answer"},
        {"event": "action", "name": "triage_form"},
    ]
    assert await triage.ValidateTriageForm().run(dispatcher, tracker, domain) == []


async def test_symptoms_asked_for_when_none_were_kept_then_triage_starts_from_the_reply(
    told, make_tracker, dispatcher, domain
):
    await triage.AskTriageAnswer().run(dispatcher, make_tracker(), domain)
    assert dispatcher.messages[0]["text"].startswith("Please tell me your symptoms")
    reply = told(
        "I have a rash on my leg",
        intent="describe_symptoms",
        slots={"requested_slot": "triage_answer", "triage_answer": "I have a rash on my leg"},
    )
    result = await validate(reply, dispatcher, domain)
    assert result["triage_state"]["findings"] == ["rash"]
    assert result["triage_question"] in {q.id for q in default_protocols().protocol("rash").questions}


@pytest.mark.parametrize(
    "opening", [["chest_pain"], ["headache"], ["hives"], ["fever"], ["back_pain"], ["unwell"]]
)
async def test_all_not_sure_ends_within_the_chat_budget_asking_each_question_at_most_twice(
    opening, make_tracker, dispatcher, domain
):
    values = await validate(make_tracker(slots={"triage_state": state_slot(opening)}), dispatcher, domain)
    asked: List[Optional[str]] = []
    while values["triage_answer"] != triage.DONE:
        asked.append(values["triage_question"])
        tracker = make_tracker(
            text="I'm not sure",
            slots={**values, "requested_slot": "triage_answer", "triage_answer": "I'm not sure"},
        )
        values = await validate(tracker, dispatcher, domain)
    assert len(asked) <= CHAT_QUESTION_BUDGET
    assert max(Counter(asked).values()) <= 2  # a question is asked again at most once, in simpler words
    state = values["triage_state"]
    assert len(state["asked"]) + len(state["reasked"]) == len(asked)


async def test_the_question_goes_out_with_numbered_options(make_tracker, dispatcher, domain):
    await triage.AskTriageAnswer().run(
        dispatcher, make_tracker(slots={"triage_question": "chest_pain_spreading"}), domain
    )
    [message] = dispatcher.messages
    assert message["text"] == "Does the pain spread to your arms, back, neck or jaw?"
    assert message["buttons"] == [
        {"title": "Yes", "payload": "1"},
        {"title": "No", "payload": "2"},
        {"title": "I'm not sure", "payload": "3"},
    ]


async def test_triage_start_resets_the_last_triage(told, dispatcher, domain):
    events = await triage.ActionTriageStart().run(
        dispatcher, told("my ear hurts", slots={"triage_level": "urgent", "triage_answer": "done"}), domain
    )
    values = slots(events)
    assert values["triage_level"] is None and values["triage_answer"] is None
    assert values["triage_state"]["findings"] == ["earache"]


# --- the result -------------------------------------------------------------------------------------------------------


class FakeHandoff:
    opened: List[tuple] = []

    def __init__(self, available: bool = True) -> None:
        self.available = available

    async def __aenter__(self) -> "FakeHandoff":
        return self

    async def __aexit__(self, *_exc: Any) -> None:
        return None

    async def open_case(self, conversation_id, phone, reason, transcript) -> OpenedCase:
        if not self.available:
            raise HandoffUnavailable("down")
        FakeHandoff.opened.append((conversation_id, phone, reason.value))
        return OpenedCase(7, True, "A nurse will call you back.")


@pytest.fixture
def handoff(monkeypatch):
    FakeHandoff.opened = []
    monkeypatch.setattr(triage, "handoff_client", FakeHandoff)
    return FakeHandoff


async def test_urgent_result_gives_reason_and_offers_booking_with_the_service(
    make_tracker, dispatcher, domain, handoff
):
    answered = [
        (q, "no")
        for q in (
            "chest_pain_spreading",
            "chest_pain_heavy",
            "chest_pain_sweating",
            "chest_pain_breathless",
            "chest_pain_lasting",
        )
    ]
    tracker = make_tracker(slots={"triage_state": state_slot(["chest_pain"], answers=answered)})
    events = await triage.ActionTriageOutcome().run(dispatcher, tracker, domain)
    assert slots(events) == {"triage_level": "urgent", "triage_question": None, "triage_retries": None}
    result, offer = dispatcher.messages
    assert result["text"].startswith("You need to be seen today.")
    assert "Why: Chest pain needs to be checked by a clinician today" in result["text"]
    assert "This is not a diagnosis." in result["text"] and "{" not in result["text"]
    assert offer["buttons"][0] == {
        "title": "Book GP appointment",
        "payload": '/book_appointment{"service": "gp"}',
    }
    assert handoff.opened == []


async def test_an_uncertain_result_opens_a_staff_call_back(make_tracker, dispatcher, domain, handoff):
    tracker = make_tracker(
        slots={"triage_state": state_slot(["chest_pain"], answers=[("chest_pain_spreading", "not_sure")])}
    )
    events = await triage.ActionTriageOutcome().run(dispatcher, tracker, domain)
    assert slots(events)["triage_level"] == "urgent"
    assert [e["event"] for e in events][-2:] == ["pause", "action"]
    assert handoff.opened == [("whatsapp:+447700900001", "+447700900001", "triage_callback")]
    assert dispatcher.messages[-1]["text"] == "A nurse will call you back."


async def test_self_care_result_gives_advice_and_when_to_come_back(make_tracker, dispatcher, domain, handoff):
    state = start(["sore_throat", "duration_under_3d"], Profile())
    while (question := next_question(state)) is not None:
        state = answer(state, question.id, "no")
    assert outcome(state).level == "self_care"
    events = await triage.ActionTriageOutcome().run(
        dispatcher, make_tracker(slots={"triage_state": state.to_dict()}), domain
    )
    assert slots(events)["triage_level"] == "self_care"
    [message] = dispatcher.messages
    assert message["text"].startswith("You can probably look after this at home") and "•" in message["text"]


async def test_emergency_from_the_answers_names_the_number_and_opens_no_case(
    make_tracker, dispatcher, domain, handoff, clinic
):
    tracker = make_tracker(
        slots={"triage_state": state_slot(["chest_pain"], answers=[("chest_pain_spreading", "yes")])}
    )
    events = await triage.ActionTriageOutcome().run(dispatcher, tracker, domain)
    assert slots(events)["triage_level"] == "emergency"
    assert dispatcher.messages[0]["text"].startswith(f"Call {clinic.emergency_number} now")
    assert handoff.opened == [] and len(dispatcher.messages) == 1


# --- red flags --------------------------------------------------------------------------------------------------------


async def test_red_flag_is_short_names_the_number_and_ends_any_form(make_tracker, dispatcher, domain, clinic):
    tracker = make_tracker(
        text="his face has dropped",
        intent="red_flag",
        active_loop="appointment_form",
        entities=[{"entity": "red_flag", "value": "stroke_signs"}],
        slots={"requested_slot": "booking_when"},
    )
    events = await triage.ActionRedFlag().run(dispatcher, tracker, domain)
    assert events[0] == {"event": "active_loop", "timestamp": None, "name": None}
    assert slots(events)["requested_slot"] is None and slots(events)["triage_level"] == "emergency"
    [message] = dispatcher.messages
    assert (
        message["text"].startswith("⚠️ A drooping face")
        and f"Call {clinic.emergency_number} now" in message["text"]
    )


async def test_self_harm_names_the_crisis_line_at_the_engine_level(make_tracker, dispatcher, domain, clinic):
    tracker = make_tracker(
        text="I keep thinking about ending my life",
        intent="red_flag",
        entities=[{"entity": "red_flag", "value": "suicidal_thoughts"}],
    )
    events = await triage.ActionRedFlag().run(dispatcher, tracker, domain)
    flag = next(f for f in default_protocols().red_flags if f.id == "suicidal_thoughts")
    assert slots(events)["triage_level"] == flag.level
    text = dispatcher.messages[0]["text"]
    assert (
        f"{clinic.crisis_line_name} on {clinic.crisis_line_number}" in text
        and clinic.emergency_number in text
    )


async def test_red_flag_from_findings_told_across_messages(told, dispatcher, domain):
    tracker = told("I'm sweating", intent="red_flag", slots={"triage_state": state_slot(["chest_pain"])})
    events = await triage.ActionRedFlag().run(dispatcher, tracker, domain)
    assert slots(events)["triage_level"] == "emergency" and slots(events)["triage_state"] is None
    assert "heart attack" in dispatcher.messages[0]["text"]


async def test_stopping_sets_no_level(make_tracker, dispatcher, domain, clinic):
    events = await triage.ActionTriageStop().run(dispatcher, make_tracker(slots={"triage_state": {}}), domain)
    assert "triage_level" not in slots(events) and slots(events)["triage_state"] is None
    assert clinic.emergency_number in dispatcher.messages[0]["text"]
