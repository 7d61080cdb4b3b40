"""Errors as FHIR OperationOutcomes: every failed API request answers with one, never with a traceback.

Handlers raise `ApiError(status, message, code)`; the backend's error middleware renders it. Use it from any
backend API (scheduling, reminders, handoff) so clients see one error shape everywhere.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

from aiohttp import web

FHIR_JSON = "application/fhir+json"

# FHIR issue-type codes (http://hl7.org/fhir/valueset-issue-type.html) for the statuses we answer with.
_CODE_FOR_STATUS = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    503: "transient",
}


class ApiError(Exception):
    """A client-facing error: HTTP status plus a message a developer (or staff member) can act on."""

    def __init__(
        self, status: int, message: str, code: Optional[str] = None, headers: Optional[Dict[str, str]] = None
    ) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.code = code or _CODE_FOR_STATUS.get(status, "exception")
        self.headers = headers or {}


def operation_outcome(message: str, code: str = "exception", severity: str = "error") -> Dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": message}],
    }


def fhir_response(
    body: Dict[str, Any], status: int = 200, headers: Optional[Dict[str, str]] = None
) -> web.Response:
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        status=status,
        content_type=FHIR_JSON,
        headers=headers,
    )


async def json_object(request: web.Request) -> Dict[str, Any]:
    """The request body as a JSON object; anything else (not JSON, a list, a number) is a 400."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


def error_response(
    status: int, message: str, code: Optional[str] = None, headers: Optional[Dict[str, str]] = None
) -> web.Response:
    outcome = operation_outcome(message, code or _CODE_FOR_STATUS.get(status, "exception"))
    return fhir_response(outcome, status=status, headers=headers)
