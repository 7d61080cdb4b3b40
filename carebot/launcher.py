"""`make run`: start the whole Carebot stack as one process group, each line of output prefixed by its service.

Order: the scheduling backend, the action server, the Rasa server and the reminder dispatcher. Ctrl-C (or any
service dying) stops them all, so a developer never leaves half a stack running on the fixed ports.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from carebot import settings, tokens
from carebot.clinic import ClinicConfigError, load_clinic
from carebot.mode import ModeError, check_bind

ROOT = settings.PROJECT_ROOT
COLOURS = ("\033[36m", "\033[33m", "\033[35m", "\033[32m")
RESET = "\033[0m"
RESTART_AFTER_SECONDS = 30.0  # a replica that dies sooner after its start is not started again


@dataclass(frozen=True)
class Service:
    name: str
    argv: List[str]
    withheld: Tuple[str, ...] = ()  # variables this process must not hold (least privilege)
    own: Tuple[Tuple[str, str], ...] = ()  # variables of this process alone (a replica's port)
    restart: bool = False  # one of several replicas: started again when it exits, the stack carries on

    def environment(self, env: Dict[str, str]) -> Dict[str, str]:
        return {**{key: value for key, value in env.items() if key not in self.withheld}, **dict(self.own)}


# The dispatcher reads the database and triggers intents with its own token: no API token of another process.
API_TOKENS = (
    "RASA_API_TOKEN",
    "ACTION_SERVER_TOKEN",
    "CAREBOT_BACKEND_TOKEN",
    "SCHEDULING_TOKEN",
    "HANDOFF_CHANNEL_TOKEN",
)


def services(python: str, env: Dict[str, str]) -> List[Service]:
    """The processes of one Carebot installation, all bound to loopback unless the environment says otherwise."""
    config = settings.load(env)
    return [
        Service("backend", [python, "-m", "carebot.server"]),
        Service("actions", [python, "-m", "actions"]),
        rasa_service("rasa", python, config, config.rasa_port),
        Service("reminders", [python, "-m", "carebot.dispatcher"], withheld=API_TOKENS),
    ]


def rasa_service(
    name: str, python: str, config: settings.Settings, port: int, own: Tuple[Tuple[str, str], ...] = ()
) -> Service:
    """A Rasa server on `port`. The API token reaches it through RASA_API_TOKEN (carebot.rasa_server), never argv:
    `ps` shows argv."""
    argv = [python, "-m", "carebot.rasa_server", "run", "--enable-api", "--interface", config.rasa_host]
    argv += ["--port", str(port), "--model", config.rasa_model, "--endpoints", str(config.rasa_endpoints)]
    return Service(name, [*argv, "--credentials", config.rasa_credentials], own=own)


def prepare_environment() -> Dict[str, str]:
    """Environment shared by every service: tokens generated once under var/, quiet TensorFlow and SQLAlchemy.
    Files the services create (databases, tokens) are owner-only: the umask is inherited."""
    os.umask(0o077)
    tokens.secure_dir(tokens.var_dir())
    env = dict(os.environ)
    env["RASA_API_TOKEN"] = tokens.token(*tokens.RASA_API)
    env["ACTION_SERVER_TOKEN"] = tokens.token(*tokens.ACTION_SERVER)
    env.pop("CAREBOT_BACKEND_TOKEN", None)  # renamed: the services read the new name
    env[tokens.SCHEDULING[0]] = tokens.token(*tokens.SCHEDULING)
    env["HANDOFF_CHANNEL_TOKEN"] = tokens.token(*tokens.HANDOFF_CHANNEL)
    env["REMINDER_DISPATCH_TOKEN"] = tokens.token(*tokens.REMINDER_DISPATCH)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("PYTHONWARNINGS", "ignore")
    env.setdefault("PYTHONPATH", str(ROOT))
    return env


async def _pump(name: str, colour: str, stream: asyncio.StreamReader) -> None:
    prefix = f"{colour}{name:>9} |{RESET} " if sys.stdout.isatty() else f"{name:>9} | "
    while line := await stream.readline():
        sys.stdout.write(prefix + line.decode(errors="replace"))
        sys.stdout.flush()


async def run_all(stack: List[Service], env: Dict[str, str]) -> int:
    """Runs the services until Ctrl-C or until one that may not be restarted exits (then stops the others and
    returns 1); a replica (`restart`) that exits is started again, the others carrying its load meanwhile, unless
    it ran less than RESTART_AFTER_SECONDS (it cannot start: a port taken, a bad setting)."""
    processes: List[asyncio.subprocess.Process] = []
    pumps = []
    started: Dict["asyncio.Task[int]", float] = {}

    async def start(index: int) -> "asyncio.Task[int]":
        service = stack[index]
        process = await asyncio.create_subprocess_exec(
            *service.argv,
            cwd=ROOT,
            env=service.environment(env),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        processes.append(process)
        pumps.append(asyncio.create_task(_pump(service.name, COLOURS[index % len(COLOURS)], process.stdout)))
        task = asyncio.create_task(process.wait())
        started[task] = loop.time()
        return task

    loop = asyncio.get_running_loop()
    waits = {await start(index): index for index in range(len(stack))}
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stopper = asyncio.create_task(stop.wait())
    exit_code = 0
    while not stop.is_set():
        done, _ = await asyncio.wait([stopper, *waits], return_when=asyncio.FIRST_COMPLETED)
        for ended in (task for task in done if task in waits):
            index = waits.pop(ended)
            service = stack[index]
            if not service.restart or loop.time() - started.pop(ended) < RESTART_AFTER_SECONDS:
                print(
                    f"carebot: {service.name} exited with code {ended.result()}; stopping the others",
                    flush=True,
                )
                exit_code = 1
                stop.set()
                break
            print(f"carebot: {service.name} exited with code {ended.result()}; starting it again", flush=True)
            waits[await start(index)] = index
    for process in processes:
        if process.returncode is None:
            process.terminate()
    try:
        await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes)), timeout=15)
    except asyncio.TimeoutError:
        for process in processes:
            if process.returncode is None:
                process.kill()
    await asyncio.gather(*pumps, return_exceptions=True)
    return exit_code


def main(argv: Optional[List[str]] = None) -> int:
    try:
        clinic = load_clinic()
    except ClinicConfigError as error:
        print(f"carebot: cannot start, the clinic file has a problem:\n  {error}", file=sys.stderr)
        return 2
    try:
        env = prepare_environment()
        for service, host_env in (
            ("Rasa", "RASA_HOST"),
            ("backend", "BACKEND_HOST"),
            ("action server", "ACTION_SERVER_HOST"),
        ):
            check_bind(service, env.get(host_env, "127.0.0.1"), env)
    except ModeError as error:
        print(f"carebot: cannot start: {error}", file=sys.stderr)
        return 2
    print(
        f"carebot: {clinic.name} — Rasa on http://{env.get('RASA_HOST', '127.0.0.1')}:{env.get('RASA_PORT', '5005')}"
        f" (REST channel /webhooks/rest/webhook); API tokens are in {tokens.var_dir()}/ (rasa_token, scheduling_token,"
        f" action_token). Ctrl-C stops everything.",
        flush=True,
    )
    return asyncio.run(run_all(services(sys.executable, env), env))


if __name__ == "__main__":
    sys.exit(main())
