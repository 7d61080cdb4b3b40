"""Scheduling records and constants shared by the FHIR API and its client: free slots, appointments, patients.

Pure (no SQLAlchemy, no HTTP, no Rasa): the action server imports this and the client, never the store or the API.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Optional

SERVICE_TYPE_SYSTEM = "urn:carebot:service-type"
ATTENDANCE_URL = (
    "urn:carebot:attendance-confirmed"  # Appointment extension: when the patient confirmed (dateTime)
)
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


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
