"""The async client the action server and the WhatsApp channel use to reach the handoff API on the backend.

    async with HandoffClient() as handoff:
        opened = await handoff.open_case("whatsapp:+447700900123", "+447700900123", Reason.ASKED_FOR_HUMAN, transcript)
        case_id = await handoff.append_message("whatsapp:+447700900123", "are you still there?")

Configuration: `BACKEND_URL` (default http://127.0.0.1:8080) and the backend's bearer token `SCHEDULING_TOKEN`
(else the file `var/scheduling_token` the backend writes, as for the scheduling client). Every call has a timeout.
Failures raise `HandoffUnavailable` (cannot connect, timed out, 5xx, token refused: the patient must be given the
clinic's phone instead) or its base `HandoffError` (the request itself was refused, e.g. no usable phone number).
No Rasa import: plain HTTP, like carebot.scheduling.client.
"""
from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional

import aiohttp

from carebot import tokens
from carebot.handoff.store import Reason

DEFAULT_BACKEND_URL = "http://127.0.0.1:8080"


class HandoffError(Exception):
    """The backend refused or failed a handoff request; `status` is the HTTP status (0 if none)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class HandoffUnavailable(HandoffError):
    """The backend could not be reached in time, failed (5xx) or rejected our token: try again later."""


@dataclass(frozen=True)
class OpenedCase:
    case_id: int
    created: bool  # False: the conversation already had an open case, which now also carries this trigger
    patient_notice: str  # what to tell the patient: when a person replies, the emergency number (clinic hours)


class HandoffClient:
    """One HTTP session per client; use `async with` or call `close()`."""

    def __init__(self, base_url: Optional[str] = None, api_token: Optional[str] = None, *,
                 timeout: float = 5.0, connect_timeout: float = 2.0) -> None:
        self.base_url = (base_url or os.environ.get("BACKEND_URL") or DEFAULT_BACKEND_URL).rstrip("/")
        self._token = api_token
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self._session: Optional[aiohttp.ClientSession] = None

    async def __aenter__(self) -> "HandoffClient":
        return self

    async def __aexit__(self, *_exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def open_case(self, conversation_id: str, patient_phone: str, reason: Reason, transcript: str) -> OpenedCase:
        """Open the conversation's case (or add to its open one); the backend alerts the on-call staff phone."""
        body = await self._request("POST", "/api/handoff/cases", {
            "conversation_id": conversation_id, "patient_phone": patient_phone, "reason": Reason(reason).value,
            "transcript": transcript,
        })
        try:
            return OpenedCase(int(body["case"]["id"]), bool(body["created"]), str(body["patient_notice"]))
        except (KeyError, TypeError, ValueError):
            raise HandoffUnavailable("the backend answered a case request without a case") from None

    async def append_message(self, conversation_id: str, text: str) -> Optional[int]:
        """Add a patient message to the conversation's open case: its id, or None when staff have no open case
        (the bot is not paused and should answer)."""
        body = await self._request("POST", "/api/handoff/messages", {"conversation_id": conversation_id, "text": text})
        return _case_id(body)

    async def _request(self, method: str, path: str, json_body: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        if self._token is None:  # read on first use: the backend may create the shared file after we start
            self._token = tokens.token(*tokens.SCHEDULING)
        headers = {"Authorization": f"Bearer {self._token or ''}"}
        try:
            async with self._session.request(method, self.base_url + path, json=json_body, headers=headers) as response:
                status = response.status
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise HandoffUnavailable(f"backend unreachable: {type(error).__name__}") from error
        if status < 400 and isinstance(body, dict):
            return body
        message = _diagnostics(body) or f"HTTP {status}"
        if status >= 500 or status in (401, 403) or status < 400:
            raise HandoffUnavailable(f"handoff API failed: {message}", status)
        raise HandoffError(f"handoff API refused the request: {message}", status)


def _case_id(body: Dict[str, Any]) -> Optional[int]:
    return int(body["case_id"]) if body.get("paused") and body.get("case_id") is not None else None


def _diagnostics(body: Any) -> str:
    """The backend's OperationOutcome text (it never contains the request's content)."""
    if isinstance(body, dict):
        issues = body.get("issue") or []
        if issues and isinstance(issues[0], dict):
            return str(issues[0].get("diagnostics") or "")
    return ""
