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
__all__ = ["MODEL", "ROOT", "Stack", "free_port"]
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


@pytest.fixture
def sender() -> str:
    """A fresh WhatsApp-style sender id per test, so conversations never share state."""
    return f"whatsapp:+4477009{uuid.uuid4().int % 100000:05d}"
