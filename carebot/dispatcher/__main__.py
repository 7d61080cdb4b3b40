"""`python -m carebot.dispatcher`: the reminder dispatcher started by `make run` (run more than one to scale out).

Reads the backend database (`CAREBOT_DATABASE_URL`, default var/carebot.db), delivers through Rasa
(`RASA_URL`) with its own token (`REMINDER_DISPATCH_TOKEN` or var/dispatch_token), which Rasa accepts for
`trigger_intent` only (carebot/rasa_server.py): the dispatcher cannot read conversations. A WhatsApp reminder counts
as sent once the channel's outbox says Twilio accepted its message. Optional: `REMINDER_POLL_SECONDS` (default 5),
`REMINDER_WORKER_ID` (default host:pid, shown in `claimed_by`). It also runs the waitlist's offer worker (freed
slots offered to waiting patients, carebot/waitlist/worker.py, on the same poll),  the WhatsApp outbox relay (retries,
reconciliations: carebot/channels/twilio_sender.py `OutboxRelay`) and the daily retention purge (clinic.yml
`privacy.retention_days`, carebot.privacy).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from carebot import migrations, settings, tokens
from carebot.backend.db import make_engine
from carebot.channels.twilio_sender import OutboxRelay, WhatsAppSender
from carebot.clinic import ClinicConfigError, load_clinic
from carebot.privacy.purge import purge
from carebot.privacy.settings import load_retention
from carebot.privacy.stores import PatientStores
from carebot.rasa_api import RasaAPI
from carebot.reminders.dispatcher import Dispatcher, DispatcherSettings, RasaDeliverer, whatsapp_outbox_states
from carebot.reminders.store import ReminderStore
from carebot.waitlist.worker import OfferWorker, RasaOfferDeliverer

log = logging.getLogger("carebot.dispatcher")
PURGE_EVERY_SECONDS = 24 * 3600


def purge_now() -> None:
    """One retention purge over every store (carebot.privacy); blocking."""
    stores = PatientStores()
    try:
        purge(stores, load_retention())
    finally:
        stores.close()


async def purge_daily(stop: asyncio.Event) -> None:
    """The retention job: at start, then once a day, until the dispatcher stops; a failure waits for tomorrow."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(purge_now)
        except Exception:  # noqa: BLE001 - reminders must keep going; the log says the purge needs attention
            log.exception("retention purge failed; next attempt in %d h", PURGE_EVERY_SECONDS // 3600)
        try:
            await asyncio.wait_for(stop.wait(), PURGE_EVERY_SECONDS)
        except asyncio.TimeoutError:
            pass


async def relay(sender: WhatsAppSender, stop: asyncio.Event) -> None:
    """The outbox relay, unless in sandbox mode: without credentials every message is settled (logged) where it
    is written, and a relay without them must not settle messages a credentialed process left queued."""
    if sender.settings.sandbox:
        log.info("WhatsApp outbox relay off: sandbox mode (no Twilio credentials)")
        return
    await OutboxRelay(sender).run_forever(stop)


async def serve() -> int:
    try:
        clinic = load_clinic()
    except ClinicConfigError as error:
        print(error, file=sys.stderr)
        return 2
    engine = make_engine()
    # The dispatcher may start before the backend: it migrates too (the steps run once, under a lock).
    await asyncio.to_thread(migrations.upgrade, engine, migrations.BACKEND)
    config = settings.current()
    rasa = RasaAPI(config.rasa_url, tokens.token(*tokens.REMINDER_DISPATCH))
    dispatch = DispatcherSettings.from_clinic(clinic, poll_seconds=config.reminder_poll_seconds)
    deliverer = RasaDeliverer(rasa)
    dispatcher = Dispatcher(
        ReminderStore(engine),
        deliverer,
        dispatch,
        worker_id=config.reminder_worker_id or None,
        outbox_states=whatsapp_outbox_states,
    )
    sender = WhatsAppSender.from_env()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "reminder dispatcher %s polling every %.0f s (grace %s)",
        dispatcher.worker_id,
        dispatch.poll_seconds,
        dispatch.grace,
    )
    purging = asyncio.create_task(purge_daily(stop))
    relaying = asyncio.create_task(relay(sender, stop))
    offers = OfferWorker(engine, clinic, RasaOfferDeliverer(rasa), poll_seconds=dispatch.poll_seconds)
    offering = asyncio.create_task(offers.run_forever(stop))
    try:
        await dispatcher.run_forever(stop)
    finally:
        await purging
        await relaying
        await offering
        await sender.close()
        await deliverer.close()
        engine.dispose()
    return 0


def main() -> int:
    settings.configure_logging(settings.at_start("reminder dispatcher"))
    return asyncio.run(serve())


if __name__ == "__main__":
    sys.exit(main())
