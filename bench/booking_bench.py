"""How long a patient waits for each reply while booking, rescheduling and cancelling, through the whole stack.

The stack is the one `make run` starts (launcher: backend, action server, Rasa, reminder dispatcher) on free ports,
and each conversation is a new patient on the REST channel: book as a first-time patient (name and date of birth),
reschedule, list, cancel. Every reply is timed from request to answer; a booking turn runs NLU, the form, its
validation action and one to three backend calls. Conversations run one after another (a patient waits for the
bot); the figures are per reply. Run alone with `python -m bench.booking_bench [--model PATH]`, or as the `booking`
section of `make bench`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Dict, List, Tuple

from bench.stack import DEFAULT_MODEL, carebot_stack, start

CONVERSATIONS = 10
# (step name, what the patient says, a piece the reply must contain: a wrong answer must not pass as a fast one)
SCRIPT: Tuple[Tuple[str, str, str], ...] = (
    ("start booking", "I'd like to book a GP appointment", "When would you like"),
    ("day → offers", "next Wednesday morning", "Which would you like"),
    ("pick", "1", "full name"),
    ("name", "Sam Taylor", "date of birth"),
    ("birth date", "21/07/1980", "Please check"),
    ("yes → book", "yes", "Booked"),
    ("start reschedule", "can I change my appointment", "When would you like to move"),
    ("day → offers", "next Thursday afternoon", "Which would you like"),
    ("pick", "2", "Move your appointment"),
    ("yes → move", "yes", "Done"),
    ("list", "when is my appointment", "Your upcoming appointments"),
    ("start cancel", "please cancel my appointment", "Cancel your appointment"),
    ("yes → cancel", "yes", "Cancelled"),
)


def _percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(model: Path, conversations: int = CONVERSATIONS) -> Dict[str, List[float]]:
    """Milliseconds per reply, by step name, over `conversations` full conversations."""
    timings: Dict[str, List[float]] = {}
    var = Path(tempfile.mkdtemp(prefix="booking-bench-"))
    stack = start(carebot_stack(var, model=model), var / "stack.log")
    try:
        stack.wait_ready()
        for _ in range(conversations):
            sender = f"whatsapp:+4477009{uuid.uuid4().int % 100000:05d}"
            for step, text, expected in SCRIPT:
                started = time.perf_counter()
                reply = stack.texts(sender, text)
                elapsed = (time.perf_counter() - started) * 1000
                if expected not in reply:
                    raise RuntimeError(f"step '{step}': expected '{expected}' in the reply, got: {reply!r}")
                timings.setdefault(step, []).append(elapsed)
    finally:
        stack.stop()
    return timings


def report(timings: Dict[str, List[float]]) -> str:
    every = [ms for values in timings.values() for ms in values]
    rows = ["| step | replies | median ms | p95 ms | max ms |", "|---|---:|---:|---:|---:|"]
    for step, values in timings.items():
        rows.append(
            f"| {step} | {len(values)} | {statistics.median(values):.0f} | "
            f"{_percentile(values, 0.95):.0f} | {max(values):.0f} |"
        )
    rows.append(
        f"| **every reply** | {len(every)} | {statistics.median(every):.0f} | "
        f"{_percentile(every, 0.95):.0f} | {max(every):.0f} |"
    )
    return (
        "Each row: the time from the patient's message to the bot's reply over the REST channel, through "
        f"Rasa, the action server and the scheduling backend (SQLite), {CONVERSATIONS} conversations of "
        f"{len(SCRIPT)} messages each (steps with the same name are pooled).\n\n" + "\n".join(rows) + "\n"
    )


def run(model: Path = DEFAULT_MODEL) -> str:
    return report(measure(model))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    print(run(parser.parse_args().model))


if __name__ == "__main__":
    main()
