"""`python -m bench.seed_demo [--conversations 500]` (`make seed-demo`): the demo conversations through the real
stack. Starts the launcher's stack on free ports over the SQLite databases `make run` uses (in CAREBOT_VAR_DIR, default var/),
has each scripted patient talk to it (carebot/dashboard/live.py), stops it, and prints the seed's own count of the
figures. Refused when CAREBOT_MODE=production: demo patients must never mix with real ones."""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import List, Optional

from bench.stack import carebot_stack, start
from carebot import mode, settings
from carebot.backend.db import make_engine
from carebot.clinic import load_clinic
from carebot.clock import clinic_now
from carebot.dashboard.demo import Ledger, dumps
from carebot.dashboard.live import ScriptError, drive, scripts
from carebot.dashboard.model import Period
from carebot.dashboard.store import DashboardStore


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.seed_demo", description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument(
        "--check",
        action="store_true",
        help="then compare today's dashboard with the seed's count (exit 1 on a difference; for fresh databases)",
    )
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
    return _check(ledger, stack.env["CAREBOT_DATABASE_URL"], var) if args.check else 0


def _check(ledger: Ledger, backend_url: str, var: Path) -> int:
    """Today's dashboard over the stack's databases against the seed's own count, figure by figure."""
    clinic = load_clinic()
    today = clinic_now(clinic.tz).date()
    store = DashboardStore(make_engine(backend_url), make_engine(f"sqlite:///{var / 'tracker.db'}"))
    shown = store.report(Period.of_days(today, today, clinic.tz)).figures()
    differ = {
        key: (count, shown.get(key)) for key, count in ledger.expected().items() if shown.get(key) != count
    }
    for key, (count, seen) in sorted(differ.items()):
        print(f"seed-demo: {key}: the seed counted {count}, the dashboard shows {seen}")
    print(
        f"seed-demo: {len(ledger.expected()) - len(differ)} of {len(ledger.expected())} figures match the dashboard"
    )
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
