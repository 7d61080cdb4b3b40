"""`python -m bench.seed_demo [--conversations 500]` (`make seed-demo`): the demo conversations through the real
stack. Starts the launcher's stack on free ports over the databases `make run` uses (CAREBOT_VAR_DIR, default var/),
has each scripted patient talk to it (carebot/dashboard/live.py), stops it, and prints the seed's own count of the
figures. Refused when CAREBOT_MODE=production: demo patients must never mix with real ones."""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import List, Optional

from bench.stack import carebot_stack, start
from carebot import mode, settings
from carebot.dashboard.demo import dumps
from carebot.dashboard.live import ScriptError, drive, scripts


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.seed_demo", description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=500)
    args = parser.parse_args(argv)
    if mode.is_production():
        print("seed-demo: refused with CAREBOT_MODE=production (demo patients must not mix with real ones)")
        return 2
    if args.conversations < 1:
        print("seed-demo: give at least 1 conversation")
        return 2
    var = settings.current().carebot_var_dir
    stack = start(carebot_stack(var), var / "seed-demo.log")
    try:
        stack.wait_ready()
        run = uuid.uuid4().int % 100  # a fresh range per run: every patient is new
        senders = [f"whatsapp:+44770{run:02d}{n:05d}" for n in range(args.conversations)]
        ledger = drive(
            lambda sender, text: [m.get("text", "") for m in stack.say(sender, text)],
            senders,
            scripts(args.conversations),
        )
    except ScriptError as error:
        print(f"seed-demo: stopped, the bot went off script: {error}")
        return 1
    finally:
        stack.stop()
    print(dumps(ledger))
    print(f"seed-demo: {args.conversations} conversations through the real bot; open /staff/dashboard")
    return 0


if __name__ == "__main__":
    sys.exit(main())
