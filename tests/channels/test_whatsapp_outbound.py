"""Outbound side over real HTTP against the Twilio stand-in: chunking, media, the 24-hour window and templates,
error 63016, retries (429, 5xx, refused connections) and reconciliation of unknown outcomes (timeouts, dropped
connections) through the outbox, sandbox mode and log masking."""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Callable

import pytest

from carebot.channels.contacts import ContactStore
from carebot.channels.twilio_sender import OutboxRelay, WhatsAppSender
from tests.channels.whatsapp_harness import (
    CLINIC_NUMBER,
    PATIENT,
    TEMPLATES,
    Harness,
    ManualClock,
    TwilioStandIn,
    twilio_error,
)

pytestmark = pytest.mark.asyncio

SenderFactory = Callable[..., WhatsAppSender]


def long_reply(length: int = 5000) -> str:
    sentences, index = [], 0
    while sum(len(s) + 1 for s in sentences) < length:
        index += 1
        sentences.append(f"Sentence number {index} explains one more step of the preparation for your visit.")
    return " ".join(sentences)


async def test_5000_character_reply_leaves_in_order_in_sentence_chunks(harness: Harness) -> None:
    text = long_reply()
    harness.bot.respond = lambda message: [{"text": text}]
    await harness.post(harness.message("how do I prepare?"))
    await harness.twilio.wait_for(4)
    bodies = harness.twilio.bodies()
    assert len(bodies) == 4 and all(len(body) <= 1600 for body in bodies)
    assert all(body.endswith("visit.") for body in bodies)
    assert " ".join(bodies) == text
    assert all(
        r["To"] == [f"whatsapp:{PATIENT}"] and r["From"] == [f"whatsapp:{CLINIC_NUMBER}"]
        for r in harness.twilio.requests
    )
    # Each part's callback names its outbox message and part, so a callback can settle a timed-out POST.
    callbacks = [r["StatusCallback"][0] for r in harness.twilio.requests]
    outbox_id = callbacks[0].split("outbox=")[1].split(".")[0]
    assert callbacks == [
        f"https://carebot.example.org/webhooks/whatsapp/status?outbox={outbox_id}.{part}" for part in range(4)
    ]


async def test_image_is_sent_as_media_url(harness: Harness) -> None:
    harness.bot.respond = lambda message: [{"image": "https://clinic.example.org/map.png"}]
    await harness.post(harness.message("where are you?"))
    [request] = await harness.twilio.wait_for(1)
    assert request["MediaUrl"] == ["https://clinic.example.org/map.png"]
    assert "Body" not in request


async def test_inside_the_window_text_is_sent_even_when_a_template_is_offered(
    sender_factory: SenderFactory, twilio: TwilioStandIn, contacts: ContactStore
) -> None:
    contacts.record_inbound(PATIENT)
    result = await sender_factory().send(PATIENT, text="Take 1 tablet now", template="medication_reminder")
    assert result.status == "sent" and not result.via_template
    assert twilio.bodies() == ["Take 1 tablet now"]


async def test_outside_the_window_the_template_is_sent_without_body(
    sender_factory: SenderFactory, twilio: TwilioStandIn, contacts: ContactStore
) -> None:
    result = await sender_factory().send(
        f"whatsapp:{PATIENT}",
        text="Take 1 tablet now",
        template="medication_reminder",
        variables={"1": "Ramipril", "2": "08:00"},
    )
    [request] = twilio.requests
    assert result.status == "sent" and result.via_template
    assert request["ContentSid"] == [TEMPLATES["medication_reminder"]]
    assert json.loads(request["ContentVariables"][0]) == {"1": "Ramipril", "2": "08:00"}
    assert "Body" not in request


async def test_window_is_counted_from_the_last_inbound_message(
    sender_factory: SenderFactory, twilio: TwilioStandIn, contacts: ContactStore
) -> None:
    import datetime as dt

    contacts.record_inbound(PATIENT, dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=25))
    await sender_factory().send(PATIENT, text="Are you still there?")
    assert twilio.requests[0]["ContentSid"] == [TEMPLATES["conversation_reopen"]]


async def test_error_63016_falls_back_to_the_template(
    sender_factory: SenderFactory, twilio: TwilioStandIn, contacts: ContactStore
) -> None:
    contacts.record_inbound(PATIENT)  # we believe the window is open; Twilio knows better
    twilio.script = [twilio_error(400, 63016)]
    result = await sender_factory().send(
        PATIENT, text="Your results are ready", template="medication_reminder"
    )
    assert [("Body" in r, "ContentSid" in r) for r in twilio.requests] == [(True, False), (False, True)]
    assert result.status == "sent" and result.via_template
    assert not contacts.in_window(PATIENT)


async def test_template_sent_by_the_bot_as_custom_payload(harness: Harness) -> None:
    harness.bot.respond = lambda message: [
        {"custom": {"template": "medication_reminder", "variables": {"1": "x"}}}
    ]
    await harness.post(harness.message("hi"))
    [request] = await harness.twilio.wait_for(1)
    assert request["ContentSid"] == [TEMPLATES["medication_reminder"]]


@pytest.mark.parametrize("window_open", [True, False])
async def test_reminder_payload_is_quick_replies_inside_the_window_and_the_template_outside(
    harness: Harness, contacts: ContactStore, window_open: bool
) -> None:
    if window_open:
        contacts.record_inbound(PATIENT)
    reminder = {
        "text": "Time for your Ramipril 5 mg.",
        "template": "medication_reminder",
        "variables": {"1": "Ramipril 5 mg"},
        "buttons": [{"title": "Taken", "payload": "/taken"}, {"title": "Snooze", "payload": "/snooze"}],
    }
    await harness.channel.output.send_response(f"whatsapp:{PATIENT}", {"custom": reminder})
    [request] = await harness.twilio.wait_for(1)
    if window_open:
        shown = harness.twilio.shown(harness.twilio.accepted[0])
        assert "Body" not in request and shown["type"] == "twilio/quick-reply"
        assert shown["body"] == "Time for your Ramipril 5 mg."
        assert [action["title"] for action in shown["actions"]] == ["Taken", "Snooze"]
    else:
        assert request["ContentSid"] == [TEMPLATES["medication_reminder"]] and "Body" not in request
    await harness.post(harness.message("1"))
    assert (await harness.bot.wait_for(1))[0].text == ("/taken" if window_open else "1")


async def test_custom_payload_for_another_channel_is_skipped(harness: Harness) -> None:
    await harness.channel.output.send_response(f"whatsapp:{PATIENT}", {"custom": {"handoff": True}})
    assert harness.twilio.requests == []


async def test_unknown_template_is_a_reported_failure_not_a_post(
    sender_factory: SenderFactory, twilio: TwilioStandIn
) -> None:
    result = await sender_factory().send(PATIENT, template="no_such_template")
    assert result.status == "failed" and "no_such_template" in (result.error or "")
    assert twilio.requests == []


async def test_429_is_retried_with_backoff_then_succeeds(
    sender_factory: SenderFactory, twilio: TwilioStandIn, contacts: ContactStore
) -> None:
    contacts.record_inbound(PATIENT)
    twilio.script = [twilio_error(429, 20429), twilio_error(429, 20429)]
    sender = sender_factory()
    result = await sender.send(PATIENT, text="hello")
    assert result.status == "sent" and len(result.message_sids) == 1
    assert twilio.bodies() == ["hello", "hello", "hello"]
    first, second = sender.sleeps  # type: ignore[attr-defined]
    assert 0.005 <= first <= 0.015 and 0.01 <= second <= 0.03  # exponential, with jitter of ±50%


async def test_429_beyond_the_callers_attempts_is_left_to_the_relay_which_sends_it_once(
    sender_factory: SenderFactory, twilio: TwilioStandIn, contacts: ContactStore, clock: ManualClock
) -> None:
    contacts.record_inbound(PATIENT)
    twilio.script = [twilio_error(429, 20429)] * 3
    sender = sender_factory(max_attempts=3)
    result = await sender.send(PATIENT, text="hello")
    assert result.status == "queued" and result.error_code == 20429
    assert len(twilio.requests) == 3
    relay = OutboxRelay(sender)
    assert await relay.run_once() == 0  # its backoff has not passed: nothing is posted early
    clock.advance(120)
    assert await relay.run_once() == 1
    message = sender.outbox.get(result.outbox_id)
    assert message.state == "accepted" and len(message.sids) == 1 and message.text is None  # body dropped
    assert twilio.bodies() == ["hello"] * 4 and len(twilio.accepted) == 1


async def test_dropped_connection_is_reconciled_before_it_is_sent_again(
    sender_factory: SenderFactory, twilio: TwilioStandIn, contacts: ContactStore, clock: ManualClock
) -> None:
    contacts.record_inbound(PATIENT)
    twilio.script = [TwilioStandIn.DISCONNECT]
    sender = sender_factory()
    result = await sender.send(PATIENT, text="hello")
    assert result.status == "queued" and "outcome unknown" in (result.error or "")
    assert sender.outbox.get(result.outbox_id).state == "unknown"
    clock.advance(sender.settings.reconcile_after_seconds)
    await OutboxRelay(sender).run_once()  # Twilio's list shows nothing for the patient: safe to send again
    assert sender.outbox.get(result.outbox_id).state == "accepted"
    assert len(twilio.requests) == 2 and len(twilio.accepted) == 1


async def test_refused_connection_is_retried_then_queued_with_its_reason(
    sender_factory: SenderFactory, contacts: ContactStore
) -> None:
    contacts.record_inbound(PATIENT)
    sender = sender_factory(
        api_base_url="http://127.0.0.1:9", max_attempts=2
    )  # discard port: nothing listens
    result = await sender.send(PATIENT, text="hello")
    assert result.status == "queued" and "connection error" in (result.error or "")
    assert len(sender.sleeps) == 1  # type: ignore[attr-defined]


async def test_a_timeout_after_twilio_accepted_is_reconciled_from_its_list_not_posted_twice(
    sender_factory: SenderFactory, twilio: TwilioStandIn, contacts: ContactStore, clock: ManualClock
) -> None:
    contacts.record_inbound(PATIENT)
    twilio.script = [TwilioStandIn.ACCEPT_THEN_HANG]
    sender = sender_factory(timeout_seconds=0.2)
    result = await sender.send(PATIENT, text="hello")
    assert result.status == "queued" and len(twilio.requests) == 1
    later = await sender.send(PATIENT, text="and then this")  # waits behind the unknown one: order is kept
    assert later.status == "queued" and len(twilio.requests) == 1
    clock.advance(sender.settings.reconcile_after_seconds)
    await OutboxRelay(sender).run_once()
    first, second = sender.outbox.get(result.outbox_id), sender.outbox.get(later.outbox_id)
    assert first.state == second.state == "accepted"
    assert first.sids == [twilio.accepted[0].sid]
    assert twilio.bodies() == ["hello", "and then this"]


async def test_5xx_is_retried_and_the_next_message_waits_its_turn(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.twilio.script = [twilio_error(500, 20500), twilio_error(503, 20503)]
    harness.bot.respond = lambda message: [{"text": "first"}, {"text": "second"}]
    with caplog.at_level(logging.INFO):
        await harness.post(harness.message("hi"))
        await harness.twilio.wait_for(4)
    assert harness.twilio.bodies() == ["first", "first", "first", "second"]
    assert [a.body for a in harness.twilio.accepted] == ["first", "second"]
    assert any("HTTP 500" in r.getMessage() for r in caplog.records)


async def test_buttons_replaced_by_the_template_are_not_remembered(harness: Harness) -> None:
    buttons = [{"title": "Yes", "payload": "/affirm"}]  # e.g. a reminder a day after the patient last wrote
    await harness.channel.output.send_text_with_buttons(f"whatsapp:{PATIENT}", "Did you take it?", buttons)
    [request] = await harness.twilio.wait_for(1)
    assert "ContentSid" in request
    await harness.post(harness.message("1"))
    assert (await harness.bot.wait_for(1))[0].text == "1"


async def test_sandbox_mode_logs_instead_of_posting(
    make_harness: Callable[..., Any], twilio: TwilioStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    harness = await make_harness(account_sid="", whatsapp_number="")
    harness.bot.respond = lambda message: [{"text": "Hello from the sandbox"}]
    with caplog.at_level(logging.INFO):
        await harness.post(harness.message("hi"))
        await harness.bot.wait_for(1)
        await harness.channel.drained()
    assert any("would send text (22 chars) to …0123" in r.getMessage() for r in caplog.records)
    assert twilio.requests == []


async def test_logs_at_info_hold_no_bodies_media_urls_or_full_numbers(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    secret_text = "my chest hurts since Tuesday"
    media_url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM9/Media/ME9"
    harness.bot.respond = lambda message: [{"text": "Please call 999 now, this could be serious."}]
    harness.twilio.script = [twilio_error(429, 20429), twilio_error(500, 20500)]
    with caplog.at_level(logging.INFO):
        await harness.post(
            harness.message(secret_text, NumMedia="1", MediaUrl0=media_url, MediaContentType0="image/jpeg")
        )
        await harness.twilio.wait_for(2)
        await harness.post(harness.message("STOP"))
        await harness.twilio.wait_for(3)
        await harness.post(harness.message("hi"), signature="forged")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "…0123" in logged  # the patient is still traceable in the logs
    for leaked in (secret_text, media_url, "call 999", PATIENT, PATIENT.lstrip("+")):
        assert leaked not in logged
    assert not re.search(r"\+?44770090\d{4}", logged)


async def test_text_held_outside_the_window_is_delivered_when_the_patient_replies(
    harness: Harness, contacts: ContactStore
) -> None:
    held = await harness.channel.sender.send(PATIENT, text="Your blood test results are ready to discuss.")
    assert held.via_template
    harness.bot.respond = lambda message: [{"text": "How can I help?"}]
    await harness.post(harness.message("ok"))
    requests = await harness.twilio.wait_for(3)
    assert requests[0]["ContentSid"] == [TEMPLATES["conversation_reopen"]]
    assert harness.twilio.bodies()[1:] == ["Your blood test results are ready to discuss.", "How can I help?"]
    assert contacts.take_held(PATIENT) == []


async def test_stop_discards_held_messages(harness: Harness, contacts: ContactStore) -> None:
    await harness.channel.sender.send(PATIENT, text="Held while the window is closed.")
    await harness.post(harness.message("STOP"))
    await harness.twilio.wait_for(2)
    assert contacts.take_held(PATIENT) == []
    assert "Held while" not in "".join(harness.twilio.bodies())
