"""`python -m bench.seed_demo [--conversations 500] [--days 30] [--check]` (`make seed-demo`): the demo conversations
through the real stack, over the last DAYS clinic days. Starts the launcher's stack on free ports over the SQLite
databases `make run` uses (in CAREBOT_VAR_DIR, default var/), has each scripted patient talk to it and moves each
conversation back to its scripted day right after it (carebot/dashboard/live.py), stops the stack, and prints the
seed's own count of the figures. Refused when CAREBOT_MODE=production: demo patients must never mix with real
ones."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import uuid
from typing import Dict, List, Optional

from bench.stack import carebot_stack, start
from carebot import mode, settings
from carebot.backend.db import make_engine
from carebot.clinic import load_clinic
from carebot.clock import clinic_now
from carebot.dashboard.demo import Ledger, dumps
from carebot.dashboard.live import Backdate, ScriptError, drive, scripts, within
from carebot.dashboard.model import Period
from carebot.dashboard.store import DashboardStore


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.seed_demo", description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--days", type=int, default=30, help="spread over the last DAYS clinic days (1-366)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="then compare the dashboard of the whole spread and of its last 7 days with the seed's count "
        "(exit 1 on a difference; for fresh databases)",
    )
    args = parser.parse_args(argv)
    if mode.is_production():
        print("seed-demo: refused with CAREBOT_MODE=production (demo patients must not mix with real ones)")
        return 2
    if args.conversations < 1 or not 1 <= args.days <= 366:
        print("seed-demo: give at least 1 conversation and 1 to 366 days")
        return 2
    var = settings.current().carebot_var_dir
    clinic = load_clinic()
    today = clinic_now(clinic.tz).date()  # the days are counted back from the day the seed started
    stack = start(carebot_stack(var), var / "seed-demo.log")
    by_day: Dict[int, Ledger] = {}
    backend = make_engine(stack.env["CAREBOT_DATABASE_URL"])
    tracker = make_engine(f"sqlite:///{var / 'tracker.db'}")
    try:
        stack.wait_ready()
        run = uuid.uuid4().int % 100  # a fresh range per run: every patient is new
        senders = [f"whatsapp:+44770{run:02d}{n:05d}" for n in range(args.conversations)]
        ledger = drive(
            lambda sender, text: [m.get("text", "") for m in stack.say(sender, text)],
            senders,
            scripts(args.conversations, args.days),
            moved=Backdate(tracker, backend, clinic.tz, today),
            by_day=by_day,
        )
    except ScriptError as error:
        print(f"seed-demo: stopped, the bot went off script: {error}")
        return 1
    finally:
        stack.stop()
    print(dumps(ledger))
    print(
        f"seed-demo: {args.conversations} conversations through the real bot over the {args.days} days to "
        f"{today.isoformat()}; open /staff/dashboard"
    )
    if not args.check:
        return 0
    store = DashboardStore(backend, tracker)
    failed = 0
    for days in sorted({args.days, min(7, args.days)}, reverse=True):
        period = Period.of_days(today - dt.timedelta(days=days - 1), today, clinic.tz)
        failed += _check(within(by_day, days), store, period)
    return 1 if failed else 0


def _check(ledger: Ledger, store: DashboardStore, period: Period) -> int:
    """The dashboard of `period` over the stack's databases against the seed's own count, figure by figure."""
    shown = store.report(period).figures()
    differ = {
        key: (count, shown.get(key)) for key, count in ledger.expected().items() if shown.get(key) != count
    }
    for key, (count, seen) in sorted(differ.items()):
        print(f"seed-demo: {period.query}: {key}: the seed counted {count}, the dashboard shows {seen}")
    print(
        f"seed-demo: {period.query}: {len(ledger.expected()) - len(differ)} of {len(ledger.expected())} figures "
        f"match the dashboard"
    )
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
