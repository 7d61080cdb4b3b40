"""Session start and fallback actions: exact events and messages."""
from __future__ import annotations

from actions.fallback import ActionFallback
from actions.session import ActionSessionStart


async def test_session_start_sets_clinic_facts_and_carries_remembered_slots(make_tracker, dispatcher, domain, clinic):
    domain = {**domain, "forms": {"booking_form": {"required_slots": ["booking_date"]}}}
    tracker = make_tracker(slots={"consent_given": True, "booking_date": "tomorrow", "requested_slot": "x", "none": None})
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
    events = await ActionFallback().run(dispatcher, make_tracker(text="qwerty asdf", intent="nlu_fallback"), domain)
    assert events == [{"event": "followup", "name": "action_listen", "timestamp": None}]
    assert len(dispatcher.messages) == 1
    assert "didn't understand" in dispatcher.messages[0]["text"]
