"""How long `carebot.dates.interpret_when` takes per booking message, over the phrasings its tests pin down.

It runs on every booking message, so the figure that matters is the warm per-call time; the first call is shown
apart because dateparser loads its language data lazily. For scale, the same phrasings go through a plain
`dateparser.parse` call with per-call settings (what a naive wrapper would do, and still wrong on half of them).
Run alone with `python -m bench.dates_bench`, or as the `dates` section of `make bench`.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import statistics
import subprocess
import sys
from pathlib import Path
from typing import List

from bench.timing import timings_ms

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 20


def _phrasings() -> List[str]:
    """The phrasings of tests/test_dates.py (windows, year end and problems), so the figure covers what is tested."""
    spec = importlib.util.spec_from_file_location("_test_dates", ROOT / "tests" / "test_dates.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    texts = [text for text, _, _ in module.WINDOWS] + [text for text, _, _ in module.YEAR_END_WINDOWS]
    return texts + ["sunday", "25th december", "today at 9", "at 9pm", "March 3rd", "hello", "a" * 5000]


def _first_call_ms() -> float:
    """A fresh interpreter's first parse (imports excluded): the cost the first patient of the day pays."""
    code = (
        "import time, datetime as dt; from carebot.clinic import load_clinic; from carebot.dates import "
        "interpret_when; c = load_clinic(); n = dt.datetime.now(c.tz); t = time.perf_counter(); "
        "interpret_when('3rd of December', c, n); print((time.perf_counter() - t) * 1000)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def run() -> str:
    import dateparser

    from carebot.clinic import load_clinic
    from carebot.dates import interpret_when

    clinic = load_clinic()
    now = dt.datetime(2026, 11, 25, 10, 15, tzinfo=clinic.tz)
    texts = _phrasings()
    first = _first_call_ms()
    ours = timings_ms(lambda text: interpret_when(text, clinic, now), texts, ROUNDS)
    naive_now = now.replace(tzinfo=None)
    plain = timings_ms(
        lambda text: dateparser.parse(
            text,
            languages=["en"],
            settings={
                "DATE_ORDER": clinic.date_order,
                "PREFER_DATES_FROM": "future",
                "RELATIVE_BASE": naive_now,
            },
        ),
        texts,
        3,
    )

    def row(name: str, values: List[float]) -> str:
        ordered = sorted(values)
        p95 = ordered[int(len(ordered) * 0.95) - 1]
        return (
            f"| {name} | {len(values)} | {statistics.mean(values):.3f} | {statistics.median(values):.3f} "
            f"| {p95:.3f} | {ordered[-1]:.3f} |"
        )

    return "\n".join(
        [
            "### Date and time parsing (`carebot/dates.py`)\n",
            f"{len(texts)} phrasings from tests/test_dates.py, {ROUNDS} rounds, one process, warm. "
            f"First call in a fresh process: {first:.1f} ms (dateparser loads its English data once).\n",
            "| parser | calls | mean ms | p50 ms | p95 ms | max ms |",
            "|---|---|---|---|---|---|",
            row("interpret_when (clinic rules + cached dateparser)", ours),
            row("dateparser.parse alone, settings per call (for scale)", plain),
        ]
    )


if __name__ == "__main__":
    print(run())
