"""Export of everything held about one number as a FHIR R4 Bundle (type `collection`), for a subject access request.

Entries: the Patient records with that number; their Appointments; medication reminders as MedicationRequest
(medicine in `medicationCodeableConcept.text`, schedule as the RFC 5545 rule in `dosageInstruction.timing.code`);
appointment reminders as CommunicationRequest (`about` the Appointment); and one DocumentReference whose plain-text
attachment is the transcript: the bot conversation from the tracker store and the messages with staff.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import or_, select

from carebot.clinic import Clinic
from carebot.handoff.store import handoff_cases, handoff_events
from carebot.privacy.model import conversation_ids
from carebot.privacy.sealing import event_data
from carebot.privacy.stores import PatientStores
from carebot.reminders.store import reminders
from carebot.scheduling import tables as t
from carebot.scheduling.resources import (
    appointment_resource,
    instant,
    patient_resource,
    related_person_resource,
)

REMINDER_STATUS = {"active": "active", "paused": "on-hold", "stopped": "completed"}
TRANSCRIPT_SPEAKERS = {"user": "patient", "bot": "bot"}


def _subject(patients: List[Dict[str, Any]], phone: str) -> Dict[str, Any]:
    if patients:
        return {"reference": f"Patient/{patients[0]['id']}"}
    return {"identifier": {"system": "urn:ietf:rfc:3966", "value": f"tel:{phone}"}}


def _reminder_resource(row: Any, subject: Dict[str, Any]) -> Dict[str, Any]:
    status = REMINDER_STATUS.get(row.status, "unknown")
    if row.kind == "appointment":
        resource: Dict[str, Any] = {
            "resourceType": "CommunicationRequest",
            "id": f"reminder-{row.id}",
            "status": status,
            "subject": subject,
            "payload": [{"contentString": row.description or row.label}],
            "authoredOn": instant(row.created_at),
        }
        if row.appointment_id:
            resource["about"] = [{"reference": f"Appointment/{row.appointment_id}"}]
        return resource
    dosage = {"text": row.description or row.label, "timing": {"code": {"text": row.rrule}}}
    if row.dose:
        dosage["doseAndRate"] = [{"doseQuantity": {"unit": row.dose}}]
    return {
        "resourceType": "MedicationRequest",
        "id": f"reminder-{row.id}",
        "status": status,
        "intent": "plan",
        "medicationCodeableConcept": {"text": row.label},
        "subject": subject,
        "authoredOn": instant(row.created_at),
        "dosageInstruction": [dosage],
    }


def _tracker_lines(stores: PatientStores, phone: str) -> List[Tuple[float, str]]:
    if stores.tracker is None:
        return []
    events = stores.tracker_events()
    with stores.tracker.connect() as conn:
        rows = conn.execute(
            select(events.c.timestamp, events.c.type_name, events.c.data)
            .where(
                events.c.sender_id.in_(conversation_ids(phone)), events.c.type_name.in_(TRANSCRIPT_SPEAKERS)
            )
            .order_by(events.c.id)
        ).fetchall()
    lines = []
    for row in rows:
        text = event_data(row.data).get("text")
        if text:
            lines.append((row.timestamp or 0.0, f"{TRANSCRIPT_SPEAKERS[row.type_name]}: {text}"))
    return lines


def _staff_lines(conn: Any, phone: str) -> List[Tuple[float, str]]:
    rows = conn.execute(
        select(handoff_events.c.at, handoff_events.c.author, handoff_events.c.text)
        .join(handoff_cases, handoff_cases.c.id == handoff_events.c.case_id)
        .where(
            or_(
                handoff_cases.c.patient_phone == phone,
                handoff_cases.c.conversation_id.in_(conversation_ids(phone)),
            )
        )
        .order_by(handoff_events.c.id)
    ).fetchall()
    return [
        (row.at.replace(tzinfo=dt.timezone.utc).timestamp(), f"{row.author} (staff case): {row.text}")
        for row in rows
        if row.text
    ]


def transcript(lines: List[Tuple[float, str]]) -> str:
    return "\n".join(
        f"{dt.datetime.fromtimestamp(at, dt.timezone.utc):%Y-%m-%d %H:%M:%S}Z {line}"
        for at, line in sorted(lines, key=lambda item: item[0])
    )


def export_bundle(
    stores: PatientStores, clinic: Clinic, phone: str, now: Optional[dt.datetime] = None
) -> Dict[str, Any]:
    """The FHIR Bundle of everything the stores hold about `phone` (blocking)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    with stores.backend.connect() as conn:
        patient_rows = conn.execute(select(t.patient).where(t.patient.c.phone == phone)).fetchall()
        patients = [patient_resource(row) for row in patient_rows]
        related = [  # who the phone books for (dependants): part of what the clinic holds about this number
            related_person_resource(row)
            for row in conn.execute(
                select(t.related_person)
                .where(t.related_person.c.phone == phone)
                .order_by(t.related_person.c.id)
            )
        ]
        names = dict(conn.execute(select(t.practitioner.c.id, t.practitioner.c.name)).fetchall())
        appointments = [
            appointment_resource(clinic, row, names.get(row.practitioner_id))
            for row in conn.execute(
                select(t.appointment)
                .where(t.appointment.c.patient_id.in_([row.id for row in patient_rows]))
                .order_by(t.appointment.c.start)
            )
        ]
        subject = _subject(patients, phone)
        reminder_resources = [
            _reminder_resource(row, subject)
            for row in conn.execute(
                select(reminders)
                .where(reminders.c.conversation_id.in_(conversation_ids(phone)))
                .order_by(reminders.c.id)
            )
        ]
        lines = _staff_lines(conn, phone)
    lines += _tracker_lines(stores, phone)
    text = transcript(lines)
    document = {
        "resourceType": "DocumentReference",
        "id": "transcript",
        "status": "current",
        "subject": subject,
        "date": now.isoformat(timespec="seconds"),
        "description": "Conversation transcript (bot and staff)",
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "title": "transcript.txt",
                    "data": base64.b64encode(text.encode()).decode(),
                }
            }
        ],
    }
    resources = [*patients, *related, *appointments, *reminder_resources, document]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": now.isoformat(timespec="seconds"),
        "entry": [
            {"fullUrl": f"urn:carebot:{r['resourceType']}/{r['id']}", "resource": r} for r in resources
        ],
    }


def dumps(bundle: Dict[str, Any]) -> str:
    return json.dumps(bundle, indent=2, ensure_ascii=False)
