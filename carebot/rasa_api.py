"""A small async client for the Rasa server's HTTP API, for processes outside Rasa (backend, staff inbox, dispatcher).

Rasa owns conversations; other processes change them only through this API: resume a paused conversation,
trigger an intent (a reminder), or read the tracker to show staff what was said. No Rasa import: plain HTTP.
Configuration: RASA_URL (default http://127.0.0.1:5005) and RASA_API_TOKEN (else the file var/rasa_token).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional
from urllib.parse import quote

import aiohttp

from carebot import settings, tokens

DEFAULT_RASA_URL = "http://127.0.0.1:5005"
DEFAULT_TIMEOUT_SECONDS = 10.0
# Rasa's server (Sanic) does not percent-decode the conversation id in the path: `whatsapp:%2B44…` would name another
# conversation than `whatsapp:+44…`. So only what cannot stand in a path segment ('/', '?', '#', '%', spaces, …) is
# encoded, and ids made of these characters stay exactly as the channel wrote them.
PATH_SAFE = ":+@!$&'()*,;=-._~"


class RasaAPIError(RuntimeError):
    """Rasa was unreachable or refused the call; the message says which, without conversation content."""


class RasaAPI:
    """`append_events`, `trigger_intent`, `get_tracker` over one reusable aiohttp session."""

    def __init__(
        self,
        base_url: str = DEFAULT_RASA_URL,
        token: Optional[str] = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        session: Optional[aiohttp.ClientSession] = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owns_session = session is None

    @classmethod
    def from_env(cls) -> "RasaAPI":
        return cls(settings.current().rasa_url, tokens.token(*tokens.RASA_API))

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    async def _request(self, method: str, path: str, params: Dict[str, str], body: Any = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        if self.token:
            params = {**params, "token": self.token}
        url = f"{self.base_url}{path}"
        try:
            async with self._session.request(
                method, url, params=params, json=body, timeout=self.timeout
            ) as response:
                if response.status >= 400:
                    detail = (await response.text())[:200]
                    raise RasaAPIError(
                        f"Rasa answered {response.status} to {method} {path.split('/')[1]}: {detail}"
                    )
                return await response.json(content_type=None)
        except aiohttp.ClientError as error:
            raise RasaAPIError(f"Rasa unreachable at {self.base_url}: {error.__class__.__name__}") from error
        except TimeoutError as error:  # asyncio.TimeoutError is TimeoutError on Python 3.11
            raise RasaAPIError(f"Rasa did not answer within {self.timeout.total:.0f} s") from error

    @staticmethod
    def _conversation(conversation_id: str) -> str:
        return f"/conversations/{quote(conversation_id, safe=PATH_SAFE)}"

    async def append_events(self, conversation_id: str, events: List[Dict[str, Any]]) -> Dict[str, Any]:
        """Append events (e.g. `[{"event": "resume"}]`) to a conversation's tracker."""
        return await self._request(
            "POST",
            f"{self._conversation(conversation_id)}/tracker/events",
            {"include_events": "NONE"},
            events,
        )

    async def trigger_intent(
        self,
        conversation_id: str,
        intent: str,
        entities: Optional[Dict[str, Any]] = None,
        output_channel: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Make the bot act as if the user had sent `intent` (responses go to `output_channel`, e.g. "whatsapp")."""
        params = {"output_channel": output_channel} if output_channel else {}
        return await self._request(
            "POST",
            f"{self._conversation(conversation_id)}/trigger_intent",
            params,
            {"name": intent, "entities": entities or {}},
        )

    async def get_tracker(self, conversation_id: str) -> Dict[str, Any]:
        return await self._request(
            "GET", f"{self._conversation(conversation_id)}/tracker", {"include_events": "ALL"}
        )
