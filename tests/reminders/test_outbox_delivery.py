"""A WhatsApp reminder counts as sent when Twilio accepted its message, not when the bot was triggered: the
dispatcher reads the channel's outbox (real WhatsAppSender, outbox and Twilio stand-in; the bot is the recording
deliverer, which speaks through the sender as the reminder action and the channel do)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any, Callable

import pytest

from carebot.channels.twilio_sender import OutboxRelay, WhatsAppSender
from carebot.reminders.dispatcher import Dispatcher, whatsapp_delivery_statuses, whatsapp_outbox_states
from carebot.reminders.store import ReminderStore
from tests.channels.whatsapp_harness import (  # noqa: F401 - fixtures
    ManualClock,
    TwilioStandIn,
    contacts,
    sender_factory,
    twilio,
    twilio_error,
)

from .conftest import PATIENT, RecordingDeliverer
from .test_dispatcher import SETTINGS, T0, create

pytestmark = pytest.mark.asyncio


@pytest.fixture
def clock() -> ManualClock:
    moment = ManualClock()
    moment.now = T0 + dt.timedelta(hours=1, seconds=5)  # 08:00:05 London: the 8 am dose is due
    return moment


class SpeakingDeliverer(RecordingDeliverer):
    """Rasa + `action_send_reminder` + the WhatsApp channel: acknowledge the key, and if first, send the reminder
    through the sender with the key, kind and deadline the action puts in its payload."""

    def __init__(self, store: ReminderStore, sender: WhatsAppSender) -> None:
        super().__init__(store)
        self.sender = sender

    async def deliver(self, occurrence: Any) -> None:
        await super().deliver(occurrence)
        if (
            self.spoken[-1:] == [occurrence.idempotency_key]
            and self.triggers.count(occurrence.idempotency_key) == 1
        ):
            await self.sender.send(
                occurrence.conversation_id,
                "Time for your metformin.",
                template="medication_reminder",
                variables={"1": "metformin", "2": "08:00"},
                kind="medication_reminder",
                key=occurrence.idempotency_key,
                deadline=occurrence.due_at + SETTINGS.grace,
            )


def build(store: ReminderStore, sender: WhatsAppSender, clock: ManualClock) -> Dispatcher:
    states = functools.partial(whatsapp_outbox_states, engine=sender.contacts.engine)
    deliverer = SpeakingDeliverer(store, sender)
    return Dispatcher(
        store, deliverer, SETTINGS, is_opted_out=lambda c: False, clock=clock, outbox_states=states
    )


async def test_a_reminder_twilio_refused_is_not_sent_until_the_outbox_gets_it_accepted(
    store: ReminderStore,
    sender_factory: Callable[..., WhatsAppSender],
    twilio: TwilioStandIn,
    clock: ManualClock,
) -> None:
    reminder = create(store, "remind me to take metformin at 8am every day")
    sender = sender_factory()
    twilio.script = [twilio_error(503, 20503)] * sender.settings.max_attempts
    dispatcher = build(store, sender, clock)
    report = await dispatcher.run_once()
    assert (report.sent, report.waiting) == (0, 1)  # triggered, but WhatsApp does not have it
    assert len(twilio.requests) == sender.settings.max_attempts
    assert store.occurrences(reminder.id)[0].status == "sending"
    clock.advance(120)
    await OutboxRelay(sender).run_once()  # the retry is accepted
    assert len(twilio.accepted) == 1
    report = await dispatcher.drain()
    assert report.already_delivered == 1  # settled from the outbox, without a second trigger
    [occurrence] = [o for o in store.occurrences(reminder.id) if o.status == "sent"]
    assert dispatcher.deliverer.triggers == [occurrence.idempotency_key]  # type: ignore[attr-defined]


async def test_a_reminder_whatsapp_never_accepted_is_missed_after_its_grace(
    store: ReminderStore,
    sender_factory: Callable[..., WhatsAppSender],
    twilio: TwilioStandIn,
    clock: ManualClock,
) -> None:
    reminder = create(store, "remind me to take metformin at 8am every day")
    twilio.always_fail = {f"whatsapp:{PATIENT}"}
    sender = sender_factory()
    dispatcher = build(store, sender, clock)
    await dispatcher.run_once()
    relay = OutboxRelay(sender)
    while (
        not sender.outbox.dead_letters()
    ):  # retried until the deadline (the grace period), on the test's clock
        assert clock() < T0 + dt.timedelta(hours=4), "never became a dead letter"
        clock.advance(60)
        await relay.run_once()
    [dead] = sender.outbox.dead_letters()
    assert dead.error and "deadline passed" in dead.error
    assert clock() >= dead.deadline_at
    await dispatcher.drain()
    assert store.occurrences(reminder.id)[0].status == "missed"
    assert twilio.accepted == []


async def test_adherence_counts_the_reminders_whatsapp_delivered_and_read(
    store: ReminderStore,
    sender_factory: Callable[..., WhatsAppSender],
    twilio: TwilioStandIn,
    clock: ManualClock,
) -> None:
    create(store, "remind me to take metformin at 8am and 8pm every day")
    sender = sender_factory()
    dispatcher = build(store, sender, clock)
    await dispatcher.run_once()  # 08:00
    clock.advance(12 * 3600)
    await dispatcher.run_once()  # 20:00
    morning, evening = twilio.accepted
    sender.outbox.record_status(morning.sid, "read")
    sender.outbox.record_status(evening.sid, "delivered")
    statuses = functools.partial(whatsapp_delivery_statuses, engine=sender.contacts.engine)
    summary = store.adherence(PATIENT, clock(), delivery=statuses)
    assert (summary.doses, summary.sent_on_whatsapp, summary.delivered, summary.read) == (2, 2, 2, 1)
    assert (summary.percent_delivered, summary.percent_read) == (100, 50)
    assert summary.to_dict()["percent_read"] == 50
    assert store.adherence(PATIENT, clock()).sent_on_whatsapp == 0  # without the outbox: no claim either way
