"""What every client of the backend shares: one HTTP session, the bearer token, timeouts, and error mapping.

The scheduling (FHIR), reminders and handoff clients differ only in their paths and payloads. The error contract is
the same for all: `BackendUnavailable` when the patient should be told to try again later (no connection, time-out,
5xx, a refused token), `NotFound` for 404, `BackendError` (with `.status`) for any other refusal. No Rasa import.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type, Union

import aiohttp
from typing_extensions import Self

from carebot import tokens

JSON = "application/json"
DEFAULT_BACKEND_URL = "http://127.0.0.1:8080"


def backend_url(given: Optional[str] = None) -> str:
    """The backend's base URL: `given`, else `BACKEND_URL`, else the local default."""
    return given or os.environ.get("BACKEND_URL") or DEFAULT_BACKEND_URL


class BackendError(Exception):
    """The backend refused or failed a request; `status` is the HTTP status (0 if none)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class BackendUnavailable(BackendError):
    """The backend could not be reached in time, failed (5xx) or rejected our token: try again later."""


class NotFound(BackendError):
    """The thing asked for does not exist (404)."""


def diagnostics(body: Any) -> str:
    """The text of a backend OperationOutcome (it never echoes the request's content)."""
    if isinstance(body, dict) and isinstance(body.get("issue"), list):
        return "; ".join(
            str(i.get("diagnostics")) for i in body["issue"] if isinstance(i, dict) and i.get("diagnostics")
        )
    return ""


class BackendHTTPClient:
    """Base of the backend clients. One session per client: use `async with` or call `close()`."""

    service = "backend"  # named in error messages
    media_type = JSON
    unavailable: Type[BackendError] = BackendUnavailable
    refused: Type[BackendError] = BackendError
    not_found: Type[BackendError] = NotFound

    def __init__(
        self,
        base_url: str,
        token: Optional[str] = None,
        *,
        timeout: float = 5.0,
        connect_timeout: float = 2.0,
        token_source: Tuple[str, str] = tokens.SCHEDULING,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._token_source = token_source  # (environment variable, var/ file) of the token, read on first use
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self._session: Optional[aiohttp.ClientSession] = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Optional[Sequence[Tuple[str, str]]] = None,
        json_body: Union[Dict[str, Any], List[Any], None] = None,
        content_type: Optional[str] = None,
        conflict: Optional[Type[BackendError]] = None,
    ) -> Dict[str, Any]:
        """One call; a JSON object back, or the exception that says what the caller should tell the patient."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        if (
            self._token is None
        ):  # read on first use: the backend may write the shared token file after we start
            self._token = tokens.token(*self._token_source)
        headers = {"Accept": self.media_type, "Authorization": f"Bearer {self._token}"}
        data = None
        if json_body is not None:
            data, headers["Content-Type"] = json.dumps(json_body), content_type or self.media_type
        try:
            async with self._session.request(
                method, self.base_url + path, params=params, data=data, headers=headers
            ) as response:
                status = response.status
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise self.unavailable(f"{self.service} unreachable: {type(error).__name__}") from error
        if status < 400 and isinstance(body, dict):
            return body
        message = diagnostics(body) or f"HTTP {status}"
        if status >= 500 or status in (401, 403) or status < 400:
            raise self.unavailable(f"{self.service} failed: {message}", status)
        if status == 404:
            raise self.not_found(message, status)
        if status == 409 and conflict is not None:
            raise conflict(message, status)
        raise self.refused(message, status)  # the backend's own words: actions may show them to the patient
