"""Mount the handoff on the backend: the JSON API for the action server and channel, and the staff inbox.

JSON routes live under /api (the backend's bearer token protects them); the inbox under /staff has its own login.

    POST /api/handoff/cases                      {conversation_id, patient_phone?, reason, transcript?}
         → 201 {case, created: true, patient_notice} or 200 {case, created: false, patient_notice}
    POST /api/handoff/messages                   {conversation_id, text}
         → 200 {paused: true, case_id} when a case is open (message appended), else {paused: false, case_id: null}
    GET  /api/handoff/conversations/{conversation_id}
         → 200 {paused: bool, case_id: int|null}
    POST /api/handoff/conversations/{conversation_id}/privacy-request   {request: "erasure"|"consent_withdrawn"}
         → 200 {closed: bool, case_id}: the open case is closed (staff get an anonymous notice) and the bot resumed,
           so the bot carries the request out; 503 when the bot could not be resumed
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, Optional

from aiohttp import web
from sqlalchemy.engine import Engine

from carebot.backend.audit import AuditLog
from carebot.backend.errors import ApiError, json_object
from carebot.clinic import Clinic
from carebot.handoff.auth import StaffAuth
from carebot.handoff.inbox import (
    AdherenceOf,
    Attendance,
    Dashboard,
    DeadLetters,
    PatientRequests,
    Review,
    StaffInbox,
    WaitingList,
)
from carebot.handoff.model import TEXT_MAX_CHARS, TRANSCRIPT_MAX_CHARS, PrivacyRequest, Reason
from carebot.handoff.service import HandoffService, ResumeFailed
from carebot.handoff.sessions import StaffSessions
from carebot.handoff.store import HandoffStore
from carebot.phones import normalize_phone
from carebot.rasa_api import RasaAPI
from carebot.settings import current

log = logging.getLogger(__name__)

E164 = re.compile(r"^\+\d{8,15}$")
HANDOFF_KEY = web.AppKey("handoff", HandoffService)


def setup(
    app: web.Application,
    engine: Engine,
    clinic: Clinic,
    *,
    service: Optional[HandoffService] = None,
    auth: Optional[StaffAuth] = None,
    sender: Any = None,
    patient_requests: Optional[PatientRequests] = None,
    dead_letters: Optional[DeadLetters] = None,
    adherence: Optional[AdherenceOf] = None,
    waiting_list: Optional[WaitingList] = None,
    attendance: Optional[Attendance] = None,
    dashboard: Optional[Dashboard] = None,
    review: Optional[Review] = None,
) -> None:
    """Register /api/handoff and /staff. `sender` is the WhatsApp channel's sender (its ContactStore also answers
    opt-out and 24-hour-window questions, its outbox lists the dead letters), passed in by the backend process so
    this package never imports the channel. Other dependencies come from the environment unless passed in (tests, tools)."""
    if service is None:
        service = HandoffService(
            HandoffStore(engine),
            clinic,
            sender,
            sender.contacts,
            RasaAPI.from_env(),
            inbox_url=current().staff_inbox_url,
        )
    app[HANDOFF_KEY] = service
    auth = auth or StaffAuth.from_env()
    if not auth.accounts:
        log.warning(
            "staff inbox: no staff accounts (set STAFF_ACCOUNTS or run: python -m carebot.handoff add-staff NAME)"
        )
    api = HandoffApi(service)
    inbox = StaffInbox(
        service,
        auth,
        clinic,
        StaffSessions(engine),
        AuditLog(engine),
        patient_requests=patient_requests,
        dead_letters=dead_letters if dead_letters is not None else getattr(sender, "outbox", None),
        adherence=adherence,
        waiting_list=waiting_list,
        attendance=attendance,
        dashboard=dashboard,
        review=review,
    )
    app.router.add_routes(
        [
            web.post("/api/handoff/cases", api.create_case),
            web.post("/api/handoff/messages", api.patient_message),
            web.get("/api/handoff/conversations/{conversation_id}", api.conversation_state),
            web.post("/api/handoff/conversations/{conversation_id}/privacy-request", api.privacy_request),
            *inbox.routes(),
        ]
    )

    async def close_clients(_: web.Application) -> None:
        await service.rasa.close()
        if service.sender is not None and hasattr(service.sender, "close"):
            await service.sender.close()

    app.on_cleanup.append(close_clients)


def _text_field(body: Dict[str, Any], name: str, limit: int, required: bool = True) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ApiError(
            400, f"'{name}' must be a non-empty string" if required else f"'{name}' must be a string"
        )
    if len(value) > limit:
        raise ApiError(400, f"'{name}' is longer than {limit} characters")
    return value


class HandoffApi:
    """JSON handlers for the action server (open a case) and the WhatsApp channel (append, is-paused)."""

    def __init__(self, service: HandoffService) -> None:
        self.service = service

    async def create_case(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        conversation_id = _text_field(body, "conversation_id", 128)
        try:
            reason = Reason(body.get("reason"))
        except ValueError:
            raise ApiError(400, f"'reason' must be one of {', '.join(r.value for r in Reason)}") from None
        phone = normalize_phone(_text_field(body, "patient_phone", 64, required=False) or conversation_id)
        if not E164.match(phone):
            raise ApiError(
                400, "'patient_phone' (or a phone-number conversation id) must be a number like +447700900123"
            )
        transcript = _text_field(body, "transcript", TRANSCRIPT_MAX_CHARS * 4, required=False)
        case, created, notice = await self.service.open_case(conversation_id, phone, reason, transcript)
        return web.json_response(
            {"case": case.to_json(), "created": created, "patient_notice": notice},
            status=201 if created else 200,
        )

    async def patient_message(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        conversation_id = _text_field(body, "conversation_id", 128)
        text = _text_field(body, "text", TEXT_MAX_CHARS * 4, required=False)
        case = await self.service.patient_message(conversation_id, text)
        return web.json_response({"paused": case is not None, "case_id": case.id if case else None})

    async def conversation_state(self, request: web.Request) -> web.Response:
        case = await self.service.open_case_for(request.match_info["conversation_id"])
        return web.json_response({"paused": case is not None, "case_id": case.id if case else None})

    async def privacy_request(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        try:
            kind = PrivacyRequest(body.get("request"))
        except ValueError:
            raise ApiError(
                400, f"'request' must be one of {', '.join(r.value for r in PrivacyRequest)}"
            ) from None
        try:
            case = await self.service.close_for_privacy(request.match_info["conversation_id"], kind)
        except ResumeFailed:
            raise ApiError(503, "the case is closed but the bot could not be resumed; retry") from None
        return web.json_response({"closed": case is not None, "case_id": case.id if case else None})
