"""Issue 18's waitlist end to end on WhatsApp: with every slot of a day taken, a patient joins the waiting list in
the chat; another patient's cancellation (through the FHIR API) reaches them as an offer within 60 s through the
offer worker, the bot and the WhatsApp channel (Twilio stand-in); "1" books it.

The whole stack is started with the launcher (bench/stack.py) on free ports; the dispatcher, which runs the offer
worker, polls every second (`REMINDER_POLL_SECONDS`, set by `whatsapp_stack`). The model is `RASA_MODEL` if set,
else models/carebot.tar.gz.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
from typing import Any, Dict, List

import httpx
import pytest

from bench.stack import CarebotStack, start
from carebot.clinic import load_clinic
from tests.channels.whatsapp_harness import (
    clock,  # noqa: F401 - the stand-in's clock: a fixture
    twilio,  # noqa: F401 - a fixture, used as a parameter
)
from tests.e2e.test_reminders_e2e import model, patient_says, wait_for_body, whatsapp_stack

pytestmark = pytest.mark.slow
UTC = dt.timezone.utc


def fhir(
    stack: CarebotStack, method: str, path: str, body: Any = None, content_type: str = "application/fhir+json"
):
    headers = {"Authorization": f"Bearer {stack.backend_token}", "Content-Type": content_type}
    response = httpx.request(
        method,
        f"{stack.backend_url}/fhir{path}",
        content=json.dumps(body) if body is not None else None,
        headers=headers,
        timeout=10,
    )
    assert response.status_code < 400, response.text
    return response.json()


def fill_the_day(stack: CarebotStack, day: dt.date) -> List[str]:
    """Another patient takes every free slot of `day`: the appointment ids, earliest first."""
    holder = fhir(
        stack,
        "POST",
        "/Patient",
        {
            "resourceType": "Patient",
            "name": [{"family": "Holder", "given": ["Hal"]}],
            "telecom": [{"system": "phone", "value": "+447700800222"}],
            "birthDate": "1970-01-01",
        },
    )
    start, end = day.isoformat(), (day + dt.timedelta(days=1)).isoformat()
    booked: List[Dict[str, Any]] = []
    tried: set = set()
    while True:  # a page at a time until every free slot of the day was tried
        bundle = stack.backend(
            "/fhir/Slot",
            status="free",
            start=[f"ge{start}", f"lt{end}"],
            _count="100",
            _include="Slot:schedule",
        )
        resources = [e["resource"] for e in bundle.get("entry", [])]
        services = {
            r["id"]: [c["coding"][0]["code"] for c in r["serviceType"]]
            for r in resources
            if r["resourceType"] == "Schedule"
        }
        slots = [r for r in resources if r["resourceType"] == "Slot" and r["id"] not in tried]
        if not slots:
            break
        for slot in slots:
            tried.add(slot["id"])
            offered = services[slot["schedule"]["reference"].rpartition("/")[2]]
            for service in sorted(
                offered, key=lambda code: code != "gp"
            ):  # gp first; else what fits one slot
                response = httpx.post(
                    f"{stack.backend_url}/fhir/Appointment",
                    json={
                        "resourceType": "Appointment",
                        "status": "booked",
                        "slot": [{"reference": f"Slot/{slot['id']}"}],
                        "serviceType": [
                            {"coding": [{"system": "urn:carebot:service-type", "code": service}]}
                        ],
                        "participant": [
                            {"actor": {"reference": f"Patient/{holder['id']}"}, "status": "accepted"}
                        ],
                    },
                    headers={"Authorization": f"Bearer {stack.backend_token}"},
                    timeout=10,
                )
                if response.status_code == 201:
                    booked.append(response.json())
                    break
    gp = [a for a in booked if a["serviceType"][0]["coding"][0]["code"] == "gp"]
    return [a["id"] for a in sorted(gp, key=lambda a: a["start"])]


def open_day(days_ahead: int = 3) -> dt.date:
    clinic = load_clinic()
    day = clinic.now().date() + dt.timedelta(days=days_ahead)
    while not clinic.open_intervals(day):
        day += dt.timedelta(days=1)
    return day


async def test_a_cancellation_reaches_the_waitlisted_patient_within_60_s_and_1_books_it(twilio, tmp_path):
    if not model().exists():
        pytest.fail(f"no trained model at {model()}: run `make train` (or set RASA_MODEL)")
    stack = whatsapp_stack(tmp_path, twilio)
    phone = f"+4477009{uuid.uuid4().int % 100000:05d}"
    day = open_day()
    try:
        await asyncio.to_thread(lambda: start(stack, tmp_path / "stack.log").wait_ready())
        taken = await asyncio.to_thread(fill_the_day, stack, day)
        assert taken, "the day had no GP slots to take"

        await patient_says(stack, phone, f"I'd like a GP appointment on {day:%A} {day.day} {day:%B}")
        await wait_for_body(twilio, lambda body: "Reply *waitlist*" in body, timeout=30)
        await patient_says(stack, phone, "waitlist")
        await wait_for_body(twilio, lambda body: "full name" in body, timeout=30)
        await patient_says(stack, phone, "Sam Taylor")
        await wait_for_body(twilio, lambda body: "date of birth" in body, timeout=30)
        await patient_says(stack, phone, "21/07/1980")
        await wait_for_body(twilio, lambda body: "put you on the waiting list" in body, timeout=30)
        await patient_says(stack, phone, "yes")
        await wait_for_body(twilio, lambda body: "You're on the waiting list" in body, timeout=30)

        patch = [{"op": "replace", "path": "/status", "value": "cancelled"}]
        await asyncio.to_thread(
            fhir, stack, "PATCH", f"/Appointment/{taken[0]}", patch, "application/json-patch+json"
        )
        cancelled_at = time.monotonic()
        await wait_for_body(twilio, lambda body: "has come free" in body, timeout=60)
        waited = time.monotonic() - cancelled_at
        print(f"\noffer arrived {waited:.1f} s after the cancellation")
        assert waited <= 60

        await patient_says(stack, phone, "1")
        await wait_for_body(twilio, lambda body: body.startswith("Booked: GP appointment"), timeout=30)
        [patient] = [e["resource"] for e in stack.backend("/fhir/Patient", telecom=phone)["entry"]]
        mine = stack.backend("/fhir/Appointment", patient=f"Patient/{patient['id']}", status="booked")
        assert mine["total"] == 1
        cancelled = stack.backend(f"/fhir/Appointment/{taken[0]}")
        assert mine["entry"][0]["resource"]["slot"] == cancelled["slot"]  # the freed time itself
    finally:
        await asyncio.to_thread(stack.stop)
