"""Session start and fallback actions: exact events and messages."""

from __future__ import annotations

from pathlib import Path

import yaml

from actions.fallback import ActionFallback
from actions.session import ActionSessionStart
from carebot.messages import catalogue

ROOT = Path(__file__).resolve().parents[2]


async def test_session_start_sets_clinic_facts_and_carries_remembered_slots(
    make_tracker, dispatcher, domain, clinic
):
    domain = {**domain, "forms": {"booking_form": {"required_slots": ["booking_date"]}}}
    tracker = make_tracker(
        slots={"consent_given": True, "booking_date": "tomorrow", "requested_slot": "x", "none": None}
    )
    events = await ActionSessionStart().run(dispatcher, tracker, domain)
    assert events[0] == {"event": "session_started", "timestamp": None}
    assert events[-1]["event"] == "action" and events[-1]["name"] == "action_listen"
    set_slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert set_slots == {
        "consent_given": True,
        "clinic_name": clinic.name,
        "clinic_phone": clinic.phone,
        "emergency_number": clinic.emergency_number,
    }
    assert dispatcher.messages == []


async def test_fallback_answers_without_rewinding_the_conversation(make_tracker, dispatcher, domain):
    events = await ActionFallback().run(
        dispatcher, make_tracker(text="qwerty asdf", intent="nlu_fallback"), domain
    )
    assert events == [{"event": "followup", "name": "action_listen", "timestamp": None}]
    assert len(dispatcher.messages) == 1
    assert "didn't understand" in dispatcher.messages[0]["text"]


def guess(intent: str) -> dict:
    return {"entity": "clinic_guess", "value": intent, "start": 0, "end": 5}


async def test_an_unsure_reading_is_asked_about_with_a_button_per_guess(make_tracker, dispatcher, domain):
    tracker = make_tracker(
        text="where r u open",
        intent="nlu_fallback",
        entities=[guess("ask_address"), guess("ask_opening_hours")],
    )
    await ActionFallback().run(dispatcher, tracker, domain)
    [message] = dispatcher.messages
    assert (
        message["text"]
        == "Sorry, I'm not sure what you're asking. Do you mean our address or our opening hours?"
    )
    assert message["buttons"] == [
        {"title": "Our address", "payload": "/ask_address"},
        {"title": "Our opening hours", "payload": "/ask_opening_hours"},
        {"title": "Neither", "payload": "/deny"},
    ]


async def test_a_second_miss_in_a_row_offers_the_ways_on_even_with_guesses(make_tracker, dispatcher, domain):
    missed = [
        {"event": "user", "text": "zzz"},
        {"event": "action", "name": "action_fallback"},
        {"event": "user", "text": "where r u open"},
    ]
    tracker = make_tracker(
        text="where r u open", intent="nlu_fallback", entities=[guess("ask_address")], events=missed
    )
    await ActionFallback().run(dispatcher, tracker, domain)
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == ["/ask_human", "/help"]


def test_every_intent_the_guard_may_ask_about_has_its_words():
    config = yaml.safe_load((ROOT / "config.yml").read_text())
    guard = next(c for c in config["pipeline"] if c["name"].endswith("DomainGuard"))
    assert guard["clarify_intents"] and all(
        f"clarify_{intent}" in catalogue() for intent in guard["clarify_intents"]
    )
