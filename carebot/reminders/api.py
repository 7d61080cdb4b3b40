"""The reminders HTTP API on the backend, for the action server (bearer auth is the backend's middleware).

Routes, all JSON, under /api/reminders:
  POST   /parse                    {text, now?}                         → {understood, spec?, next_due?, missing?, message?}
  POST   /                         {conversation_id, label, rrule, dtstart, dose?, timezone?, kind?, channel?, description?}
  GET    /?conversation_id=…       [&include_stopped=1]                 → {reminders: […]}
  GET    /{id}
  POST   /match                    {conversation_id, text}              → the reminder meant ("stop my vitamin D reminder")
  PATCH  /{id}                     {times: ["09:00", …]} | {rrule, dtstart, description?}
  POST   /{id}/pause | /resume | /stop
  POST   /respond                  {conversation_id, response: taken|skipped|snoozed, occurrence_id?, snooze_minutes?}
  GET    /adherence?conversation_id=…[&days=7]   (with WhatsApp delivered / read counts from the outbox)
  POST   /deliveries/{key}         {conversation_id} → {first: bool}: the sent-log; the reminder action speaks only
                                   when first is true; 404 for a key not issued to that conversation
  POST   /appointments             {conversation_id, appointment_id, start, label, channel?}  (clinic.yml hours)
  DELETE /appointments/{appointment_id}
A phrase the parser cannot read is not an HTTP error: /parse answers `understood: false` with the question to ask.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from aiohttp import web
from sqlalchemy.engine import Engine

from carebot.backend.db import run_db
from carebot.backend.errors import ApiError, json_object
from carebot.clinic import Clinic
from carebot.clock import utc_now
from carebot.reminders.dispatcher import whatsapp_delivery_statuses
from carebot.reminders.model import (
    AmbiguousReminder,
    InvalidReminderState,
    NothingToAnswer,
    ReminderError,
    ReminderNotFound,
)
from carebot.reminders.recurrence import ReminderParseError, load_medicines, next_occurrences, parse_reminder
from carebot.reminders.store import ReminderStore

STORE_KEY = web.AppKey("reminder_store", ReminderStore)
_CLOCK_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def _status_for(error: ReminderError) -> int:
    if isinstance(error, (ReminderNotFound, NothingToAnswer)):
        return 404
    if isinstance(error, (AmbiguousReminder, InvalidReminderState)):
        return 409
    return 400


async def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a store call on a worker thread, turning its refusals into client errors with its own message."""
    try:
        return await run_db(fn, *args, **kwargs)
    except ReminderError as error:
        raise ApiError(_status_for(error), str(error)) from None


def _text(
    body: Dict[str, Any], name: str, required: bool = True, default: Optional[str] = None
) -> Optional[str]:
    value = body.get(name, default)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ApiError(400, f"'{name}' is required")
        return default
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ApiError(400, f"'{name}' must be text")
    return str(value).strip()


def _moment(body: Dict[str, Any], name: str, clinic: Clinic, required: bool = True) -> Optional[dt.datetime]:
    """An ISO 8601 time; one without an offset is read as clinic-local wall-clock time."""
    raw = _text(body, name, required)
    if raw is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            400, f"'{name}' must be an ISO 8601 date-time like 2026-12-01T08:00:00+00:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=clinic.tz)


def _times(values: Any) -> List[Tuple[int, int]]:
    if not isinstance(values, list) or not values:
        raise ApiError(400, '\'times\' must be a non-empty list like ["09:00", "21:00"]')
    parsed = []
    for value in values:
        match = _CLOCK_TIME.match(str(value))
        if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            raise ApiError(400, f"'{value}' is not a time like 09:00")
        parsed.append((int(match.group(1)), int(match.group(2))))
    return parsed


def _conversation(request: web.Request) -> str:
    conversation_id = request.query.get("conversation_id", "").strip()
    if not conversation_id:
        raise ApiError(400, "the query parameter 'conversation_id' is required")
    return conversation_id


def _reminder_id(request: web.Request) -> int:
    return int(request.match_info["reminder_id"])


async def _transition(change: Any, request: web.Request) -> web.Response:
    """Pause, resume or stop the reminder of the path: the reminder as it is now."""
    return web.json_response((await _call(change, _reminder_id(request))).to_dict())


BASE = "/api/reminders"
ONE = BASE + r"/{reminder_id:\d+}"


def setup(app: web.Application, engine: Engine, clinic: Clinic) -> None:
    """Mount the reminders API on the backend app (tables live on the backend's shared MetaData); adherence reads
    WhatsApp delivery and read receipts from the channel's outbox."""
    api = RemindersApi(ReminderStore(engine), clinic, whatsapp_delivery_statuses)
    app[STORE_KEY] = api.store
    app.router.add_routes(
        [
            web.post(BASE + "/parse", api.parse),
            web.post(BASE, api.create),
            web.get(BASE, api.list_reminders),
            web.post(BASE + "/match", api.match),
            web.post(BASE + "/respond", api.respond),
            web.get(BASE + "/adherence", api.adherence),
            web.post(BASE + "/deliveries/{key}", api.acknowledge),
            web.post(BASE + "/appointments", api.appointment_reminders),
            web.delete(BASE + "/appointments/{appointment_id}", api.cancel_appointment_reminders),
            web.get(ONE, api.get_reminder),
            web.patch(ONE, api.change),
            web.post(ONE + "/pause", api.pause),
            web.post(ONE + "/resume", api.resume),
            web.post(ONE + "/stop", api.stop),
        ]
    )


def adherence_for_staff(engine: Engine) -> Callable[[str], Dict[str, Any]]:
    """A patient's last 7 days of medication reminders as the staff inbox shows them, with the WhatsApp delivery and
    read rates from the channel's outbox (blocking; the backend passes it to the inbox)."""
    store = ReminderStore(engine)

    def adherence(conversation_id: str) -> Dict[str, Any]:
        return store.adherence(conversation_id, delivery=whatsapp_delivery_statuses).to_dict()

    return adherence


class RemindersApi:
    """JSON handlers for the action server: parse, create, list, change and answer reminders."""

    def __init__(
        self,
        store: ReminderStore,
        clinic: Clinic,
        delivery_statuses: Optional[Callable[[Sequence[str]], Dict[str, Optional[str]]]] = None,
    ) -> None:
        self.store = store
        self.clinic = clinic
        self.medicines = load_medicines()
        self.delivery_statuses = delivery_statuses  # WhatsApp delivery by occurrence key, for adherence

    async def parse(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        text = _text(body, "text")
        now = _moment(body, "now", self.clinic, required=False) or utc_now()
        try:
            spec = parse_reminder(text, now, self.clinic.timezone, self.medicines)
        except ReminderParseError as error:
            return web.json_response(
                {
                    "understood": False,
                    "missing": error.missing,
                    "message": str(error),
                    "medication": error.medication,
                    "dose": error.dose,
                }
            )
        upcoming = next_occurrences(spec, now, 1) or [spec.dtstart]
        return web.json_response(
            {"understood": True, "spec": spec.to_dict(), "next_due": upcoming[0].isoformat()}
        )

    async def create(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        reminder = await _call(
            self.store.create,
            _text(body, "conversation_id"),
            _text(body, "label", default=body.get("medication")),
            _text(body, "rrule"),
            _moment(body, "dtstart", self.clinic),
            _text(body, "timezone", False, self.clinic.timezone),
            dose=_text(body, "dose", False),
            kind=_text(body, "kind", False, "medication"),
            channel=_text(body, "channel", False, "whatsapp"),
            description=_text(body, "description", False),
        )
        return web.json_response(reminder.to_dict(), status=201)

    async def list_reminders(self, request: web.Request) -> web.Response:
        include_stopped = request.query.get("include_stopped", "") in ("1", "true", "yes")
        found = await _call(self.store.list, _conversation(request), include_stopped=include_stopped)
        return web.json_response({"reminders": [r.to_dict() for r in found]})

    async def get_reminder(self, request: web.Request) -> web.Response:
        return web.json_response((await _call(self.store.get, _reminder_id(request))).to_dict())

    async def match(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        reminder = await _call(
            self.store.match, _text(body, "conversation_id"), _text(body, "text", False, "")
        )
        return web.json_response(reminder.to_dict())

    async def change(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        if "times" in body:
            reminder = await _call(self.store.change_times, _reminder_id(request), _times(body["times"]))
        else:
            reminder = await _call(
                self.store.reschedule,
                _reminder_id(request),
                _text(body, "rrule"),
                _moment(body, "dtstart", self.clinic),
                _text(body, "description", False),
            )
        return web.json_response(reminder.to_dict())

    async def pause(self, request: web.Request) -> web.Response:
        return await _transition(self.store.pause, request)

    async def resume(self, request: web.Request) -> web.Response:
        return await _transition(self.store.resume, request)

    async def stop(self, request: web.Request) -> web.Response:
        return await _transition(self.store.stop, request)

    async def respond(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        occurrence_id = body.get("occurrence_id")
        snooze = body.get("snooze_minutes", 30)
        if occurrence_id is not None and not str(occurrence_id).isdigit():
            raise ApiError(400, "'occurrence_id' must be a number")
        if not isinstance(snooze, int) or isinstance(snooze, bool):
            raise ApiError(400, "'snooze_minutes' must be a whole number of minutes")
        answered, follow_up = await _call(
            self.store.record_response,
            _text(body, "conversation_id"),
            _text(body, "response"),
            occurrence_id=int(occurrence_id) if occurrence_id is not None else None,
            snooze_minutes=snooze,
        )
        return web.json_response(
            {
                "occurrence": answered.to_dict(),
                "snoozed_until": follow_up.due_at.isoformat() if follow_up else None,
            }
        )

    async def adherence(self, request: web.Request) -> web.Response:
        days = request.query.get("days", "7")
        if not days.isdigit() or not 1 <= int(days) <= 90:
            raise ApiError(400, "'days' must be a number from 1 to 90")
        summary = await _call(
            self.store.adherence, _conversation(request), days=int(days), delivery=self.delivery_statuses
        )
        return web.json_response(summary.to_dict())

    async def acknowledge(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        first = await _call(
            self.store.acknowledge_delivery, request.match_info["key"], _text(body, "conversation_id")
        )
        return web.json_response({"first": first})

    async def appointment_reminders(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        reminder = await _call(
            self.store.create_appointment_reminders,
            _text(body, "conversation_id"),
            _text(body, "appointment_id"),
            _moment(body, "start", self.clinic),
            _text(body, "label"),
            self.clinic.appointment_reminder_hours,
            self.clinic.timezone,
            channel=_text(body, "channel", False, "whatsapp"),
        )
        return web.json_response(reminder.to_dict(), status=201)

    async def cancel_appointment_reminders(self, request: web.Request) -> web.Response:
        stopped = await _call(self.store.cancel_appointment_reminders, request.match_info["appointment_id"])
        return web.json_response({"stopped": stopped})
