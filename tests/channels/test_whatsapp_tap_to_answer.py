"""Tap-to-answer on WhatsApp, end to end through the channel and the Twilio stand-in: an offer inside the 24-hour
window goes as quick replies (<= 3) or a list picker (<= 10) through a Content API template made once per shape; a
tap (ButtonPayload / ListId) selects exactly what typing the option's number selects; the numbered text is the
fallback whenever the buttons cannot go."""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List

import pytest

from carebot.channels.buttons import LIST_PICKER, QUICK_REPLY, Button, offer_tag, tap_offer
from carebot.channels.contacts import ContactStore
from carebot.channels.twilio_sender import WhatsAppSender
from carebot.clinic import TapToAnswer
from tests.channels.whatsapp_harness import PATIENT, Harness, ManualClock, TwilioStandIn, twilio_error

pytestmark = pytest.mark.asyncio

SLOTS = [
    {"title": "Tuesday 10:00", "payload": '/choose_slot{"slot": "t1"}'},
    {"title": "Wednesday 14:30", "payload": '/choose_slot{"slot": "w1"}'},
    {"title": "None of these", "payload": "/deny"},
]
MANY = [
    {"title": f"Thursday {hour}:00", "payload": f'/choose_slot{{"slot": "th{hour}"}}'}
    for hour in range(9, 16)
]


def offering(buttons: List[Dict[str, str]]) -> Callable[[Any], List[Dict[str, Any]]]:
    """The scripted bot: offers `buttons` when asked to book, answers nothing else."""
    return lambda message: (
        [{"text": "Which time suits you?", "buttons": buttons}] if message.text == "book" else []
    )


async def offer_then_answer(harness: Harness, **reply: str) -> str:
    """Have the bot offer its buttons, answer with the given inbound fields, and return what the bot received."""
    count = len(harness.bot.messages)
    await harness.post(harness.message("book"))
    await harness.bot.wait_for(count + 1)
    await harness.twilio.wait_for(len(harness.twilio.requests) + 1)
    await harness.post(harness.message(**reply))
    return (await harness.bot.wait_for(count + 2))[-1].text


def last_shown(twilio: TwilioStandIn) -> Dict[str, Any]:
    return twilio.shown(twilio.accepted[-1])


async def test_three_options_go_as_quick_replies_and_a_tap_selects_like_the_number(harness: Harness) -> None:
    harness.bot.respond = offering(SLOTS)
    typed = await offer_then_answer(harness, body="2")
    shown = last_shown(harness.twilio)
    assert shown["type"] == QUICK_REPLY and shown["body"] == "Which time suits you?"
    assert [a["title"] for a in shown["actions"]] == [s["title"] for s in SLOTS]
    assert "Body" not in harness.twilio.requests[-1]
    tapped = await offer_then_answer(
        harness, body="Wednesday 14:30", ButtonText="Wednesday 14:30", ButtonPayload=shown["actions"][1]["id"]
    )
    assert typed == tapped == SLOTS[1]["payload"]


async def test_up_to_ten_options_go_as_a_list_picker_and_a_picked_row_selects_like_the_number(
    harness: Harness,
) -> None:
    harness.bot.respond = offering(MANY)
    typed = await offer_then_answer(harness, body="6")
    shown = last_shown(harness.twilio)
    assert shown["type"] == LIST_PICKER and shown["button"] == "Choose"
    assert [item["item"] for item in shown["items"]] == [m["title"] for m in MANY]
    picked = await offer_then_answer(
        harness, body="Thursday 14:00", ListTitle="Thursday 14:00", ListId=shown["items"][5]["id"]
    )
    assert typed == picked == MANY[5]["payload"]


async def test_a_tap_on_an_older_offer_selects_nothing(harness: Harness) -> None:
    harness.bot.respond = lambda message: (
        [{"text": "Which time suits you?", "buttons": SLOTS}]
        if message.text == "book"
        else [{"text": "Is that right?", "buttons": [{"title": "Yes", "payload": "/affirm"}]}]
    )
    await harness.post(harness.message("book"))
    await harness.twilio.wait_for(1)
    old_id = last_shown(harness.twilio)["actions"][0]["id"]
    await harness.post(harness.message("go on"))
    await harness.twilio.wait_for(2)
    await harness.post(harness.message("Tuesday 10:00", ButtonPayload=old_id, ButtonText="Tuesday 10:00"))
    # Not "/affirm" (option 1 of the latest offer): the old button's words reach the bot as words.
    assert (await harness.bot.wait_for(3))[-1].text == "Tuesday 10:00"


async def test_each_shape_is_created_once_and_then_read_from_the_database(
    harness: Harness, sender_factory: Callable[..., WhatsAppSender]
) -> None:
    harness.bot.respond = offering(SLOTS)
    for _ in range(3):
        await offer_then_answer(harness, body="1")
    assert len(harness.twilio.contents) == 1  # three offers of three options: one template
    replica = sender_factory()  # another process on the same channel database: no Content API call
    sid = await replica.content.sid_for(
        tap_offer("Other words", [Button("A", "/a"), Button("B", "/b"), Button("C", "/c")])
    )
    assert sid in harness.twilio.contents and len(harness.twilio.contents) == 1


async def test_the_content_api_down_means_numbered_text_and_no_call_per_message(harness: Harness) -> None:
    harness.twilio.content_down = True
    harness.bot.respond = offering(SLOTS)
    calls_before = len(harness.twilio.requests)
    for _ in range(2):
        assert await offer_then_answer(harness, body="3") == "/deny"
    bodies = harness.twilio.bodies()[calls_before:]
    assert bodies == ["Which time suits you?\n\n1. Tuesday 10:00\n2. Wednesday 14:30\n3. None of these"] * 2
    assert harness.twilio.contents == {}


async def test_twilio_refusing_the_buttons_sends_the_numbered_text(
    harness: Harness, contacts: ContactStore
) -> None:
    contacts.record_inbound(PATIENT)
    harness.twilio.script = [twilio_error(400, 21656)]  # e.g. the template was deleted in the console
    harness.bot.respond = offering(SLOTS)
    assert await offer_then_answer(harness, body="1") == SLOTS[0]["payload"]
    refused, sent = harness.twilio.requests[-2:]
    assert "ContentSid" in refused and "Body" not in refused
    assert sent["Body"][0].endswith("3. None of these")


@pytest.mark.parametrize(
    "buttons",
    [
        [{"title": f"Slot {n}", "payload": f"/s{n}"} for n in range(11)],  # more than a list picker holds
        [{"title": "A title far longer than WhatsApp lets a list row be", "payload": "/long"}],
    ],
)
async def test_offers_whatsapp_cannot_show_stay_numbered(
    harness: Harness, buttons: List[Dict[str, str]]
) -> None:
    harness.bot.respond = offering(buttons)
    assert await offer_then_answer(harness, body="1") == buttons[0]["payload"]
    assert harness.twilio.bodies()[0].startswith("Which time suits you?\n\n1. ")
    assert harness.twilio.contents == {}


async def test_a_queued_offer_is_sent_as_buttons_by_the_relay_in_another_process(
    sender_factory: Callable[..., WhatsAppSender],
    twilio: TwilioStandIn,
    contacts: ContactStore,
    clock: ManualClock,
) -> None:
    """A 503 leaves the offer to the relay; a process that never made the template loads it and sends buttons."""
    contacts.record_inbound(PATIENT)
    twilio.script = [twilio_error(503, 20503)] * 4
    offer = tap_offer("Pick one", [Button("Yes", "/affirm"), Button("No", "/deny")])
    first = await sender_factory().send(PATIENT, text="Pick one\n\n1. Yes\n2. No", offer=offer)
    assert first.status == "queued"
    twilio.script.clear()
    clock.advance(120)
    relay_sender = sender_factory()
    await relay_sender.drain(PATIENT)
    assert relay_sender.outbox.get(first.outbox_id or 0).state == "accepted"
    assert twilio.shown(twilio.accepted[-1])["body"] == "Pick one" and len(twilio.contents) == 1
    assert (
        json.loads(twilio.accepted[-1].content_variables)["i2"]
        == f"{offer_tag([Button('Yes', '/affirm'), Button('No', '/deny')])}.2"
    )


def test_tap_offer_picks_the_type_by_count_and_title_length() -> None:
    three = [Button(f"Option {n}", f"/o{n}") for n in range(3)]
    assert (tap_offer("Pick", three) or pytest.fail()).kind == QUICK_REPLY
    assert (tap_offer("Pick", three + [Button("Four", "/4")]) or pytest.fail()).kind == LIST_PICKER
    long_title = [Button("Twenty-one characters", "/x")]  # too long for a quick reply, fits a list row
    assert (tap_offer("Pick", long_title) or pytest.fail()).kind == LIST_PICKER
    assert tap_offer("", three) is None  # WhatsApp needs a prompt above the buttons
    assert tap_offer("x" * 1025, three) is None


async def test_the_clinic_can_turn_buttons_off(make_harness: Callable[..., Any]) -> None:
    harness = await make_harness(tap_to_answer=TapToAnswer(enabled=False))
    harness.bot.respond = offering(SLOTS)
    assert await offer_then_answer(harness, body="2") == SLOTS[1]["payload"]
    assert harness.twilio.bodies()[0].endswith("2. Wednesday 14:30\n3. None of these")
    assert harness.twilio.contents == {}
