"""`python -m bench.compare --before A.md … --after B.md …`: are two commits' benchmark figures within noise?

Each file is a docs/benchmarks.md written by one `python -m bench` run. Its "Last run" line names the sections
that run measured (`--only …`, or every section for `make bench`); the file's other sections are older copies
and are skipped. A figure is within noise when the two commits' means differ by no more than the larger spread
between runs of the same commit: a change that claims to leave speed alone (issue 15's refactor) must not move a
figure further than the machine moves it by itself. Run the commits alternately (A, B, B, A) on a quiet host.
Prints a Markdown table; exits 1 when a figure is outside the noise.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Dict, List, Optional, Sequence, Set

from bench.__main__ import SECTIONS


@dataclass(frozen=True)
class Figure:
    name: str
    section: str
    pattern: str  # its value is the regex's first group, searched within the section
    flags: int = re.S


FIGURES = (
    Figure("Carebot full training, cold (s)", "rasa", r"full training, cold \(s\) \| [\d.]+ \| ([\d.]+)"),
    Figure("Carebot ready after start (s)", "rasa", r"ready after start \(s\) \| [\d.]+ \| ([\d.]+)"),
    Figure("Carebot REST round trip p50 (ms)", "rasa", r"REST round trip p50 \(ms\) \| [\d.]+ \| ([\d.]+)"),
    Figure("Carebot REST round trip p95 (ms)", "rasa", r"REST round trip p95 \(ms\) \| [\d.]+ \| ([\d.]+)"),
    Figure(
        "Carebot Rasa CPU per message (ms)",
        "rasa",
        r"Rasa server CPU time per message \(ms\) \| [\d.]+ \| ([\d.]+)",
    ),
    Figure(
        "Carebot throughput, 8 senders (msg/s)",
        "rasa",
        r"throughput, 8 senders \(msg/s\) \| [\d.]+ \| ([\d.]+)",
    ),
    Figure("Carebot Rasa RSS (MB)", "rasa", r"Rasa server RSS \(MB\) \| [\d.]+ \| ([\d.]+)"),
    Figure("slot search p50 (ms)", "scheduling", r"free-slot search, SQLite.*?p50 ([\d.]+) ms"),
    Figure("slot search p95 (ms)", "scheduling", r"free-slot search, SQLite.*?p95 ([\d.]+) ms"),
    Figure("bookings, SQLite, 8 clients (/s)", "scheduling", r"bookings, SQLite.*?\| (\d+) /s"),
    Figure("bookings, PostgreSQL, 8 clients (/s)", "scheduling", r"bookings, PostgreSQL.*?\| (\d+) /s"),
    Figure("reminders/s, instant stand-in, 1 dispatcher", "reminders", r"\| 0 ms \| 1 \| [\d.]+ \| (\d+) \|"),
    Figure(
        "reminders/s, instant stand-in, 2 dispatchers", "reminders", r"\| 0 ms \| 2 \| [\d.]+ \| (\d+) \|"
    ),
    Figure(
        "reminders/s, 100 ms stand-in, 1 dispatcher", "reminders", r"\| 100 ms \| 1 \| [\d.]+ \| (\d+) \|"
    ),
    Figure(
        "reminders/s, 100 ms stand-in, 2 dispatchers", "reminders", r"\| 100 ms \| 2 \| [\d.]+ \| (\d+) \|"
    ),
    Figure("webhook ack p50 (ms)", "whatsapp", r"ack p50 / p95 / max \| (\d+) /"),
    Figure("webhook ack p95 (ms)", "whatsapp", r"ack p50 / p95 / max \| \d+ / (\d+)"),
    Figure("all 50 patients answered after (s)", "whatsapp", r"all 50 answered after \| ([\d.]+) s"),
    Figure("interpret_when mean (ms)", "dates", r"interpret_when.*?\| \d+ \| ([\d.]+) \|"),
    Figure("booking, every reply median (ms)", "booking", r"\*\*every reply\*\* \| \d+ \| (\d+) \|"),
    Figure("booking, every reply p95 (ms)", "booking", r"\*\*every reply\*\* \| \d+ \| \d+ \| (\d+) \|"),
    Figure("findings per message median (ms)", "triage", r"Extraction.*?median ([\d.]+) ms"),
    Figure("engine, a whole triage median (ms)", "triage", r"Engine.*?median ([\d.]+) ms"),
    Figure(
        "PatternEntityExtractor median (ms)",
        "triage_nlu",
        r"PatternEntityExtractor with findings.*?\| ([\d.]+) \|",
    ),
    Figure("whole NLU pipeline median (ms)", "triage_nlu", r"whole trained NLU pipeline.*?\| ([\d.]+) \|"),
)


def sections_run(document: str) -> Set[str]:
    """The sections the run that wrote this file measured, from its "Last run" line."""
    only = re.search(r"^- Last run: .*?--only ([\w ]+)`", document, re.M)
    return set(only.group(1).split()) if only else set(SECTIONS)


def read_figures(document: str) -> Dict[str, float]:
    """Every figure this run measured (a section that failed or was not run gives none)."""
    ran = sections_run(document)
    found: Dict[str, float] = {}
    for figure in FIGURES:
        block = re.search(
            rf"<!-- section:{figure.section} -->(.*?)<!-- /section:{figure.section} -->", document, re.S
        )
        if figure.section not in ran or block is None or "This section failed" in block.group(1):
            continue
        value = re.search(figure.pattern, block.group(1), figure.flags)
        if value:
            found[figure.name] = float(value.group(1))
    return found


def within_noise(before: Sequence[float], after: Sequence[float]) -> bool:
    """The means differ by no more than the larger spread of one commit's own runs."""
    spread = max(max(before) - min(before), max(after) - min(after))
    return abs(mean(after) - mean(before)) <= spread


def _runs(values: Sequence[float]) -> str:
    return " / ".join(f"{v:g}" for v in values)


def table(before: List[Dict[str, float]], after: List[Dict[str, float]]) -> tuple:
    """(Markdown lines, figures outside the noise); a figure needs two runs of each commit to be judged."""
    lines = [
        "| figure | before, each run | after, each run | mean after / mean before | within noise |",
        "|---|---|---|---:|---|",
    ]
    outside: List[str] = []
    for figure in FIGURES:
        a = [run[figure.name] for run in before if figure.name in run]
        b = [run[figure.name] for run in after if figure.name in run]
        if len(a) < 2 or len(b) < 2:
            continue
        ok = within_noise(a, b)
        if not ok:
            outside.append(figure.name)
        lines.append(
            f"| {figure.name} | {_runs(a)} | {_runs(b)} | {mean(b) / mean(a):.2f} | {'yes' if ok else '**no**'} |"
        )
    return lines, outside


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", nargs="+", type=Path, required=True)
    parser.add_argument("--after", nargs="+", type=Path, required=True)
    args = parser.parse_args(argv)
    before = [read_figures(path.read_text(encoding="utf-8")) for path in args.before]
    after = [read_figures(path.read_text(encoding="utf-8")) for path in args.after]
    lines, outside = table(before, after)
    print("\n".join(lines))
    if outside:
        print(f"outside the noise: {', '.join(outside)}", file=sys.stderr)
    return 1 if outside else 0


if __name__ == "__main__":
    sys.exit(main())
