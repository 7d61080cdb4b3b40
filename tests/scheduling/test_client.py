"""The async client the actions use: typed results against a live backend, and clear exceptions."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket

import pytest
from scheduling_harness import TOKEN

from carebot.scheduling.client import (
    BackendError,
    BackendUnavailable,
    BookedAppointment,
    FreeSlot,
    NotFound,
    PatientRecord,
    SchedulingClient,
    SlotTaken,
)


@pytest.fixture
async def client(backend):
    async with SchedulingClient(backend.url, TOKEN, clinic=backend.clinic, timeout=5) as scheduling:
        yield scheduling


def window(days: int = 7):
    start = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    return start, start + dt.timedelta(days=days)


async def test_patient_round_trip_by_whatsapp_number(client):
    assert await client.find_patient_by_phone("whatsapp:+447700900321") is None
    created = await client.create_patient(
        "Mary Jane Watson", "whatsapp:+44 7700 900321", dt.date(1990, 4, 21)
    )
    assert isinstance(created, PatientRecord) and created.phone == "+447700900321"
    sibling = await client.create_patient("Peter Watson", "+447700900321", dt.date(2015, 1, 2))
    found = await client.find_patient_by_phone("whatsapp:+447700900321")
    assert found == created
    assert await client.find_patient_by_phone("+447700900321", name="peter  WATSON") == sibling
    assert await client.find_patient_by_phone("+447700900321", birth_date=dt.date(2015, 1, 2)) == sibling
    assert await client.find_patient_by_phone("+447700900321", name="Paul Watson") is None
    assert found.name == "Mary Jane Watson" and found.birth_date == dt.date(1990, 4, 21)


async def test_search_book_list_reschedule_cancel(client, sched_clinic):
    patient = await client.create_patient("Sam Carter", "+447700900322")
    slots = await client.search_free_slots("child", *window(), count=3)
    assert len(slots) == 3 and all(isinstance(s, FreeSlot) for s in slots)
    assert [s.start for s in slots] == sorted(s.start for s in slots)
    assert all(
        s.start.tzinfo is sched_clinic.tz and s.end - s.start == dt.timedelta(minutes=30) for s in slots
    )
    assert {s.practitioner_id for s in slots} == {"dr-a"} and slots[0].practitioner_name == "Dr Alice Able"
    only_b = await client.search_free_slots("gp", *window(), practitioner_id="dr-b", count=2)
    assert {s.practitioner_id for s in only_b} == {"dr-b"}

    booked = await client.book(patient.id, slots[0].id, "child")
    assert isinstance(booked, BookedAppointment)
    assert (booked.status, booked.slot_id, booked.start, booked.service_id) == (
        "booked",
        slots[0].id,
        slots[0].start,
        "child",
    )
    assert booked.practitioner_name == "Dr Alice Able" and booked.patient_id == patient.id
    assert await client.list_appointments(patient.id) == [booked]

    moved = await client.reschedule(booked.id, slots[2].id)
    assert moved.start == slots[2].start and moved.status == "booked"
    assert [a.id for a in await client.list_appointments(patient.id)] == [moved.id]
    everything = await client.list_appointments(patient.id, upcoming_only=False)
    assert {(a.id, a.status) for a in everything} == {(booked.id, "cancelled"), (moved.id, "booked")}

    cancelled = await client.cancel(moved.id)
    assert cancelled.status == "cancelled"
    assert await client.list_appointments(patient.id) == []
    assert slots[2].id in [s.id for s in await client.search_free_slots("child", *window(), count=5)]


async def test_slot_taken_and_not_found(client):
    first = await client.create_patient("Ann One", "+447700900323")
    second = await client.create_patient("Bob Two", "+447700900324")
    slot = (await client.search_free_slots("gp", *window(), count=1))[0]
    await client.book(first.id, slot.id, "gp")
    with pytest.raises(SlotTaken):
        await client.book(second.id, slot.id, "gp")
    with pytest.raises(NotFound):
        await client.book(second.id, "dr-a-209901010900", "gp")
    with pytest.raises(NotFound):
        await client.cancel("no-such-appointment")
    with pytest.raises(BackendError) as invalid:
        await client.book("no-such-patient", slot.id, "gp")
    assert invalid.value.status == 422 and not isinstance(invalid.value, BackendUnavailable)


async def test_backend_down_raises_backend_unavailable(sched_clinic):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with SchedulingClient(
        f"http://127.0.0.1:{port}/fhir", TOKEN, clinic=sched_clinic, timeout=2
    ) as client:
        with pytest.raises(BackendUnavailable):
            await client.search_free_slots("gp", *window())
        with pytest.raises(BackendUnavailable):
            await client.book("p", "s", "gp")


async def test_a_hanging_backend_times_out_as_unavailable(sched_clinic):
    async def never_answer(reader, writer):
        await reader.read()  # hold the connection open without answering until the client gives up
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with SchedulingClient(
            f"http://127.0.0.1:{port}/fhir", TOKEN, clinic=sched_clinic, timeout=0.3
        ) as client:
            with pytest.raises(BackendUnavailable):
                await client.find_patient_by_phone("+447700900325")
    finally:
        server.close()


async def test_a_wrong_token_is_unavailable_not_silence(backend):
    async with SchedulingClient(backend.url, "wrong-token", clinic=backend.clinic) as client:
        with pytest.raises(BackendUnavailable) as error:
            await client.find_patient_by_phone("+447700900326")
    assert error.value.status == 401
