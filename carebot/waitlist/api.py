"""The waitlist's FHIR operations under `/fhir/Appointment/$waitlist` and `/fhir/Appointment/$offer`.

- `POST $waitlist`: join, with an `Appointment` of status `waitlist`: one Patient participant (optionally one
  Practitioner), one serviceType, `requestedPeriod` (dates, inclusive), times of day as `TIMES_OF_DAY_URL`
  extensions (`morning`, `afternoon`, `evening`; none = all day), and the conversation to offer slots in
  (`CONVERSATION_URL`, `CHANNEL_URL`). 201 with the entry.
- `GET $waitlist?patient=&service-type=&state=&_count=&_offset=`: the entries (staff see the list this way too).
- `POST $waitlist/{id}/$leave`: leave the list (an offer it holds is declined).
- `GET $offer?patient=&state=`: offers, as `Appointment` of status `proposed` naming their entry (`ENTRY_URL`) and
  when they lapse (`EXPIRES_URL`).
- `POST $offer/{id}/$accept`: book the offered slot: 201 with the booked Appointment (200 and the same one when
  repeated), 409 OperationOutcome when the offer ended or another patient took the slot first.
- `POST $offer/{id}/$decline`: no thanks; the patient stays on the list.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List

from aiohttp import web
from fhir.resources.appointment import Appointment
from sqlalchemy.engine import Engine

from carebot.backend.db import run_db
from carebot.backend.errors import ApiError, fhir_response
from carebot.clinic import Clinic
from carebot.scheduling.api import SchedulingApi, parse_resource, query_params, read_json, single
from carebot.scheduling.model import SERVICE_TYPE_SYSTEM
from carebot.scheduling.resources import comma_values, instant, local_iso, meta, paging, reference_id
from carebot.waitlist import store
from carebot.waitlist.model import (
    CHANNEL_URL,
    CONVERSATION_URL,
    ENTRY_STATES,
    ENTRY_URL,
    EXPIRES_URL,
    OFFER_STATES,
    STATE_URL,
    TIMES_OF_DAY_URL,
    day_parts_bits,
    day_parts_names,
)

WAITLIST, OFFER = "/fhir/Appointment/$waitlist", "/fhir/Appointment/$offer"
MAX_CONVERSATION = 200


def setup(app: web.Application, engine: Engine, clinic: Clinic) -> None:
    api = WaitlistApi(engine, clinic)
    app.router.add_routes(
        [
            web.post(WAITLIST, api.join),
            web.get(WAITLIST, api.search_entries),
            web.post(WAITLIST + "/{id}/$leave", api.leave),
            web.get(OFFER, api.search_offers),
            web.post(OFFER + "/{id}/$accept", api.accept),
            web.post(OFFER + "/{id}/$decline", api.decline),
        ]
    )


def entry_resource(clinic: Clinic, row: Any) -> Dict[str, Any]:
    participants: List[Dict[str, Any]] = [
        {"actor": {"reference": f"Patient/{row.patient_id}"}, "status": "accepted"}
    ]
    if row.practitioner_id:
        participants.append(
            {"actor": {"reference": f"Practitioner/{row.practitioner_id}"}, "status": "tentative"}
        )
    resource: Dict[str, Any] = {
        "resourceType": "Appointment",
        "id": row.id,
        "meta": meta(row),
        "status": "waitlist" if row.state in ("active", "offered") else "cancelled",
        "extension": [
            {"url": STATE_URL, "valueCode": row.state},
            *({"url": TIMES_OF_DAY_URL, "valueCode": part} for part in day_parts_names(row.day_parts)),
        ],
        "serviceType": [_service(clinic, row.service_id)],
        "created": instant(row.created),
        "requestedPeriod": [{"start": row.date_from.isoformat(), "end": row.date_to.isoformat()}],
        "participant": participants,
    }
    return resource


def offer_resource(clinic: Clinic, row: Any) -> Dict[str, Any]:
    statuses = {"open": "proposed", "accepted": "booked"}
    return {
        "resourceType": "Appointment",
        "id": row.id,
        "meta": meta(row),
        "status": statuses.get(row.state, "cancelled"),
        "extension": [
            {"url": STATE_URL, "valueCode": row.state},
            {"url": ENTRY_URL, "valueReference": {"reference": f"Appointment/{row.entry_id}"}},
            {"url": EXPIRES_URL, "valueDateTime": local_iso(clinic, row.expires_at)},
        ],
        "serviceType": [_service(clinic, row.service_id)],
        "start": local_iso(clinic, row.start),
        "slot": [{"reference": f"Slot/{row.slot_id}"}],
        "participant": [
            {"actor": {"reference": f"Patient/{row.patient_id}"}, "status": "needs-action"},
            {"actor": {"reference": f"Practitioner/{row.practitioner_id}"}, "status": "accepted"},
        ],
    }


def _service(clinic: Clinic, service_id: str) -> Dict[str, Any]:
    service = clinic.service(service_id)
    name = service.name if service else service_id
    return {"coding": [{"system": SERVICE_TYPE_SYSTEM, "code": service_id, "display": name}], "text": name}


def _as_date(value: Any, clinic: Clinic, what: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=clinic.tz)).astimezone(clinic.tz).date()
    if isinstance(value, dt.date):
        return value
    raise ApiError(422, f"requestedPeriod.{what} must be a date like 2026-12-07")


def _extension_values(body: Dict[str, Any], url: str) -> List[Any]:
    values = []
    for extension in body.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == url:
            values.append(next((v for k, v in extension.items() if k.startswith("value")), None))
    return values


class WaitlistApi(SchedulingApi):
    """Request handlers; each validates fully before one store call (the rendering helpers are scheduling's)."""

    def __init__(self, engine: Engine, clinic: Clinic) -> None:
        super().__init__(engine, clinic)

    async def join(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        resource = parse_resource(Appointment, body)
        if resource.status != "waitlist":
            raise ApiError(422, "join the waitlist with an Appointment of status 'waitlist'")
        actors = [p.actor.reference or "" for p in resource.participant if p.actor is not None]
        patients = [a for a in actors if a.startswith("Patient/")]
        practitioners = [a for a in actors if a.startswith("Practitioner/")]
        if len(patients) != 1 or len(practitioners) > 1:
            raise ApiError(422, "name exactly one Patient participant (and at most one Practitioner)")
        codes = {
            c.code
            for concept in resource.serviceType or []
            for c in concept.coding or []
            if c.code and c.system in (None, SERVICE_TYPE_SYSTEM)
        }
        if len(codes) != 1:
            raise ApiError(422, "give exactly one serviceType")
        periods = resource.requestedPeriod or []
        if len(periods) != 1 or periods[0].start is None or periods[0].end is None:
            raise ApiError(422, "give one requestedPeriod with a start and an end date")
        try:
            parts = day_parts_bits(str(v) for v in _extension_values(body, TIMES_OF_DAY_URL))
        except ValueError as error:
            raise ApiError(422, str(error)) from None
        conversation = [v for v in _extension_values(body, CONVERSATION_URL) if isinstance(v, str)]
        channel = [v for v in _extension_values(body, CHANNEL_URL) if isinstance(v, str)]
        if len(conversation) != 1 or not 0 < len(conversation[0]) <= MAX_CONVERSATION or len(channel) != 1:
            raise ApiError(
                422, f"name the conversation ({CONVERSATION_URL}) and channel ({CHANNEL_URL}) for offers"
            )
        row = await run_db(
            store.join,
            self.engine,
            self.clinic,
            reference_id(patients[0], "Patient"),
            codes.pop(),
            _as_date(periods[0].start, self.clinic, "start"),
            _as_date(periods[0].end, self.clinic, "end"),
            parts,
            reference_id(practitioners[0], "Practitioner") if practitioners else None,
            conversation[0],
            channel[0][:40],
        )
        return self.single_resource(entry_resource(self.clinic, row), status=201)

    async def search_entries(self, request: web.Request) -> web.Response:
        params = query_params(request, ("patient", "service-type", "state", "_count", "_offset"))
        count, offset = paging(params)
        states = comma_values(params.get("state", []))
        if any(s not in ENTRY_STATES for s in states):
            raise ApiError(400, f"state must be one of {', '.join(ENTRY_STATES)}")
        patient = single(params, "patient")
        service = single(params, "service-type")
        if service is not None:
            service = service.rpartition("|")[2]
            if self.clinic.service(service) is None:
                raise ApiError(400, f"unknown service-type '{service[:60]}'")
        rows, total = await run_db(
            store.search_entries,
            self.engine,
            reference_id(patient, "Patient") if patient else None,
            states,
            service,
            count,
            offset,
        )
        return self.searchset(request, [entry_resource(self.clinic, r) for r in rows], total, count, offset)

    async def leave(self, request: web.Request) -> web.Response:
        row = await run_db(store.leave, self.engine, reference_id(request.match_info["id"], "Appointment"))
        return self.single_resource(entry_resource(self.clinic, row))

    async def search_offers(self, request: web.Request) -> web.Response:
        params = query_params(request, ("patient", "state", "_count", "_offset"))
        count, offset = paging(params)
        states = comma_values(params.get("state", []))
        if any(s not in OFFER_STATES for s in states):
            raise ApiError(400, f"state must be one of {', '.join(OFFER_STATES)}")
        patient = single(params, "patient")
        rows, total = await run_db(
            store.search_offers,
            self.engine,
            reference_id(patient, "Patient") if patient else None,
            states,
            count,
            offset,
        )
        return self.searchset(request, [offer_resource(self.clinic, r) for r in rows], total, count, offset)

    async def accept(self, request: web.Request) -> web.Response:
        offer_id = reference_id(request.match_info["id"], "Appointment")
        booked, created = await run_db(store.accept, self.engine, self.clinic, offer_id)
        return await self.appointment_response(booked, status=201 if created else 200)

    async def decline(self, request: web.Request) -> web.Response:
        row = await run_db(store.decline, self.engine, reference_id(request.match_info["id"], "Appointment"))
        return fhir_response(offer_resource(self.clinic, row))
