"""Inbound side of the WhatsApp channel over real HTTP: signatures, acknowledgement, de-duplication, media,
location, buttons, opt-out words and per-patient ordering."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any, Callable

import pytest

from carebot.channels.contacts import ContactStore
from carebot.channels.signature import sign
from carebot.channels.ttl_store import RedisTTLStore
from carebot.clinic import TapToAnswer
from tests.channels.whatsapp_harness import (
    AUTH_TOKEN,
    PATIENT,
    PUBLIC_URL,
    STATUS_PATH,
    TEMPLATES,
    WEBHOOK_PATH,
    Harness,
)

pytestmark = pytest.mark.asyncio


def signature_for(form: dict) -> str:
    """What Twilio would have sent for this form at the public webhook URL."""
    return sign(AUTH_TOKEN, PUBLIC_URL + WEBHOOK_PATH, form)


async def test_photo_without_caption_passes_signature_and_becomes_media_intent(harness: Harness) -> None:
    form = harness.message(
        body="",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
    )
    response = await harness.post(form)
    assert response.status == 204
    [message] = await harness.bot.wait_for(1)
    assert message.text == '/send_media{"media_type": "image"}'
    assert message.sender_id == f"whatsapp:{PATIENT}"
    assert message.input_channel == "whatsapp"
    assert message.message_id == form["MessageSid"]
    assert message.metadata["media"] == [{"url": form["MediaUrl0"], "content_type": "image/jpeg"}]
    assert message.metadata["wa_id"] == PATIENT.lstrip("+")
    assert message.metadata["profile_name"] == "Alex Patient"


async def test_photo_with_caption_keeps_the_caption_as_text(harness: Harness) -> None:
    form = harness.message(
        body="my rash", NumMedia="1", MediaUrl0="https://x/ME1", MediaContentType0="image/png"
    )
    assert (await harness.post(form)).status == 204
    [message] = await harness.bot.wait_for(1)
    assert message.text == "my rash"
    assert message.metadata["media"][0]["content_type"] == "image/png"


async def test_location_without_text_becomes_share_location_intent(harness: Harness) -> None:
    form = harness.message(
        body="", Latitude="51.5072", Longitude="-0.1276", Address="Trafalgar Sq", Label="Home"
    )
    assert (await harness.post(form)).status == 204
    [message] = await harness.bot.wait_for(1)
    assert message.text == "/share_location"
    assert message.metadata["location"] == {
        "latitude": 51.5072,
        "longitude": -0.1276,
        "address": "Trafalgar Sq",
        "label": "Home",
    }


@pytest.mark.parametrize(
    "case",
    ["missing header", "tampered field", "wrong scheme", "wrong port", "wrong token", "added field"],
)
async def test_bad_signatures_are_refused_and_nothing_is_processed(harness: Harness, case: str) -> None:
    form = harness.message("book me in")
    signed = dict(form)
    kwargs: dict = {}
    if case == "missing header":
        kwargs["signature"] = None
    elif case == "tampered field":
        kwargs["signature"] = signature_for(signed)
        form["From"] = "whatsapp:+447700900999"  # someone posting as another patient
    elif case == "wrong scheme":
        kwargs["signed_as"] = PUBLIC_URL.replace("https://", "http://") + WEBHOOK_PATH
    elif case == "wrong port":
        kwargs["signed_as"] = PUBLIC_URL + ":8443" + WEBHOOK_PATH
    elif case == "wrong token":
        kwargs["token"] = "not-the-token"
    elif case == "added field":
        kwargs["signature"] = signature_for(signed)
        form["ButtonPayload"] = "/affirm"
    response = await harness.post(form, **kwargs)
    assert response.status == 403
    await harness.channel.drained()  # a wrongly started background task would have run by now
    assert harness.bot.messages == []
    assert harness.twilio.requests == []


async def test_signature_over_the_explicit_default_port_is_accepted(harness: Harness) -> None:
    form = harness.message("hello")
    response = await harness.post(form, signed_as=PUBLIC_URL + ":443" + WEBHOOK_PATH)
    assert response.status == 204
    assert (await harness.bot.wait_for(1))[0].text == "hello"


async def test_without_public_url_the_request_url_is_what_twilio_signed(
    make_harness: Callable[..., Any],
) -> None:
    harness = await make_harness(webhook_url="")
    form = harness.message("hello")
    assert (await harness.post(form)).status == 403  # signed for the public URL, which is not configured
    assert (await harness.post(form, signed_as=harness.base_url + WEBHOOK_PATH)).status == 204
    assert (await harness.bot.wait_for(1))[0].text == "hello"


async def test_acknowledges_before_the_bot_has_answered(harness: Harness) -> None:
    release = asyncio.Event()

    async def slow_bot(_: Any) -> None:
        await release.wait()

    harness.bot.before_reply = slow_bot
    harness.bot.respond = lambda message: [{"text": "done"}]
    assert (await harness.post(harness.message("hello"))).status == 204
    await harness.bot.wait_for(1)
    assert harness.twilio.requests == []  # acknowledged while the turn is still running
    release.set()
    await harness.twilio.wait_for(1)
    assert harness.twilio.bodies() == ["done"]


async def test_twilio_retries_of_one_message_are_answered_once(harness: Harness) -> None:
    harness.bot.respond = lambda message: [{"text": "Hello!"}]
    form = harness.message("hi")
    statuses = [(await harness.post(form)).status for _ in range(3)]
    assert statuses == [204, 204, 204]
    await harness.twilio.wait_for(1)
    await harness.channel.drained()
    assert len(harness.bot.messages) == 1
    assert harness.twilio.bodies() == ["Hello!"]


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="TEST_REDIS_URL not set")
async def test_replicas_sharing_redis_answer_a_retried_message_once(make_harness: Callable[..., Any]) -> None:
    prefix = f"carebot:test:{uuid.uuid4().hex}:"  # two Rasa replicas behind one load balancer
    first = await make_harness(store=RedisTTLStore(os.environ["TEST_REDIS_URL"], prefix=prefix))
    second = await make_harness(store=RedisTTLStore(os.environ["TEST_REDIS_URL"], prefix=prefix))
    form = first.message("hi")
    assert [(await h.post(form)).status for h in (first, second, first)] == [204, 204, 204]
    await first.bot.wait_for(1)
    await first.channel.drained()
    await second.channel.drained()
    assert len(first.bot.messages) + len(second.bot.messages) == 1


async def test_messages_of_one_patient_are_handled_and_answered_in_order(harness: Harness) -> None:
    async def first_is_slow(message: Any) -> None:
        if message.text == "first":
            await asyncio.sleep(0.2)

    harness.bot.before_reply = first_is_slow
    harness.bot.respond = lambda message: [{"text": f"reply to {message.text}"}]
    for text in ("first", "second", "third"):
        assert (await harness.post(harness.message(text))).status == 204
    await harness.twilio.wait_for(3)
    assert harness.bot.texts() == ["first", "second", "third"]
    assert harness.twilio.bodies() == ["reply to first", "reply to second", "reply to third"]


async def test_buttons_are_numbered_and_a_number_title_or_payload_selects_them(
    make_harness: Callable[..., Any],
) -> None:
    harness = await make_harness(tap_to_answer=TapToAnswer(enabled=False))  # the clinic turned buttons off
    buttons = [
        {"title": "Tuesday 10:00", "payload": '/choose_slot{"slot": "t1"}'},
        {"title": "Wednesday 14:30", "payload": '/choose_slot{"slot": "w1"}'},
        {"title": "None of these", "payload": "/deny"},
    ]
    harness.bot.respond = lambda message: (
        [{"text": "Which time suits you?", "buttons": buttons}] if message.text == "book" else []
    )
    for reply, expected in [
        ("2", buttons[1]["payload"]),
        ("tuesday 10:00", buttons[0]["payload"]),
        ("/deny", "/deny"),
    ]:
        count = len(harness.bot.messages)
        await harness.post(harness.message("book"))
        await harness.bot.wait_for(count + 1)
        await harness.post(harness.message(reply))
        messages = await harness.bot.wait_for(count + 2)
        assert messages[-1].text == expected
        assert messages[-1].metadata["button_reply"] == {"text": reply, "payload": expected}
    assert harness.twilio.bodies()[0] == (
        "Which time suits you?\n\n1. Tuesday 10:00\n2. Wednesday 14:30\n3. None of these"
    )


async def test_a_number_after_a_turn_without_buttons_stays_a_number(harness: Harness) -> None:
    harness.bot.respond = lambda message: (
        [{"text": "Pick one", "buttons": [{"title": "A", "payload": "/a"}, {"title": "B", "payload": "/b"}]}]
        if message.text == "menu"
        else [{"text": "How many tablets did you miss?"}]
    )
    for text in ("menu", "I missed some", "2"):
        await harness.post(harness.message(text))
        await harness.twilio.wait_for(len(harness.twilio.requests) + 1)
    assert harness.bot.texts() == ["menu", "I missed some", "2"]


async def test_out_of_range_number_is_passed_on_unchanged(harness: Harness) -> None:
    harness.bot.respond = lambda message: (
        [{"text": "Pick", "buttons": [{"title": "A", "payload": "/a"}]}] if message.text == "menu" else []
    )
    await harness.post(harness.message("menu"))
    await harness.twilio.wait_for(1)
    await harness.post(harness.message("7"))
    assert (await harness.bot.wait_for(2))[-1].text == "7"


async def test_stop_and_start_are_handled_by_the_channel(harness: Harness, contacts: ContactStore) -> None:
    harness.bot.respond = lambda message: [{"text": "noted"}]
    await harness.post(harness.message("Stop!"))
    await harness.twilio.wait_for(1)
    assert contacts.is_opted_out(PATIENT)
    assert "no longer receive" in harness.twilio.bodies()[0]
    assert harness.bot.messages == []

    result = await harness.channel.sender.send(PATIENT, text="Your reminder", template="medication_reminder")
    assert result.status == "opted_out"

    await harness.post(harness.message("can I book?"))  # not passed to the bot, but not met with silence
    await harness.twilio.wait_for(2)
    assert "START" in harness.twilio.bodies()[1]
    assert harness.bot.messages == []

    await harness.post(harness.message("start"))
    await harness.twilio.wait_for(3)
    assert not contacts.is_opted_out(PATIENT)
    assert "Welcome back" in harness.twilio.bodies()[2]

    await harness.post(harness.message("I want to stop my medication"))
    assert (await harness.bot.wait_for(1))[0].text == "I want to stop my medication"
    await harness.twilio.wait_for(4)
    assert harness.twilio.bodies()[3] == "noted"
    assert len(harness.twilio.requests) == 4


async def test_status_callback_63016_reopens_the_conversation_with_the_template_once(
    harness: Harness, contacts: ContactStore
) -> None:
    contacts.record_inbound(PATIENT)
    status = {
        "MessageSid": "SM" + "1" * 32,
        "MessageStatus": "failed",
        "ErrorCode": "63016",
        "To": f"whatsapp:{PATIENT}",
        "From": "whatsapp:+14155238886",
        "AccountSid": "AC1",
    }
    for _ in range(2):
        assert (await harness.post(status, path=STATUS_PATH)).status == 204
    [request] = await harness.twilio.wait_for(1)
    assert request["ContentSid"] == [TEMPLATES["conversation_reopen"]]
    assert "Body" not in request
    assert not contacts.in_window(PATIENT)
    await harness.channel.drained()
    assert len(harness.twilio.requests) == 1


async def test_status_callback_needs_a_valid_signature(harness: Harness) -> None:
    response = await harness.post(
        {"MessageSid": "SM1", "ErrorCode": "63016", "To": "whatsapp:+1"}, path=STATUS_PATH, signature="x"
    )
    assert response.status == 403


async def test_bot_failure_gets_an_apology_not_silence(harness: Harness) -> None:
    async def broken(_: Any) -> None:
        raise RuntimeError("tracker store down")

    harness.bot.before_reply = broken
    await harness.post(harness.message("hello"))
    await harness.twilio.wait_for(1)
    assert harness.twilio.bodies()[0].startswith("Sorry, something went wrong")


async def test_signed_request_that_is_not_a_message_is_a_clear_400(harness: Harness) -> None:
    response = await harness.post({"AccountSid": "AC1"})
    assert response.status == 400


async def test_template_quick_reply_payload_that_is_an_intent_goes_to_rasa_as_that_intent(
    harness: Harness,
) -> None:
    form = harness.message("Taken", ButtonPayload="/taken", ButtonText="Taken")
    await harness.post(form)
    [message] = await harness.bot.wait_for(1)
    assert message.text == "/taken"
    assert (message.metadata["button_payload"], message.metadata["button_text"]) == ("/taken", "Taken")
