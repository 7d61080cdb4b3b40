"""Send WhatsApp messages through Twilio's REST API: the one place that knows WhatsApp's sending rules.

Used by the Rasa output channel and, without Rasa, by the reminder dispatcher and the staff inbox:

    sender = WhatsAppSender.from_env()
    result = await sender.send("+447700900123", text="…", template="medication_reminder", variables={"1": "…"})
    await sender.close()

Rules applied to every message:
- opted-out numbers (STOP) receive nothing;
- free-form text only inside the 24-hour window since the patient last wrote; outside it (or when Twilio answers
  error 63016) the approved template is sent instead (`ContentSid` + `ContentVariables`, no `Body`); without a
  caller's template, the re-open template goes out and the text is held until the patient replies;
- text longer than 1,600 characters leaves as several ordered messages split on sentence boundaries;
- retried only when Twilio says "too many requests" (HTTP 429 / error 20429) or the connection could not be made,
  with exponential backoff and jitter; never after a 5xx or a timeout, because Twilio may already have accepted the
  message and a second POST would deliver it twice;
- without credentials (sandbox mode) nothing is posted: the message shape is logged, masked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from carebot.channels.chunking import chunk_text
from carebot.channels.contacts import ContactStore
from carebot.channels.signature import public_base_url
from carebot.clinic import load_clinic
from carebot.phones import mask_phone, normalize_phone, whatsapp_address
from carebot.settings import current as current_settings

logger = logging.getLogger(__name__)
# twilio-python logs a dozen INFO lines (URL, headers) per request; keep its HTTP chatter out of normal logs.
http_logger = logging.getLogger(f"{__name__}.http")
http_logger.setLevel(logging.WARNING)

OUTSIDE_WINDOW_ERROR = 63016
TOO_MANY_REQUESTS_ERROR = 20429
STATUS_CALLBACK_PATH = "/webhooks/whatsapp/status"
# Setting name → environment variable used when credentials.yml leaves the setting empty.
ENVIRONMENT = {
    "account_sid": "TWILIO_ACCOUNT_SID",
    "auth_token": "TWILIO_AUTH_TOKEN",
    "whatsapp_number": "TWILIO_WHATSAPP_NUMBER",
    "api_base_url": "TWILIO_API_BASE_URL",
    "webhook_url": "WHATSAPP_WEBHOOK_URL",
    "redis_url": "WHATSAPP_REDIS_URL",
    "state_database_url": "WHATSAPP_STATE_DATABASE_URL",
}


def setting(values: Optional[Mapping[str, Any]], name: str) -> str:
    """A credentials.yml value, else its environment variable, else ''."""
    value = (values or {}).get(name)
    return str(value).strip() if value not in (None, "") else current_settings().value_of(ENVIRONMENT[name])


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str = ""
    auth_token: str = ""
    whatsapp_number: str = ""
    api_base_url: str = ""  # empty → https://api.twilio.com
    webhook_url: str = ""  # public base URL Twilio calls; also gives the status-callback URL
    templates: Mapping[str, str] = field(default_factory=dict)  # name → ContentSid (HX…)
    reopen_template: str = "conversation_reopen"  # sent when free text cannot be (outside the window)
    timeout_seconds: float = 10.0
    max_attempts: int = 4
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0

    @property
    def sandbox(self) -> bool:
        return not (self.account_sid and self.auth_token and self.whatsapp_number)

    @property
    def status_callback_url(self) -> str:
        return public_base_url(self.webhook_url) + STATUS_CALLBACK_PATH if self.webhook_url else ""

    @classmethod
    def from_mapping(cls, values: Optional[Mapping[str, Any]] = None) -> "TwilioSettings":
        """credentials.yml block (or {}) with environment fallbacks; templates default to clinic.yml's."""
        values = values or {}
        templates = values.get("templates") or load_clinic().templates
        tuned = {
            name: kind(values[name]) for name, kind in _TUNABLE.items() if values.get(name) not in (None, "")
        }
        return cls(
            account_sid=setting(values, "account_sid"),
            auth_token=setting(values, "auth_token"),
            whatsapp_number=setting(values, "whatsapp_number"),
            api_base_url=setting(values, "api_base_url"),
            webhook_url=setting(values, "webhook_url"),
            templates={str(k): str(v) for k, v in templates.items()},
            **tuned,
        )


# Optional credentials.yml keys with their types (no environment variable: operators rarely need them).
_TUNABLE = {
    "reopen_template": str,
    "timeout_seconds": float,
    "max_attempts": int,
    "backoff_seconds": float,
    "max_backoff_seconds": float,
}


@dataclass
class SendResult:
    """What happened to one `send` call; `status` is sent, sandbox, opted_out or failed."""

    status: str
    message_sids: List[str] = field(default_factory=list)
    via_template: bool = False
    error_code: Optional[int] = None
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.status in ("sent", "sandbox", "opted_out")


class _TimedAsyncHttpClient(AsyncTwilioHttpClient):
    """twilio 8.2.2's async client ignores its own `timeout` (create_async passes none per request, and aiohttp then
    waits forever); apply the client-wide timeout to every request instead."""

    async def request(
        self, method: str, url: str, *args: Any, timeout: Optional[float] = None, **kwargs: Any
    ) -> Any:
        return await super().request(method, url, *args, timeout=timeout or self.timeout, **kwargs)


class _SendFailed(Exception):
    def __init__(self, code: Optional[int], message: str) -> None:
        super().__init__(message)
        self.code = code


class WhatsAppSender:
    """Sends to one patient at a time following WhatsApp's rules (see module docstring)."""

    def __init__(
        self,
        settings: TwilioSettings,
        contacts: ContactStore,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.contacts = contacts
        self._sleep = sleep
        self._jitter = jitter
        self._client: Optional[Client] = None

    @classmethod
    def from_env(cls, credentials: Optional[Mapping[str, Any]] = None) -> "WhatsAppSender":
        """Build from credentials.yml values and/or the TWILIO_* / WHATSAPP_* environment variables."""
        settings = TwilioSettings.from_mapping(credentials)
        if settings.sandbox:
            logger.warning("WhatsApp sandbox mode: Twilio credentials missing, messages are logged, not sent")
        return cls(settings, ContactStore(setting(credentials, "state_database_url") or None))

    def _twilio(self) -> Client:
        """Created on first use, inside the running event loop (aiohttp sessions belong to one loop)."""
        if self._client is None:
            http = _TimedAsyncHttpClient(timeout=self.settings.timeout_seconds, logger=http_logger)
            self._client = Client(self.settings.account_sid, self.settings.auth_token, http_client=http)
            if self.settings.api_base_url:
                self._client.api.base_url = self.settings.api_base_url.rstrip("/")
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.http_client.close()
            self._client = None

    async def send(
        self,
        to: str,
        text: Optional[str] = None,
        *,
        template: Optional[str] = None,
        variables: Optional[Mapping[str, Any]] = None,
        media_url: Optional[str] = None,
        force: bool = False,
    ) -> SendResult:
        """Send text/media inside the window, the template outside it. `force` skips the opt-out check (only for
        confirming STOP itself)."""
        if not (text or media_url or template):
            raise ValueError("nothing to send: give text, media_url or template")
        phone = normalize_phone(to)
        if not force and await asyncio.to_thread(self.contacts.is_opted_out, phone):
            logger.info("WhatsApp: %s opted out, nothing sent", mask_phone(phone))
            return SendResult("opted_out")
        if text or media_url:
            if await asyncio.to_thread(self.contacts.in_window, phone):
                result = await self._send_free_form(phone, text or "", media_url)
                if result.error_code != OUTSIDE_WINDOW_ERROR:
                    return result
                logger.info(
                    "WhatsApp: %s is outside the 24-hour window (63016), sending the template",
                    mask_phone(phone),
                )
                await asyncio.to_thread(self.contacts.close_window, phone)
            if not template:
                # No template carries this content: keep it for the patient's reply to the re-open template.
                await asyncio.to_thread(self.contacts.hold_message, phone, text or "", media_url)
                logger.info(
                    "WhatsApp: %s is outside the 24-hour window; message held, re-open template sent",
                    mask_phone(phone),
                )
        return await self._send_template(phone, template or self.settings.reopen_template, variables)

    async def deliver_held(self, phone: str) -> None:
        """Send what was held while the window was closed; called when the patient writes (window open again)."""
        for body, media_url in await asyncio.to_thread(self.contacts.take_held, phone):
            await self._send_free_form(normalize_phone(phone), body, media_url)

    async def _send_free_form(self, phone: str, text: str, media_url: Optional[str]) -> SendResult:
        parts = chunk_text(text) if text.strip() else [""]
        result = SendResult("sandbox" if self.settings.sandbox else "sent")
        for index, part in enumerate(parts):
            data: Dict[str, Any] = {}
            if part:
                data["body"] = part
            if media_url and index == 0:
                data["media_url"] = [media_url]
            if not await self._deliver(phone, data, result):
                break
        return result

    async def _send_template(
        self, phone: str, name: str, variables: Optional[Mapping[str, Any]]
    ) -> SendResult:
        content_sid = self.settings.templates.get(name) or (name if name.startswith("HX") else "")
        if not content_sid:
            logger.error(
                "WhatsApp: no ContentSid configured for template %r; nothing sent to %s",
                name,
                mask_phone(phone),
            )
            return SendResult("failed", via_template=True, error=f"template {name!r} not configured")
        data: Dict[str, Any] = {"content_sid": content_sid}
        if variables:
            data["content_variables"] = json.dumps({str(k): str(v) for k, v in variables.items()})
        result = SendResult("sandbox" if self.settings.sandbox else "sent", via_template=True)
        await self._deliver(phone, data, result)
        return result

    async def _deliver(self, phone: str, data: Dict[str, Any], result: SendResult) -> bool:
        """POST one message; record its sid or the failure in `result`. False when it failed."""
        kind = "template" if "content_sid" in data else ("media" if "media_url" in data else "text")
        if self.settings.sandbox:
            logger.info(
                "WhatsApp sandbox: would send %s (%d chars) to %s",
                kind,
                len(data.get("body", "")),
                mask_phone(phone),
            )
            logger.debug("WhatsApp sandbox message to %s: %s", mask_phone(phone), data)
            return True
        payload = dict(
            data, to=whatsapp_address(phone), from_=whatsapp_address(self.settings.whatsapp_number)
        )
        if self.settings.status_callback_url:
            payload["status_callback"] = self.settings.status_callback_url
        try:
            sid = await self._create_with_retry(payload)
        except _SendFailed as failure:
            level = logging.INFO if failure.code == OUTSIDE_WINDOW_ERROR else logging.ERROR
            logger.log(level, "WhatsApp: %s to %s failed: %s", kind, mask_phone(phone), failure)
            result.status, result.error_code, result.error = "failed", failure.code, str(failure)
            return False
        result.message_sids.append(sid)
        logger.info("WhatsApp: sent %s %s to %s", kind, sid, mask_phone(phone))
        return True

    async def _create_with_retry(self, payload: Dict[str, Any]) -> str:
        attempt = 0
        while True:
            attempt += 1
            try:
                message = await self._twilio().messages.create_async(**payload)
                return str(message.sid)
            except TwilioRestException as error:
                retryable = error.status == 429 or error.code == TOO_MANY_REQUESTS_ERROR
                reason, code = f"HTTP {error.status}, Twilio error {error.code}", error.code
            except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError) as error:
                # The request never reached Twilio (or the idle pooled connection was closed): safe to repeat.
                retryable, reason, code = True, f"connection error {type(error).__name__}", None
            except (asyncio.TimeoutError, aiohttp.ClientError) as error:
                # Twilio may have accepted the message: repeating could deliver it twice.
                raise _SendFailed(None, f"{type(error).__name__} after sending; not retried") from error
            code = code if isinstance(code, int) else None
            if not retryable:
                raise _SendFailed(code, reason)
            if attempt >= self.settings.max_attempts:
                raise _SendFailed(code, f"{reason}; gave up after {attempt} attempts")
            delay = min(self.settings.max_backoff_seconds, self.settings.backoff_seconds * 2 ** (attempt - 1))
            delay *= 0.5 + self._jitter()
            logger.warning("WhatsApp: %s, retrying in %.2fs (attempt %d)", reason, delay, attempt + 1)
            await self._sleep(delay)
