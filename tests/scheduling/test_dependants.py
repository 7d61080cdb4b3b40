"""Dependants over FHIR: a phone books for several patients (a Patient each, linked by a RelatedPerson whose
relationship is what the phone's owner is to them); searches, errors as OperationOutcomes, the client's household,
and the identity check asking the date of birth of the person concerned."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from scheduling_harness import TOKEN

from carebot.scheduling.client import BackendError, SchedulingClient
from carebot.scheduling.model import ROLE_CODE_SYSTEM, Dependant

PHONE = "+447700900511"


def related_json(patient_id: str, code: str = "PRN", phone: str = PHONE, system: str = ROLE_CODE_SYSTEM):
    return {
        "resourceType": "RelatedPerson",
        "patient": {"reference": f"Patient/{patient_id}"},
        "relationship": [{"coding": [{"system": system, "code": code}]}],
        "telecom": [{"system": "phone", "value": phone}],
    }


@pytest.fixture
async def client(backend):
    async with SchedulingClient(backend.url, TOKEN, clinic=backend.clinic, timeout=5) as scheduling:
        yield scheduling


async def test_a_related_person_links_a_child_to_the_parents_phone_and_is_found_by_telecom_or_patient(api):
    child = await api.new_patient(PHONE, "Child")
    status, created = await api.call("POST", "/RelatedPerson", json=related_json(child["id"], "MTH"))
    assert status == 201, created
    assert created["patient"] == {"reference": f"Patient/{child['id']}"}
    assert created["relationship"] == [
        {"coding": [{"system": ROLE_CODE_SYSTEM, "code": "MTH", "display": "mother"}]}
    ]
    assert created["meta"]["versionId"] == "1"
    status, read = await api.call("GET", f"/RelatedPerson/{created['id']}")
    assert (status, read) == (200, created)
    for params in ({"telecom": "phone|" + PHONE}, {"patient": f"Patient/{child['id']}"}):
        status, bundle = await api.call("GET", "/RelatedPerson", params=params)
        assert status == 200 and bundle["total"] == 1
        assert bundle["entry"][0]["resource"]["id"] == created["id"]
    status, other = await api.call("GET", "/RelatedPerson", params={"telecom": "+447700900599"})
    assert (status, other["total"]) == (200, 0)


@pytest.mark.parametrize(
    "change, status, words",
    [
        ({"relationship": [{"coding": [{"system": ROLE_CODE_SYSTEM, "code": "BOSS"}]}]}, 422, "one of CHILD"),
        ({"relationship": [{"coding": [{"system": "urn:other", "code": "PRN"}]}]}, 422, "v3-RoleCode"),
        ({"patient": {"reference": "Practitioner/dr-a"}}, 422, "must reference a Patient"),
        ({"patient": {"reference": "Patient/nobody"}}, 422, "Patient/nobody does not exist"),
        ({"telecom": [{"system": "phone", "value": "0770"}]}, 422, "E.164"),
        ({"birthDate": "last spring"}, 422, "invalid RelatedPerson"),
    ],
)
async def test_a_bad_related_person_is_refused_with_an_operation_outcome_and_nothing_is_written(
    api, change, status, words
):
    child = await api.new_patient(PHONE, "Child")
    code, body = await api.call("POST", "/RelatedPerson", json={**related_json(child["id"]), **change})
    assert code == status, body
    assert body["resourceType"] == "OperationOutcome" and words in body["issue"][0]["diagnostics"]
    _, bundle = await api.call("GET", "/RelatedPerson", params={"telecom": PHONE})
    assert bundle["total"] == 0


@pytest.mark.parametrize(
    "params, words",
    [
        ({}, "by telecom or patient"),
        ({"telecom": "0770"}, "E.164"),
        ({"patient": "Slot/x"}, "expected a Patient reference"),
        ({"name": "Emma"}, "unknown search parameter 'name'"),
    ],
)
async def test_related_person_searches_are_checked(api, params, words):
    code, body = await api.call("GET", "/RelatedPerson", params=params)
    assert code == 400 and words in body["issue"][0]["diagnostics"]


async def test_unknown_related_person_is_a_404(api):
    code, body = await api.call("GET", "/RelatedPerson/missing")
    assert code == 404 and body["resourceType"] == "OperationOutcome"


async def test_the_client_registers_dependants_and_reads_the_household(client):
    assert (await client.household(PHONE)).patients == ()
    parent = await client.create_patient("Sarah Jones", "whatsapp:" + PHONE, dt.date(1985, 3, 2))
    tom = await client.add_dependant("Tom Jones", PHONE, dt.date(2019, 6, 1), "PRN", "male")
    nan = await client.add_dependant("Ruth Evans", PHONE, dt.date(1950, 1, 9), "CHILD")
    household = await client.household("whatsapp:" + PHONE)
    assert [p.name for p in household.patients] == ["Sarah Jones", "Tom Jones", "Ruth Evans"]
    assert household.owner == parent
    assert household.relationship(tom.id) == "PRN" and household.relationship(nan.id) == "CHILD"
    assert household.relationship(parent.id) is None
    assert tom.gender == "male" and tom.birth_date == dt.date(2019, 6, 1) and tom.phone == PHONE
    assert [type(d) for d in household.dependants] == [Dependant, Dependant]


async def test_a_dependant_with_an_unknown_relationship_is_refused_by_the_client(client):
    with pytest.raises(BackendError, match="relationship"):
        await client.add_dependant("Tom Jones", PHONE, dt.date(2019, 6, 1), "NEPHEW-ISH")


async def test_the_identity_check_takes_the_date_of_birth_of_the_person_concerned(api, client):
    await client.create_patient("Sarah Jones", PHONE, dt.date(1985, 3, 2))
    emma = await client.add_dependant("Emma Jones", PHONE, dt.date(2018, 2, 14), "PRN", "female")
    headers = {"Content-Type": "application/json"}

    async def answer(born: str, patient: object = None):
        body = {"phone": PHONE, "birth_date": born, **({"patient": patient} if patient is not None else {})}
        return await api.call("POST", "/../api/identity/check", data=json.dumps(body), headers=headers)

    code, found = await answer("1985-03-02", emma.id)  # the parent's date, asked about Emma: wrong
    assert (code, found["state"], found["attempts_left"]) == (200, "needed", 2)
    code, found = await answer("2018-02-14", emma.id)
    assert (code, found["state"]) == (200, "verified")
    code, found = await answer("2018-02-14", "not an id!")
    assert code == 400 and "'patient' must be a Patient id" in found["issue"][0]["diagnostics"]
