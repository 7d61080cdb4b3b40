"""Scheduling records and constants shared by the FHIR API and its client: free slots, appointments, patients.

Pure (no SQLAlchemy, no HTTP, no Rasa): the action server imports this and the client, never the store or the API.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Optional, Tuple

SERVICE_TYPE_SYSTEM = "urn:carebot:service-type"
ATTENDANCE_URL = (
    "urn:carebot:attendance-confirmed"  # Appointment extension: when the patient confirmed (dateTime)
)
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# RelatedPerson.relationship: what the phone's owner is to the patient (HL7 v3 RoleCode; PRN = parent, CHILD = child).
ROLE_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
RELATIONSHIPS = {
    "PRN": "parent",
    "MTH": "mother",
    "FTH": "father",
    "CHILD": "child",
    "SON": "son",
    "DAU": "daughter",
    "SPS": "spouse",
    "SIB": "sibling",
    "GRPRN": "grandparent",
    "GRNDCHILD": "grandchild",
    "GUARD": "guardian",
    "FAMMEMB": "family member",
}


@dataclass(frozen=True)
class FreeSlot:
    id: str
    start: dt.datetime  # aware, clinic timezone
    end: dt.datetime  # start + the service's duration
    practitioner_id: str
    practitioner_name: str
    service_id: str


@dataclass(frozen=True)
class BookedAppointment:
    id: str
    slot_id: str  # the first slot; longer services also hold the following ones
    start: dt.datetime
    end: dt.datetime
    practitioner_name: str
    service_id: str
    status: str  # FHIR status: booked, cancelled, fulfilled, noshow, …
    practitioner_id: str = ""
    patient_id: str = ""


@dataclass(frozen=True)
class PatientRecord:
    id: str
    name: str
    birth_date: Optional[dt.date]
    phone: str  # E.164
    gender: Optional[str] = None  # FHIR administrative gender, when known


@dataclass(frozen=True)
class Dependant:
    """A patient the phone's owner books for (a `RelatedPerson` of the patient, reachable on `phone`):
    `relationship` is what the owner is to them (ROLE_CODE_SYSTEM, e.g. PRN when the owner is their parent)."""

    id: str  # the RelatedPerson id
    patient_id: str
    relationship: str
    phone: str


@dataclass(frozen=True)
class Household:
    """Everyone one phone books for: its patients, in the order registered, and which of them are dependants."""

    patients: Tuple[PatientRecord, ...]
    dependants: Tuple[Dependant, ...] = ()

    def relationship(self, patient_id: str) -> Optional[str]:
        """What the owner is to this patient (None: the owner themself, or a patient registered before dependants)."""
        return next((d.relationship for d in self.dependants if d.patient_id == patient_id), None)

    @property
    def owner(self) -> Optional[PatientRecord]:
        """The phone's owner: the first patient who is nobody's dependant (None until they register)."""
        return next((p for p in self.patients if self.relationship(p.id) is None), None)
