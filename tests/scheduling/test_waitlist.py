"""The waitlist over the FHIR API, on SQLite and (with TEST_POSTGRES_URL) PostgreSQL: a cancellation offers the freed
slot to waiting patients in order, one at a time with a hold or to several with first-tap-wins; accepting books it
exactly once however many taps race; offers lapse, patients decline or leave, and the slot goes to the next one."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import pytest_asyncio
from scheduling_harness import CLINIC_YAML, start_backend
from sqlalchemy import func, select, update

from carebot.clinic import Clinic, load_clinic
from carebot.rasa_api import RasaAPIError
from carebot.scheduling import tables as sched
from carebot.waitlist import store
from carebot.waitlist import tables as t
from carebot.waitlist.model import CHANNEL_URL, CONVERSATION_URL, STATE_URL, TIMES_OF_DAY_URL
from carebot.waitlist.worker import OfferWorker, trigger_entities

WAITLIST, OFFER = "/Appointment/$waitlist", "/Appointment/$offer"


def clinic_with(tmp_path: Path, closed_day: dt.date, waitlist: str) -> Clinic:
    path = tmp_path / "clinic.yml"
    path.write_text(CLINIC_YAML.format(closed_day=closed_day.isoformat()) + waitlist, encoding="utf-8")
    return load_clinic(path)


@pytest.fixture(params=["hold", "first_tap_wins"])
def sched_clinic(request: pytest.FixtureRequest, tmp_path: Path, closed_day: dt.date) -> Clinic:
    return clinic_with(tmp_path, closed_day, f"waitlist: {{mode: {request.param}, hold_minutes: 15}}\n")


@pytest_asyncio.fixture
async def backend(engine, sched_clinic):
    running = await start_backend(engine, sched_clinic)
    yield running
    await running.server.close()


def entry_json(
    patient_id: str,
    day: dt.date,
    parts: List[str] = (),
    service: str = "gp",
    last_day: Optional[dt.date] = None,
) -> Dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": "waitlist",
        "extension": [
            *({"url": TIMES_OF_DAY_URL, "valueCode": part} for part in parts),
            {"url": CONVERSATION_URL, "valueString": f"whatsapp:+44770090{patient_id[:4]}"},
            {"url": CHANNEL_URL, "valueCode": "whatsapp"},
        ],
        "serviceType": [{"coding": [{"system": "urn:carebot:service-type", "code": service}]}],
        "requestedPeriod": [{"start": day.isoformat(), "end": (last_day or day).isoformat()}],
        "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}],
    }


def slot_day(slot: Dict[str, Any]) -> dt.date:
    return dt.datetime.fromisoformat(slot["start"]).date()


async def booked_then_cancelled(api, slot: Dict[str, Any]) -> None:
    """Another patient holds the slot, then cancels it: the freed slot the waitlist hears of."""
    holder = await api.new_patient("+447700800001", "Holder")
    status, appointment = await api.book(holder["id"], slot["id"])
    assert status == 201, appointment
    patch = [{"op": "replace", "path": "/status", "value": "cancelled"}]
    status, body = await api.call(
        "PATCH",
        f"/Appointment/{appointment['id']}",
        data=json.dumps(patch),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert status == 200, body


async def join(api, patient_id: str, day: dt.date, **extra: Any) -> Dict[str, Any]:
    status, body = await api.call("POST", WAITLIST, json=entry_json(patient_id, day, **extra))
    assert status == 201, body
    return body


def open_offers(engine) -> List[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(select(t.offer).where(t.offer.c.state == "open").order_by(t.offer.c.created))
        )


def bookings_of(engine, slot_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count())
            .select_from(sched.appointment)
            .where(sched.appointment.c.status == "booked", sched.appointment.c.slot_ids == slot_id)
        ).scalar_one()


async def test_a_cancellation_offers_the_slot_and_yes_books_it(api, backend):
    slot = await api.free_slot("gp")
    waiting = await api.new_patient("+447700900111", "Waiting")
    entry = await join(api, waiting["id"], slot_day(slot))
    assert entry["status"] == "waitlist" and {"url": STATE_URL, "valueCode": "active"} in entry["extension"]
    assert store.offer_freed(backend.engine, backend.clinic) == []  # nothing freed yet: nothing offered
    await booked_then_cancelled(api, slot)
    made = store.offer_freed(backend.engine, backend.clinic)
    assert len(made) == 1
    status, offers = await api.call("GET", OFFER, params={"patient": waiting["id"], "state": "open"})
    assert offers["total"] == 1 and offers["entry"][0]["resource"]["slot"] == [
        {"reference": f"Slot/{slot['id']}"}
    ]
    status, booked = await api.call("POST", f"{OFFER}/{made[0]}/$accept")
    assert status == 201 and booked["status"] == "booked", booked
    assert f"Patient/{waiting['id']}" in [p["actor"]["reference"] for p in booked["participant"]]
    again_status, again = await api.call("POST", f"{OFFER}/{made[0]}/$accept")
    assert again_status == 200 and again["id"] == booked["id"]  # a second tap is the same booking
    status, entries = await api.call("GET", WAITLIST, params={"patient": waiting["id"]})
    assert {"url": STATE_URL, "valueCode": "booked"} in entries["entry"][0]["resource"]["extension"]
    assert bookings_of(backend.engine, slot["id"]) == 1


async def test_fifty_concurrent_accepts_of_two_offers_give_exactly_one_booking(api, backend, sched_clinic):
    if sched_clinic.waitlist_mode != "first_tap_wins":
        pytest.skip("two offers of one slot at once is first-tap-wins")
    slot = await api.free_slot("gp")
    patients = [await api.new_patient(f"+44770090022{n}", f"Tapper{n}") for n in range(2)]
    for patient in patients:
        await join(api, patient["id"], slot_day(slot))
    await booked_then_cancelled(api, slot)
    made = store.offer_freed(backend.engine, backend.clinic)
    assert len(made) == 2
    assert {d.offer_id for d in store.pending_deliveries(backend.engine)} == set(made)
    for offer_id in made:  # the worker spoke both offers
        store.mark_delivered(backend.engine, offer_id, "offer")
    results = await asyncio.gather(*(api.call("POST", f"{OFFER}/{made[n % 2]}/$accept") for n in range(50)))
    winners = {body["id"] for status, body in results if status in (200, 201)}
    assert len(winners) == 1
    assert sorted(status for status, _ in results).count(201) == 1
    assert all(status in (200, 201, 409) for status, _ in results)
    assert bookings_of(backend.engine, slot["id"]) == 1
    with backend.engine.connect() as conn:
        states = sorted(row.state for row in conn.execute(select(t.offer.c.state)))
    assert states == ["accepted", "gone"]
    with backend.engine.connect() as conn:
        loser = conn.execute(select(t.offer.c.id).where(t.offer.c.state == "gone")).scalar_one()
    deliveries = store.pending_deliveries(backend.engine)
    assert [(d.offer_id, d.kind) for d in deliveries] == [
        (loser, "gone")
    ]  # the other patient is told it went


async def test_hold_offers_one_at_a_time_and_a_lapsed_or_declined_offer_passes_on(api, backend, sched_clinic):
    if sched_clinic.waitlist_mode != "hold":
        pytest.skip("one at a time is the hold mode")
    slot = await api.free_slot("gp")
    first, second, third = [await api.new_patient(f"+44770090033{n}", f"Queue{n}") for n in range(3)]
    for patient in (first, second, third):
        await join(api, patient["id"], slot_day(slot))
    await booked_then_cancelled(api, slot)
    assert len(store.offer_freed(backend.engine, backend.clinic)) == 1
    [held] = open_offers(backend.engine)
    assert held.patient_id == first["id"]
    assert store.offer_freed(backend.engine, backend.clinic) == []  # held: nobody else hears of it
    with backend.engine.begin() as conn:  # the hold runs out
        conn.execute(update(t.offer).values(expires_at=dt.datetime(2000, 1, 1)))
    assert store.expire(backend.engine, backend.clinic) == 1
    status, late = await api.call("POST", f"{OFFER}/{held.id}/$accept")
    assert status == 409 and "expired" in late["issue"][0]["diagnostics"]
    store.offer_freed(backend.engine, backend.clinic)
    [passed_on] = open_offers(backend.engine)
    assert passed_on.patient_id == second["id"]
    status, _ = await api.call("POST", f"{OFFER}/{passed_on.id}/$decline")
    assert status == 200
    store.offer_freed(backend.engine, backend.clinic)
    [last] = open_offers(backend.engine)
    assert last.patient_id == third["id"]
    status, entries = await api.call("GET", WAITLIST, params={"patient": first["id"], "state": "active"})
    assert entries["total"] == 1  # an offer that lapsed keeps the patient on the list


async def test_leaving_ends_the_held_offer_and_the_next_patient_hears(api, backend, sched_clinic):
    slot = await api.free_slot("gp")
    leaver, next_one = [await api.new_patient(f"+44770090044{n}", f"Leave{n}") for n in range(2)]
    entry = await join(api, leaver["id"], slot_day(slot))
    await join(api, next_one["id"], slot_day(slot))
    await booked_then_cancelled(api, slot)
    store.offer_freed(backend.engine, backend.clinic)
    status, left = await api.call("POST", f"{WAITLIST}/{entry['id']}/$leave")
    assert status == 200 and left["status"] == "cancelled"
    store.offer_freed(backend.engine, backend.clinic)
    assert [o.patient_id for o in open_offers(backend.engine)] == [next_one["id"]]


async def test_only_entries_the_slot_fits_are_offered(api, backend):
    slot = await api.free_slot("gp")
    start = dt.datetime.fromisoformat(slot["start"])
    other_part = "evening" if start.hour < 12 else "morning"
    fits, wrong_part, wrong_day, wrong_service = [
        await api.new_patient(f"+44770090055{n}", f"Fit{n}") for n in range(4)
    ]
    await join(api, wrong_part["id"], start.date(), parts=[other_part])
    await join(api, wrong_day["id"], start.date() + dt.timedelta(days=1))
    await join(api, wrong_service["id"], start.date(), service="physio")
    await join(api, fits["id"], start.date(), parts=["morning", "afternoon", "evening"])
    await booked_then_cancelled(api, slot)
    store.offer_freed(backend.engine, backend.clinic)
    assert {o.patient_id for o in open_offers(backend.engine)} == {fits["id"]}


async def test_waitlist_requests_are_checked_and_other_appointment_routes_still_work(api, backend):
    patient = await api.new_patient("+447700900661", "Check")
    day = dt.date.today() + dt.timedelta(days=2)
    status, body = await api.call("POST", WAITLIST, json=entry_json(patient["id"], day, parts=["midnight"]))
    assert status == 422 and "midnight" in body["issue"][0]["diagnostics"]
    status, body = await api.call(
        "POST", WAITLIST, json=entry_json(patient["id"], day, last_day=day - dt.timedelta(days=1))
    )
    assert status == 422 and body["resourceType"] == "OperationOutcome"
    status, body = await api.call("GET", WAITLIST, params={"state": "sleeping"})
    assert status == 400
    status, body = await api.call("POST", f"{OFFER}/nope/$accept")
    assert status == 404
    status, body = await api.call("GET", "/Appointment/not-there")
    assert status == 404 and "Appointment/not-there" in body["issue"][0]["diagnostics"]
    with backend.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.entry)).scalar_one() == 0


class RecordingDeliverer:
    """Stands in for Rasa's trigger_intent: records what the bot was asked to say; `fail` refuses calls."""

    def __init__(self) -> None:
        self.spoken: List[Any] = []
        self.fail = False

    async def deliver(self, delivery) -> None:
        if self.fail:
            raise RasaAPIError("Rasa unreachable")
        self.spoken.append(delivery)


async def test_the_worker_offers_a_cancelled_slot_in_one_round_and_retries_a_failed_delivery(api, backend):
    slot = await api.free_slot("gp")
    waiting = await api.new_patient("+447700900771", "Worker")
    await join(api, waiting["id"], slot_day(slot))
    deliverer = RecordingDeliverer()
    worker = OfferWorker(backend.engine, backend.clinic, deliverer)
    await booked_then_cancelled(api, slot)
    deliverer.fail = True
    report = await worker.run_once()
    assert (report.offered, report.delivered, report.failed) == (1, 0, 1)
    deliverer.fail = False
    report = await worker.run_once()  # the next round (5 s later in the dispatcher) delivers it
    assert (report.offered, report.delivered) == (0, 1)
    [spoken] = deliverer.spoken
    assert spoken.kind == "offer" and spoken.conversation_id.startswith("whatsapp:+44")
    entities = trigger_entities(spoken)
    assert entities["waitlist_service"] == "gp" and dt.datetime.fromisoformat(
        entities["appointment_start"]
    ) == (dt.datetime.fromisoformat(slot["start"]))
    assert (await worker.run_once()).delivered == 0  # spoken once
