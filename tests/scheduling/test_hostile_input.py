"""500 seeded random malformed or hostile requests: no 5xx, every write attempt gets a 4xx OperationOutcome, and
nothing is written. (A hostile-looking but well-formed search may answer 200 with an empty Bundle.)"""

from __future__ import annotations

import copy
import json
import random
from typing import Any, Callable, Dict, List, Tuple

from scheduling_harness import appointment_json, patient_json, row_counts

SQLISH = [
    "'; DROP TABLE sched_slot; --",
    "1 OR 1=1",
    '" OR ""="',
    "x'); DELETE FROM sched_patient; --",
    "%' UNION SELECT * FROM sched_patient --",
    "\\x00",
    "Robert'); --",
]
BAD_DATES = [
    "2026-13-01",
    "2026-02-30",
    "ge2026-1-1",
    "yesterday",
    "ge",
    "ge2026-12-01T25:00:00Z",
    "ne2026-12-01",
    "ge99999-01-01",
    "ge2026-12-01T10:00:00+99:99",
    "' OR 1=1",
]
Request = Tuple[str, str, Dict[str, Any]]  # method, path, aiohttp request kwargs


def hostile_requests(
    rng: random.Random, appointment: Dict[str, Any], slot_id: str, patient_id: str
) -> List[Request]:
    appt_path = f"/Appointment/{appointment['id']}"
    fhir = {"Content-Type": "application/fhir+json"}

    def body(value: Any) -> Dict[str, Any]:
        return {"data": json.dumps(value), "headers": fhir}

    def raw(data: bytes, content_type: str = "application/fhir+json") -> Dict[str, Any]:
        return {"data": data, "headers": {"Content-Type": content_type}}

    def mutate(resource: Dict[str, Any]) -> Dict[str, Any]:
        broken = copy.deepcopy(resource)
        key = rng.choice(sorted(set(broken) - {"meta"}))  # meta is server-owned: a PUT may send any
        broken[key] = rng.choice([42, 3.5, True, [], {}, "x" * rng.randint(0, 300), [1, 2], {"a": "b"}])
        if broken[key] == resource[key] or key == "resourceType" and broken[key] is None:
            broken["unexpectedField"] = rng.choice(SQLISH)
        return broken

    def invalid_patient() -> Dict[str, Any]:
        resource = patient_json(f"+4477009{rng.randint(0, 99999):05d}", rng.choice(SQLISH))
        choice = rng.randrange(6)
        if choice == 0:
            resource["telecom"] = [{"system": "phone", "value": rng.choice(SQLISH)}]
        elif choice == 1:
            resource["birthDate"] = rng.choice(BAD_DATES)
        elif choice == 2:
            resource[rng.choice(["ssn", "password", "name_", "Name"])] = rng.choice(SQLISH)
        elif choice == 3:
            resource["name"] = rng.choice(SQLISH)
        elif choice == 4:
            resource["birthDate"] = "2999-01-01"
        else:
            resource = mutate(resource)
        return resource

    def invalid_appointment() -> Dict[str, Any]:
        resource = appointment_json(patient_id, slot_id)
        choice = rng.randrange(6)
        if choice == 0:
            resource["slot"] = [{"reference": f"Slot/{rng.choice(SQLISH)}"}]
        elif choice == 1:
            resource["status"] = rng.choice(["proposed", "cancelled", "BOOKED", "", "booked'--"])
        elif choice == 2:
            resource["participant"][0]["actor"]["reference"] = f"Patient/{rng.choice(SQLISH)}"
        elif choice == 3:
            resource["start"] = rng.choice(BAD_DATES)
        elif choice == 4:
            resource["slot"] = [{"reference": f"Slot/{slot_id}"}, {"reference": f"Slot/{slot_id}"}]
        else:
            resource = mutate(resource)
        return resource

    makers: List[Callable[[], Request]] = [
        lambda: (
            "POST",
            "/Patient",
            raw(
                rng.choice(
                    [b"{", b"[1,2", b"\xff\xfe\x00", b"", b"null", b"nan", b'{"resourceType": "Patient",}']
                )
            ),
        ),
        lambda: ("POST", "/Appointment", raw(b"[" * rng.randint(1000, 20000))),
        lambda: ("POST", rng.choice(["/Patient", "/Appointment"]), raw(b'{"a": "' + b"x" * 70_000 + b'"}')),
        lambda: ("POST", "/Patient", body(invalid_patient())),
        lambda: ("POST", "/Appointment", body(invalid_appointment())),
        lambda: (
            "POST",
            "/Appointment",
            raw(
                json.dumps(appointment_json(patient_id, slot_id)).encode(),
                rng.choice(["text/plain", "application/xml", "multipart/form-data"]),
            ),
        ),
        lambda: (
            "POST",
            "/Patient",
            body(rng.choice([[], 1, "Patient", None, {"resourceType": "Appointment"}])),
        ),
        lambda: (
            "GET",
            "/Slot",
            {
                "params": {
                    rng.choice(
                        [
                            "start",
                            "status",
                            "_count",
                            "schedule.actor",
                            "service-type",
                            "_offset",
                            "bogus",
                            "start:missing",
                        ]
                    ): rng.choice(SQLISH + BAD_DATES + ["-1", "1000000", "busy'", "²", "٣"])
                }
            },
        ),
        lambda: (
            "GET",
            "/Appointment",
            {"params": {rng.choice(["date", "status", "patient", "_count"]): rng.choice(SQLISH + BAD_DATES)}},
        ),
        lambda: ("GET", "/Patient", {"params": {"telecom": rng.choice(SQLISH + ["12345", "+0123"])}}),
        lambda: (
            "GET",
            f"/{rng.choice(['Slot', 'Appointment', 'Patient'])}/{rng.choice(SQLISH).replace('/', '')}",
            {},
        ),
        lambda: (
            "PUT",
            appt_path,
            body(
                rng.choice(
                    [
                        {**appointment, "id": "someone-else", "status": "cancelled"},
                        {**appointment, "status": "no-such-status"},
                        {**appointment, "status": "cancelled", "surprise": 1},
                        mutate(appointment),
                    ]
                )
            ),
        ),
        lambda: (
            "PUT",
            appt_path,
            {
                "data": json.dumps({**appointment, "status": "cancelled"}),
                "headers": {**fhir, "If-Match": rng.choice(['W/"99"', "banana", 'W/"0"', '""', 'W/"²"'])},
            },
        ),
        lambda: (
            "PATCH",
            appt_path,
            {
                "data": json.dumps(
                    rng.choice(
                        [
                            [{"op": "remove", "path": "/status"}],
                            [{"op": "replace", "path": "/slot", "value": []}],
                            [{"op": "replace", "path": "/status", "value": "booked'--"}],
                            {"status": "cancelled"},
                            [],
                            [{"op": "replace", "path": "/status", "value": "cancelled"}] * 11,
                        ]
                    )
                ),
                "headers": {"Content-Type": rng.choice(["application/json-patch+json", "application/json"])},
            },
        ),
        lambda: (
            "POST",
            f"{appt_path}/$reschedule",
            body(
                rng.choice(
                    [
                        {"resourceType": "Parameters"},
                        {
                            "resourceType": "Parameters",
                            "parameter": [
                                {
                                    "name": "slot",
                                    "valueReference": {"reference": f"Slot/{rng.choice(SQLISH)}"},
                                }
                            ],
                        },
                        {
                            "resourceType": "Parameters",
                            "parameter": [{"name": "slot", "valueString": slot_id}],
                        },
                        {
                            "resourceType": "Parameters",
                            "parameter": [
                                {"name": "slot", "valueReference": {"reference": f"Slot/{slot_id}"}},
                                {"name": "x"},
                            ],
                        },
                        appointment,
                    ]
                )
            ),
        ),
        lambda: (rng.choice(["DELETE", "PUT", "PATCH"]), rng.choice(["/Slot", "/Patient", "/Slot/x"]), {}),
        lambda: (
            "POST",
            "/Patient",
            {**body(patient_json()), "headers": {**fhir, "Authorization": "Bearer wrong"}},
        ),
    ]
    return [rng.choice(makers)() for _ in range(500)]


async def test_five_hundred_hostile_requests_get_4xx_and_write_nothing(api, backend):
    patient = await api.new_patient()
    slot = await api.free_slot("gp")
    free_slot = await api.free_slot("gp", skip=1)
    _, appointment = await api.book(patient["id"], slot["id"])
    before = row_counts(backend.engine)
    rng = random.Random(20261128)
    seen_statuses = set()
    for method, path, kwargs in hostile_requests(rng, appointment, free_slot["id"], patient["id"]):
        headers = {"Authorization": "Bearer " + "test-token-" + "x" * 20, **kwargs.pop("headers", {})}
        async with api.session.request(method, api.base_url + path, headers=headers, **kwargs) as response:
            text = await response.text()
            assert response.status < 500, (method, path, response.status, text[:300], kwargs)
            assert "Traceback" not in text
            answer = json.loads(text)
            if method == "GET" and response.status == 200:
                assert answer["resourceType"] == "Bundle" and answer["entry"] == [], text[:300]
            else:
                assert 400 <= response.status < 500, (method, path, response.status, kwargs["data"][:300])
                assert answer["resourceType"] == "OperationOutcome", text[:300]
            seen_statuses.add(response.status)
    assert row_counts(backend.engine) == before
    _, unchanged = await api.call("GET", f"/Appointment/{appointment['id']}")
    assert unchanged["status"] == "booked" and unchanged["meta"]["versionId"] == "1"
    assert {400, 401, 404, 405, 409, 412, 413, 415, 422} <= seen_statuses


async def test_unicode_digits_are_not_numbers(api):
    """str.isdigit() accepts '²' and '٣', which int() then rejects: each must be a 400, not a crash."""
    patient = await api.new_patient()
    _, appointment = await api.book(patient["id"], (await api.free_slot("gp"))["id"])
    for value in ("²", "٣"):
        status, _ = await api.call("GET", "/Slot", params={"_count": value})
        assert status == 400
        status, _ = await api.call(
            "PATCH",
            f"/Appointment/{appointment['id']}",
            json=[{"op": "replace", "path": "/status", "value": "cancelled"}],
            headers={"Content-Type": "application/json-patch+json", "If-Match": f'W/"{value}"'},
        )
        assert status == 400
