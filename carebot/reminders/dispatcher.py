"""The reminder dispatcher: claims due occurrences and delivers each through the bot, exactly once per patient.

Delivery is Rasa's `POST /conversations/{id}/trigger_intent?output_channel=<channel>` with intent
`medication_reminder` / `appointment_reminder`, so the reminder is spoken by the bot and the patient's reply
("taken", "2") continues that same dialogue.

Why a reminder is never sent twice, even across crashes
-------------------------------------------------------
An occurrence moves pending → claimed → sending → sent (or missed / cancelled):

1. claim: one short transaction takes a batch with a lease (`claimed_until`). On PostgreSQL it is
   `SELECT … FOR UPDATE SKIP LOCKED` + UPDATE, so N dispatchers get disjoint batches; on SQLite one conditional
   UPDATE under the single write lock. A crash now loses nothing: the lease lapses and the row is claimed again,
   and `claimed` proves nothing was sent.
2. sending: committed *before* the HTTP call (attempts + 1). A crash after this point is a "maybe sent".
3. The trigger carries the occurrence's idempotency key as the entity `reminder_key`. The receiving side — the
   Rasa action that utters the reminder — first acknowledges the key in the sent-log (`reminder_deliveries`,
   primary key = idempotency key, via `POST /api/reminders/deliveries/{key}`) and speaks only if it was the first
   acknowledgement. So a repeated trigger of the same key is silent.
4. sent: recorded after the call succeeds.

Recovery of a "maybe sent" (lease lapsed while `sending`, or the call failed/timed out): the dispatcher first looks
the key up in the sent-log; if acknowledged, the patient got it, and the row is just marked sent without a new
trigger. Otherwise it triggers again with the same key (at-least-once), and step 3 makes the repeat harmless.
The only window left is a Rasa crash after the action acknowledged but before the channel sent the text; that
reminder is then lost rather than duplicated (a duplicated medication reminder can cause a double dose).

Occurrences whose due time is further back than the grace period (clinic.yml `reminders.grace_minutes`) are
recorded `missed` instead of sent late; opted-out patients, paused/stopped reminders and occurrences of a replaced
schedule are `cancelled`. Housekeeping (every minute) materialises the rolling window, expires stale pending rows
and records "no reply" for medication reminders left unanswered (`reminders.no_reply_minutes`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import os
import re
import socket
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Set

from carebot.backend.db import run_db
from carebot.clinic import Clinic
from carebot.clock import utc_now
from carebot.phones import mask_phone, normalize_phone
from carebot.rasa_api import RasaAPI, RasaAPIError
from carebot.reminders.model import Occurrence
from carebot.reminders.store import ReminderStore

log = logging.getLogger(__name__)

INTENT_FOR_KIND = {"medication": "medication_reminder", "appointment": "appointment_reminder"}
OptOutCheck = Callable[[str], bool]
OutboxStates = Callable[[Sequence[str]], Dict[str, str]]
OUTBOX_CHANNEL = "whatsapp"  # reminders on it are delivered when the outbox's message is accepted by Twilio
IN_FLIGHT = ("queued", "sending", "unknown")  # the outbox is still working on it
Clock = Callable[[], dt.datetime]


class DeliveryError(Exception):
    """The bot could not be reached or refused the trigger; the occurrence will be retried (within grace)."""


class Deliverer(Protocol):
    async def deliver(self, occurrence: Occurrence) -> None:
        """Hand one occurrence to the bot; raise DeliveryError on failure."""


def trigger_entities(occurrence: Occurrence) -> Dict[str, Any]:
    """What the reminder action needs: the label to name, the key to acknowledge, the occurrence to answer."""
    entities: Dict[str, Any] = {
        "reminder_label": occurrence.label,
        "reminder_occurrence": str(occurrence.id),
        "reminder_key": occurrence.idempotency_key,
        "reminder_due": occurrence.due_at.isoformat(),
    }
    if occurrence.dose:
        entities["reminder_dose"] = occurrence.dose
    if occurrence.appointment_id:
        entities["appointment_id"] = occurrence.appointment_id
        if occurrence.reminder_start:  # the reminder says when the appointment is
            entities["appointment_start"] = occurrence.reminder_start.isoformat()
    return entities


class RasaDeliverer:
    """Delivers through Rasa's trigger_intent so the bot speaks (and the reply continues the dialogue)."""

    def __init__(self, rasa: RasaAPI) -> None:
        self.rasa = rasa

    async def deliver(self, occurrence: Occurrence) -> None:
        try:
            await self.rasa.trigger_intent(
                occurrence.conversation_id,
                INTENT_FOR_KIND[occurrence.kind],
                trigger_entities(occurrence),
                output_channel=occurrence.channel,
            )
        except RasaAPIError as error:
            raise DeliveryError(str(error)) from error

    async def close(self) -> None:
        await self.rasa.close()


_PHONE_LIKE = re.compile(r"^(?:whatsapp:)?\+?[\d\s()-]{7,}$")


def _outbox_messages(keys: Sequence[str], engine: Any) -> Dict[str, Any]:
    from carebot.channels.contacts import shared_engine  # the channel's store; imported only when used
    from carebot.channels.outbox import OutboxStore

    return OutboxStore(engine or shared_engine()).states_by_key(keys)


def whatsapp_outbox_states(keys: Sequence[str], engine: Any = None) -> Dict[str, str]:
    """The WhatsApp outbox's state of each reminder message, by occurrence key (a key with no message is absent);
    in the channel's database, or the one of `engine`."""
    return {key: message.state for key, message in _outbox_messages(keys, engine).items()}


def whatsapp_delivery_statuses(keys: Sequence[str], engine: Any = None) -> Dict[str, Optional[str]]:
    """Twilio's delivery status (sent, delivered, read, failed …; None before the first callback) of each reminder
    message Twilio accepted, by occurrence key: the adherence figures staff see."""
    from carebot.channels.contacts import shared_engine  # the channel's store; imported only when used
    from carebot.channels.outbox import OutboxStore

    return OutboxStore(engine or shared_engine()).delivery_by_key(keys)


def whatsapp_opt_out(conversation_id: str) -> bool:
    """The WhatsApp channel's STOP list; conversations that are not phone numbers (REST tests) are never opted out."""
    if not _PHONE_LIKE.match(conversation_id.strip()):
        return False
    from carebot.channels.contacts import is_opted_out  # the channel's store; imported only when used

    return is_opted_out(normalize_phone(conversation_id))


@dataclass(frozen=True)
class DispatcherSettings:
    grace: dt.timedelta = dt.timedelta(minutes=120)
    no_reply_after: dt.timedelta = dt.timedelta(minutes=120)
    lease: dt.timedelta = dt.timedelta(seconds=60)
    batch_size: int = 100
    concurrency: int = 20
    delivery_timeout: float = 10.0
    retry_after: dt.timedelta = dt.timedelta(seconds=30)
    poll_seconds: float = 5.0
    housekeeping_seconds: float = 60.0
    spread: dt.timedelta = dt.timedelta(
        0
    )  # reminders go out within +-spread of their due time (spread_offset)

    @classmethod
    def from_clinic(cls, clinic: Clinic, **overrides: Any) -> "DispatcherSettings":
        return cls(
            grace=dt.timedelta(minutes=clinic.reminder_grace_minutes),
            no_reply_after=dt.timedelta(minutes=clinic.reminder_no_reply_minutes),
            spread=dt.timedelta(minutes=clinic.reminder_spread_minutes),
            **overrides,
        )

    def sending_lease(self, count: int) -> dt.timedelta:
        """Long enough for every call of a batch to time out in turn, so no live send is ever re-claimed."""
        rounds = math.ceil(count / self.concurrency)
        return max(self.lease, dt.timedelta(seconds=rounds * self.delivery_timeout + 30))


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    already_delivered: int = 0
    failed: int = 0
    missed: int = 0
    cancelled: int = 0
    waiting: int = 0  # triggered, but WhatsApp has not accepted the message yet

    def add(self, other: "DispatchReport") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class Dispatcher:
    """One worker; run several (processes or hosts) against the same database to scale out."""

    def __init__(
        self,
        store: ReminderStore,
        deliverer: Deliverer,
        settings: DispatcherSettings = DispatcherSettings(),
        is_opted_out: OptOutCheck = whatsapp_opt_out,
        worker_id: Optional[str] = None,
        clock: Clock = utc_now,
        outbox_states: Optional[OutboxStates] = None,
    ) -> None:
        self.store, self.deliverer, self.settings = store, deliverer, settings
        self.is_opted_out = is_opted_out
        self.outbox_states = outbox_states
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.clock = clock
        self._slots = asyncio.Semaphore(settings.concurrency)

    async def housekeeping(self) -> None:
        now = self.clock()
        created = await run_db(self.store.materialise, now)
        expired = await run_db(self.store.expire_pending, now, self.settings.grace)
        no_reply = await run_db(self.store.mark_no_reply, now, self.settings.no_reply_after)
        if created or expired or no_reply:
            log.info(
                "housekeeping: %d occurrences materialised, %d missed (past grace), %d marked no reply",
                created,
                expired,
                no_reply,
            )

    async def run_once(self) -> DispatchReport:
        """Claim one batch and settle every occurrence in it (sent, retried, missed or cancelled)."""
        now = self.clock()
        batch = await run_db(
            self.store.claim,
            self.worker_id,
            now,
            self.settings.batch_size,
            self.settings.lease,
            self.settings.spread,
        )
        report = DispatchReport(claimed=len(batch))
        if not batch:
            return report
        maybe_sent = [o.idempotency_key for o in batch if o.attempts > 0]
        acknowledged = await run_db(self.store.delivered_keys, maybe_sent) if maybe_sent else set()
        in_outbox = await self._outbox([o for o in batch if o.idempotency_key in acknowledged])
        opted_out = await run_db(self._opted_out, {o.conversation_id for o in batch})
        done: List[int] = []
        missed: List[int] = []
        cancelled: List[int] = []
        waiting: List[int] = []
        to_send: List[Occurrence] = []
        for occurrence in batch:
            if occurrence.idempotency_key in acknowledged and occurrence.id in in_outbox:
                # The bot spoke; the outbox says whether WhatsApp has it.
                {"sent": done, "waiting": waiting, "cancelled": cancelled, "missed": missed}[
                    in_outbox[occurrence.id]
                ].append(occurrence.id)
            elif occurrence.idempotency_key in acknowledged:
                done.append(occurrence.id)  # the patient got it before a crash; only the mark was lost
            elif occurrence.reminder_status != "active" or not occurrence.is_current:
                cancelled.append(occurrence.id)
            elif now - occurrence.due_at > self.settings.grace:
                missed.append(occurrence.id)
            elif occurrence.conversation_id in opted_out:
                cancelled.append(occurrence.id)
            else:
                to_send.append(occurrence)
        report.already_delivered = await run_db(self.store.mark_sent, done, now)
        report.missed = await run_db(self.store.mark_missed, missed)
        report.cancelled = await run_db(self.store.mark_cancelled, cancelled)
        report.waiting = len(waiting)
        if waiting:  # checked again when the lease lapses, without a new trigger
            await run_db(self.store.mark_sending, waiting, now, self.settings.lease)
            await run_db(self.store.retry_later, waiting, now + self.settings.retry_after)
        if to_send:
            await self._send(to_send, now, report)
        log.info(
            "dispatched %d: %d sent, %d already delivered, %d failed (will retry), %d awaiting WhatsApp, "
            "%d missed, %d cancelled",
            report.claimed,
            report.sent,
            report.already_delivered,
            report.failed,
            report.waiting,
            report.missed,
            report.cancelled,
        )
        return report

    async def _send(self, to_send: List[Occurrence], now: dt.datetime, report: DispatchReport) -> None:
        """Trigger each; a reminder on the outbox's channel counts as sent once Twilio accepted its message."""
        await run_db(
            self.store.mark_sending, [o.id for o in to_send], now, self.settings.sending_lease(len(to_send))
        )
        outcomes = await asyncio.gather(*(self._deliver(o) for o in to_send))
        triggered = [o for o, ok in zip(to_send, outcomes) if ok]
        in_outbox = await self._outbox(triggered)
        sent = [o.id for o in triggered if in_outbox.get(o.id, "sent") == "sent"]
        missed = [o.id for o in triggered if in_outbox.get(o.id) == "missed"]
        cancelled = [o.id for o in triggered if in_outbox.get(o.id) == "cancelled"]
        # Not accepted yet (or no message: the bot could not record it): looked at again after retry_after.
        later = [o.id for o in triggered if in_outbox.get(o.id) == "waiting"]
        failed = [o.id for o, ok in zip(to_send, outcomes) if not ok]
        report.sent += await run_db(self.store.mark_sent, sent, self.clock())
        report.missed += await run_db(self.store.mark_missed, missed)
        report.cancelled += await run_db(self.store.mark_cancelled, cancelled)
        report.waiting += len(later)
        await run_db(self.store.retry_later, failed + later, self.clock() + self.settings.retry_after)
        report.failed = len(failed)

    async def _outbox(self, occurrences: Sequence[Occurrence]) -> Dict[int, str]:
        """What the WhatsApp outbox says of each occurrence's message: sent (Twilio accepted it), waiting (still
        being sent, or no message yet), missed (a dead letter, or the bot spoke but the message was lost) or
        cancelled (opted out meanwhile). Occurrences on channels without an outbox are left out."""
        mine = [o for o in occurrences if o.channel == OUTBOX_CHANNEL]
        if self.outbox_states is None or not mine:
            return {}
        states = await asyncio.to_thread(self.outbox_states, [o.idempotency_key for o in mine])
        verdicts: Dict[int, str] = {}
        for occurrence in mine:
            state = states.get(occurrence.idempotency_key)
            if state in ("accepted", "sandbox"):
                verdicts[occurrence.id] = "sent"
            elif state in IN_FLIGHT:
                verdicts[occurrence.id] = "waiting"
            elif state == "cancelled":
                verdicts[occurrence.id] = "cancelled"
            elif state is None and occurrence.attempts <= 1:
                verdicts[occurrence.id] = "waiting"
            else:  # dead or dismissed, or acknowledged long ago with no message: the patient did not get it
                verdicts[occurrence.id] = "missed"
        return verdicts

    def _opted_out(self, conversation_ids: Sequence[str]) -> Set[str]:
        return {c for c in conversation_ids if self.is_opted_out(c)}

    async def _deliver(self, occurrence: Occurrence) -> bool:
        async with self._slots:
            try:
                await asyncio.wait_for(self.deliverer.deliver(occurrence), self.settings.delivery_timeout)
                return True
            except (DeliveryError, asyncio.TimeoutError) as error:
                log.warning(
                    "reminder %d for %s not delivered: %s",
                    occurrence.id,
                    mask_phone(occurrence.conversation_id),
                    error.__class__.__name__ if not str(error) else str(error),
                )
                return False

    async def drain(self) -> DispatchReport:
        """Dispatch batches until nothing is due (used by each poll, by tests and by the benchmark)."""
        total = DispatchReport()
        while True:
            report = await self.run_once()
            total.add(report)
            if report.claimed < self.settings.batch_size:
                return total

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; database or bot outages are logged and retried, never fatal."""
        next_housekeeping = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                if loop.time() >= next_housekeeping:
                    await self.housekeeping()
                    next_housekeeping = loop.time() + self.settings.housekeeping_seconds
                await self.drain()
            except Exception:  # noqa: BLE001 - a worker must outlive a database restart
                log.exception("dispatch round failed; retrying in %.0f s", self.settings.poll_seconds)
            try:
                await asyncio.wait_for(stop.wait(), self.settings.poll_seconds)
            except asyncio.TimeoutError:
                pass
