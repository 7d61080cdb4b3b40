"""Tap-to-answer end to end: the whole stack (launcher → backend, actions, Rasa with the trained model, dispatcher)
with Twilio replaced by the stand-in. The bot's reminder-consent question reaches WhatsApp as quick-reply buttons
made through the Content API; one patient taps "Yes, I agree", another types "1", and both are answered the same.
The model is `RASA_MODEL` if set, else models/carebot.tar.gz (`make train`)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any, Dict, List

import pytest

from bench.stack import carebot_stack, start
from carebot.channels.buttons import QUICK_REPLY
from tests.channels.whatsapp_harness import (
    TwilioStandIn,
    clock,  # noqa: F401 - the stand-in's clock: a fixture
    stack_env,
    twilio,  # noqa: F401 - a fixture, used as a parameter
)
from tests.e2e.test_reminders_e2e import model, patient_says

pytestmark = pytest.mark.slow

CONSENT_WORDS = "keep the names of your medicines"
AGREED_WORDS = "remind you to take ibuprofen"


async def shown_to(
    twilio: TwilioStandIn, phone: str, words: str, timeout: float = 30
) -> List[Dict[str, Any]]:
    """What the patient's phone shows for each message to `phone` whose text holds `words`, once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [
            twilio.shown(a) if a.content_sid in twilio.contents else {"type": "text", "body": a.body}
            for a in twilio.accepted
            if a.to == f"whatsapp:{phone}"
        ]
        matching = [shown for shown in found if words in shown.get("body", "")]
        if matching:
            return matching
        await asyncio.sleep(0.1)
    raise AssertionError(f"nothing with {words!r} reached {phone} within {timeout:.0f}s: {twilio.bodies()}")


async def test_a_tapped_quick_reply_is_answered_like_the_typed_number(
    twilio: TwilioStandIn, tmp_path
) -> None:
    if not model().exists():
        pytest.fail(f"no trained model at {model()}: run `make train` (or set RASA_MODEL)")
    stack = carebot_stack(tmp_path / "var", model=model())
    stack.env.update(stack_env(twilio.url, tmp_path / "var" / "whatsapp.db"))
    tapper, typist = (f"+4477009{uuid.uuid4().int % 100000:05d}" for _ in range(2))
    try:
        await asyncio.to_thread(lambda: start(stack, tmp_path / "stack.log").wait_ready())
        for phone in (tapper, typist):
            await patient_says(stack, phone, "remind me to take ibuprofen at 9pm every day")
        [question] = await shown_to(twilio, tapper, CONSENT_WORDS)
        assert question["type"] == QUICK_REPLY
        yes = question["actions"][0]
        assert yes["title"] == "Yes, I agree"
        await shown_to(twilio, typist, CONSENT_WORDS)

        await patient_says(stack, tapper, yes["title"], ButtonText=yes["title"], ButtonPayload=yes["id"])
        await patient_says(stack, typist, "1")
        tapped = await shown_to(twilio, tapper, AGREED_WORDS)
        typed = await shown_to(twilio, typist, AGREED_WORDS)
        assert [m["body"] for m in tapped] == [m["body"] for m in typed]
        assert len(twilio.contents) == len(
            {json.dumps(c["types"], sort_keys=True) for c in twilio.contents.values()}
        )
    finally:
        await asyncio.to_thread(stack.stop)
