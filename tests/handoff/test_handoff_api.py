"""The handoff JSON API over real HTTP on loopback, with the backend's bearer check and a Twilio stand-in."""

import datetime as dt
import json

import pytest
from handoff_harness import ON_CALL, PATIENT

from carebot.handoff.model import REASON_LABELS, Reason
from carebot.handoff.service import patient_notice

pytestmark = pytest.mark.asyncio
STAFF_ALERT_SID = "HX00000000000000000000000000000004"  # clinic.yml whatsapp.templates.handoff_alert
REASONS = ["asked_for_human", "repeated_fallback", "triage_callback", "media"]


@pytest.mark.parametrize("reason", REASONS)
async def test_each_trigger_creates_exactly_one_case_and_pauses(backend, reason):
    conversation = f"+44770090{REASONS.index(reason):04d}"
    first = await backend.open_case(conversation, reason, transcript="patient: hello")
    others = [await backend.open_case(conversation, r) for r in REASONS]
    assert first["created"] is True and first["case"]["reason"] == reason
    assert [o["created"] for o in others] == [False] * 4
    assert {o["case"]["id"] for o in others} == {first["case"]["id"]}
    assert await backend.api("GET", f"/api/handoff/conversations/{conversation}") == (
        200,
        {"paused": True, "case_id": first["case"]["id"]},
    )
    open_cases = backend.service.store.list_open()
    assert [c.id for c in open_cases] == [first["case"]["id"]]
    # Staff were alerted once, on the on-call number: the phone has not written in 24 h, so by the approved template.
    [alert] = backend.twilio.to(ON_CALL)
    case_id = first["case"]["id"]
    assert alert["ContentSid"] == STAFF_ALERT_SID and "Body" not in alert
    assert json.loads(alert["ContentVariables"]) == {
        "1": str(case_id),
        "2": REASON_LABELS[Reason(reason)],
        "3": f"https://clinic.example/inbox/staff/cases/{case_id}",
    }


async def test_alert_is_free_text_when_the_on_call_phone_wrote_recently(backend):
    backend.service.contacts.record_inbound(ON_CALL)
    case_id = (await backend.open_case(PATIENT, "triage_callback", transcript="patient: chest pain"))["case"][
        "id"
    ]
    [alert] = backend.twilio.to(ON_CALL)
    assert alert["Body"] == (
        f"Carebot: new case #{case_id} (triage call-back) from the patient on …0555. "
        f"Open the staff inbox: https://clinic.example/inbox/staff/cases/{case_id}"
    )


async def test_the_patient_notice_comes_back_for_the_bot_to_send(backend, clinic):
    body = await backend.open_case(PATIENT)
    assert body["patient_notice"] == patient_notice(clinic, dt.datetime.now(dt.timezone.utc))
    assert body["patient_notice"].startswith("I've passed this to our team.")


async def test_messages_while_waiting_are_appended_not_answered(backend):
    assert await backend.api("POST", "/api/handoff/messages", {"conversation_id": PATIENT, "text": "hi"}) == (
        200,
        {"paused": False, "case_id": None},
    )
    case_id = (await backend.open_case(PATIENT))["case"]["id"]
    assert await backend.api(
        "POST", "/api/handoff/messages", {"conversation_id": PATIENT, "text": "anyone?"}
    ) == (200, {"paused": True, "case_id": case_id})
    [event] = backend.service.store.events(case_id)
    assert (event.kind.value, event.text) == ("patient_message", "anyone?")


async def test_the_api_needs_the_bearer_token(backend):
    status, body = await backend.api(
        "POST", "/api/handoff/cases", {"conversation_id": PATIENT, "reason": "media"}, token="wrong"
    )
    assert status == 401 and body["issue"][0]["code"] == "login"
    assert backend.service.store.list_open() == []


@pytest.mark.parametrize(
    "body, message",
    [
        ({"reason": "media"}, "'conversation_id' must be a non-empty string"),
        (
            {"conversation_id": PATIENT, "reason": "bored"},
            "'reason' must be one of asked_for_human, repeated_fallback, triage_callback, media, identity_locked",
        ),
        (
            {"conversation_id": "web-chat-7", "reason": "media"},
            "'patient_phone' (or a phone-number conversation id) must be a number like +447700900123",
        ),
        ({"conversation_id": PATIENT, "reason": "media", "transcript": 7}, "'transcript' must be a string"),
        (["not", "an", "object"], "the body must be a JSON object"),
    ],
)
async def test_bad_requests_are_refused_clearly(backend, body, message):
    status, outcome = await backend.api("POST", "/api/handoff/cases", body)
    assert status == 400 and outcome["issue"][0]["diagnostics"] == message
    assert backend.service.store.list_open() == []


async def test_phone_defaults_to_the_whatsapp_conversation_id(backend):
    body = await backend.open_case("whatsapp:+44 7700 900777")
    assert backend.service.store.get(body["case"]["id"]).patient_phone == "+447700900777"
