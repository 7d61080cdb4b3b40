"""Helpers for the scheduling tests (a uniquely named module, so `from scheduling_harness import …` never picks
up another directory's conftest): the test clinic, request bodies, an HTTP helper and row fingerprints."""

from __future__ import annotations

import datetime as dt
import json as jsonlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import aiohttp
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from carebot.clinic import Clinic, load_clinic
from carebot.scheduling import tables as t
from carebot.scheduling.slots import regenerate_slots
from carebot.server.app import create_app

TOKEN = "test-token-" + "x" * 20
CLINIC_YAML = """
clinic: {{name: Test Clinic, timezone: Europe/London, phone: "+44 20 0000 0000", address: 1 Test Street}}
emergency: {{number: "999", crisis_line: {{name: Samaritans, number: "116 123"}}}}
booking: {{slot_minutes: 15, horizon_weeks: 2, offer_count: 5}}
opening_hours:
  monday: ["08:00-12:00", "13:00-18:00"]
  tuesday: ["08:00-12:00", "13:00-18:00"]
  wednesday: ["08:00-12:00", "13:00-18:00"]
  thursday: ["08:00-12:00", "13:00-18:00"]
  friday: ["08:00-12:00", "13:00-18:00"]
  saturday: ["08:00-12:00", "13:00-18:00"]
  sunday: ["08:00-12:00", "13:00-18:00"]
closures:
  - {{date: {closed_day}, reason: Staff training}}
services:
  - {{id: gp, name: GP appointment, duration_minutes: 15}}
  - {{id: child, name: Child health clinic, duration_minutes: 30}}
  - {{id: physio, name: Physiotherapy, duration_minutes: 30}}
providers:
  - {{id: dr-a, name: Dr Alice Able, services: [gp, child]}}
  - {{id: dr-b, name: Dr Ben Baker, services: [gp]}}
  - id: physio-c
    name: Cara Cole
    services: [physio]
    opening_hours: {{wednesday: ["09:00-12:00"]}}
"""


@dataclass
class Backend:
    """A running backend: its base URL, engine, clinic and app (for restart tests)."""

    url: str
    engine: Engine
    clinic: Clinic
    server: TestServer


class Api:
    """A thin authenticated HTTP helper returning (status, parsed JSON body)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session, self.base_url = session, base_url

    async def call(
        self,
        method: str,
        path: str,
        json: Any = None,
        headers: Optional[Dict[str, str]] = None,
        params: Any = None,
        data: Any = None,
    ) -> Tuple[int, Any]:
        merged = {"Authorization": f"Bearer {TOKEN}", **(headers or {})}
        if json is not None:
            data = jsonlib.dumps(json)
            merged.setdefault("Content-Type", "application/fhir+json")
        async with self.session.request(
            method, self.base_url + path, data=data, headers=merged, params=params
        ) as response:
            body = await response.json(content_type=None) if await response.read() else None
            return response.status, body

    async def free_slot(self, service: str = "gp", skip: int = 0, **extra: str) -> Dict[str, Any]:
        """A free slot for `service` starting tomorrow or later (never one about to start)."""
        tomorrow = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        params = [
            ("status", "free"),
            ("service-type", service),
            ("start", f"ge{tomorrow}"),
            ("_count", str(skip + 1)),
            *extra.items(),
        ]
        status, bundle = await self.call("GET", "/Slot", params=params)
        assert status == 200, bundle
        return bundle["entry"][skip]["resource"]

    async def new_patient(self, phone: str = "+447700900001", family: str = "Smith") -> Dict[str, Any]:
        status, body = await self.call("POST", "/Patient", json=patient_json(phone, family))
        assert status == 201, body
        return body

    async def book(self, patient_id: str, slot_id: str, service: Optional[str] = "gp") -> Tuple[int, Any]:
        return await self.call("POST", "/Appointment", json=appointment_json(patient_id, slot_id, service))


def patient_json(phone: str = "+447700900001", family: str = "Smith") -> Dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"family": family, "given": ["Jo"]}],
        "telecom": [{"system": "phone", "value": phone}],
        "birthDate": "1980-05-17",
    }


def appointment_json(patient_id: str, slot_id: str, service: Optional[str] = "gp") -> Dict[str, Any]:
    resource: Dict[str, Any] = {
        "resourceType": "Appointment",
        "status": "booked",
        "slot": [{"reference": f"Slot/{slot_id}"}],
        "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}],
    }
    if service:
        resource["serviceType"] = [{"coding": [{"system": "urn:carebot:service-type", "code": service}]}]
    return resource


def row_counts(engine: Engine) -> Dict[str, Any]:
    """Rows per table plus the busy-slot count: the fingerprint "nothing was written" compares."""
    with engine.connect() as conn:
        counts = {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (t.patient, t.appointment, t.slot, t.practitioner, t.schedule)
        }
        counts["busy"] = conn.execute(
            select(func.count()).select_from(t.slot).where(t.slot.c.status == "busy")
        ).scalar_one()
        counts["versions"] = conn.execute(select(func.sum(t.slot.c.version))).scalar_one()
    return counts


def write_clinic(path: Path, closed_day: dt.date) -> Clinic:
    path.write_text(CLINIC_YAML.format(closed_day=closed_day.isoformat()), encoding="utf-8")
    return load_clinic(path)


async def start_backend(engine: Engine, clinic: Clinic) -> Backend:
    app = create_app(engine, clinic, TOKEN)
    regenerate_slots(engine, clinic)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    return Backend(url=f"http://127.0.0.1:{server.port}/fhir", engine=engine, clinic=clinic, server=server)
