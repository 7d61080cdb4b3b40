"""Meta's messaging tier against the Twilio stand-in: templates that open conversations reach at most
`daily_recipient_limit` different patients per rolling 24 hours, whichever process sends them; the rest wait in the
outbox for a place (or become dead letters with the reason), and nothing inside the 24-hour window counts."""

from __future__ import annotations

from typing import Callable, List

import pytest

from carebot.channels.contacts import ContactStore
from carebot.channels.twilio_sender import OutboxRelay, SendResult, WhatsAppSender
from tests.channels.whatsapp_harness import ManualClock, TwilioStandIn

pytestmark = pytest.mark.asyncio

PATIENTS = [f"+4477009001{n:02d}" for n in range(4)]


async def remind(sender: WhatsAppSender, phone: str) -> SendResult:
    return await sender.send(
        phone, "Time for your metformin.", template="medication_reminder", kind="medication_reminder"
    )


async def statuses(senders: List[WhatsAppSender], phones: List[str]) -> List[str]:
    return [(await remind(sender, phone)).status for sender, phone in zip(senders, phones)]


def recipients(twilio: TwilioStandIn) -> List[str]:
    return [accepted.to.removeprefix("whatsapp:") for accepted in twilio.accepted]


async def test_templates_wait_for_a_place_under_the_tier_and_go_when_one_frees(
    sender_factory: Callable[..., WhatsAppSender], twilio: TwilioStandIn, clock: ManualClock
) -> None:
    sender = sender_factory(daily_recipient_limit=2)
    assert await statuses([sender] * 2, PATIENTS[:2]) == ["sent", "sent"]
    clock.advance(23 * 60 * 60)
    waiting = await remind(sender, PATIENTS[2])
    assert waiting.status == "queued" and "limit of 2 patients a day" in (waiting.error or "")
    assert (await remind(sender, PATIENTS[0])).status == "sent"  # counted in the last 24 h: no new place
    relay = OutboxRelay(sender)
    clock.advance(30 * 60)  # the first places are 23.5 hours old: still taken
    await relay.run_once()
    assert recipients(twilio) == [PATIENTS[0], PATIENTS[1], PATIENTS[0]]
    clock.advance(30 * 60 + 1)  # 24 hours: PATIENTS[1]'s place is free again
    await relay.run_once()
    assert (
        recipients(twilio)[-1] == PATIENTS[2]
        and sender.outbox.get(waiting.outbox_id or 0).state == "accepted"
    )


async def test_a_waiting_reminder_becomes_a_dead_letter_with_the_reason_at_its_deadline(
    sender_factory: Callable[..., WhatsAppSender], twilio: TwilioStandIn, clock: ManualClock
) -> None:
    sender = sender_factory(daily_recipient_limit=1)
    assert await statuses([sender] * 2, PATIENTS[:2]) == ["sent", "queued"]
    clock.advance(3 * 60 * 60)  # past a medication reminder's 2-hour deadline
    await OutboxRelay(sender).run_once()
    [dead] = sender.outbox.dead_letters()
    assert dead.phone == PATIENTS[1] and "Meta's limit of 1 patients a day" in (dead.error or "")
    assert recipients(twilio) == [PATIENTS[0]]


async def test_a_place_frees_24_hours_after_it_was_taken(
    sender_factory: Callable[..., WhatsAppSender], twilio: TwilioStandIn, clock: ManualClock
) -> None:
    sender = sender_factory(daily_recipient_limit=1)
    await remind(sender, PATIENTS[0])
    clock.advance(24 * 60 * 60 + 1)
    assert (await remind(sender, PATIENTS[1])).status == "sent"
    assert recipients(twilio) == PATIENTS[:2]


async def test_two_processes_share_the_count(
    sender_factory: Callable[..., WhatsAppSender], twilio: TwilioStandIn
) -> None:
    first, second = sender_factory(daily_recipient_limit=3), sender_factory(daily_recipient_limit=3)
    assert await statuses([first, second, first, second], PATIENTS) == ["sent", "sent", "sent", "queued"]
    assert len(set(recipients(twilio))) == 3


async def test_messages_inside_the_24_hour_window_take_no_place(
    sender_factory: Callable[..., WhatsAppSender], twilio: TwilioStandIn, contacts: ContactStore
) -> None:
    sender = sender_factory(daily_recipient_limit=1)
    for phone in PATIENTS:
        contacts.record_inbound(phone)
        assert (await remind(sender, phone)).status == "sent"  # free text: the patient wrote today
    assert sender.budget.used() == 0 and twilio.bodies() == ["Time for your metformin."] * 4
