"""The identity check's API for the action server (JSON, full token), under `/api/identity`:

    POST /api/identity/status  {"phone": "+447700900123"}                              → IdentityStatus
    POST /api/identity/check   {"phone": "+447700900123", "birth_date": "1980-05-17"}  → IdentityStatus
                               (+ "patient": "<Patient id>": the answer must be that patient's, one of the number's)

The phone travels in the body, never in a path (the audit log records route patterns). The answer is compared on
the backend, so the dates of birth never leave it and every try is counted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict

from aiohttp import web
from sqlalchemy.engine import Engine

from carebot.backend.db import run_db
from carebot.backend.errors import ApiError, json_object
from carebot.clinic import Clinic
from carebot.identity import store
from carebot.scheduling.model import E164
from carebot.scheduling.resources import FHIR_ID


def setup(app: web.Application, engine: Engine, clinic: Clinic) -> None:
    api = IdentityApi(engine, clinic)
    app.router.add_routes(
        [web.post("/api/identity/status", api.status), web.post("/api/identity/check", api.check)]
    )


def _phone(body: Dict[str, Any]) -> str:
    phone = body.get("phone")
    if not isinstance(phone, str) or not E164.match(phone):
        raise ApiError(400, "'phone' must be a number in E.164 form, like +447700900123")
    return phone


class IdentityApi:
    def __init__(self, engine: Engine, clinic: Clinic) -> None:
        self.engine, self.clinic = engine, clinic

    async def status(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        found = await run_db(store.status, self.engine, self.clinic, _phone(body))
        return web.json_response(found.to_json())

    async def check(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        phone = _phone(body)
        try:
            born = dt.date.fromisoformat(str(body.get("birth_date")))
        except ValueError:
            raise ApiError(400, "'birth_date' must be a date like 1980-05-17") from None
        patient = body.get("patient")
        if patient is not None and not (isinstance(patient, str) and FHIR_ID.match(patient)):
            raise ApiError(400, "'patient' must be a Patient id")
        found = await run_db(store.check, self.engine, self.clinic, phone, born, patient)
        return web.json_response(found.to_json())
