"""Booking, cancelling, rescheduling and searching over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from carebot.scheduling import tables as t


async def slot_status(api, slot_id: str) -> str:
    status, slot = await api.call("GET", f"/Slot/{slot_id}")
    assert status == 200
    return slot["status"]


async def test_booking_makes_the_slot_busy_and_a_second_booking_gets_409(api):
    patient = await api.new_patient()
    slot = await api.free_slot("gp")
    status, appointment = await api.book(patient["id"], slot["id"])
    assert status == 201, appointment
    assert appointment["status"] == "booked"
    assert appointment["slot"] == [{"reference": f"Slot/{slot['id']}"}]
    assert appointment["start"] == slot["start"] and appointment["end"] == slot["end"]
    assert await slot_status(api, slot["id"]) == "busy"
    other = await api.new_patient("+447700900002", "Jones")
    status, outcome = await api.book(other["id"], slot["id"])
    assert status == 409
    assert outcome["resourceType"] == "OperationOutcome"


async def test_a_thirty_minute_service_holds_two_consecutive_slots(api):
    patient = await api.new_patient()
    slot = await api.free_slot("child")
    status, appointment = await api.book(patient["id"], slot["id"], "child")
    assert status == 201, appointment
    assert appointment["minutesDuration"] == 30 and len(appointment["slot"]) == 2
    for reference in appointment["slot"]:
        assert await slot_status(api, reference["reference"].split("/")[1]) == "busy"
    # dr-a's GP slot at the second quarter-hour is gone too: the same person cannot be in two rooms.
    second = appointment["slot"][1]["reference"].split("/")[1]
    status, _ = await api.book(patient["id"], second, "gp")
    assert status == 409


async def test_free_search_for_a_long_service_skips_slots_without_a_free_follower(api):
    patient = await api.new_patient()
    first = await api.free_slot("child")
    follower_start = first["end"]
    status, bundle = await api.call(
        "GET",
        "/Slot",
        params=[("schedule.actor", "dr-a"), ("status", "free"), ("start", "eq" + follower_start)],
    )
    follower = bundle["entry"][0]["resource"]
    assert (await api.book(patient["id"], follower["id"], "gp"))[0] == 201
    status, bundle = await api.call(
        "GET",
        "/Slot",
        params=[("status", "free"), ("service-type", "child"), ("start", "eq" + first["start"])],
    )
    assert status == 200
    assert first["id"] not in [e["resource"]["id"] for e in bundle["entry"]]
    assert (await api.book(patient["id"], first["id"], "child"))[0] == 409
    assert await slot_status(api, first["id"]) == "free"  # the failed booking left no partial claim


async def test_cancel_by_put_frees_the_slot_and_honours_if_match(api):
    patient = await api.new_patient()
    slot = await api.free_slot("gp")
    _, appointment = await api.book(patient["id"], slot["id"])
    cancelled = {**appointment, "status": "cancelled"}
    status, outcome = await api.call(
        "PUT", f"/Appointment/{appointment['id']}", json=cancelled, headers={"If-Match": 'W/"7"'}
    )
    assert status == 412 and outcome["resourceType"] == "OperationOutcome"
    assert await slot_status(api, slot["id"]) == "busy"
    status, body = await api.call(
        "PUT", f"/Appointment/{appointment['id']}", json=cancelled, headers={"If-Match": 'W/"1"'}
    )
    assert status == 200, body
    assert body["status"] == "cancelled" and body["meta"]["versionId"] == "2"
    assert await slot_status(api, slot["id"]) == "free"
    status, _ = await api.call(
        "PUT", f"/Appointment/{appointment['id']}", json=cancelled, headers={"If-Match": 'W/"1"'}
    )
    assert status == 412  # the version moved on


async def test_cancel_by_json_patch_records_the_reason(api):
    patient = await api.new_patient()
    slot = await api.free_slot("gp")
    _, appointment = await api.book(patient["id"], slot["id"])
    patch = [
        {"op": "replace", "path": "/status", "value": "cancelled"},
        {"op": "add", "path": "/cancelationReason", "value": {"text": "feeling better"}},
    ]
    status, body = await api.call(
        "PATCH",
        f"/Appointment/{appointment['id']}",
        json=patch,
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert status == 200, body
    assert body["status"] == "cancelled" and body["cancelationReason"]["text"] == "feeling better"
    assert await slot_status(api, slot["id"]) == "free"
    # A cancelled appointment cannot come back to life; the slot may now belong to someone else.
    revive = [{"op": "replace", "path": "/status", "value": "booked"}]
    status, _ = await api.call(
        "PATCH",
        f"/Appointment/{appointment['id']}",
        json=revive,
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert status == 409


async def test_put_cannot_move_an_appointment_to_another_slot(api):
    patient = await api.new_patient()
    slot, other = await api.free_slot("gp"), await api.free_slot("gp", skip=1)
    _, appointment = await api.book(patient["id"], slot["id"])
    moved = {**appointment, "slot": [{"reference": f"Slot/{other['id']}"}]}
    status, _ = await api.call("PUT", f"/Appointment/{appointment['id']}", json=moved)
    assert status == 422
    assert await slot_status(api, other["id"]) == "free"


async def test_reschedule_moves_the_booking_in_one_step(api):
    patient = await api.new_patient()
    old_slot, new_slot = await api.free_slot("gp"), await api.free_slot("gp", skip=1)
    _, old = await api.book(patient["id"], old_slot["id"])
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "slot", "valueReference": {"reference": f"Slot/{new_slot['id']}"}}],
    }
    status, new = await api.call("POST", f"/Appointment/{old['id']}/$reschedule", json=body)
    assert status == 201, new
    assert new["slot"] == [{"reference": f"Slot/{new_slot['id']}"}] and new["status"] == "booked"
    assert await slot_status(api, old_slot["id"]) == "free"
    assert await slot_status(api, new_slot["id"]) == "busy"
    _, old_now = await api.call("GET", f"/Appointment/{old['id']}")
    assert old_now["status"] == "cancelled"


async def test_a_failed_reschedule_leaves_the_old_booking_intact(api, backend):
    patient = await api.new_patient()
    rival = await api.new_patient("+447700900003", "Rival")
    old_slot, taken_slot = await api.free_slot("gp"), await api.free_slot("gp", skip=1)
    _, old = await api.book(patient["id"], old_slot["id"])
    assert (await api.book(rival["id"], taken_slot["id"]))[0] == 201
    for target in (taken_slot["id"], "no-such-slot"):
        body = {
            "resourceType": "Parameters",
            "parameter": [{"name": "slot", "valueReference": {"reference": f"Slot/{target}"}}],
        }
        status, outcome = await api.call("POST", f"/Appointment/{old['id']}/$reschedule", json=body)
        assert status in (404, 409) and outcome["resourceType"] == "OperationOutcome"
    _, unchanged = await api.call("GET", f"/Appointment/{old['id']}")
    assert unchanged["status"] == "booked" and unchanged["meta"]["versionId"] == "1"
    assert await slot_status(api, old_slot["id"]) == "busy"
    with backend.engine.connect() as conn:
        assert len(conn.execute(select(t.appointment.c.id)).all()) == 2


async def test_booking_rejects_a_service_the_practitioner_does_not_offer(api):
    patient = await api.new_patient()
    slot = await api.free_slot("physio")
    status, outcome = await api.book(patient["id"], slot["id"], "gp")
    assert status == 422 and "does not offer" in outcome["issue"][0]["diagnostics"]
    assert await slot_status(api, slot["id"]) == "free"


async def test_booking_unknown_slot_or_patient(api):
    patient = await api.new_patient()
    assert (await api.book(patient["id"], "nope-202601010900"))[0] == 404
    slot = await api.free_slot("gp")
    assert (await api.book("no-such-patient", slot["id"]))[0] == 422
    assert await slot_status(api, slot["id"]) == "free"


async def test_appointment_search_by_patient_status_and_date(api):
    me, other = await api.new_patient(), await api.new_patient("+447700900004", "Other")
    first, second, third = [await api.free_slot("gp", skip=i, **{"schedule.actor": "dr-b"}) for i in range(3)]
    _, a1 = await api.book(me["id"], second["id"])
    _, a2 = await api.book(me["id"], first["id"])
    await api.book(other["id"], third["id"])
    status, bundle = await api.call("GET", "/Appointment", params={"patient": f"Patient/{me['id']}"})
    assert status == 200 and bundle["total"] == 2
    assert [e["resource"]["id"] for e in bundle["entry"]] == [a2["id"], a1["id"]]  # sorted by start
    status, bundle = await api.call(
        "GET", "/Appointment", params=[("patient", me["id"]), ("date", "gt" + first["start"])]
    )
    assert [e["resource"]["id"] for e in bundle["entry"]] == [a1["id"]]
    status, bundle = await api.call(
        "GET", "/Appointment", params={"patient": me["id"], "status": "cancelled"}
    )
    assert bundle["total"] == 0


async def test_slot_search_is_sorted_and_paged(api):
    params = [("status", "free"), ("schedule.actor", "Practitioner/dr-b"), ("_count", "3")]
    status, page1 = await api.call("GET", "/Slot", params=params)
    assert status == 200 and len(page1["entry"]) == 3 and page1["total"] > 3
    starts = [dt.datetime.fromisoformat(e["resource"]["start"]) for e in page1["entry"]]
    assert starts == sorted(starts)
    links = {link["relation"]: link["url"] for link in page1["link"]}
    status, page2 = await api.call("GET", links["next"][len(api.base_url) :])
    assert status == 200
    assert dt.datetime.fromisoformat(page2["entry"][0]["resource"]["start"]) > starts[-1]
    assert "previous" in {link["relation"] for link in page2["link"]}


async def test_slot_search_by_schedule_and_busy_status(api):
    patient = await api.new_patient()
    slot = await api.free_slot("gp", **{"schedule.actor": "dr-b"})
    await api.book(patient["id"], slot["id"])
    status, bundle = await api.call(
        "GET", "/Slot", params={"status": "busy", "schedule": "Schedule/sched-dr-b"}
    )
    assert status == 200 and [e["resource"]["id"] for e in bundle["entry"]] == [slot["id"]]


async def test_patient_search_by_phone(api):
    created = await api.new_patient("+447700900123", "Hughes")
    await api.new_patient("+447700900999", "Else")
    status, bundle = await api.call("GET", "/Patient", params={"telecom": "+447700900123"})
    assert status == 200 and [e["resource"]["id"] for e in bundle["entry"]] == [created["id"]]
    status, bundle = await api.call("GET", "/Patient", params={"telecom": "phone|+447700900555"})
    assert status == 200 and bundle["total"] == 0
    status, _ = await api.call("GET", "/Patient", params={"telecom": "07700 900123"})
    assert status == 400  # not E.164: refuse rather than guess a country
