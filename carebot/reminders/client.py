"""The async client the actions use for reminders (the backend's /api/reminders routes).

    async with RemindersClient() as reminders:
        parsed = await reminders.parse("remind me to take metformin at 8am and 8pm")
        if parsed.understood:
            created = await reminders.create(conversation_id, parsed.spec)

Configuration: `REMINDERS_URL` (default: `SCHEDULING_URL` with /fhir replaced by /api/reminders, else
http://127.0.0.1:8080/api/reminders) and `CAREBOT_BACKEND_TOKEN` (else var/scheduling_token). Failures raise the
scheduling client's exceptions, so actions handle both backends alike: `BackendUnavailable` (unreachable, 5xx,
token), `NotFound` (no such reminder / nothing to answer), `BackendError` (other refusals; `status == 409` when
the patient's words match several reminders or the reminder is not in a state for that change — the message says so).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import quote

from carebot import settings
from carebot.backend.http_client import BackendError, BackendHTTPClient, BackendUnavailable, NotFound

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "NotFound",
    "RemindersClient",
    "ReminderInfo",
    "ParsedReminder",
]

DEFAULT_URL = "http://127.0.0.1:8080/api/reminders"


def default_url(environ: Mapping[str, str] = os.environ) -> str:
    config = settings.load(environ)
    if config.reminders_url:
        return config.reminders_url
    scheduling = config.scheduling_url.rstrip("/")
    if scheduling.endswith("/fhir"):
        return scheduling[: -len("/fhir")] + "/api/reminders"
    return DEFAULT_URL


def _time(text: Optional[str]) -> Optional[dt.datetime]:
    return dt.datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class ReminderInfo:
    id: int
    label: str
    dose: Optional[str]
    kind: str
    status: str
    description: str  # plain words, e.g. "every day at 08:00 and 20:00"
    next_due: Optional[dt.datetime]  # aware, clinic timezone
    rrule: str
    dtstart: dt.datetime

    @classmethod
    def from_json(cls, body: Dict[str, Any]) -> "ReminderInfo":
        return cls(
            id=body["id"],
            label=body["label"],
            dose=body.get("dose"),
            kind=body["kind"],
            status=body["status"],
            description=body["description"],
            next_due=_time(body.get("next_due")),
            rrule=body["rrule"],
            dtstart=dt.datetime.fromisoformat(body["dtstart"]),
        )


@dataclass(frozen=True)
class ParsedReminder:
    """What the patient's words meant; when not understood, `message` is the question to ask next."""

    understood: bool
    spec: Dict[str, Any]
    next_due: Optional[dt.datetime]
    missing: Optional[str] = None  # "medication" | "time"
    message: Optional[str] = None
    medication: Optional[str] = None

    @property
    def description(self) -> str:
        return str(self.spec.get("description", ""))


class RemindersClient(BackendHTTPClient):
    """One client per process; holds one HTTP session. Use `async with` or call `close()`."""

    service = "reminders backend"

    def __init__(
        self,
        base_url: Optional[str] = None,
        token: Optional[str] = None,
        *,
        timeout: float = 5.0,
        connect_timeout: float = 2.0,
    ) -> None:
        super().__init__(base_url or default_url(), token, timeout=timeout, connect_timeout=connect_timeout)

    async def parse(self, text: str, now: Optional[dt.datetime] = None) -> ParsedReminder:
        body: Dict[str, Any] = {"text": text}
        if now is not None:
            body["now"] = now.isoformat()
        answer = await self._request("POST", "/parse", json_body=body)
        return ParsedReminder(
            understood=answer["understood"],
            spec=answer.get("spec") or {},
            next_due=_time(answer.get("next_due")),
            missing=answer.get("missing"),
            message=answer.get("message"),
            medication=answer.get("medication"),
        )

    async def create(
        self, conversation_id: str, spec: Dict[str, Any], channel: str = "whatsapp"
    ) -> ReminderInfo:
        """Store a parsed spec (the `spec` of `parse`) for this patient."""
        body = {
            "conversation_id": conversation_id,
            "label": spec["medication"],
            "dose": spec.get("dose"),
            "rrule": spec["rrule"],
            "dtstart": spec["dtstart"],
            "timezone": spec.get("timezone"),
            "description": spec.get("description"),
            "channel": channel,
        }
        return ReminderInfo.from_json(await self._request("POST", "", json_body=body))

    async def list(self, conversation_id: str) -> List[ReminderInfo]:
        answer = await self._request("GET", "", params=[("conversation_id", conversation_id)])
        return [ReminderInfo.from_json(r) for r in answer["reminders"]]

    async def match(self, conversation_id: str, text: str) -> ReminderInfo:
        """The reminder the patient means by `text`; NotFound if none, BackendError(409) if several."""
        body = {"conversation_id": conversation_id, "text": text}
        return ReminderInfo.from_json(await self._request("POST", "/match", json_body=body))

    async def change_times(self, reminder_id: int, times: Sequence[Tuple[int, int]]) -> ReminderInfo:
        body = {"times": [f"{hour:02d}:{minute:02d}" for hour, minute in times]}
        return ReminderInfo.from_json(await self._request("PATCH", f"/{reminder_id}", json_body=body))

    async def pause(self, reminder_id: int) -> ReminderInfo:
        return ReminderInfo.from_json(await self._request("POST", f"/{reminder_id}/pause"))

    async def resume(self, reminder_id: int) -> ReminderInfo:
        return ReminderInfo.from_json(await self._request("POST", f"/{reminder_id}/resume"))

    async def stop(self, reminder_id: int) -> ReminderInfo:
        return ReminderInfo.from_json(await self._request("POST", f"/{reminder_id}/stop"))

    async def respond(
        self,
        conversation_id: str,
        response: str,
        occurrence_id: Optional[int] = None,
        snooze_minutes: int = 30,
    ) -> Optional[dt.datetime]:
        """Record taken/skipped/snoozed; returns when a snoozed reminder will come back (else None)."""
        body: Dict[str, Any] = {
            "conversation_id": conversation_id,
            "response": response,
            "snooze_minutes": snooze_minutes,
        }
        if occurrence_id is not None:
            body["occurrence_id"] = occurrence_id
        answer = await self._request("POST", "/respond", json_body=body)
        return _time(answer.get("snoozed_until"))

    async def adherence(self, conversation_id: str, days: int = 7) -> Dict[str, Any]:
        """Counts per outcome and per medicine, plus `text`: the summary in plain words."""
        return await self._request(
            "GET", "/adherence", params=[("conversation_id", conversation_id), ("days", str(days))]
        )

    async def acknowledge_delivery(self, key: str, conversation_id: str) -> bool:
        """True the first time a reminder key is acknowledged: only then may the reminder be spoken. NotFound when
        the key was not issued to this conversation."""
        answer = await self._request(
            "POST", f"/deliveries/{quote(key, safe='')}", json_body={"conversation_id": conversation_id}
        )
        return bool(answer["first"])

    async def create_appointment_reminders(
        self, conversation_id: str, appointment_id: str, start: dt.datetime, label: str
    ) -> ReminderInfo:
        body = {
            "conversation_id": conversation_id,
            "appointment_id": appointment_id,
            "start": start.isoformat(),
            "label": label,
        }
        return ReminderInfo.from_json(await self._request("POST", "/appointments", json_body=body))

    async def cancel_appointment_reminders(self, appointment_id: str) -> int:
        answer = await self._request("DELETE", f"/appointments/{quote(appointment_id, safe='')}")
        return int(answer["stopped"])
