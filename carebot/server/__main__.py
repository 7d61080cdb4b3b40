"""`python -m carebot.server`: serve the backend on BACKEND_HOST:BACKEND_PORT (default 127.0.0.1:8080).

Slots are (re)generated from clinic.yml at start and then once a day, so the booking horizon keeps rolling.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import AsyncIterator, Callable

from aiohttp import web
from sqlalchemy.engine import Engine

from carebot import settings, tokens
from carebot.backend.db import make_engine, run_db
from carebot.clinic import Clinic, ClinicConfigError, load_clinic
from carebot.mode import ModeError, check_bind
from carebot.scheduling.slots import regenerate_slots
from carebot.server.app import create_app

log = logging.getLogger("carebot.server")
REGENERATE_EVERY_SECONDS = 24 * 60 * 60


def slot_refresher(engine: Engine, clinic: Clinic) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that generates slots before serving, then regenerates them daily until shutdown."""

    async def refresh(_app: web.Application) -> AsyncIterator[None]:
        report = await run_db(regenerate_slots, engine, clinic)
        log.info("slots generated: %d added, %d removed", report.added, report.removed)
        task = asyncio.create_task(_regenerate_daily(engine, clinic))
        yield
        task.cancel()

    return refresh


async def _regenerate_daily(engine: Engine, clinic: Clinic) -> None:
    while True:
        await asyncio.sleep(REGENERATE_EVERY_SECONDS)
        try:
            report = await run_db(regenerate_slots, engine, clinic)
            log.info("slots regenerated: %d added, %d removed", report.added, report.removed)
        except Exception:  # noqa: BLE001 - keep serving; tomorrow's run retries
            log.exception("slot regeneration failed")


def main() -> int:
    config = settings.at_start("backend")
    settings.configure_logging(config)
    try:
        clinic = load_clinic()
    except ClinicConfigError as error:
        print(error, file=sys.stderr)
        return 2
    os.umask(0o077)  # the SQLite database and token files it creates are owner-only
    host = config.backend_host
    try:
        check_bind("backend", host)
        token = tokens.token(*tokens.SCHEDULING)
        channel_token = tokens.token(*tokens.HANDOFF_CHANNEL)
    except ModeError as error:
        print(f"backend: cannot start: {error}", file=sys.stderr)
        return 2
    if not config.carebot_backend_token:
        print(
            f"backend token: {tokens.var_dir() / tokens.SCHEDULING[1]} (set {tokens.SCHEDULING[0]} to override)"
        )
    engine = make_engine()
    app = create_app(engine, clinic, token, channel_token)
    app.cleanup_ctx.append(slot_refresher(engine, clinic))
    port = config.backend_port
    # No access log: query strings carry phone numbers (Patient?telecom=…), which logs must not hold.
    web.run_app(app, host=host, port=port, access_log=None, print=lambda text: log.info("%s", text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
