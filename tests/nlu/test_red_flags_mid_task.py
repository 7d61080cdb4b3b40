"""Red flags said in the middle of another task are read as red flags by the trained NLU, so RedFlagPolicy answers
them at once whatever the chat was doing (tests/fixtures/dev/red_flags_mid_task_p.csv, a dev set tuned on: a
regression floor, not a judgement; the frozen holdout's every-state test is in tests/e2e/)."""

from __future__ import annotations

import csv
from pathlib import Path

DEV_SET = Path(__file__).resolve().parents[1] / "fixtures" / "dev" / "red_flags_mid_task_p.csv"
FLAGGED_FLOOR = 104  # of 110 emergencies, measured when the tuning ended


def test_emergencies_mid_task_are_red_flags_and_look_alikes_are_not(parse_all):
    with DEV_SET.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    parses = parse_all([row["text"] for row in rows])
    flagged = [p["intent"]["name"] == "red_flag" for p in parses]
    emergencies = [(row["text"], f) for row, f in zip(rows, flagged) if row["expected_level"] == "emergency"]
    look_alikes = [row["text"] for row, f in zip(rows, flagged) if row["expected_level"] != "emergency" and f]
    missed = [text for text, f in emergencies if not f]
    assert len(emergencies) - len(missed) >= FLAGGED_FLOOR, missed
    assert not look_alikes
