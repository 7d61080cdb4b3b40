"""Attendance on SQLite and (with TEST_POSTGRES_URL) PostgreSQL: a confirmation is recorded once on the
appointment; staff see booked appointments unconfirmed inside the cut-off and started ones still open; a no-show
recorded by staff is counted per patient."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from carebot.scheduling import store
from carebot.scheduling import tables as t
from carebot.scheduling.model import ATTENDANCE_URL


async def test_confirming_is_recorded_once_and_only_for_a_booked_appointment(api, backend):
    patient = await api.new_patient("+447700900931", "Comes")
    slot = await api.free_slot("gp")
    _, appointment = await api.book(patient["id"], slot["id"])
    status, confirmed = await api.call("POST", f"/Appointment/{appointment['id']}/$confirm-attendance")
    assert status == 200 and confirmed["extension"][0]["url"] == ATTENDANCE_URL
    status, again = await api.call("POST", f"/Appointment/{appointment['id']}/$confirm-attendance")
    assert (
        again["extension"] == confirmed["extension"]
        and again["meta"]["versionId"] == confirmed["meta"]["versionId"]
    )
    patch = '[{"op": "replace", "path": "/status", "value": "cancelled"}]'
    await api.call(
        "PATCH",
        f"/Appointment/{appointment['id']}",
        data=patch,
        headers={"Content-Type": "application/json-patch+json"},
    )
    status, refused = await api.call("POST", f"/Appointment/{appointment['id']}/$confirm-attendance")
    assert status == 409 and refused["resourceType"] == "OperationOutcome"


async def test_staff_see_unconfirmed_and_started_appointments_and_no_shows_are_counted(api, backend):
    desk = store.StaffAttendance(backend.engine, backend.clinic)
    patient = await api.new_patient("+447700900932", "Maybe")
    slots = [await api.free_slot("gp", skip=n) for n in range(3)]
    ids = [(await api.book(patient["id"], slot["id"]))[1]["id"] for slot in slots]
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with backend.engine.begin() as conn:  # one starts in 2 hours, one started 1 hour ago, one is next week
        for appointment_id, start in zip(ids, (now + dt.timedelta(hours=2), now - dt.timedelta(hours=1))):
            conn.execute(
                update(t.appointment).where(t.appointment.c.id == appointment_id).values(start=start)
            )
        conn.execute(
            update(t.appointment).where(t.appointment.c.id == ids[2]).values(start=now + dt.timedelta(days=7))
        )
    flags = desk.flags()
    assert [(f.appointment_id, f.started, f.no_shows) for f in flags] == [
        (ids[1], True, 0),
        (ids[0], False, 0),
    ]
    await api.call("POST", f"/Appointment/{ids[0]}/$confirm-attendance")
    assert [f.appointment_id for f in desk.flags()] == [ids[1]]  # confirmed: no longer flagged
    desk.no_show(ids[1])
    _, stored = await api.call("GET", f"/Appointment/{ids[1]}")
    assert stored["status"] == "noshow"
    with backend.engine.begin() as conn:
        conn.execute(
            update(t.appointment)
            .where(t.appointment.c.id == ids[0])
            .values(start=now + dt.timedelta(hours=1), attendance_confirmed=None)
        )
    [flag] = desk.flags()
    assert flag.appointment_id == ids[0] and flag.no_shows == 1 and flag.patient_name == "Jo Maybe"
    status, bundle = await api.call(
        "GET", "/Appointment", params={"patient": patient["id"], "status": "noshow"}
    )
    assert bundle["total"] == 1  # the count per patient in FHIR terms
