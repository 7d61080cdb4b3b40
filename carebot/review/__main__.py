"""`python -m carebot.review export [--out FILE]`: the messages staff marked "wrong intent → X" in conversation review
(/staff/conversations) and not exported yet, as data/nlu YAML lines (printed, or written to FILE, e.g.
data/nlu/review.yml, for a designer to read and commit; `rasa data validate` accepts them). Uses CAREBOT_DATABASE_URL."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from carebot import migrations
from carebot.backend.db import make_engine
from carebot.review.store import ReviewStore, domain_intents


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m carebot.review", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="marked messages as data/nlu YAML")
    export.add_argument("--out", type=Path, help="write to this file instead of printing")
    args = parser.parse_args(argv)
    engine = make_engine()
    migrations.upgrade(engine, migrations.BACKEND)  # as the backend does at start
    text = ReviewStore(engine, None, domain_intents()).export()
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"review export: wrote {args.out}")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
