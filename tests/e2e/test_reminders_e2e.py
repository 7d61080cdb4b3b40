"""Issue 7's promise end to end: a reminder set on WhatsApp survives a restart of the whole stack, arrives once
within 60 s of its due time, and the patient's "taken" is recorded.

The whole stack is started with the launcher (bench/stack.py) on free ports, with Twilio's API replaced by the
recording stand-in of the channel tests; webhooks are signed like Twilio's. The dispatcher polls every second
(`REMINDER_POLL_SECONDS`). The model is `RASA_MODEL` if set, else models/carebot.tar.gz (`make train`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
import uuid
from pathlib import Path
from typing import Callable, List

import httpx
import pytest

from bench.stack import DEFAULT_MODEL, CarebotStack, carebot_stack, start
from carebot.channels.signature import sign
from tests.channels.whatsapp_harness import (
    AUTH_TOKEN,
    PUBLIC_URL,
    WEBHOOK_PATH,
    TwilioStandIn,
    clock,  # noqa: F401 - the stand-in's clock: a fixture
    inbound_form,
    stack_env,
    twilio,  # noqa: F401 - a fixture, used as a parameter
)

pytestmark = pytest.mark.slow

UTC = dt.timezone.utc
POLL_SECONDS = 1


def model() -> Path:
    return Path(os.environ.get("RASA_MODEL") or DEFAULT_MODEL)


async def patient_says(stack: CarebotStack, phone: str, text: str, **fields: str) -> None:
    """One inbound WhatsApp message (with any further Twilio fields: a tapped button's), signed as Twilio signs it
    (for the public URL the channel is told about)."""
    form = inbound_form(text, phone, **fields)
    headers = {"X-Twilio-Signature": sign(AUTH_TOKEN, PUBLIC_URL + WEBHOOK_PATH, form)}
    async with httpx.AsyncClient() as client:
        reply = await client.post(stack.rasa_url + WEBHOOK_PATH, data=form, headers=headers, timeout=10)
    assert reply.status_code == 204


async def wait_for_body(twilio: TwilioStandIn, holds: Callable[[str], bool], timeout: float) -> dt.datetime:
    """When (UTC) the stand-in first holds a message whose body satisfies `holds`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(holds(body) for body in twilio.bodies()):
            return dt.datetime.now(UTC)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no such message within {timeout:.0f}s; Twilio got: {twilio.bodies()}")


def bodies_with(twilio: TwilioStandIn, words: str) -> List[str]:
    return [body for body in twilio.bodies() if words in body]


def whatsapp_stack(tmp_path: Path, twilio: TwilioStandIn) -> CarebotStack:
    """The whole stack (not started) with WhatsApp going to the Twilio stand-in and the dispatcher polling every
    `POLL_SECONDS`."""
    stack = carebot_stack(tmp_path / "var", model=model())
    stack.env.update(
        stack_env(twilio.url, tmp_path / "var" / "whatsapp.db"), REMINDER_POLL_SECONDS=str(POLL_SECONDS)
    )
    return stack


async def test_a_reminder_survives_a_restart_arrives_once_on_time_and_taken_is_recorded(twilio, tmp_path):
    if not model().exists():
        pytest.fail(f"no trained model at {model()}: run `make train` (or set RASA_MODEL)")
    stack = whatsapp_stack(tmp_path, twilio)
    phone = f"+4477009{uuid.uuid4().int % 100000:05d}"
    conversation = f"whatsapp:{phone}"  # the WhatsApp channel's conversation id for this patient
    try:
        await asyncio.to_thread(lambda: start(stack, tmp_path / "first-run.log").wait_ready())
        await patient_says(stack, phone, "remind me to take ibuprofen in 2 minutes")
        await wait_for_body(twilio, lambda body: "keep the names of your medicines" in body, timeout=30)
        await patient_says(
            stack, phone, "yes"
        )  # medicine names are health data: the first reminder asks (issue 14)
        await wait_for_body(twilio, lambda body: "remind you to take ibuprofen" in body, timeout=30)
        [reminder] = stack.backend("/api/reminders", conversation_id=conversation)["reminders"]
        due = dt.datetime.fromisoformat(reminder["next_due"])

        await asyncio.to_thread(stack.stop)  # the whole stack: backend, actions, Rasa, dispatcher
        assert not bodies_with(twilio, "Time for your ibuprofen"), "the reminder went out before it was due"
        await asyncio.to_thread(lambda: start(stack, tmp_path / "second-run.log").wait_ready())

        wait = (due - dt.datetime.now(UTC)).total_seconds() + 90
        arrived = await wait_for_body(twilio, lambda body: "Time for your ibuprofen" in body, timeout=wait)
        delay = (arrived - due).total_seconds()
        print(
            f"\nreminder due {due.isoformat()}, arrived {arrived.isoformat()}: {delay:.1f} s after its due time"
        )
        assert 0 <= delay <= 60
        await asyncio.sleep(3 * POLL_SECONDS + 1)  # further dispatcher rounds must not send it again
        assert len(bodies_with(twilio, "Time for your ibuprofen")) == 1

        await patient_says(stack, phone, "taken")
        await wait_for_body(twilio, lambda body: "recorded that you took it" in body, timeout=30)
        adherence = stack.backend("/api/reminders/adherence", conversation_id=conversation)
        assert (adherence["doses"], adherence["taken"]) == (1, 1)
    finally:
        await asyncio.to_thread(stack.stop)
