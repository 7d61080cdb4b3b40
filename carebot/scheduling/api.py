"""The FHIR R4 scheduling API under `/fhir` (mounted by `carebot.server.app.create_app`).

Resources: Practitioner, Schedule, Slot (read/search), Patient and RelatedPerson (read/search/create), Appointment
(read/search/create/PUT/PATCH). A dependant (a child, a parent) is a Patient of their own, with the phone that books
for them as telecom, and a RelatedPerson (patient = the dependant, relationship = what the phone's owner is to them).
Booking is `POST /fhir/Appointment` with `status: booked` and one `slot` reference (a service longer than one slot
also takes the following slots). Cancelling is PUT or JSON-Patch (`application/json-patch+json`)
of `status` to `cancelled`, which frees the slots. Rescheduling is one transaction:
`POST /fhir/Appointment/{id}/$reschedule` with a `Parameters` body holding `slot` (valueReference `Slot/<id>`);
it cancels the old appointment (reason "rescheduled") and answers 201 with the new one, or changes nothing.
Updates honour `If-Match: W/"<versionId>"` (412 on mismatch). Unknown search parameters are a 400, not ignored,
so a typo never widens a search over health data.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Callable, Dict, List, Optional, Sequence

import pydantic
from aiohttp import web
from fhir.resources.appointment import Appointment
from fhir.resources.codeableconcept import CodeableConcept
from fhir.resources.parameters import Parameters
from fhir.resources.patient import Patient
from fhir.resources.relatedperson import RelatedPerson
from sqlalchemy import select
from sqlalchemy.engine import Engine

from carebot.backend.db import run_db
from carebot.backend.errors import ApiError, fhir_response
from carebot.clinic import Clinic
from carebot.scheduling import store
from carebot.scheduling import tables as t
from carebot.scheduling.fhir_json import type_problem
from carebot.scheduling.model import E164, RELATIONSHIPS, ROLE_CODE_SYSTEM, SERVICE_TYPE_SYSTEM
from carebot.scheduling.resources import (
    appointment_resource,
    bundle,
    comma_values,
    date_range,
    paging,
    patient_resource,
    practitioner_resource,
    reference_id,
    related_person_resource,
    schedule_resource,
    slot_resource,
)

# An Appointment id in a path: FHIR ids never start with '$', which names an operation (the waitlist's).
APPOINTMENT = "/fhir/Appointment/{id:[A-Za-z0-9.-]+}"
JSON_TYPES = ("application/fhir+json", "application/json")
JSON_PATCH = "application/json-patch+json"
APPOINTMENT_STATUSES = {
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "cancelled",
    "noshow",
    "entered-in-error",
    "checked-in",
    "waitlist",
}
GENDERS = {"male", "female", "other", "unknown"}
MAX_NAME = 200


def setup(app: web.Application, engine: Engine, clinic: Clinic) -> None:
    """Register the /fhir routes (the tables live on the shared backend metadata)."""
    api = SchedulingApi(engine, clinic)
    app.router.add_routes(
        [
            web.get("/fhir/metadata", api.capabilities),
            web.get("/fhir/Practitioner", api.search_practitioners),
            web.get("/fhir/Practitioner/{id}", api.read_practitioner),
            web.get("/fhir/Schedule", api.search_schedules),
            web.get("/fhir/Schedule/{id}", api.read_schedule),
            web.get("/fhir/Slot", api.search_slots),
            web.get("/fhir/Slot/{id}", api.read_slot),
            web.get("/fhir/Patient", api.search_patients),
            web.post("/fhir/Patient", api.create_patient),
            web.get("/fhir/Patient/{id}", api.read_patient),
            web.get("/fhir/RelatedPerson", api.search_related_persons),
            web.post("/fhir/RelatedPerson", api.create_related_person),
            web.get("/fhir/RelatedPerson/{id}", api.read_related_person),
            web.get("/fhir/Appointment", api.search_appointments),
            web.post("/fhir/Appointment", api.create_appointment),
            web.get(APPOINTMENT, api.read_appointment),
            web.put(APPOINTMENT, api.put_appointment),
            web.patch(APPOINTMENT, api.patch_appointment),
            web.post(APPOINTMENT + "/$reschedule", api.reschedule_appointment),
            web.post(APPOINTMENT + "/$confirm-attendance", api.confirm_attendance),
        ]
    )


# ---- request helpers ---------------------------------------------------------------------------------------------


def query_params(request: web.Request, allowed: Sequence[str]) -> Dict[str, List[str]]:
    params: Dict[str, List[str]] = {}
    for key, value in request.query.items():
        if key not in allowed and key != "_format":
            raise ApiError(400, f"unknown search parameter '{key[:40]}' (supported: {', '.join(allowed)})")
        params.setdefault(key, []).append(value)
    return params


def single(params: Dict[str, List[str]], name: str) -> Optional[str]:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise ApiError(400, f"give '{name}' at most once")
    return values[0]


async def read_json(request: web.Request, content_types: Sequence[str] = JSON_TYPES) -> Any:
    if request.content_type not in content_types:
        raise ApiError(415, f"send the body as {' or '.join(content_types)}")
    raw = await request.read()  # aiohttp answers 413 beyond the app's client_max_size
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "the body is not valid JSON") from None


def parse_resource(model: Any, body: Any) -> Any:
    """Validate `body` against the FHIR R4 model (unknown elements and wrong types are a 422)."""
    name = model.get_resource_type()
    if not isinstance(body, dict) or body.get("resourceType") != name:
        raise ApiError(400 if not isinstance(body, dict) else 422, f"the body must be a FHIR {name} resource")
    try:
        resource = model.parse_obj(body)
    except pydantic.ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:3])
        raise ApiError(422, f"invalid {name}: {problems}") from None
    except (TypeError, ValueError, RecursionError):
        raise ApiError(422, f"invalid {name}") from None
    problem = type_problem(model, body)
    if problem:
        raise ApiError(422, f"invalid {name}: {problem}")
    return resource


def telecom_param(params: Dict[str, List[str]]) -> Optional[str]:
    """The `telecom` (or `phone`) search value as E.164, None when not given; 400 unless it is a phone number."""
    phone = single(params, "telecom") or single(params, "phone")
    if phone is None:
        return None
    phone = phone.rpartition("|")[2].replace(" ", "").strip()
    if not phone.startswith("+"):
        phone = "+" + phone  # an unencoded '+' in a query string arrives as a space
    if not E164.match(phone):
        raise ApiError(400, "telecom must be a phone number in E.164 form, like +447700900123")
    return phone


def if_match(request: web.Request) -> Optional[int]:
    header = request.headers.get("If-Match")
    if header is None:
        return None
    value = header.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        raise ApiError(400, 'If-Match must be a version tag like W/"3"')
    return int(value)


def slot_reference(reference: Any) -> str:
    text = getattr(reference, "reference", None) or ""
    if not text.startswith("Slot/"):
        raise ApiError(422, "slot must reference a Slot (Slot/<id>)")
    return reference_id(text, "Slot")


def concept_text(concept: Any) -> Optional[str]:
    if concept is None:
        return None
    text = concept.text or next(
        (c.display or c.code for c in concept.coding or [] if c.display or c.code), None
    )
    return (text or "")[:MAX_NAME] or None


class SchedulingApi:
    """Request handlers; each validates fully before one store call, so a rejected request writes nothing."""

    def __init__(self, engine: Engine, clinic: Clinic) -> None:
        self.engine, self.clinic = engine, clinic

    # -- shared rendering --

    def base_url(self, request: web.Request) -> str:
        return f"{self.origin(request)}/fhir"

    @staticmethod
    def origin(request: web.Request) -> str:
        # Built by hand: request.url fails on "host:port" Host headers with the locked aiohttp/yarl pair.
        return f"{request.scheme}://{request.host}"

    def searchset(
        self,
        request: web.Request,
        resources: List[Dict[str, Any]],
        total: int,
        count: int,
        offset: int,
        included: Sequence[Dict[str, Any]] = (),
    ) -> web.Response:
        origin, url = self.origin(request), request.rel_url
        links = {"self": f"{origin}{url}"}
        if count and offset + count < total:
            links["next"] = f"{origin}{url.update_query(_offset=str(offset + count), _count=str(count))}"
        if offset > 0:
            previous = url.update_query(_offset=str(max(0, offset - max(count, 1))), _count=str(count))
            links["previous"] = f"{origin}{previous}"
        return fhir_response(bundle(resources, total, self.base_url(request), links, included))

    def single_resource(self, resource: Dict[str, Any], status: int = 200) -> web.Response:
        headers = {
            "ETag": f'W/"{resource["meta"]["versionId"]}"',
            "Last-Modified": resource["meta"]["lastUpdated"],
        }
        if status == 201:
            headers["Location"] = (
                f"/fhir/{resource['resourceType']}/{resource['id']}/_history/{resource['meta']['versionId']}"
            )
        return fhir_response(resource, status=status, headers=headers)

    async def names(self) -> Dict[str, str]:
        return await run_db(self._with_conn, store.practitioner_names)

    async def services(self) -> Dict[str, List[str]]:
        return await run_db(self._with_conn, store.schedule_services)

    def _with_conn(self, fn: Callable[[Any], Any]) -> Any:
        with self.engine.connect() as conn:
            return fn(conn)

    def _all(self, table: Any, *conditions: Any) -> List[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(table).where(*conditions).order_by(table.c.id)))

    async def appointment_response(self, row: Any, status: int = 200) -> web.Response:
        names = await self.names()
        return self.single_resource(
            appointment_resource(self.clinic, row, names.get(row.practitioner_id)), status
        )

    # -- capability --

    async def capabilities(self, request: web.Request) -> web.Response:
        def interactions(*codes: str) -> List[Dict[str, str]]:
            return [{"code": code} for code in codes]

        resources = [
            {"type": "Practitioner", "interaction": interactions("read", "search-type")},
            {"type": "Schedule", "interaction": interactions("read", "search-type")},
            {"type": "Slot", "interaction": interactions("read", "search-type")},
            {"type": "Patient", "interaction": interactions("read", "search-type", "create")},
            {"type": "RelatedPerson", "interaction": interactions("read", "search-type", "create")},
            {
                "type": "Appointment",
                "interaction": interactions("read", "search-type", "create", "update", "patch"),
                "operation": [
                    {"name": "reschedule", "definition": "urn:carebot:OperationDefinition/reschedule"}
                ],
            },
        ]
        return fhir_response(
            {
                "resourceType": "CapabilityStatement",
                "status": "active",
                "kind": "instance",
                "date": dt.date.today().isoformat(),
                "fhirVersion": "4.0.1",
                "format": ["json"],
                "rest": [{"mode": "server", "resource": resources}],
            }
        )

    # -- practitioners and schedules --

    async def search_practitioners(self, request: web.Request) -> web.Response:
        query_params(request, ())
        rows = await run_db(self._all, t.practitioner)
        return self.searchset(request, [practitioner_resource(r) for r in rows], len(rows), len(rows), 0)

    async def read_practitioner(self, request: web.Request) -> web.Response:
        row = await run_db(
            store.get_row, self.engine, t.practitioner, request.match_info["id"], "Practitioner"
        )
        return self.single_resource(practitioner_resource(row))

    async def search_schedules(self, request: web.Request) -> web.Response:
        params = query_params(request, ("actor",))
        conditions = []
        if params.get("actor"):
            ids = [reference_id(v, "Practitioner") for v in comma_values(params["actor"])]
            conditions.append(t.schedule.c.practitioner_id.in_(ids))
        rows = await run_db(self._all, t.schedule, *conditions)
        names = await self.names()
        resources = [schedule_resource(self.clinic, r, names.get(r.practitioner_id)) for r in rows]
        return self.searchset(request, resources, len(rows), len(rows), 0)

    async def read_schedule(self, request: web.Request) -> web.Response:
        row = await run_db(store.get_row, self.engine, t.schedule, request.match_info["id"], "Schedule")
        names = await self.names()
        return self.single_resource(schedule_resource(self.clinic, row, names.get(row.practitioner_id)))

    # -- slots --

    async def search_slots(self, request: web.Request) -> web.Response:
        params = query_params(
            request,
            (
                "status",
                "start",
                "schedule",
                "schedule.actor",
                "service-type",
                "_count",
                "_offset",
                "_include",
            ),
        )
        count, offset = paging(params)
        statuses = comma_values(params.get("status", []))
        if any(s not in (store.FREE, store.BUSY) for s in statuses):
            raise ApiError(400, "slot status must be free or busy")
        include = single(params, "_include")
        if include not in (None, "Slot:schedule"):
            raise ApiError(400, "only _include=Slot:schedule is supported")
        service = single(params, "service-type")
        if service is not None:
            service = service.rpartition("|")[2]
            if self.clinic.service(service) is None:
                raise ApiError(400, f"unknown service-type '{service[:60]}'")
        query = store.SlotQuery(
            statuses=statuses,
            start_ranges=[date_range(self.clinic, v) for v in params.get("start", [])],
            schedule_ids=[reference_id(v, "Schedule") for v in comma_values(params.get("schedule", []))],
            practitioner_ids=[
                reference_id(v, "Practitioner") for v in comma_values(params.get("schedule.actor", []))
            ],
            service_id=service,
            count=count,
            offset=offset,
        )
        rows, total = await run_db(store.search_slots, self.engine, self.clinic, query)
        services = await self.services()
        resources = [slot_resource(self.clinic, r, services.get(r.schedule_id, [])) for r in rows]
        included: List[Dict[str, Any]] = []
        if include:
            wanted = sorted({r.schedule_id for r in rows})
            schedules = await run_db(self._all, t.schedule, t.schedule.c.id.in_(wanted))
            names = await self.names()
            included = [schedule_resource(self.clinic, s, names.get(s.practitioner_id)) for s in schedules]
        return self.searchset(request, resources, total, count, offset, included)

    async def read_slot(self, request: web.Request) -> web.Response:
        row = await run_db(store.get_row, self.engine, t.slot, request.match_info["id"], "Slot")
        services = await self.services()
        return self.single_resource(slot_resource(self.clinic, row, services.get(row.schedule_id, [])))

    # -- patients --

    async def search_patients(self, request: web.Request) -> web.Response:
        params = query_params(request, ("telecom", "phone", "birthdate", "name", "_count", "_offset"))
        count, offset = paging(params)
        phone = telecom_param(params)
        birth = single(params, "birthdate")
        birth_date = None
        if birth is not None:
            try:
                birth_date = dt.date.fromisoformat(birth)
            except ValueError:
                raise ApiError(400, "birthdate must be a date like 1990-04-21") from None
        name = single(params, "name")
        if name is not None and not 0 < len(name.strip()) <= MAX_NAME:
            raise ApiError(400, "name must be 1 to 200 characters")
        if phone is None and birth_date is None and name is None:
            raise ApiError(
                400, "search patients by telecom, birthdate or name: the whole patient list is never served"
            )
        rows, total = await run_db(
            store.search_patients,
            self.engine,
            phone,
            birth_date,
            name.strip() if name else None,
            count,
            offset,
        )
        return self.searchset(request, [patient_resource(r) for r in rows], total, count, offset)

    async def read_patient(self, request: web.Request) -> web.Response:
        row = await run_db(store.get_row, self.engine, t.patient, request.match_info["id"], "Patient")
        return self.single_resource(patient_resource(row))

    async def create_patient(self, request: web.Request) -> web.Response:
        resource = parse_resource(Patient, await read_json(request))
        name = next((n for n in resource.name or [] if n.family or n.given), None)
        if name is None:
            raise ApiError(422, "a Patient needs a name (family and/or given)")
        family = (name.family or "").strip()
        given = " ".join(g.strip() for g in name.given or [] if g and g.strip())
        if not (family or given) or len(family) > MAX_NAME or len(given) > MAX_NAME:
            raise ApiError(422, "the patient's name must be 1 to 200 characters")
        phones = [
            c.value.replace(" ", "")
            for c in resource.telecom or []
            if c.system in ("phone", "sms") and c.value
        ]
        if not phones or not E164.match(phones[0]):
            raise ApiError(422, "a Patient needs a phone telecom in E.164 form, like +447700900123")
        birth_date = resource.birthDate
        if birth_date is not None:
            if not isinstance(birth_date, dt.date):
                raise ApiError(422, "birthDate must be a full date like 1990-04-21")
            if birth_date > dt.date.today() or birth_date.year < 1900:
                raise ApiError(422, "birthDate is not a plausible date of birth")
        if resource.gender is not None and resource.gender not in GENDERS:
            raise ApiError(422, f"gender must be one of {', '.join(sorted(GENDERS))}")
        row = await run_db(
            store.create_patient, self.engine, family, given, phones[0], birth_date, resource.gender
        )
        return self.single_resource(patient_resource(row), status=201)

    # -- related persons: who books for a dependant --

    async def search_related_persons(self, request: web.Request) -> web.Response:
        params = query_params(request, ("telecom", "phone", "patient", "_count", "_offset"))
        count, offset = paging(params)
        phone = telecom_param(params)
        patient = single(params, "patient")
        if phone is None and patient is None:
            raise ApiError(
                400, "search related persons by telecom or patient: the whole list is never served"
            )
        rows, total = await run_db(
            store.search_related_persons,
            self.engine,
            phone,
            reference_id(patient, "Patient") if patient else None,
            count,
            offset,
        )
        return self.searchset(request, [related_person_resource(r) for r in rows], total, count, offset)

    async def read_related_person(self, request: web.Request) -> web.Response:
        row = await run_db(
            store.get_row, self.engine, t.related_person, request.match_info["id"], "RelatedPerson"
        )
        return self.single_resource(related_person_resource(row))

    async def create_related_person(self, request: web.Request) -> web.Response:
        """A dependant's link to the phone that books for them: `patient`, one v3 RoleCode `relationship` (what the
        phone's owner is to the patient) and a phone `telecom`."""
        resource = parse_resource(RelatedPerson, await read_json(request))
        reference = getattr(resource.patient, "reference", None) or ""
        if not reference.startswith("Patient/"):
            raise ApiError(422, "patient must reference a Patient (Patient/<id>)")
        codes = [
            c.code
            for concept in resource.relationship or []
            for c in concept.coding or []
            if c.code and c.system == ROLE_CODE_SYSTEM
        ]
        if len(codes) != 1 or codes[0] not in RELATIONSHIPS:
            raise ApiError(
                422,
                f"give one relationship coded in {ROLE_CODE_SYSTEM}, one of {', '.join(sorted(RELATIONSHIPS))}",
            )
        phones = [
            c.value.replace(" ", "")
            for c in resource.telecom or []
            if c.system in ("phone", "sms") and c.value
        ]
        if not phones or not E164.match(phones[0]):
            raise ApiError(422, "a RelatedPerson needs a phone telecom in E.164 form, like +447700900123")
        row = await run_db(
            store.create_related_person, self.engine, reference_id(reference, "Patient"), phones[0], codes[0]
        )
        return self.single_resource(related_person_resource(row), status=201)

    # -- appointments --

    async def search_appointments(self, request: web.Request) -> web.Response:
        params = query_params(request, ("patient", "status", "date", "_count", "_offset"))
        count, offset = paging(params)
        patient = single(params, "patient")
        statuses = comma_values(params.get("status", []))
        if any(s not in APPOINTMENT_STATUSES for s in statuses):
            raise ApiError(
                400, f"appointment status must be one of {', '.join(sorted(APPOINTMENT_STATUSES))}"
            )
        ranges = [date_range(self.clinic, v) for v in params.get("date", [])]
        rows, total = await run_db(
            store.search_appointments,
            self.engine,
            reference_id(patient, "Patient") if patient else None,
            statuses,
            ranges,
            count,
            offset,
        )
        names = await self.names()
        resources = [appointment_resource(self.clinic, r, names.get(r.practitioner_id)) for r in rows]
        return self.searchset(request, resources, total, count, offset)

    async def read_appointment(self, request: web.Request) -> web.Response:
        row = await run_db(store.get_row, self.engine, t.appointment, request.match_info["id"], "Appointment")
        return await self.appointment_response(row)

    async def create_appointment(self, request: web.Request) -> web.Response:
        resource = parse_resource(Appointment, await read_json(request))
        if resource.status != "booked":
            raise ApiError(422, "create appointments with status 'booked'")
        if len(resource.slot or []) != 1:
            raise ApiError(422, "reference exactly one Slot (the first slot of the appointment)")
        slot_id = slot_reference(resource.slot[0])
        patients = [
            p.actor.reference
            for p in resource.participant
            if p.actor is not None and (p.actor.reference or "").startswith("Patient/")
        ]
        if len(patients) != 1:
            raise ApiError(422, "name exactly one Patient participant (actor Patient/<id>)")
        patient_id = reference_id(patients[0], "Patient")
        codes = [
            c.code
            for concept in resource.serviceType or []
            for c in concept.coding or []
            if c.code and c.system in (None, SERVICE_TYPE_SYSTEM)
        ]
        if len(set(codes)) > 1:
            raise ApiError(422, "give at most one serviceType")
        row = await run_db(
            store.book, self.engine, self.clinic, patient_id, slot_id, codes[0] if codes else None
        )
        return await self.appointment_response(row, status=201)

    async def put_appointment(self, request: web.Request) -> web.Response:
        """PUT the resource as read, with a new status (and optionally cancelationReason); nothing else may change."""
        appointment_id = request.match_info["id"]
        version = if_match(request)
        body = await read_json(request)
        resource = parse_resource(Appointment, body)
        if resource.id != appointment_id:
            raise ApiError(400, "the body's id must match the URL")
        current = await run_db(store.get_row, self.engine, t.appointment, appointment_id, "Appointment")
        names = await self.names()
        stored = appointment_resource(self.clinic, current, names.get(current.practitioner_id))
        mutable = ("meta", "status", "cancelationReason")
        changed = sorted(
            k for k in set(body) | set(stored) if k not in mutable and body.get(k) != stored.get(k)
        )
        if changed:
            raise ApiError(
                422,
                f"only status and cancelationReason can change (not {', '.join(changed)}); "
                "use $reschedule to move an appointment",
            )
        row = await run_db(
            store.change_status,
            self.engine,
            appointment_id,
            resource.status,
            concept_text(resource.cancelationReason),
            version,
        )
        return await self.appointment_response(row)

    async def patch_appointment(self, request: web.Request) -> web.Response:
        appointment_id = request.match_info["id"]
        version = if_match(request)
        operations = await read_json(request, (JSON_PATCH,))
        if not isinstance(operations, list) or not operations or len(operations) > 10:
            raise ApiError(400, "a JSON Patch is a list of 1 to 10 operations")
        status: Optional[str] = None
        reason: Optional[str] = None
        for operation in operations:
            if not isinstance(operation, dict) or operation.get("op") not in ("replace", "add"):
                raise ApiError(422, "only 'replace' and 'add' operations are supported")
            path, value = operation.get("path"), operation.get("value")
            if path == "/status" and isinstance(value, str) and value in APPOINTMENT_STATUSES:
                status = value
            elif path == "/cancelationReason" and isinstance(value, dict):
                try:
                    reason = concept_text(CodeableConcept.parse_obj(value))
                except (pydantic.ValidationError, TypeError, ValueError):
                    raise ApiError(422, "cancelationReason must be a CodeableConcept") from None
            else:
                raise ApiError(422, "only /status (a valid status) and /cancelationReason can be patched")
        if status is None:
            raise ApiError(422, "the patch must set /status")
        row = await run_db(store.change_status, self.engine, appointment_id, status, reason, version)
        return await self.appointment_response(row)

    async def confirm_attendance(self, request: web.Request) -> web.Response:
        """The patient confirmed they will come (extension ATTENDANCE_URL); 409 unless the appointment is booked."""
        row = await run_db(store.confirm_attendance, self.engine, request.match_info["id"])
        return await self.appointment_response(row)

    async def reschedule_appointment(self, request: web.Request) -> web.Response:
        appointment_id = request.match_info["id"]
        version = if_match(request)
        parameters = parse_resource(Parameters, await read_json(request))
        slots = [
            p.valueReference for p in parameters.parameter or [] if p.name == "slot" and p.valueReference
        ]
        if len(slots) != 1 or len(parameters.parameter) != 1:
            raise ApiError(422, "give exactly one parameter 'slot' with valueReference Slot/<id>")
        _old, new = await run_db(
            store.reschedule, self.engine, self.clinic, appointment_id, slot_reference(slots[0]), version
        )
        return await self.appointment_response(new, status=201)
