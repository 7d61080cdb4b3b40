"""`python -m carebot.dashboard seed-demo [--conversations 500] [--days 30]`: the demo's scripted conversations
(carebot/dashboard/demo.py) over the last DAYS clinic days, into the databases the services use
(CAREBOT_DATABASE_URL, WHATSAPP_STATE_DATABASE_URL and the tracker store of RASA_ENDPOINTS, else endpoints.yml),
so that /staff/dashboard has something to show. Prints the seed's own count of every figure. Refused when
CAREBOT_MODE=production: demo patients must never mix with real ones."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from carebot import mode
from carebot.backend.db import make_engine
from carebot.channels.contacts import ContactStore
from carebot.clinic import load_clinic
from carebot.clock import clinic_now
from carebot.dashboard.demo import Seed, dumps
from carebot.privacy.stores import tracker_database_url


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m carebot.dashboard", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    seed = commands.add_parser("seed-demo", help="write the demo's scripted conversations")
    seed.add_argument("--conversations", type=int, default=500)
    seed.add_argument("--days", type=int, default=30)
    seed.add_argument("--ledger", type=Path, help="also write the seed's own figures (JSON) to this file")
    args = parser.parse_args(argv)
    if mode.is_production():
        print("seed-demo: refused with CAREBOT_MODE=production (demo patients must not mix with real ones)")
        return 2
    if args.conversations < 1 or not 1 <= args.days <= 366:
        print("seed-demo: give at least 1 conversation and 1 to 366 days")
        return 2
    url = tracker_database_url()
    if url is None:
        print(
            "seed-demo: the endpoints file names no SQL tracker store, so there is nowhere to write conversations"
        )
        return 2
    clinic = load_clinic()
    ledger = Seed(make_engine(url), make_engine(), ContactStore().engine).run(
        args.conversations, clinic_now(clinic.tz).date(), args.days, clinic.tz
    )
    text = dumps(ledger)
    if args.ledger:
        args.ledger.write_text(text, encoding="utf-8")
    print(text)
    print(f"seed-demo: {args.conversations} conversations over {args.days} days; open /staff/dashboard")
    return 0


if __name__ == "__main__":
    sys.exit(main())
