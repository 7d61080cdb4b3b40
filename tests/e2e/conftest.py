"""The whole stack as `make run` starts it (launcher → backend, action server, Rasa, dispatcher), on free ports.

End-to-end tests talk to it over real HTTP exactly as a channel would. It is started once per test session
because Rasa takes seconds to load a model; each test uses its own sender id, so conversations never mix.
The stack itself (ports, tokens, endpoints file, readiness) is bench/stack.py, shared with benchmarks and
evaluation so all three run exactly the same thing.
"""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from bench.stack import DEFAULT_MODEL as MODEL
from bench.stack import ROOT, CarebotStack, carebot_stack, free_port, start
from carebot.handoff.auth import hash_password

Stack = CarebotStack
__all__ = ["MODEL", "ROOT", "Stack", "book_a_gp_appointment", "free_port"]
STAFF_NAME, STAFF_PASSWORD = "nurse.e2e", "e2e-staff-password"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` (make test does it first)")
    var = tmp_path_factory.mktemp("stack-var")
    stack = carebot_stack(var)
    stack.env.update(
        {
            # The WhatsApp webhook accepts requests signed with this token (no Twilio account: replies are logged, not
            # sent), and one staff account can use the inbox: tests/e2e/test_handoff_e2e.py needs both.
            "TWILIO_AUTH_TOKEN": uuid.uuid4().hex,
            "WHATSAPP_WEBHOOK_URL": stack.rasa_url,
            "WHATSAPP_STATE_DATABASE_URL": f"sqlite:///{var / 'whatsapp.db'}",
            "STAFF_ACCOUNTS": f"{STAFF_NAME}:{hash_password(STAFF_PASSWORD, iterations=1000)}",
            "STAFF_SESSION_SECRET": uuid.uuid4().hex,
        }
    )
    running = start(stack, var / "stack.log")
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def book_a_gp_appointment(stack: Stack, sender: str, name: str) -> None:
    """A first-time patient `name` (born 21/07/1980) books the first GP time offered next Wednesday morning."""
    assert "When would you like to come in?" in stack.texts(sender, "I'd like to book a GP appointment")
    stack.say(sender, "next Wednesday morning")
    assert "full name" in stack.texts(sender, "1")
    assert "date of birth" in stack.texts(sender, name)
    assert stack.texts(sender, "21/07/1980").startswith("Please check:")
    assert stack.texts(sender, "yes").startswith("Booked: ")


@pytest.fixture
def sender() -> str:
    """A fresh WhatsApp-style sender id per test, so conversations never share state."""
    return f"whatsapp:+4477009{uuid.uuid4().int % 100000:05d}"
