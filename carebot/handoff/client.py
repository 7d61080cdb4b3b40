"""The async client the action server and the WhatsApp channel use to reach the handoff API on the backend.

    async with HandoffClient() as handoff:
        opened = await handoff.open_case("whatsapp:+447700900123", "+447700900123", Reason.ASKED_FOR_HUMAN, transcript)
        case_id = await handoff.append_message("whatsapp:+447700900123", "are you still there?")

Configuration: `BACKEND_URL` (default http://127.0.0.1:8080) and the backend's bearer token `CAREBOT_BACKEND_TOKEN`
(else the file `var/scheduling_token` the backend writes, as for the scheduling client). Every call has a timeout.
Failures raise `HandoffUnavailable` (cannot connect, timed out, 5xx, token refused: the patient must be given the
clinic's phone instead) or its base `HandoffError` (the request itself was refused, e.g. no usable phone number).
No Rasa import: plain HTTP, like carebot.scheduling.client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple
from urllib.parse import quote

from carebot import settings, tokens
from carebot.backend.http_client import BackendError, BackendHTTPClient, BackendUnavailable
from carebot.handoff.model import PrivacyRequest, Reason


class HandoffError(BackendError):
    """The backend refused or failed a handoff request; `status` is the HTTP status (0 if none)."""


class HandoffUnavailable(HandoffError, BackendUnavailable):
    """The backend could not be reached in time, failed (5xx) or rejected our token: try again later."""


@dataclass(frozen=True)
class OpenedCase:
    case_id: int
    created: bool  # False: the conversation already had an open case, which now also carries this trigger
    patient_notice: (
        str  # what to tell the patient: when a person replies, the emergency number (clinic hours)
    )


class HandoffClient(BackendHTTPClient):
    """One HTTP session per client; use `async with` or call `close()`."""

    service = "handoff API"
    unavailable = HandoffUnavailable
    refused = not_found = HandoffError

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_token: Optional[str] = None,
        *,
        timeout: float = 5.0,
        connect_timeout: float = 2.0,
        token_source: Tuple[str, str] = tokens.SCHEDULING,
    ) -> None:
        super().__init__(
            base_url or settings.current().backend_url,
            api_token,
            timeout=timeout,
            connect_timeout=connect_timeout,
            token_source=token_source,
        )

    async def open_case(
        self, conversation_id: str, patient_phone: str, reason: Reason, transcript: str
    ) -> OpenedCase:
        """Open the conversation's case (or add to its open one); the backend alerts the on-call staff phone."""
        body = await self._request(
            "POST",
            "/api/handoff/cases",
            json_body={
                "conversation_id": conversation_id,
                "patient_phone": patient_phone,
                "reason": Reason(reason).value,
                "transcript": transcript,
            },
        )
        try:
            return OpenedCase(int(body["case"]["id"]), bool(body["created"]), str(body["patient_notice"]))
        except (KeyError, TypeError, ValueError):
            raise HandoffUnavailable("the backend answered a case request without a case") from None

    async def append_message(self, conversation_id: str, text: str) -> Optional[int]:
        """Add a patient message to the conversation's open case: its id, or None when staff have no open case
        (the bot is not paused and should answer)."""
        body = await self._request(
            "POST", "/api/handoff/messages", json_body={"conversation_id": conversation_id, "text": text}
        )
        return _case_id(body)

    async def open_case_of(self, conversation_id: str) -> Optional[int]:
        """The id of the conversation's open case (staff have the conversation), else None."""
        body = await self._request("GET", f"/api/handoff/conversations/{quote(conversation_id, safe=':+@')}")
        return _case_id(body)

    async def privacy_request(self, conversation_id: str, request: PrivacyRequest) -> Optional[int]:
        """The patient asked for erasure or withdrew consent while staff had the conversation: the backend closes
        the case (an anonymous notice to staff) and resumes the bot. The closed case's id, or None if none was open."""
        body = await self._request(
            "POST",
            f"/api/handoff/conversations/{quote(conversation_id, safe=':+@')}/privacy-request",
            json_body={"request": PrivacyRequest(request).value},
        )
        return int(body["case_id"]) if body.get("closed") and body.get("case_id") is not None else None


def _case_id(body: Dict[str, Any]) -> Optional[int]:
    return int(body["case_id"]) if body.get("paused") and body.get("case_id") is not None else None
