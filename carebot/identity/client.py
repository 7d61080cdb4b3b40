"""The async client the actions use for the identity check (`/api/identity`); errors as every backend client
(`BackendUnavailable`, `BackendError`)."""

from __future__ import annotations

import datetime as dt
from typing import Optional

from carebot import settings
from carebot.backend.http_client import BackendError, BackendHTTPClient, BackendUnavailable
from carebot.identity.model import IdentityStatus

__all__ = ["BackendError", "BackendUnavailable", "IdentityClient", "IdentityStatus"]


class IdentityClient(BackendHTTPClient):
    service = "identity check"

    def __init__(
        self, base_url: Optional[str] = None, token: Optional[str] = None, *, timeout: float = 5.0
    ) -> None:
        fhir = settings.current().scheduling_url.rstrip("/")
        super().__init__(base_url or fhir.removesuffix("/fhir"), token, timeout=timeout)

    async def status(self, phone: str) -> IdentityStatus:
        return self._status(await self._request("POST", "/api/identity/status", json_body={"phone": phone}))

    async def check(
        self, phone: str, birth_date: dt.date, patient_id: Optional[str] = None
    ) -> IdentityStatus:
        """One answer; with `patient_id` it must be that patient's date of birth (the person the chat is about)."""
        body = {"phone": phone, "birth_date": birth_date.isoformat()}
        if patient_id:
            body["patient"] = patient_id
        return self._status(await self._request("POST", "/api/identity/check", json_body=body))

    def _status(self, body: dict) -> IdentityStatus:
        try:
            return IdentityStatus.from_json(body)
        except (ValueError, TypeError) as error:
            raise BackendUnavailable(f"identity check answered without a status: {error}") from None
