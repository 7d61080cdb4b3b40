"""`python -m carebot.simulator [--port N]` (`make simulate`): the whole stack as `make run` starts it (backend,
action server, Rasa, reminder dispatcher, over the same databases), its WhatsApp channel pointed at a Twilio
stand-in in this process, and the simulator page on http://127.0.0.1:SIMULATOR_PORT/simulator (the link printed
carries its token). Refused with CAREBOT_MODE=production. Ctrl-C stops everything."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import secrets
import sys
from typing import List, Optional

from aiohttp import web

from carebot import launcher, mode, settings, tokens
from carebot.backend.db import make_engine
from carebot.channels.contacts import ContactStore
from carebot.clinic import Clinic, ClinicConfigError, load_clinic
from carebot.simulator.service import Simulator, flow_index, simulator_env
from carebot.simulator.twilio_standin import TwilioStandIn
from carebot.simulator.web import simulator_app

HOST = "127.0.0.1"  # never anything else: the simulator reads every conversation it makes


async def run(clinic: Clinic, port: int) -> int:
    env = launcher.prepare_environment()
    config = settings.load(env)
    rasa_url = f"http://127.0.0.1:{config.rasa_port}"
    auth_token = secrets.token_urlsafe(24)  # the stand-in's Twilio account: lives as long as this process
    twilio = TwilioStandIn(auth_token=auth_token, callbacks_to=rasa_url)
    await twilio.start()
    state_database = tokens.secure_dir(config.carebot_var_dir / "simulator") / "whatsapp.db"
    env.update(simulator_env(twilio.url, auth_token, rasa_url, state_database))
    contacts = ContactStore(env["WHATSAPP_STATE_DATABASE_URL"])  # migrated here, before the channel starts
    stack = asyncio.create_task(launcher.run_all(launcher.services(sys.executable, env), env))
    simulator = Simulator(
        twilio=twilio,
        rasa_url=rasa_url,
        rasa_token=env["RASA_API_TOKEN"],
        auth_token=auth_token,
        contacts=contacts,
        backend=make_engine(settings.database_url(config)),
        templates=clinic.templates,
        flows=flow_index(),
        reminder_spread=dt.timedelta(minutes=clinic.reminder_spread_minutes),
    )
    token = tokens.token(*tokens.SIMULATOR)
    runner = web.AppRunner(simulator_app(simulator, token, clinic.name, env), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, port).start()
    print(
        f"carebot simulator: http://{HOST}:{port}/simulator?token={token}\n"
        f"  (the stack starts beside it: the page answers once Rasa has loaded its model; Ctrl-C stops all)",
        flush=True,
    )
    try:
        return await stack
    finally:
        await runner.cleanup()
        await twilio.stop()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m carebot.simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None, help="default: SIMULATOR_PORT (8090)")
    args = parser.parse_args(argv)
    if mode.is_production():
        print("simulator: refused with CAREBOT_MODE=production (development mode only)", file=sys.stderr)
        return 2
    try:
        clinic = load_clinic()
    except ClinicConfigError as error:
        print(f"simulator: cannot start, the clinic file has a problem:\n  {error}", file=sys.stderr)
        return 2
    return asyncio.run(run(clinic, args.port or settings.current().simulator_port))


if __name__ == "__main__":
    sys.exit(main())
