"""`python -m carebot.reminders`: the reminder dispatcher started by `make run` (run more than one to scale out).

Reads the backend database (`CAREBOT_DATABASE_URL`, default var/carebot.db), delivers through Rasa
(`RASA_URL`) with its own token (`REMINDER_DISPATCH_TOKEN` or var/dispatch_token), which Rasa accepts for
`trigger_intent` only (carebot/rasa_server.py): the dispatcher cannot read conversations. Optional:
`REMINDER_POLL_SECONDS` (default 5), `REMINDER_WORKER_ID` (default host:pid, shown in `claimed_by`). It also runs
the daily retention purge (clinic.yml `privacy.retention_days`, carebot.privacy).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from carebot import migrations, settings, tokens
from carebot.backend.db import make_engine
from carebot.clinic import ClinicConfigError, load_clinic
from carebot.privacy.purge import purge
from carebot.privacy.settings import load_retention
from carebot.privacy.stores import PatientStores
from carebot.rasa_api import RasaAPI
from carebot.reminders.dispatcher import Dispatcher, DispatcherSettings, RasaDeliverer
from carebot.reminders.store import ReminderStore

log = logging.getLogger("carebot.reminders")
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
        ReminderStore(engine), deliverer, dispatch, worker_id=config.reminder_worker_id or None
    )
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
    try:
        await dispatcher.run_forever(stop)
    finally:
        await purging
        await deliverer.close()
        engine.dispose()
    return 0


def main() -> int:
    settings.configure_logging(settings.at_start("reminder dispatcher"))
    return asyncio.run(serve())


if __name__ == "__main__":
    sys.exit(main())
