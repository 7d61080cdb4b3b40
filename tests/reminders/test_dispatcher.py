"""The dispatcher: delivery through Rasa's trigger_intent, no duplicate after a crash, recovery inside/outside the
grace period, opt-out, retries and "no reply" marking. Time is a settable clock; nothing sleeps."""

from __future__ import annotations

import datetime as dt
from typing import Iterator

import pytest
from aiohttp.test_utils import TestServer

from carebot.rasa_api import RasaAPI
from carebot.reminders.dispatcher import (
    DeliveryError,
    Dispatcher,
    DispatcherSettings,
    RasaDeliverer,
    whatsapp_opt_out,
)
from carebot.reminders.recurrence import parse_reminder
from carebot.reminders.store import ReminderStore

from .conftest import LONDON, PATIENT, UTC, Clock, RecordingDeliverer
from .rasa_standin import RasaStandIn

T0 = dt.datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
SETTINGS = DispatcherSettings(
    grace=dt.timedelta(minutes=120),
    no_reply_after=dt.timedelta(minutes=120),
    lease=dt.timedelta(seconds=60),
    retry_after=dt.timedelta(seconds=30),
)


def create(store: ReminderStore, text: str, patient: str = PATIENT, now: dt.datetime = T0):
    spec = parse_reminder(text, now, LONDON)
    return store.create(
        patient, spec.medication, spec.rrule, spec.dtstart, spec.timezone, dose=spec.dose, now=now
    )


def dispatcher(store, deliverer, clock, worker="w1", opted_out=lambda conversation: False, settings=SETTINGS):
    return Dispatcher(store, deliverer, settings, is_opted_out=opted_out, worker_id=worker, clock=clock)


class Crash(BaseException):
    """A process dying mid-step: not an Exception, so nothing in the dispatcher handles it."""


@pytest.fixture
async def rasa() -> Iterator[tuple]:
    standin = RasaStandIn()
    server = TestServer(standin.app(), host="127.0.0.1")
    await server.start_server()
    api = RasaAPI(str(server.make_url("")), token=standin.token)
    yield standin, RasaDeliverer(api)
    await api.close()
    await server.close()


async def test_delivers_through_trigger_intent_and_marks_sent(store, rasa):
    standin, deliverer = rasa
    reminder = create(store, "remind me to take metformin 500mg at 8am every day")
    clock = Clock(dt.datetime(2026, 11, 28, 8, 0, 5, tzinfo=UTC))
    report = await dispatcher(store, deliverer, clock).drain()
    assert (report.claimed, report.sent) == (1, 1)
    [call] = standin.calls
    occurrence = store.occurrences(reminder.id)[0]
    assert call["conversation_id"] == PATIENT and call["output_channel"] == "whatsapp"
    assert call["name"] == "medication_reminder"
    assert call["entities"] == {
        "reminder_label": "metformin",
        "reminder_dose": "500mg",
        "reminder_occurrence": str(occurrence.id),
        "reminder_key": occurrence.idempotency_key,
        "reminder_due": "2026-11-28T08:00:00+00:00",
    }
    assert occurrence.status == "sent" and occurrence.sent_at == clock.now
    assert (await dispatcher(store, deliverer, clock).drain()).claimed == 0  # nothing left, nothing resent


async def test_not_yet_due_is_not_sent(store, rasa):
    standin, deliverer = rasa
    create(store, "remind me to take metformin at 8am every day")
    assert (
        await dispatcher(store, deliverer, Clock(dt.datetime(2026, 11, 28, 7, 59, tzinfo=UTC))).drain()
    ).claimed == 0
    assert standin.calls == []


async def test_appointment_reminder_uses_its_intent(store, rasa):
    standin, deliverer = rasa
    store.create_appointment_reminders(
        PATIENT, "appt-9", T0 + dt.timedelta(hours=26), "GP appointment", (24, 2), LONDON, now=T0
    )
    await dispatcher(store, deliverer, Clock(T0 + dt.timedelta(hours=2, seconds=5))).drain()
    [call] = standin.calls
    assert call["name"] == "appointment_reminder" and call["entities"]["appointment_id"] == "appt-9"
    # The reminder says when the appointment is.
    assert call["entities"]["appointment_start"] == (T0 + dt.timedelta(hours=26)).isoformat()


async def test_crash_between_send_and_mark_never_sends_twice(store):
    """The trigger went out (and the action acknowledged the key), then the dispatcher died before marking sent."""
    reminder = create(store, "remind me to take metformin at 8am every day")
    deliverer = RecordingDeliverer(store)
    clock = Clock(dt.datetime(2026, 11, 28, 8, 0, 5, tzinfo=UTC))
    first = dispatcher(store, deliverer, clock, worker="first")

    store_mark_sent = store.mark_sent

    def dies_when_marking(ids, now):
        if ids:  # the process dies right after the HTTP call returned, before the mark is written
            raise Crash()
        return store_mark_sent(ids, now)

    store.mark_sent = dies_when_marking
    with pytest.raises(Crash):
        await first.run_once()
    store.mark_sent = store_mark_sent
    assert len(deliverer.spoken) == 1
    assert store.occurrences(reminder.id)[0].status == "sending"

    # A restarted dispatcher before the lease ends leaves it alone; after it, settles it without a new trigger.
    second = dispatcher(store, deliverer, clock, worker="second")
    assert (await second.drain()).claimed == 0
    clock.advance(minutes=2)
    report = await second.drain()
    assert (report.claimed, report.already_delivered, report.sent) == (1, 1, 0)
    assert deliverer.triggers == deliverer.spoken == [store.occurrences(reminder.id)[0].idempotency_key]
    assert store.occurrences(reminder.id)[0].status == "sent"


async def test_crash_before_the_bot_spoke_sends_once_on_recovery(store):
    """Died after recording `sending` but before the bot acknowledged: the retry is the only delivery."""
    reminder = create(store, "remind me to take metformin at 8am every day")
    deliverer = RecordingDeliverer(store)
    clock = Clock(dt.datetime(2026, 11, 28, 8, 0, 5, tzinfo=UTC))

    class DiesOnCall(RecordingDeliverer):
        async def deliver(self, occurrence) -> None:
            raise Crash()

    with pytest.raises(Crash):
        await dispatcher(store, DiesOnCall(store), clock).run_once()
    clock.advance(minutes=2)
    report = await dispatcher(store, deliverer, clock, worker="restarted").drain()
    assert report.sent == 1
    assert deliverer.spoken == [store.occurrences(reminder.id)[0].idempotency_key]


async def test_repeated_trigger_of_the_same_key_is_silent(store):
    """Even if Rasa receives a key twice (at-least-once), the patient hears it once: the sent-log decides."""
    create(store, "remind me to take metformin at 8am every day")
    deliverer = RecordingDeliverer(store)
    clock = Clock(dt.datetime(2026, 11, 28, 8, 0, 5, tzinfo=UTC))
    [occurrence] = store.claim("w", clock.now, 10, dt.timedelta(minutes=1))
    await deliverer.deliver(occurrence)
    await deliverer.deliver(occurrence)
    assert len(deliverer.triggers) == 2 and len(deliverer.spoken) == 1


async def test_lost_answer_is_not_resent_when_the_bot_already_spoke(store):
    """The call timed out after the bot acknowledged the key: the retry finds it in the sent-log."""
    reminder = create(store, "remind me to take metformin at 8am every day")
    clock = Clock(dt.datetime(2026, 11, 28, 8, 0, 5, tzinfo=UTC))

    class AnswerLost(RecordingDeliverer):
        async def deliver(self, occurrence) -> None:
            await super().deliver(occurrence)
            raise DeliveryError("Rasa did not answer within 10 s")

    lossy = AnswerLost(store)
    report = await dispatcher(store, lossy, clock).drain()
    assert (report.sent, report.failed) == (0, 1)
    clock.advance(seconds=31)
    report = await dispatcher(store, lossy, clock).drain()
    assert report.already_delivered == 1
    assert len(lossy.triggers) == 1 and store.occurrences(reminder.id)[0].status == "sent"


async def test_rasa_down_is_retried_until_it_answers(store, rasa):
    standin, deliverer = rasa
    create(store, "remind me to take metformin at 8am every day")
    standin.fail_next = 1
    clock = Clock(dt.datetime(2026, 11, 28, 8, 0, 5, tzinfo=UTC))
    assert (await dispatcher(store, deliverer, clock).drain()).failed == 1
    assert (await dispatcher(store, deliverer, clock).drain()).claimed == 0  # waits for the retry time
    clock.advance(seconds=31)
    assert (await dispatcher(store, deliverer, clock).drain()).sent == 1
    assert list(standin.per_key.values()) == [1]


async def test_recovery_after_downtime_inside_and_outside_grace(store):
    """Everything was down from 07:00 to 10:30: the 09:00 dose is sent once, the 08:00 one is recorded missed."""
    early = create(store, "remind me to take metformin at 8am every day")
    late = create(store, "remind me to take vitamin D at 9am every day")
    deliverer = RecordingDeliverer(store)
    clock = Clock(dt.datetime(2026, 11, 28, 10, 30, tzinfo=UTC))
    worker = dispatcher(store, deliverer, clock)
    await worker.housekeeping()
    report = await worker.drain()
    assert report.sent == 1
    assert store.occurrences(early.id)[0].status == "missed"
    assert store.occurrences(late.id)[0].status == "sent"
    assert deliverer.spoken == [store.occurrences(late.id)[0].idempotency_key]
    await worker.housekeeping()
    assert (await worker.drain()).claimed == 0
    assert store.adherence(PATIENT, clock.now).missed == 1


async def test_recovery_after_downtime_longer_than_the_window(store):
    """Down for three days (past the 48 h window): the gap is filled, recent doses sent, older ones missed."""
    reminder = create(
        store, "remind me to take amoxicillin every 8 hours starting at 6am"
    )  # 14:00, 22:00, 06:00…
    deliverer = RecordingDeliverer(store)
    clock = Clock(dt.datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    worker = dispatcher(store, deliverer, clock)
    await worker.housekeeping()
    await worker.drain()
    past = [o for o in store.occurrences(reminder.id) if o.due_at <= clock.now]
    assert [o.status for o in past].count("sent") == 1  # only 1 Dec 14:00 is within 2 h
    assert all(o.status == "missed" for o in past if o.due_at < clock.now - dt.timedelta(hours=2))
    assert deliverer.spoken == [next(o.idempotency_key for o in past if o.status == "sent")]


async def test_retry_past_the_grace_period_is_recorded_missed(store):
    reminder = create(store, "remind me to take metformin at 8am every day")
    clock = Clock(dt.datetime(2026, 11, 28, 8, 0, 5, tzinfo=UTC))

    class Down(RecordingDeliverer):
        async def deliver(self, occurrence) -> None:
            raise DeliveryError("Rasa unreachable")

    await dispatcher(store, Down(store), clock).drain()
    clock.advance(hours=3)
    report = await dispatcher(store, RecordingDeliverer(store), clock).drain()
    assert report.missed == 1 and store.occurrences(reminder.id)[0].status == "missed"


async def test_opted_out_patients_get_nothing(store):
    create(store, "remind me to take metformin at 8am every day", patient="+447700900001")
    create(store, "remind me to take metformin at 8am every day", patient="+447700900002")
    deliverer = RecordingDeliverer(store)
    clock = Clock(dt.datetime(2026, 11, 28, 8, 0, 5, tzinfo=UTC))
    report = await dispatcher(store, deliverer, clock, opted_out=lambda c: c == "+447700900001").drain()
    assert (report.sent, report.cancelled) == (1, 1)
    [sent] = [
        o
        for r in store.list("+447700900002", clock.now)
        for o in store.occurrences(r.id)
        if o.status == "sent"
    ]
    assert deliverer.spoken == [sent.idempotency_key]


def test_whatsapp_opt_out_reads_the_channel_store(tmp_path, monkeypatch):
    from carebot.channels.contacts import ContactStore

    url = f"sqlite:///{tmp_path / 'whatsapp.db'}"
    monkeypatch.setenv("WHATSAPP_STATE_DATABASE_URL", url)
    ContactStore(url).set_opted_out("+447700900003", True)
    assert whatsapp_opt_out("+447700900003") is True
    assert whatsapp_opt_out("whatsapp:+447700900004") is False
    assert whatsapp_opt_out("rest-tester-1") is False


async def test_reminder_stopped_while_in_flight_is_not_resent(store):
    """A worker died mid-send; meanwhile the patient stopped the reminder: the retry cancels instead of sending."""
    reminder = create(store, "remind me to take metformin at 8am every day")
    deliverer = RecordingDeliverer(store)
    clock = Clock(dt.datetime(2026, 11, 28, 8, 0, 5, tzinfo=UTC))
    [claimed] = store.claim("dead-worker", clock.now, 10, dt.timedelta(seconds=60))
    store.mark_sending([claimed.id], clock.now, dt.timedelta(seconds=60))
    store.stop(reminder.id, clock.now)
    clock.advance(minutes=2)
    report = await dispatcher(store, deliverer, clock).drain()
    assert (report.claimed, report.cancelled) == (1, 1)
    assert deliverer.triggers == []
    assert store.occurrences(reminder.id)[0].status == "cancelled"


async def test_housekeeping_marks_no_reply(store):
    reminder = create(store, "remind me to take metformin at 8am every day")
    clock = Clock(dt.datetime(2026, 11, 28, 8, 0, 5, tzinfo=UTC))
    worker = dispatcher(store, RecordingDeliverer(store), clock)
    await worker.drain()
    clock.advance(minutes=119)
    await worker.housekeeping()
    assert store.occurrences(reminder.id)[0].response is None
    clock.advance(minutes=2)
    await worker.housekeeping()
    assert store.occurrences(reminder.id)[0].response == "no_reply"
