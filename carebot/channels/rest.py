"""Rasa's REST channel (`/webhooks/rest/webhook`) without its impersonation hole.

Rasa's stock channel takes `input_channel` and `metadata` from the request body, so anyone reaching it could claim
to be the WhatsApp channel or send a patient's `wa_id` and read that patient's appointments. Here the input
channel is always `rest` and identity metadata is dropped, in every mode. In production mode
(`CAREBOT_MODE=production`) the channel also needs `Authorization: Bearer $REST_CHANNEL_TOKEN` (refused outright
when that is unset) and refuses sender ids that name a phone number or a WhatsApp conversation: a REST sender can
never address a real patient's data. Enabled in credentials.yml as `carebot.channels.rest.GuardedRestInput:`.
"""

from __future__ import annotations

import hmac
import os
import re
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from carebot import settings
from carebot.mode import check_secret, is_production

TOKEN_ENV = "REST_CHANNEL_TOKEN"
IDENTITY_METADATA = ("wa_id", "WaId", "From", "phone")
# A sender id that could be a patient's: a WhatsApp address or anything that is mostly a phone number.
PATIENT_LIKE_SENDER = re.compile(r"^(whatsapp:|tel:|sms:)|^\+?[\d\s().-]{7,}$", re.IGNORECASE)


def refusal(request: Request, environ: Mapping[str, str] = os.environ) -> Optional[HTTPResponse]:
    """Why production mode refuses this REST request (None: let it through). Development refuses nothing."""
    if not is_production(environ):
        return None
    expected = settings.load(environ).rest_channel_token
    if not expected.strip():
        return response.json(
            {"error": f"the REST channel is off in production mode (set {TOKEN_ENV} to enable it)"},
            status=403,
        )
    given = request.headers.get("Authorization", "").encode()
    if not hmac.compare_digest(given, f"Bearer {check_secret(TOKEN_ENV, expected, environ)}".encode()):
        return response.json(
            {"error": "missing or wrong bearer token"}, status=401, headers={"WWW-Authenticate": "Bearer"}
        )
    body = request.json if isinstance(request.json, dict) else {}
    if PATIENT_LIKE_SENDER.search(str(body.get("sender") or "")):
        return response.json(
            {"error": "a REST sender id may not be a phone number or a WhatsApp address"}, status=400
        )
    return None


class GuardedRestInput(RestInput):
    """The REST channel under the name `rest` (same URL), with identity fixed by the server, not the client."""

    def _extract_input_channel(self, req: Request) -> Text:
        return self.name()

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        metadata = super().get_metadata(request)
        if not isinstance(metadata, dict) or is_production():
            return None
        return {key: value for key, value in metadata.items() if key not in IDENTITY_METADATA}

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        rest = super().blueprint(on_new_message)

        @rest.middleware("request")
        async def production_guard(request: Request) -> Optional[HTTPResponse]:
            return refusal(request) if request.method == "POST" else None

        return rest
