"""The handoff actions against the real backend on loopback: every trigger opens exactly one case, tells the
patient what happens next and pauses the bot; a backend that is down or refuses leaves the bot running and gives
the patient the clinic's phone number."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List
from zoneinfo import ZoneInfo

import pytest
from handoff_harness import API_TOKEN, ON_CALL

from actions.fallback import ActionFallback, misunderstood_in_a_row
from actions.handoff import ActionHandOffToStaff, open_handoff, transcript_excerpt
from carebot.handoff.model import Reason

LONDON = ZoneInfo("Europe/London")
MONDAY_MORNING = dt.datetime(2026, 11, 30, 10, 0, tzinfo=LONDON)  # staff on duty 08:00-18:30
SATURDAY_EVENING = dt.datetime(2026, 11, 28, 19, 0, tzinfo=LONDON)  # staff back Monday 08:00
SENDER = "whatsapp:+447700900001"
IN_HOURS_NOTICE = (
    "I've passed this to our team. Someone will reply here within 30 minutes. Please keep this chat "
    "open. In an emergency call 999."
)
# The pause, then the listen Rasa itself would have logged (a paused conversation predicts nothing more).
PAUSED = [
    {"event": "pause", "timestamp": None},
    {"event": "action", "name": "action_listen", "policy": None, "confidence": None, "timestamp": None},
]


@pytest.fixture
def at_monday_morning(backend: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The action server's environment pointed at the test backend, whose clock is fixed in staff hours."""
    monkeypatch.setenv("BACKEND_URL", backend.url)
    monkeypatch.setenv("SCHEDULING_TOKEN", API_TOKEN)
    backend.service.clock = lambda: MONDAY_MORNING.astimezone(dt.timezone.utc)
    return backend


def user(text: str, intent: str, metadata: Dict[str, Any] | None = None) -> Dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "metadata": metadata or {},
        "parse_data": {"intent": {"name": intent, "confidence": 0.9}, "entities": []},
    }


def bot(text: str) -> Dict[str, Any]:
    return {"event": "bot", "text": text}


def action(name: str) -> Dict[str, Any]:
    return {"event": "action", "name": name}


def fallback_turn(text: str) -> List[Dict[str, Any]]:
    return [
        user(text, "nlu_fallback"),
        action("action_fallback"),
        bot("Sorry, I didn't understand that."),
        action("action_listen"),
    ]


def cases(backend: Any) -> List[Any]:
    return backend.service.store.list_open()


async def test_asking_for_a_person_opens_one_case_and_pauses(
    at_monday_morning, make_tracker, dispatcher, domain
):
    events = [
        user("hi", "greet"),
        action("utter_greet"),
        bot("Hello! I'm the assistant."),
        action("action_listen"),
        user("I want to talk to a person", "ask_human"),
    ]
    tracker = make_tracker(
        text="I want to talk to a person", intent="ask_human", events=events, sender_id=SENDER
    )
    result = await ActionHandOffToStaff().run(dispatcher, tracker, domain)
    assert result == PAUSED
    assert [m["text"] for m in dispatcher.messages] == [IN_HOURS_NOTICE]
    [case] = cases(at_monday_morning)
    assert (case.conversation_id, case.patient_phone, case.reason) == (
        SENDER,
        "+447700900001",
        Reason.ASKED_FOR_HUMAN,
    )
    assert (
        case.transcript
        == "Patient: hi\nCarebot: Hello! I'm the assistant.\nPatient: I want to talk to a person"
    )
    assert len(at_monday_morning.twilio.to(ON_CALL)) == 1  # the on-call phone was alerted once


async def test_out_of_hours_the_notice_says_when_staff_are_back(
    at_monday_morning, make_tracker, dispatcher, domain
):
    at_monday_morning.service.clock = lambda: SATURDAY_EVENING.astimezone(dt.timezone.utc)
    tracker = make_tracker(
        text="nurse please", intent="ask_human", events=[user("nurse please", "ask_human")]
    )
    assert await ActionHandOffToStaff().run(dispatcher, tracker, domain) == PAUSED
    assert dispatcher.messages[0]["text"] == (
        "I've passed this to our team. We're closed now, so someone will reply here on Monday 30 November from "
        "08:00. If it's an emergency call 999; for urgent medical advice call 111."
    )


async def test_a_photo_goes_to_staff_with_its_link(at_monday_morning, make_tracker, dispatcher, domain):
    media = [
        {
            "url": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
            "content_type": "image/jpeg",
        }
    ]
    payload = '/send_media{"media_type": "image"}'
    tracker = make_tracker(
        text=payload,
        intent="send_media",
        metadata={"media": media},
        events=[user(payload, "send_media", {"media": media})],
    )
    assert await ActionHandOffToStaff().run(dispatcher, tracker, domain) == PAUSED
    assert [m["text"] for m in dispatcher.messages] == [
        "Thanks for sending that. I can't open photos or documents myself, so a person will look at it.",
        IN_HOURS_NOTICE,
    ]
    [case] = cases(at_monday_morning)
    assert case.reason == Reason.MEDIA
    assert case.transcript == f"Patient: [image/jpeg: {media[0]['url']}]"


async def test_words_that_only_sound_like_a_photo_open_no_case(
    at_monday_morning, make_tracker, dispatcher, domain
):
    text = "here is a photo of my rash"  # read as send_media, but nothing was attached
    tracker = make_tracker(text=text, intent="send_media", events=[user(text, "send_media")])
    assert await ActionHandOffToStaff().run(dispatcher, tracker, domain) == []
    assert [m["text"] for m in dispatcher.messages] == [
        "I can't see a photo or file with that message. To send one, attach it here. Or tell me in words what's "
        'wrong and I can help, or say "talk to a person".'
    ]
    assert cases(at_monday_morning) == []


async def test_misunderstood_messages_are_repaired_and_never_open_a_case(
    at_monday_morning, make_tracker, dispatcher, domain
):
    listen = [{"event": "followup", "name": "action_listen", "timestamp": None}]
    first = make_tracker(text="qwerty", intent="nlu_fallback", events=[user("qwerty", "nlu_fallback")])
    assert await ActionFallback().run(dispatcher, first, domain) == listen
    assert [m["text"] for m in dispatcher.messages] == [
        "Sorry, I didn't understand that. I can book, change or cancel an appointment, check a symptom, set a medicine "
        "reminder or answer questions about the clinic. Could you say it another way?"
    ]

    for earlier in (fallback_turn("qwerty"), fallback_turn("qwerty") + fallback_turn("asdf")):
        dispatcher.messages.clear()
        again = make_tracker(
            text="zxcv", intent="nlu_fallback", events=earlier + [user("zxcv", "nlu_fallback")]
        )
        assert await ActionFallback().run(dispatcher, again, domain) == listen
        assert dispatcher.messages == [
            {
                **dispatcher.messages[0],
                "text": "Sorry, I still didn't understand. Reply 1 to talk to a person, or 2 to see what I can do.",
                "buttons": [
                    {"title": "Talk to a person", "payload": "/ask_human"},
                    {"title": "See what I can do", "payload": "/help"},
                ],
            }
        ]
    assert cases(at_monday_morning) == []
    assert at_monday_morning.twilio.to(ON_CALL) == []


async def test_a_triage_call_back_uses_the_shared_function(at_monday_morning, make_tracker, dispatcher):
    tracker = make_tracker(
        text="my chest hurts", intent="describe_symptoms", events=[user("my chest hurts", "x")]
    )
    assert await open_handoff(tracker, Reason.TRIAGE_CALLBACK, dispatcher) == PAUSED
    assert [m["text"] for m in dispatcher.messages] == [IN_HOURS_NOTICE]
    assert [c.reason for c in cases(at_monday_morning)] == [Reason.TRIAGE_CALLBACK]


async def test_a_second_trigger_while_a_case_is_open_adds_no_case(
    at_monday_morning, make_tracker, dispatcher, domain
):
    tracker = make_tracker(
        text="a person please", intent="ask_human", events=[user("a person please", "ask_human")]
    )
    await ActionHandOffToStaff().run(dispatcher, tracker, domain)
    assert await open_handoff(tracker, Reason.TRIAGE_CALLBACK, dispatcher) == PAUSED
    assert len(cases(at_monday_morning)) == 1
    assert len(at_monday_morning.twilio.to(ON_CALL)) == 1


@pytest.mark.parametrize("problem", ["down", "wrong token", "no phone number"])
async def test_without_a_case_the_patient_gets_the_phone_and_the_bot_stays_on(
    backend,
    monkeypatch,
    make_tracker,
    dispatcher,
    domain,
    clinic,
    problem,
):
    monkeypatch.setenv("SCHEDULING_TOKEN", "wrong" if problem == "wrong token" else API_TOKEN)
    monkeypatch.setenv("BACKEND_URL", "http://127.0.0.1:9" if problem == "down" else backend.url)
    sender = "rest-user-7" if problem == "no phone number" else SENDER
    tracker = make_tracker(
        text="talk to a human",
        intent="ask_human",
        events=[user("talk to a human", "ask_human")],
        sender_id=sender,
    )
    assert await ActionHandOffToStaff().run(dispatcher, tracker, domain) == []
    what_happened = (
        "I can't pass this chat to our team: they reply by WhatsApp, and this chat has no phone number."
        if problem == "no phone number"  # refused by the backend (400): not an outage, nothing to try again
        else "I couldn't pass this to our team just now."
    )
    assert [m["text"] for m in dispatcher.messages] == [
        f"Sorry, {what_happened} Please call us on {clinic.phone}. For urgent medical "
        f"advice call {clinic.urgent_advice_line}; in an emergency call {clinic.emergency_number}."
    ]
    assert cases(backend) == []


# --- pure parts ------------------------------------------------------------------------------------------------------


def test_misunderstood_count_is_broken_by_an_understood_turn_a_handoff_or_a_new_session():
    understood = [user("hi", "greet"), action("utter_greet"), action("action_listen")]
    latest = [user("zzz", "nlu_fallback")]
    assert misunderstood_in_a_row(latest) == 1
    assert misunderstood_in_a_row(fallback_turn("a") + latest) == 2
    assert misunderstood_in_a_row(fallback_turn("a") + understood + latest) == 1
    assert (
        misunderstood_in_a_row(fallback_turn("a") + [{"event": "pause"}, {"event": "resume"}] + latest) == 1
    )
    assert misunderstood_in_a_row(fallback_turn("a") + [{"event": "session_started"}] + latest) == 1
    # A core fallback (the policies, not the NLU, were unsure) counts too: what matters is the fallback answered.
    core = [
        user("book a flight to the moon", "book_appointment"),
        action("action_fallback"),
        action("action_listen"),
    ]
    assert misunderstood_in_a_row(core + latest) == 2


def test_transcript_keeps_the_last_messages_and_names_payloads(make_tracker):
    events = []
    for number in range(15):
        events += [user(f"message {number}", "inform"), bot(f"answer {number}")]
    events.append(user('/choose_option{"option": "2"}', "choose_option"))
    lines = transcript_excerpt(make_tracker(events=events)).splitlines()
    assert len(lines) == 12
    assert lines[0] == "Carebot: answer 9" and lines[-2:] == [
        "Carebot: answer 14",
        "Patient: [choose option]",
    ]
