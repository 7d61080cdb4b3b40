"""The outbox through the channel and the sender: status callbacks (signed, in any order, naming a message whose
POST timed out), one patient's messages in order across two replicas, a live sender's claim outlasting its lease,
STOP cancelling what waits, held messages kept until they are queued, and a repeated reminder key adding nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any, Callable, Dict, List

import pytest

from carebot.channels.contacts import ContactStore
from carebot.channels.twilio_sender import OutboxRelay, WhatsAppSender
from tests.channels.whatsapp_harness import (
    PATIENT,
    STATUS_PATH,
    Harness,
    ManualClock,
    TwilioStandIn,
    twilio_error,
)

pytestmark = pytest.mark.asyncio

SenderFactory = Callable[..., WhatsAppSender]


def status_form(sid: str, status: str, **extra: str) -> Dict[str, str]:
    return {
        "MessageSid": sid,
        "MessageStatus": status,
        "To": f"whatsapp:{PATIENT}",
        "AccountSid": "AC1",
        **extra,
    }


async def test_status_callbacks_record_delivery_and_never_move_it_back(harness: Harness) -> None:
    result = await harness.channel.sender.send(PATIENT, template="medication_reminder")
    [sid] = result.message_sids
    outbox = harness.channel.sender.outbox
    for status in ("sent", "read", "delivered"):  # Twilio's callbacks may arrive out of order
        assert (await harness.post(status_form(sid, status), path=STATUS_PATH)).status == 204
        await harness.channel.drained()
    assert outbox.get(result.outbox_id).delivery_status == "read"
    forged = await harness.post(status_form(sid, "failed"), path=STATUS_PATH, signature="forged")
    assert forged.status == 403
    assert outbox.get(result.outbox_id).delivery_status == "read"


async def test_a_callback_settles_a_message_whose_post_timed_out(
    make_harness: Callable[..., Harness], contacts: ContactStore
) -> None:
    harness = await make_harness(timeout_seconds=0.2)
    contacts.record_inbound(PATIENT)
    harness.twilio.script = [TwilioStandIn.ACCEPT_THEN_HANG]
    result = await harness.channel.sender.send(PATIENT, text="Your appointment is confirmed.")
    assert result.status == "queued"  # the answer never came: outcome unknown
    [accepted] = harness.twilio.accepted
    path = f"{STATUS_PATH}?outbox={accepted.marker}"
    assert accepted.callback.endswith(path)  # Twilio calls back the URL the message was sent with
    assert (await harness.post(status_form(accepted.sid, "sent"), path=path)).status == 204
    await harness.channel.drained()
    message = harness.channel.sender.outbox.get(result.outbox_id)
    assert (message.state, message.sids, message.delivery_status) == ("accepted", [accepted.sid], "sent")
    assert len(harness.twilio.requests) == 1  # settled without a second POST


async def test_one_patients_messages_leave_in_order_across_two_replicas(
    sender_factory: SenderFactory, twilio: TwilioStandIn, contacts: ContactStore, clock: ManualClock
) -> None:
    contacts.record_inbound(PATIENT)
    first_replica, second_replica = sender_factory(), sender_factory()
    attempts = first_replica.settings.max_attempts
    twilio.script = [twilio_error(503, 20503)] * attempts  # the first message waits for a retry
    first = await first_replica.send(PATIENT, text="Part one of your answer.")
    second = await second_replica.send(PATIENT, text="Part two of your answer.")
    assert (first.status, second.status) == ("queued", "queued")  # the second waits behind the first
    assert twilio.bodies() == ["Part one of your answer."] * attempts
    clock.advance(120)
    await OutboxRelay(second_replica).run_once()
    assert [a.body for a in twilio.accepted] == ["Part one of your answer.", "Part two of your answer."]


async def test_a_live_senders_claim_outlasts_its_lease_while_twilio_is_slow(
    sender_factory: SenderFactory, twilio: TwilioStandIn, contacts: ContactStore, clock: ManualClock
) -> None:
    contacts.record_inbound(PATIENT)
    slow, other_replica = sender_factory(claim_lease_seconds=0.3), sender_factory(claim_lease_seconds=0.3)
    renewed_at: List[dt.datetime] = []
    renewal = threading.Condition()
    renew = slow.outbox.renew_claim

    def recorded_renewal(message: Any, lease: dt.timedelta, now: dt.datetime) -> bool:
        kept = renew(message, lease, now)
        with renewal:
            renewed_at.append(now)
            renewal.notify_all()
        return kept

    def renewed_since(moment: dt.datetime) -> bool:
        with renewal:
            return renewal.wait_for(lambda: any(at >= moment for at in renewed_at), timeout=10)

    slow.outbox.renew_claim = recorded_renewal  # type: ignore[method-assign]
    twilio.hang_seconds = 1.0
    twilio.script = [TwilioStandIn.ACCEPT_THEN_HANG]  # Twilio takes the message and answers a second later
    sending = asyncio.ensure_future(slow.send(PATIENT, text="Your appointment is confirmed."))
    await twilio.wait_for(1)
    clock.advance(60)  # far past the first lease: only the renewal keeps the claim
    assert await asyncio.to_thread(renewed_since, clock())
    assert other_replica.outbox.claim_head(PATIENT, "other-replica", other_replica.lease, clock()) is None
    assert (await sending).status == "sent"
    assert [a.body for a in twilio.accepted] == ["Your appointment is confirmed."] and len(
        twilio.requests
    ) == 1


async def test_stop_cancels_what_waits_for_the_patient(harness: Harness, contacts: ContactStore) -> None:
    contacts.record_inbound(PATIENT)
    attempts = harness.channel.sender.settings.max_attempts
    harness.twilio.script = [twilio_error(429, 20429)] * attempts
    waiting = await harness.channel.sender.send(PATIENT, text="A reply that Twilio throttled.")
    assert waiting.status == "queued"
    await harness.post(harness.message("STOP"))
    await harness.twilio.wait_for(
        attempts + 1
    )  # the STOP confirmation, which is not stuck behind the cancelled reply
    await harness.channel.drained()
    message = harness.channel.sender.outbox.get(waiting.outbox_id)
    assert (message.state, message.error) == ("cancelled", "patient opted out")
    assert "no longer receive" in harness.twilio.accepted[-1].body


async def test_held_messages_become_queued_rows_before_they_leave(
    sender_factory: SenderFactory, twilio: TwilioStandIn, contacts: ContactStore
) -> None:
    sender = sender_factory()
    held = await sender.send(PATIENT, text="Your results are ready to discuss.")  # window closed: held
    assert held.status == "held" and twilio.requests[0]["ContentSid"]
    contacts.record_inbound(PATIENT)
    twilio.script = [
        twilio_error(500, 20500)
    ] * sender.settings.max_attempts  # fails as the patient writes back
    await sender.deliver_held(PATIENT)
    assert contacts.take_held(PATIENT) == []  # moved, not lost: it is an outbox row now
    [queued] = [m for m in sender.outbox.due_phones(10, sender.clock() + dt.timedelta(hours=1))]
    assert queued == PATIENT and twilio.accepted[1:] == []


async def test_a_repeated_reminder_key_adds_no_second_message(
    sender_factory: SenderFactory, twilio: TwilioStandIn, contacts: ContactStore
) -> None:
    sender = sender_factory()
    send = dict(template="medication_reminder", kind="medication_reminder", key="occurrence-1")
    first, again = await sender.send(PATIENT, **send), await sender.send(PATIENT, **send)
    assert first.outbox_id == again.outbox_id and again.status == "sent"
    assert len(twilio.accepted) == 1


async def test_one_number_twilio_keeps_refusing_is_not_an_outage_for_the_others(
    sender_factory: SenderFactory, twilio: TwilioStandIn, contacts: ContactStore
) -> None:
    refused, other = PATIENT, "+447700900124"
    for phone in (refused, other):
        contacts.record_inbound(phone)
    twilio.always_fail = {f"whatsapp:{refused}"}
    sender = sender_factory()
    stuck = await sender.send(refused, text="Your reply.")
    assert stuck.status == "queued" and len(twilio.requests) == sender.settings.max_attempts
    twilio.script = [twilio_error(503, 20503)]  # the other patient's first POST fails too
    answered = await sender.send(other, text="Your reply too.")
    assert answered.status == "sent"  # retried in place: one refused number did not make Twilio look down
    assert twilio.bodies()[-2:] == ["Your reply too."] * 2


async def test_each_probe_goes_to_another_patient_so_one_refused_number_holds_no_one_up(
    sender_factory: SenderFactory, twilio: TwilioStandIn, contacts: ContactStore, clock: ManualClock
) -> None:
    phones = [PATIENT, "+447700900124", "+447700900125"]  # the oldest message is to a number Twilio refuses
    for phone in phones:
        contacts.record_inbound(phone)
    sender = sender_factory()
    twilio.down, twilio.always_fail = True, {f"whatsapp:{PATIENT}"}
    for phone in phones:
        assert (await sender.send(phone, text=f"Reply to {phone}")).status == "queued"
    relay, probed = OutboxRelay(sender), []
    clock.advance(120)
    while len(probed) < len(phones):
        before = len(twilio.requests)
        await relay.run_once()
        probed += [request["To"][0] for request in twilio.requests[before:]]
        if relay.probe_until is None:
            break
        twilio.down = False  # back after the first probe, for every number but the refused one
        clock.now = max(clock.now, relay.probe_until)
    assert probed == [f"whatsapp:{PATIENT}", f"whatsapp:{phones[1]}"]  # a new patient each time
    await relay.run_once()  # Twilio answers again: the others are sent at once
    assert sorted(a.to for a in twilio.accepted) == [f"whatsapp:{p}" for p in phones[1:]]
