"""The async client the action server uses for a patient's own privacy requests ("what do you keep about me",
"delete my data", "I withdraw consent"). Configuration and errors as for every backend client (carebot/backend/http_client.py)."""

from __future__ import annotations

from typing import Optional

from carebot.backend.http_client import BackendError, BackendHTTPClient, BackendUnavailable, backend_url
from carebot.privacy.model import DataSummary, ErasureReport


class PrivacyError(BackendError):
    """The backend refused a privacy request (e.g. the conversation has no usable phone number)."""


class PrivacyUnavailable(PrivacyError, BackendUnavailable):
    """The backend could not be reached in time or failed: nothing was erased, the patient is told to call."""


class PrivacyClient(BackendHTTPClient):
    service = "privacy API"
    unavailable = PrivacyUnavailable
    refused = not_found = PrivacyError

    def __init__(
        self, base_url: Optional[str] = None, api_token: Optional[str] = None, *, timeout: float = 10.0
    ) -> None:
        super().__init__(backend_url(base_url), api_token, timeout=timeout)

    async def summary(self, phone: str) -> DataSummary:
        return DataSummary.from_json(
            await self._request("GET", "/api/privacy/summary", params=[("phone", phone)])
        )

    async def erase(self, phone: str) -> ErasureReport:
        return ErasureReport.from_json(
            await self._request("POST", "/api/privacy/erasure", json_body={"phone": phone})
        )

    async def withdraw_consent(self, conversation_id: str) -> ErasureReport:
        return ErasureReport.from_json(
            await self._request(
                "POST", "/api/privacy/consent-withdrawal", json_body={"conversation_id": conversation_id}
            )
        )
