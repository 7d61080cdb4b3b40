"""Finding 8: webhook bodies are limited and signatures required before parsing; a replay after a restart is refused."""

from __future__ import annotations

from typing import Any, Callable, List

import pytest

from carebot.channels import whatsapp
from carebot.channels.ttl_store import MemoryTTLStore
from tests.channels.whatsapp_harness import PATIENT, Harness


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> List[int]:
    """The sizes of every webhook body the channel parsed."""
    sizes: List[int] = []
    original = whatsapp.parse_form

    def recording_parse(raw: str) -> Any:
        sizes.append(len(raw))
        return original(raw)

    monkeypatch.setattr(whatsapp, "parse_form", recording_parse)
    return sizes


async def test_an_unsigned_post_is_refused_before_its_body_is_parsed(
    harness: Harness, parsed: List[int]
) -> None:
    response = await harness.post({**harness.message("hello"), "padding": "x" * 500_000}, signature=None)
    assert response.status == 403
    assert parsed == []


async def test_a_signed_body_over_64_kb_is_refused_unparsed(harness: Harness, parsed: List[int]) -> None:
    response = await harness.post(harness.message("a" * (65 * 1024)))
    assert response.status == 413
    assert parsed == [] and harness.bot.messages == []


async def test_a_signed_webhook_replayed_after_a_restart_is_ignored(make_harness: Callable[..., Any]) -> None:
    before_restart = await make_harness(store=MemoryTTLStore())
    first = before_restart.message("book an appointment")
    assert (await before_restart.post(first)).status == 204
    await before_restart.bot.wait_for(1)

    after_restart = await make_harness(store=MemoryTTLStore())  # a new process: its memory is empty
    assert (await after_restart.post(first)).status == 204
    await after_restart.post(after_restart.message("thanks"))
    [message] = await after_restart.bot.wait_for(1)  # the patient's messages are handled in arrival order
    assert message.text == "thanks" and message.sender_id == f"whatsapp:{PATIENT}"
