"""The async client the actions use for the waitlist (the backend's `/fhir/Appointment/$waitlist` and `$offer`).

    async with WaitlistClient() as waitlist:
        entry = await waitlist.join(patient_id, "gp", first_day, last_day, ("morning",), conversation, "whatsapp")
        booked = await waitlist.accept(offer_id)   # OfferGone when it lapsed or another patient took it

Configuration and errors as the scheduling client (`SCHEDULING_URL`, `CAREBOT_BACKEND_TOKEN`; `BackendUnavailable`,
`NotFound`, `BackendError`), plus `OfferGone` (409).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Optional, Sequence

from carebot import settings
from carebot.backend.http_client import BackendError, BackendHTTPClient, BackendUnavailable, NotFound
from carebot.waitlist.model import (
    CHANNEL_URL,
    CONVERSATION_URL,
    STATE_URL,
    TIMES_OF_DAY_URL,
    AcceptedOffer,
    WaitlistEntry,
)

__all__ = ["BackendError", "BackendUnavailable", "NotFound", "OfferGone", "WaitlistClient"]

SERVICE_TYPE_SYSTEM = "urn:carebot:service-type"


class OfferGone(BackendError):
    """The offer lapsed, was declined, or another patient took the slot first (409)."""


class WaitlistClient(BackendHTTPClient):
    service = "waitlist"
    media_type = "application/fhir+json"

    def __init__(
        self, base_url: Optional[str] = None, token: Optional[str] = None, *, timeout: float = 5.0
    ) -> None:
        super().__init__(base_url or settings.current().scheduling_url, token, timeout=timeout)

    async def join(
        self,
        patient_id: str,
        service_id: str,
        first_day: dt.date,
        last_day: dt.date,
        day_parts: Sequence[str],
        conversation_id: str,
        channel: str,
        practitioner_id: Optional[str] = None,
    ) -> WaitlistEntry:
        participants: List[Dict[str, Any]] = [
            {"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}
        ]
        if practitioner_id:
            participants.append(
                {"actor": {"reference": f"Practitioner/{practitioner_id}"}, "status": "tentative"}
            )
        resource = {
            "resourceType": "Appointment",
            "status": "waitlist",
            "extension": [
                *({"url": TIMES_OF_DAY_URL, "valueCode": part} for part in day_parts),
                {"url": CONVERSATION_URL, "valueString": conversation_id},
                {"url": CHANNEL_URL, "valueCode": channel},
            ],
            "serviceType": [{"coding": [{"system": SERVICE_TYPE_SYSTEM, "code": service_id}]}],
            "requestedPeriod": [{"start": first_day.isoformat(), "end": last_day.isoformat()}],
            "participant": participants,
        }
        return _entry(await self._request("POST", "/Appointment/$waitlist", json_body=resource))

    async def entries(self, patient_id: str) -> List[WaitlistEntry]:
        """The patient's entries still waiting (or holding an offer), oldest first."""
        params = [("patient", f"Patient/{patient_id}"), ("state", "active,offered"), ("_count", "50")]
        bundle = await self._request("GET", "/Appointment/$waitlist", params=params)
        return [_entry(e["resource"]) for e in bundle.get("entry", [])]

    async def leave(self, entry_id: str) -> WaitlistEntry:
        return _entry(await self._request("POST", f"/Appointment/$waitlist/{entry_id}/$leave"))

    async def accept(self, offer_id: str) -> AcceptedOffer:
        """Book the offered slot; OfferGone if it lapsed or went to someone else (the patient stays on the list)."""
        resource = await self._request("POST", f"/Appointment/$offer/{offer_id}/$accept", conflict=OfferGone)
        practitioner: Dict[str, Any] = next(
            (
                p["actor"]
                for p in resource.get("participant", [])
                if p.get("actor", {}).get("reference", "").startswith("Practitioner/")
            ),
            {},
        )
        codes = [c["code"] for concept in resource.get("serviceType", []) for c in concept.get("coding", [])]
        return AcceptedOffer(
            appointment_id=resource["id"],
            start=dt.datetime.fromisoformat(resource["start"]),
            service_id=codes[0] if codes else "",
            practitioner_id=practitioner.get("reference", "").rpartition("/")[2],
            practitioner_name=practitioner.get("display", ""),
        )

    async def decline(self, offer_id: str) -> None:
        await self._request("POST", f"/Appointment/$offer/{offer_id}/$decline")


def _entry(resource: Dict[str, Any]) -> WaitlistEntry:
    extensions = resource.get("extension", [])
    actors = [p.get("actor", {}).get("reference", "") for p in resource.get("participant", [])]
    period = (resource.get("requestedPeriod") or [{}])[0]
    codes = [c["code"] for concept in resource.get("serviceType", []) for c in concept.get("coding", [])]
    return WaitlistEntry(
        id=resource["id"],
        patient_id=next((a.partition("/")[2] for a in actors if a.startswith("Patient/")), ""),
        service_id=codes[0] if codes else "",
        date_from=dt.date.fromisoformat(period["start"][:10]),
        date_to=dt.date.fromisoformat(period["end"][:10]),
        day_parts=frozenset(e["valueCode"] for e in extensions if e.get("url") == TIMES_OF_DAY_URL),
        state=next((e["valueCode"] for e in extensions if e.get("url") == STATE_URL), ""),
        practitioner_id=next((a.partition("/")[2] for a in actors if a.startswith("Practitioner/")), None),
    )
