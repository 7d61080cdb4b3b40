"""Issue 18's dependants end to end on WhatsApp (the channel, with Twilio replaced by the stand-in): a parent books
for her son, her baby daughter and herself from one phone, lists whose appointment is whose, cancels the baby's,
and a symptom check for "my 3 month old" is about the registered baby: her date of birth (under 3 months) puts
her under the infant protocol. After each step the backend itself says what it holds (Patient, RelatedPerson,
Appointment). The model is `RASA_MODEL` if set, else models/carebot.tar.gz (`make train`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any, Dict, List

import pytest

from bench.stack import CarebotStack, start
from carebot.clinic import load_clinic
from tests.channels.whatsapp_harness import (
    TwilioStandIn,
    clock,  # noqa: F401 - the stand-in's clock: a fixture
    twilio,  # noqa: F401 - a fixture, used as a parameter
)
from tests.e2e.test_reminders_e2e import model, patient_says, whatsapp_stack

pytestmark = pytest.mark.slow


async def reply(stack: CarebotStack, twilio: TwilioStandIn, phone: str, text: str, expect: str) -> str:
    """Say `text`; the bot's messages since then, joined, once one of them holds `expect`."""
    before = len(twilio.bodies())
    await patient_says(stack, phone, text)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        new = twilio.bodies()[before:]
        if any(expect in body for body in new):
            await asyncio.sleep(0.3)  # the rest of the same turn
            return "\n".join(twilio.bodies()[before:])
        await asyncio.sleep(0.1)
    raise AssertionError(f"after {text!r} no message with {expect!r}; got: {twilio.bodies()[before:]}")


def resources(stack: CarebotStack, path: str, **params: Any) -> List[Dict[str, Any]]:
    return [entry["resource"] for entry in stack.backend(path, **params).get("entry", [])]


async def book(
    stack, twilio, phone: str, opening: str, expect_name_question: str, name: str, born: str
) -> str:
    """One booking in the chat, from the request to "Booked": the confirmation text."""
    asked = await reply(stack, twilio, phone, opening, "?")
    if "What would you like to book?" in asked:
        await reply(stack, twilio, phone, "GP appointment", "When would you like to come in?")
    await reply(stack, twilio, phone, "as soon as possible", "Which would you like?")
    assert expect_name_question in await reply(stack, twilio, phone, "1", "full name")
    await reply(stack, twilio, phone, name, "date of birth")
    summary = await reply(stack, twilio, phone, born, "Please check")
    booked = await reply(stack, twilio, phone, "yes", "Booked:")
    return summary + "\n" + booked


async def test_a_parent_books_for_two_children_and_herself_lists_cancels_and_triages_her_baby(
    twilio, tmp_path
):
    if not model().exists():
        pytest.fail(f"no trained model at {model()}: run `make train` (or set RASA_MODEL)")
    stack = whatsapp_stack(tmp_path, twilio)
    phone = f"+4477009{uuid.uuid4().int % 100000:05d}"
    baby_born = load_clinic().now().date() - dt.timedelta(
        weeks=10
    )  # "my 3 month old", under 3 months by date
    try:
        await asyncio.to_thread(lambda: start(stack, tmp_path / "stack.log").wait_ready())

        # ---- her son, then her baby daughter: each a Patient of their own, linked to her phone
        tom = await book(
            stack,
            twilio,
            phone,
            "I'd like to book a GP appointment for my son",
            "What is your son's full name?",
            "Tom Jones",
            "01/06/2019",
        )
        assert "GP appointment for Tom with " in tom and "Booked: GP appointment for Tom with " in tom
        emma = await book(
            stack,
            twilio,
            phone,
            "my daughter needs an appointment",
            "What is your daughter's full name?",
            "Emma Jones",
            f"{baby_born:%d/%m/%Y}",
        )
        assert "Booked: GP appointment for Emma with " in emma

        # ---- herself: the phone's owner was not registered yet
        me = await book(
            stack,
            twilio,
            phone,
            "can I book an appointment for myself",
            "first booking for yourself, what is your full name?",
            "Sarah Jones",
            "02/03/1985",
        )
        assert "Booked: GP appointment with " in me

        patients = {p["name"][0]["given"][0]: p for p in resources(stack, "/fhir/Patient", telecom=phone)}
        assert sorted(patients) == ["Emma", "Sarah", "Tom"]
        assert patients["Emma"]["birthDate"] == baby_born.isoformat()
        assert (patients["Tom"]["gender"], patients["Emma"]["gender"]) == ("male", "female")
        related = {
            r["patient"]["reference"]: r["relationship"][0]["coding"][0]["code"]
            for r in resources(stack, "/fhir/RelatedPerson", telecom=phone)
        }
        assert related == {
            f"Patient/{patients['Tom']['id']}": "PRN",
            f"Patient/{patients['Emma']['id']}": "PRN",
        }
        booked = {
            name: resources(stack, "/fhir/Appointment", patient=f"Patient/{p['id']}", status="booked")
            for name, p in patients.items()
        }
        assert {name: len(found) for name, found in booked.items()} == {"Emma": 1, "Sarah": 1, "Tom": 1}

        # ---- the list says whose appointment is whose (after the date of birth: the first look at appointments)
        await reply(stack, twilio, phone, "what appointments do we have", "date of birth")
        listed = await reply(stack, twilio, phone, "02/03/1985", "Your upcoming appointments")
        lines = [line for line in listed.splitlines() if line.startswith("• ")]
        assert sorted(line.split(" – ")[0] for line in lines) == ["• Emma", "• Sarah", "• Tom"]
        assert all(" – GP appointment with " in line for line in lines)

        # ---- cancel one of them: Emma's, named in the request
        confirm = await reply(
            stack, twilio, phone, "please cancel Emma's appointment", "Cancel Emma's appointment"
        )
        assert "GP appointment with " in confirm
        assert "Cancelled: Emma's GP appointment" in await reply(stack, twilio, phone, "yes", "Cancelled")
        [emmas] = booked["Emma"]
        assert stack.backend(f"/fhir/Appointment/{emmas['id']}")["status"] == "cancelled"
        for name in ("Sarah", "Tom"):
            [theirs] = booked[name]
            assert stack.backend(f"/fhir/Appointment/{theirs['id']}")["status"] == "booked"

        # ---- triage for "my 3 month old": the registered baby, under 3 months by her date of birth
        await reply(stack, twilio, phone, "my 3 month old has a high temperature", "Do you agree?")
        result = await reply(stack, twilio, phone, "yes", "Why:")
        assert "A baby under 3 months with a temperature of 38C or more" in result
        assert "Call " in result and "now or go to A&E" in result
    finally:
        await asyncio.to_thread(stack.stop)
