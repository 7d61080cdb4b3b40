"""`make simulate` as a designer runs it: `python -m carebot.simulator` starts the launcher's stack (on free ports
here, bench/stack.py's environment) with its WhatsApp channel pointed at the stand-in in the simulator's process,
prints the page's link, and a message sent through the page's API is answered through the real channel, with its
panel from the tracker. Needs a trained model (`make train`, or RASA_MODEL)."""

from __future__ import annotations

import re
import sys

import httpx
import pytest

from bench.stack import carebot_stack, free_port, spawn
from tests.e2e.test_reminders_e2e import model

pytestmark = pytest.mark.slow
TOKEN = "a-simulator-token-for-the-command-test"


def test_make_simulate_answers_through_the_whatsapp_channel(tmp_path) -> None:
    if not model().exists():
        pytest.fail(f"no trained model at {model()}: run `make train` (or set RASA_MODEL)")
    stack = carebot_stack(tmp_path / "var", model=model())
    port = free_port()
    env = {**stack.env, "SIMULATOR_TOKEN": TOKEN, "SIMULATOR_PORT": str(port)}
    stack.running = spawn([sys.executable, "-m", "carebot.simulator"], env=env, log=tmp_path / "simulate.log")
    try:
        stack.wait_ready()
        assert f"http://127.0.0.1:{port}/simulator?token={TOKEN}" in stack.running.log_tail(100_000)
        page = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=60, headers={"X-Simulator-Token": TOKEN}
        )
        state = page.post("/simulator/api/send", json={"text": "I'd like to book a GP appointment"}).json()
        said, *replies = state["messages"]
        assert said["from"] == "patient" and replies and all(m["from"] == "bot" for m in replies)
        assert "When would you like to come in?" in " ".join(m.get("body", "") for m in replies)
        assert re.fullmatch(
            r"SM[0-9a-f]{32}", replies[0]["sid"]
        )  # accepted by the stand-in, not logged in sandbox
        [panel] = state["panels"]
        assert panel["intent"] == "book_appointment" and "rules-booking" in panel["flows"]
        assert state["window"]["open"]
        # The channel's state is the simulator's own, apart from `make run`'s var/whatsapp.db.
        assert (tmp_path / "var" / "simulator" / "whatsapp.db").exists()
    finally:
        stack.stop()
