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

from bench.stack import DEFAULT_MODEL as MODEL, ROOT, CarebotStack, carebot_stack, free_port, start

Stack = CarebotStack
__all__ = ["MODEL", "ROOT", "Stack", "free_port"]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` (make test does it first)")
    var = tmp_path_factory.mktemp("stack-var")
    running = start(carebot_stack(var), var / "stack.log")
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture
def sender() -> str:
    """A fresh WhatsApp-style sender id per test, so conversations never share state."""
    return f"whatsapp:+4477009{uuid.uuid4().int % 100000:05d}"
