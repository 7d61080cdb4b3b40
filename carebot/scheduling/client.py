"""The async client the actions use to talk to the scheduling backend (plain FHIR R4 REST).

    async with SchedulingClient() as scheduling:
        patient = await scheduling.find_patient_by_phone("+447700900123")
        slots = await scheduling.search_free_slots("gp", start, end)
        appointment = await scheduling.book(patient.id, slots[0].id, "gp")

Configuration: `SCHEDULING_URL` (default http://127.0.0.1:8080/fhir) and `CAREBOT_BACKEND_TOKEN` (else the token file
`var/scheduling_token` the backend writes). Every call has a timeout. Results are small dataclasses with aware
datetimes in the clinic's timezone. Failures raise one of:

- `BackendUnavailable`: cannot connect, timed out, 5xx or token rejected → "I couldn't reach the booking system,
  please try again in a few minutes".
- `SlotTaken`: someone else booked that time first (409) → offer other times.
- `NotFound`: the patient, appointment or slot does not exist (a slot may vanish when clinic hours change; treat it
  like `SlotTaken` when booking).
- `BackendError`: the base class (other 4xx, e.g. a cancelled appointment cannot be cancelled again).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Optional, Tuple

from carebot import settings
from carebot.backend.http_client import BackendError, BackendHTTPClient, BackendUnavailable, NotFound
from carebot.clinic import Clinic, load_clinic
from carebot.clock import utc_now
from carebot.phones import normalize_phone
from carebot.scheduling.model import (
    ROLE_CODE_SYSTEM,
    SERVICE_TYPE_SYSTEM,
    BookedAppointment,
    Dependant,
    FreeSlot,
    Household,
    PatientRecord,
)

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "NotFound",
    "SlotTaken",
    "SchedulingClient",
    "FreeSlot",
    "BookedAppointment",
    "PatientRecord",
    "Household",
    "Dependant",
]

FHIR_JSON = "application/fhir+json"


class SlotTaken(BackendError):
    """The slot was booked by someone else first (409)."""


class SchedulingClient(BackendHTTPClient):
    """One client per process is fine; it holds one HTTP session. Use `async with` or call `close()`."""

    service = "scheduling backend"
    media_type = FHIR_JSON

    def __init__(
        self,
        base_url: Optional[str] = None,
        token: Optional[str] = None,
        *,
        clinic: Optional[Clinic] = None,
        timeout: float = 5.0,
        connect_timeout: float = 2.0,
    ) -> None:
        super().__init__(
            base_url or settings.current().scheduling_url,
            token,
            timeout=timeout,
            connect_timeout=connect_timeout,
        )
        self._clinic = clinic

    @property
    def clinic(self) -> Clinic:
        if self._clinic is None:
            self._clinic = load_clinic()
        return self._clinic

    # ---- patients ----

    async def find_patient_by_phone(
        self, phone: str, name: Optional[str] = None, birth_date: Optional[dt.date] = None
    ) -> Optional[PatientRecord]:
        """The patient registered with this phone, or None. A family may share one phone: pass the full `name`
        (exact, case-insensitive) and/or `birth_date` to pick one; without them the earliest registered wins."""
        params: List[Tuple[str, str]] = [("telecom", normalize_phone(phone)), ("_count", "50")]
        if birth_date:
            params.append(("birthdate", birth_date.isoformat()))
        if name:
            params.append(("name", name.strip().split()[-1]))
        bundle = await self._request("GET", "/Patient", params=params)
        patients = [self._patient(r) for r in _resources(bundle, "Patient")]
        if (
            name
        ):  # a family shares one phone: never hand back a sibling's record for a name that is not theirs
            wanted = " ".join(name.lower().split())
            patients = [p for p in patients if " ".join(p.name.lower().split()) == wanted]
        return patients[0] if patients else None

    async def household(self, phone: str) -> Household:
        """Everyone this phone books for: its patients (earliest registered first) and which are dependants."""
        params = [("telecom", normalize_phone(phone)), ("_count", "50")]
        patients = await self._request("GET", "/Patient", params=params)
        related = await self._request("GET", "/RelatedPerson", params=params)
        return Household(
            tuple(self._patient(r) for r in _resources(patients, "Patient")),
            tuple(self._dependant(r) for r in _resources(related, "RelatedPerson")),
        )

    async def add_dependant(
        self,
        name: str,
        phone: str,
        birth_date: Optional[dt.date],
        relationship: str,
        gender: Optional[str] = None,
    ) -> PatientRecord:
        """Register a patient the phone's owner books for (a child, a parent): their Patient, reachable on the
        owner's phone, and the RelatedPerson saying what the owner is to them (v3 RoleCode, e.g. PRN)."""
        record = await self.create_patient(name, phone, birth_date, gender)
        resource = {
            "resourceType": "RelatedPerson",
            "patient": {"reference": f"Patient/{record.id}"},
            "relationship": [{"coding": [{"system": ROLE_CODE_SYSTEM, "code": relationship}]}],
            "telecom": [{"system": "phone", "value": normalize_phone(phone), "use": "mobile"}],
        }
        await self._request("POST", "/RelatedPerson", json_body=resource)
        return record

    async def create_patient(
        self, name: str, phone: str, birth_date: Optional[dt.date] = None, gender: Optional[str] = None
    ) -> PatientRecord:
        """Register a patient; `name` is the full name as the patient gave it (last word = family name)."""
        words = name.split()
        if not words:
            raise BackendError("a patient needs a name", 422)
        human: Dict[str, Any] = {"text": " ".join(words), "family": words[-1]}
        if len(words) > 1:
            human["given"] = words[:-1]
        resource: Dict[str, Any] = {
            "resourceType": "Patient",
            "name": [human],
            "telecom": [{"system": "phone", "value": normalize_phone(phone), "use": "mobile"}],
        }
        if birth_date:
            resource["birthDate"] = birth_date.isoformat()
        if gender:
            resource["gender"] = gender
        return self._patient(await self._request("POST", "/Patient", json_body=resource))

    # ---- slots ----

    async def search_free_slots(
        self,
        service_id: str,
        start: dt.datetime,
        end: dt.datetime,
        practitioner_id: Optional[str] = None,
        count: int = 5,
    ) -> List[FreeSlot]:
        """The first `count` free times for a service in [start, end), earliest first (never in the past)."""
        start = max(start, utc_now())
        params = [
            ("status", "free"),
            ("service-type", service_id),
            ("start", "ge" + _iso(start)),
            ("start", "lt" + _iso(end)),
            ("_count", str(count)),
            ("_include", "Slot:schedule"),
        ]
        if practitioner_id:
            params.append(("schedule.actor", f"Practitioner/{practitioner_id}"))
        bundle = await self._request("GET", "/Slot", params=params)
        schedules = {s["id"]: _actor(s) for s in _resources(bundle, "Schedule")}
        service = self.clinic.service(service_id)
        duration = dt.timedelta(minutes=service.duration_minutes) if service else None
        slots = []
        for slot in _resources(bundle, "Slot"):
            practitioner = schedules.get(slot["schedule"]["reference"].rpartition("/")[2], ("", ""))
            slot_start = self._time(slot["start"])
            slots.append(
                FreeSlot(
                    id=slot["id"],
                    start=slot_start,
                    end=slot_start + duration if duration else self._time(slot["end"]),
                    practitioner_id=practitioner[0],
                    practitioner_name=practitioner[1],
                    service_id=service_id,
                )
            )
        return slots

    # ---- appointments ----

    async def book(self, patient_id: str, slot_id: str, service_id: str) -> BookedAppointment:
        """Book the slot; raises SlotTaken if someone was faster, NotFound if the slot no longer exists."""
        resource = {
            "resourceType": "Appointment",
            "status": "booked",
            "serviceType": [{"coding": [{"system": SERVICE_TYPE_SYSTEM, "code": service_id}]}],
            "slot": [{"reference": f"Slot/{slot_id}"}],
            "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}],
        }
        return self._appointment(
            await self._request("POST", "/Appointment", json_body=resource, conflict=SlotTaken)
        )

    async def list_appointments(self, patient_id: str, upcoming_only: bool = True) -> List[BookedAppointment]:
        """The patient's appointments, earliest first; by default only booked ones that have not started."""
        params = [("patient", f"Patient/{patient_id}"), ("_count", "100")]
        if upcoming_only:
            params += [("status", "booked"), ("date", "ge" + _iso(utc_now()))]
        bundle = await self._request("GET", "/Appointment", params=params)
        return [self._appointment(r) for r in _resources(bundle, "Appointment")]

    async def cancel(self, appointment_id: str, reason: str = "cancelled by patient") -> BookedAppointment:
        """Cancel and free the slot (cancelling twice is harmless: it answers the cancelled appointment)."""
        patch = [
            {"op": "replace", "path": "/status", "value": "cancelled"},
            {"op": "add", "path": "/cancelationReason", "value": {"text": reason}},
        ]
        return self._appointment(
            await self._request(
                "PATCH",
                f"/Appointment/{appointment_id}",
                json_body=patch,
                content_type="application/json-patch+json",
            )
        )

    async def confirm_attendance(self, appointment_id: str) -> BookedAppointment:
        """Record that the patient will come (the reminder's "Confirm"); repeating it changes nothing."""
        return self._appointment(
            await self._request("POST", f"/Appointment/{appointment_id}/$confirm-attendance")
        )

    async def reschedule(self, appointment_id: str, new_slot_id: str) -> BookedAppointment:
        """Move a booking to another slot in one step; on SlotTaken/NotFound the old booking stays as it was."""
        parameters = {
            "resourceType": "Parameters",
            "parameter": [{"name": "slot", "valueReference": {"reference": f"Slot/{new_slot_id}"}}],
        }
        return self._appointment(
            await self._request(
                "POST", f"/Appointment/{appointment_id}/$reschedule", json_body=parameters, conflict=SlotTaken
            )
        )

    # ---- conversions ----

    def _time(self, text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(text).astimezone(self.clinic.tz)

    def _patient(self, resource: Dict[str, Any]) -> PatientRecord:
        human = (resource.get("name") or [{}])[0]
        name = human.get("text") or " ".join([*human.get("given", []), human.get("family", "")]).strip()
        phone = next(
            (t["value"] for t in resource.get("telecom", []) if t.get("system") in ("phone", "sms")), ""
        )
        birth = resource.get("birthDate")
        return PatientRecord(
            id=resource["id"],
            name=name,
            phone=phone,
            birth_date=dt.date.fromisoformat(birth) if birth else None,
            gender=resource.get("gender"),
        )

    @staticmethod
    def _dependant(resource: Dict[str, Any]) -> Dependant:
        codes = [
            c.get("code", "")
            for concept in resource.get("relationship", [])
            for c in concept.get("coding", [])
        ]
        phone = next(
            (t["value"] for t in resource.get("telecom", []) if t.get("system") in ("phone", "sms")), ""
        )
        return Dependant(
            id=resource["id"],
            patient_id=resource["patient"]["reference"].rpartition("/")[2],
            relationship=codes[0] if codes else "FAMMEMB",
            phone=phone,
        )

    def _appointment(self, resource: Dict[str, Any]) -> BookedAppointment:
        practitioner: Dict[str, Any] = next(
            (
                p["actor"]
                for p in resource.get("participant", [])
                if p.get("actor", {}).get("reference", "").startswith("Practitioner/")
            ),
            {},
        )
        patient = next(
            (
                p["actor"]["reference"]
                for p in resource.get("participant", [])
                if p.get("actor", {}).get("reference", "").startswith("Patient/")
            ),
            "",
        )
        codes = [c["code"] for concept in resource.get("serviceType", []) for c in concept.get("coding", [])]
        return BookedAppointment(
            id=resource["id"],
            slot_id=resource["slot"][0]["reference"].rpartition("/")[2],
            start=self._time(resource["start"]),
            end=self._time(resource["end"]),
            practitioner_name=practitioner.get("display", ""),
            service_id=codes[0] if codes else "",
            status=resource["status"],
            practitioner_id=practitioner.get("reference", "").rpartition("/")[2],
            patient_id=patient.rpartition("/")[2],
        )


def _iso(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("pass timezone-aware datetimes (clinic time), not naive ones")
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _resources(bundle: Dict[str, Any], kind: str) -> List[Dict[str, Any]]:
    return [
        e["resource"] for e in bundle.get("entry", []) if e.get("resource", {}).get("resourceType") == kind
    ]


def _actor(schedule: Dict[str, Any]) -> Tuple[str, str]:
    actor: Dict[str, Any] = next(
        (a for a in schedule.get("actor", []) if a.get("reference", "").startswith("Practitioner/")), {}
    )
    return actor.get("reference", "").rpartition("/")[2], actor.get("display", "")
