"""Everything the service answers is valid FHIR R4, checked with the `fhir.resources` models."""

from __future__ import annotations

from fhir.resources.appointment import Appointment
from fhir.resources.bundle import Bundle
from fhir.resources.capabilitystatement import CapabilityStatement
from fhir.resources.operationoutcome import OperationOutcome
from fhir.resources.patient import Patient
from fhir.resources.practitioner import Practitioner
from fhir.resources.schedule import Schedule
from fhir.resources.slot import Slot

MODELS = {
    model.get_resource_type(): model
    for model in (
        Appointment,
        Bundle,
        CapabilityStatement,
        OperationOutcome,
        Patient,
        Practitioner,
        Schedule,
        Slot,
    )
}


def validate(resource):
    """Parse with the R4 model for its resourceType (raises on any deviation) and return the model."""
    return MODELS[resource["resourceType"]].parse_obj(resource)


async def test_every_resource_kind_validates_against_fhir_r4(api):
    patient = await api.new_patient()
    slot = await api.free_slot("child")
    _, appointment = await api.book(patient["id"], slot["id"], "child")
    reads = [
        "/metadata",
        "/Practitioner",
        "/Practitioner/dr-a",
        "/Schedule",
        "/Schedule/sched-dr-a",
        f"/Slot/{slot['id']}",
        "/Slot?status=free&service-type=gp&_count=3&_include=Slot:schedule",
        f"/Patient/{patient['id']}",
        "/Patient?telecom=%2B447700900001",
        f"/Appointment/{appointment['id']}",
        f"/Appointment?patient={patient['id']}",
        "/Appointment/missing",
        "/Slot?bogus=1",
    ]
    kinds = set()
    for path in reads:
        status, body = await api.call("GET", path)
        model = validate(body)
        kinds.add(body["resourceType"])
        if body["resourceType"] == "Bundle":
            assert model.type == "searchset"
            for entry in body["entry"]:
                validate(entry["resource"])
                kinds.add(entry["resource"]["resourceType"])
    assert kinds == set(MODELS)
    booked = validate(appointment)
    assert booked.status == "booked" and len(booked.slot) == 2 and booked.minutesDuration == 30
    assert {p.actor.reference for p in booked.participant} == {
        f"Patient/{patient['id']}",
        "Practitioner/dr-a",
    }


async def test_error_bodies_are_operation_outcomes_with_a_clear_message(api):
    status, body = await api.call(
        "POST", "/Patient", json={"resourceType": "Patient", "name": [{"family": "X"}]}
    )
    assert status == 422
    outcome = validate(body)
    assert "E.164" in outcome.issue[0].diagnostics and outcome.issue[0].severity == "error"
