""" "Save as test story" on a real conversation: a booking goes through the real stack (Rasa, action server, backend),
review writes it as a masked test story from the tracker events Rasa stored, and `rasa test core` (as
`make rasa-test` runs it) replays that story against the same model without a prediction error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from carebot.backend.db import make_engine
from carebot.privacy import sealing
from carebot.review.store import ReviewStore, domain_intents
from tests.e2e.conftest import MODEL, ROOT, book_a_gp_appointment


@pytest.mark.slow
def test_a_saved_story_passes_rasa_test(stack, tmp_path, monkeypatch):
    patient = "whatsapp:+447700811201"
    book_a_gp_appointment(stack, patient, "Robin Marlowe")
    stack.say(patient, "my other number is 07700 900456, thanks")

    var = Path(stack.env["CAREBOT_VAR_DIR"])
    monkeypatch.setenv("CAREBOT_VAR_DIR", str(var))
    sealing.cipher.cache_clear()
    tracker = make_engine(f"sqlite:///{var / 'tracker.db'}")
    try:
        with tracker.connect() as connection:
            first = connection.execute(
                text("SELECT MIN(id) FROM events WHERE sender_id = :s AND type_name = 'user'"), {"s": patient}
            ).scalar()
        found = ReviewStore(make_engine(stack.env["CAREBOT_DATABASE_URL"]), tracker, domain_intents()).story(
            first
        )
    finally:
        sealing.cipher.cache_clear()
    assert found is not None
    sender, story = found
    assert sender == patient
    for personal in ("Robin", "Marlowe", "21/07/1980", "900456", "811201"):
        assert personal not in story
    assert "active_loop: appointment_form" in story and "action_appointment_done" in story
    # The last message got Rasa's core fallback, whose forced listen a story cannot express: left out, and said so.
    assert "up to the turn where an action forced the next" in story and "other number" not in story

    saved = tmp_path / "review_story.yml"
    saved.write_text(story)
    token = subprocess.run(
        [sys.executable, "-m", "carebot.tokens", "ACTION_SERVER_TOKEN", "action_token"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rasa",
            "test",
            "core",
            "--stories",
            str(saved),
            "--model",
            str(MODEL),
            "--fail-on-prediction-errors",
            "--out",
            str(tmp_path / "results"),
        ],
        cwd=ROOT,
        env={**os.environ, "ACTION_SERVER_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=900,
    )
    failed = [
        line for line in (done.stdout + done.stderr).splitlines() if "Error" in line or "predicted" in line
    ]
    assert done.returncode == 0, story + "\n".join(failed)[-3000:]
