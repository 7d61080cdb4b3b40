"""`python -m bench [--only NAME ...]`: run the benchmark sections and write them into docs/benchmarks.md.

Sections run one after another, never together: on a small machine they would steal CPU from each other and
every figure would be wrong. The load average before and after each section is recorded because the machine
may be shared (other processes skew figures; the reader deserves to know).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
import re
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional

import psutil

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
# Short name (for --only) -> (module under bench/, section title), in the order they run and appear.
SECTIONS: Dict[str, tuple] = {
    "rasa": ("rasa_bench", "Rasa: stock `rasa init` bot vs Carebot"),
    "scheduling": ("scheduling_bench", "Scheduling backend"),
    "reminders": ("reminders_bench", "Reminder dispatcher"),
    "waitlist": ("waitlist_bench", "Waitlist: matching a cancellation against 10,000 waiting patients"),
    "whatsapp": ("whatsapp_load", "WhatsApp channel under load"),
    "replicas": ("whatsapp_replicas", "Two replicas behind nginx, loaded through WhatsApp (Locust)"),
    "outbox": ("outbox_bench", "WhatsApp outbox: Twilio failing, Twilio down, shared pacing"),
    "dates": ("dates_bench", "Date and time understanding"),
    "booking": ("booking_bench", "Booking, rescheduling and cancelling through the whole stack"),
    "triage": ("triage_bench", "Triage: findings and decision engine (no Rasa)"),
    "triage_nlu": (
        "triage_nlu_bench",
        "Triage: NLU components' cost per message (findings, red-flag screen)",
    ),
    "tracker_store": ("tracker_store_bench", "Tracker store: encryption at rest per message"),
    "dashboard": ("dashboard_bench", "Dashboard: 30 days and 10,000 conversations"),
}
SECTION_BLOCK = re.compile(r"<!-- section:(\w+) -->\n.*?<!-- /section:\1 -->\n", re.S)


def machine() -> str:
    """nproc, RAM and CPU model: figures mean little without the machine they came from."""
    model = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        model = names[0] if names else model
    ram = psutil.virtual_memory().total / 2**30
    return (
        f"{os.cpu_count()} CPUs ({model}), {ram:.1f} GiB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def _load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def run_section(name: str) -> Optional[tuple]:
    """(markdown block, succeeded) for one section, or None when its module is not written yet."""
    module_name, title = SECTIONS[name]
    if importlib.util.find_spec(f"bench.{module_name}") is None:
        return None
    started_at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_before = _load()
    started = time.monotonic()
    print(f"bench: {name} …", file=sys.stderr, flush=True)
    try:
        body, ok = importlib.import_module(f"bench.{module_name}").run().strip(), True
    except Exception:  # noqa: BLE001 - one broken section must not cost the others their figures
        body, ok = f"**This section failed:**\n\n```\n{traceback.format_exc()[-3000:]}```", False
    elapsed = time.monotonic() - started
    meta = (
        f"_Measured {started_at} in {elapsed:.0f} s; load average (1/5/15 min) before {load_before}, "
        f"after {_load()}._"
    )
    block = f"<!-- section:{name} -->\n## {title}\n\n{meta}\n\n{body}\n<!-- /section:{name} -->\n"
    print(block)
    return block, ok


def write_doc(blocks: Dict[str, str], command: str) -> None:
    """Writes the document; sections not run this time keep their previous text."""
    kept = (
        {match.group(1): match.group(0) for match in SECTION_BLOCK.finditer(DOC.read_text())}
        if DOC.exists()
        else {}
    )
    kept.update(blocks)
    header = (
        "# Benchmarks\n\n"
        "Written by `make bench`; do not edit by hand (each section says when it was measured).\n\n"
        f"- Machine: {machine()}\n"
        f"- Last run: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}, `{command}`\n"
        "- The CPU may be shared with other work: compare the load averages before trusting a difference.\n\n"
    )
    DOC.parent.mkdir(parents=True, exist_ok=True)
    # Blocks other tools own (e.g. `make eval`'s) stay, after the benchmark sections.
    order = [name for name in SECTIONS if name in kept] + [name for name in kept if name not in SECTIONS]
    DOC.write_text(header + "\n".join(kept[name] for name in order))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(SECTIONS),
        metavar="NAME",
        help=f"run only these sections ({', '.join(SECTIONS)})",
    )
    args = parser.parse_args(argv)
    chosen = args.only or list(SECTIONS)
    blocks: Dict[str, str] = {}
    failed = []
    for name in chosen:
        result = run_section(name)
        if result is None:
            print(f"bench: {name}: bench/{SECTIONS[name][0]}.py not written yet, skipped", file=sys.stderr)
            continue
        blocks[name], ok = result
        if not ok:
            failed.append(name)
    command = "make bench" if not args.only else f".venv/bin/python -m bench --only {' '.join(args.only)}"
    write_doc(blocks, command)
    print(
        f"bench: wrote {DOC.relative_to(ROOT)}" + (f"; failed: {', '.join(failed)}" if failed else ""),
        file=sys.stderr,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
