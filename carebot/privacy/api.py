"""The privacy API on the backend, for the action server (bearer auth and the per-call audit entry are the
backend's middleware; this module adds the audit entry that names what was erased).

  GET  /api/privacy/summary?phone=+44…   → DataSummary: what is held about the number
  POST /api/privacy/erasure {phone}       → ErasureReport: the backend's part of the patient's own erasure request
  POST /api/privacy/consent-withdrawal {conversation_id}
                                          → ErasureReport: staff cases from that conversation's triage deleted, the
                                            chat copied into its other cases removed

Only the backend's database is erased here; the conversation and the channel's state are erased by the tracker
store and the WhatsApp channel after the bot's last reply (carebot/privacy/erasure.py says who erases what).
"""

from __future__ import annotations

import re

from aiohttp import web
from sqlalchemy.engine import Engine

from carebot.backend.audit import AuditLog
from carebot.backend.db import run_db
from carebot.backend.errors import ApiError, json_object
from carebot.clinic import Clinic
from carebot.privacy.erasure import erase_backend, summarise, withdraw_consent
from carebot.privacy.settings import load_kept_after_erasure

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def checked_phone(value: object) -> str:
    raw = str(value or "")
    phone = (
        "+" + raw[1:] if raw.startswith(" ") else raw.strip()
    )  # an unencoded "+" in a query arrives as " "
    if not E164.match(phone):
        raise ApiError(400, "phone must be an E.164 number such as +447700900123")
    return phone


class PrivacyApi:
    def __init__(self, engine: Engine, clinic: Clinic) -> None:
        self.engine, self.clinic, self.audit = engine, clinic, AuditLog(engine)

    async def summary(self, request: web.Request) -> web.Response:
        found = await run_db(summarise, self.engine, checked_phone(request.query.get("phone")))
        return web.json_response(found.to_json())

    async def erase(self, request: web.Request) -> web.Response:
        phone = checked_phone((await json_object(request)).get("phone"))
        report = await run_db(erase_backend, self.engine, self.clinic, phone, load_kept_after_erasure())
        await run_db(
            self.audit.record, "patient", "erase (own request on WhatsApp)", phone, report.describe()
        )
        return web.json_response(report.to_json())

    async def withdraw(self, request: web.Request) -> web.Response:
        conversation_id = str((await json_object(request)).get("conversation_id") or "").strip()
        if not conversation_id or len(conversation_id) > 128:
            raise ApiError(400, "conversation_id must be the conversation's id (at most 128 characters)")
        report = await run_db(withdraw_consent, self.engine, conversation_id, load_kept_after_erasure())
        phone = conversation_id.removeprefix("whatsapp:")
        await run_db(
            self.audit.record,
            "patient",
            "consent withdrawn",
            phone if E164.match(phone) else None,
            report.describe(),
        )
        return web.json_response(report.to_json())


def setup(app: web.Application, engine: Engine, clinic: Clinic) -> None:
    api = PrivacyApi(engine, clinic)
    app.router.add_routes(
        [
            web.get("/api/privacy/summary", api.summary),
            web.post("/api/privacy/erasure", api.erase),
            web.post("/api/privacy/consent-withdrawal", api.withdraw),
        ]
    )
