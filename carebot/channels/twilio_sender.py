"""Send WhatsApp messages through Twilio's REST API: the one place that knows WhatsApp's sending rules.

Used by the Rasa output channel and, without Rasa, by the staff inbox and the outbox relay:

    sender = WhatsAppSender.from_env()
    result = await sender.send("+447700900123", text="…", template="medication_reminder", variables={"1": "…"})
    await sender.close()

Every message is first written to the outbox (`carebot/channels/outbox.py`), then sent at once by the caller while
it holds the patient's head of the queue; what cannot leave now is left queued for the relay (`OutboxRelay`, run by
the reminder dispatcher's process). Rules applied to every message:
- opted-out numbers (STOP) receive nothing;
- free-form text only inside the 24-hour window since the patient last wrote; outside it (or when Twilio answers
  error 63016) the approved template is sent instead (`ContentSid` + `ContentVariables`, no `Body`); without a
  caller's template, the re-open template goes out and the text is held until the patient replies;
- inside the window, an offer of buttons (`offer`) goes as tap-to-answer content (quick replies or a list picker,
  `content.py`), and as its numbered text when the Content API cannot make the template or Twilio refuses it;
- text longer than 1,600 characters leaves as several ordered messages split on sentence boundaries, and a
  patient's messages leave one at a time in the order they were written, whichever process wrote them;
- every POST waits for its slot of the sender's shared rate limit (`pacing.py`);
- HTTP 429, 5xx and connection failures are retried with jittered exponential backoff until the message's deadline,
  then it becomes a dead letter (staff inbox); a timeout or a dropped connection leaves the outcome unknown, so the
  message is reconciled (its status callback, or Twilio's message list for that recipient since the attempt) before
  it may be posted again: a second POST of an accepted message would deliver it twice;
- without credentials (sandbox mode) nothing is posted: the message shape is logged, masked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import logging
import os
import random
import socket
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Set, Tuple

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from carebot.channels.budget import RecipientBudget
from carebot.channels.buttons import TapOffer
from carebot.channels.chunking import chunk_text
from carebot.channels.contacts import ContactStore
from carebot.channels.content import CONTENT_API_URL, ContentTemplates
from carebot.channels.content import variables as content_variables
from carebot.channels.outbox import OutboxMessage, OutboxStore
from carebot.channels.pacing import DatabaseSlots, Pacer, RedisSlots
from carebot.channels.signature import public_base_url
from carebot.clinic import TapToAnswer, load_clinic
from carebot.clock import utc_now
from carebot.phones import mask_phone, normalize_phone, whatsapp_address
from carebot.settings import current as current_settings

logger = logging.getLogger(__name__)
# twilio-python logs a dozen INFO lines (URL, headers) per request; keep its HTTP chatter out of normal logs.
http_logger = logging.getLogger(f"{__name__}.http")
http_logger.setLevel(logging.WARNING)

OUTSIDE_WINDOW_ERROR = 63016
TOO_MANY_REQUESTS_ERROR = 20429
OUTAGE_FAILURES = 3  # different patients failing in a row: Twilio looks down
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
    content_api_url: str = ""  # empty → api_base_url if set (a stand-in serves both), else content.twilio.com
    webhook_url: str = ""  # public base URL Twilio calls; also gives the status-callback URL
    templates: Mapping[str, str] = field(default_factory=dict)  # name → ContentSid (HX…)
    reopen_template: str = "conversation_reopen"  # sent when free text cannot be (outside the window)
    timeout_seconds: float = 10.0
    max_attempts: int = 4  # attempts made at once by the caller; later ones are the relay's
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0  # between the caller's attempts
    relay_max_backoff_seconds: float = 60.0  # between the relay's attempts (a Twilio outage)
    reconcile_after_seconds: float = 20.0  # after a timeout, time for Twilio to finish and call back
    # A worker's claim on the message it sends, renewed every third of it while the worker lives: a crashed
    # worker's message (and the patient's replies queued behind it) is taken over after at most this long.
    claim_lease_seconds: float = 30.0
    rate_per_second: float = 80.0  # the sender's WhatsApp throughput (WHATSAPP_RATE_PER_SECOND)
    tap_to_answer: TapToAnswer = field(default_factory=TapToAnswer)  # clinic.yml whatsapp.tap_to_answer
    daily_recipient_limit: int = 0  # Meta's tier (clinic.yml whatsapp.daily_recipient_limit); 0: no limit

    @property
    def sandbox(self) -> bool:
        return not (self.account_sid and self.auth_token and self.whatsapp_number)

    @property
    def content_base_url(self) -> str:
        return (self.content_api_url or self.api_base_url or CONTENT_API_URL).rstrip("/")

    @property
    def status_callback_url(self) -> str:
        return public_base_url(self.webhook_url) + STATUS_CALLBACK_PATH if self.webhook_url else ""

    @classmethod
    def from_mapping(cls, values: Optional[Mapping[str, Any]] = None) -> "TwilioSettings":
        """credentials.yml block (or {}) with environment fallbacks; templates default to clinic.yml's."""
        values = values or {}
        clinic = load_clinic()
        templates = values.get("templates") or clinic.templates
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
            tap_to_answer=clinic.tap_to_answer,
            daily_recipient_limit=clinic.whatsapp_daily_recipient_limit,
            **{"rate_per_second": current_settings().whatsapp_rate_per_second, **tuned},
        )


# Optional credentials.yml keys with their types (no environment variable: operators rarely need them).
_TUNABLE = {
    "reopen_template": str,
    "content_api_url": str,
    "timeout_seconds": float,
    "max_attempts": int,
    "backoff_seconds": float,
    "max_backoff_seconds": float,
    "relay_max_backoff_seconds": float,
    "reconcile_after_seconds": float,
    "claim_lease_seconds": float,
}


@dataclass
class SendResult:
    """What happened to one `send` call; `status` is sent, sandbox, opted_out, queued (in the outbox, retried by
    the relay), held (window closed: the re-open template went) or failed (a dead letter, or nothing to send)."""

    status: str
    message_sids: List[str] = field(default_factory=list)
    via_template: bool = False
    error_code: Optional[int] = None
    error: Optional[str] = None
    outbox_id: Optional[int] = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class _TimedAsyncHttpClient(AsyncTwilioHttpClient):
    """twilio 8.2.2's async client ignores its own `timeout` (create_async passes none per request, and aiohttp then
    waits forever); apply the client-wide timeout to every request instead."""

    async def request(
        self, method: str, url: str, *args: Any, timeout: Optional[float] = None, **kwargs: Any
    ) -> Any:
        return await super().request(method, url, *args, timeout=timeout or self.timeout, **kwargs)


# How one POST ended: accepted (with its SID), retry (nothing reached Twilio or Twilio refused for now), unknown
# (Twilio may have it), window (63016: outside the 24-hour window) or fatal (Twilio will never take it).
Outcome = Tuple[str, Optional[str], Optional[int], str]  # (kind, sid, error code, reason)


def _classify(error: BaseException) -> Outcome:
    if isinstance(error, TwilioRestException):
        code = error.code if isinstance(error.code, int) else None
        reason = f"HTTP {error.status}, Twilio error {error.code}"
        if code == OUTSIDE_WINDOW_ERROR:
            return "window", None, code, reason
        if error.status == 429 or code == TOO_MANY_REQUESTS_ERROR or error.status >= 500:
            return "retry", None, code, reason
        return "fatal", None, code, reason
    if isinstance(error, aiohttp.ClientConnectorError):  # never connected: nothing reached Twilio
        return "retry", None, None, f"connection error {type(error).__name__}"
    # A timeout or a connection dropped after the request went out: Twilio may have accepted the message.
    return "unknown", None, None, f"{type(error).__name__ or 'timeout'} after sending; outcome unknown"


class WhatsAppSender:
    """Sends to patients following WhatsApp's rules, through the outbox (see module docstring)."""

    def __init__(
        self,
        settings: TwilioSettings,
        contacts: ContactStore,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], dt.datetime] = utc_now,
        pacer: Optional[Pacer] = None,
        worker_id: str = "",
    ) -> None:
        self.settings = settings
        self.contacts = contacts
        self.outbox = OutboxStore(contacts.engine)
        self.pacer = pacer or Pacer(
            settings.whatsapp_number or "sandbox", settings.rate_per_second, DatabaseSlots(contacts.engine)
        )
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.lease = dt.timedelta(seconds=settings.claim_lease_seconds)
        self._sleep = sleep
        self._jitter = jitter
        self.clock = clock
        self._client: Optional[Client] = None
        self.budget = RecipientBudget(
            contacts.engine, settings.whatsapp_number or "sandbox", settings.daily_recipient_limit
        )
        tap = settings.tap_to_answer
        self.content = ContentTemplates(
            contacts.engine, self._create_content, tap.language, tap.list_button, clock
        )
        self.outcomes: Dict[str, int] = {}  # POST outcomes since the relay last looked (accepted, retry, …)
        # Patients whose POSTs failed since Twilio last accepted one: from OUTAGE_FAILURES different patients on,
        # Twilio looks down, and a message gets one attempt where it is written (no backoff sleeps holding a
        # reply); the relay probes until it is back. One patient's number failing again and again is not an outage.
        self.failing_patients: Set[str] = set()

    @classmethod
    def from_env(cls, credentials: Optional[Mapping[str, Any]] = None) -> "WhatsAppSender":
        """Build from credentials.yml values and/or the TWILIO_* / WHATSAPP_* environment variables."""
        settings = TwilioSettings.from_mapping(credentials)
        if settings.sandbox:
            logger.warning("WhatsApp sandbox mode: Twilio credentials missing, messages are logged, not sent")
        contacts = ContactStore(setting(credentials, "state_database_url") or None)
        redis_url = setting(credentials, "redis_url")
        slots = RedisSlots(redis_url) if redis_url else DatabaseSlots(contacts.engine)
        return cls(
            settings,
            contacts,
            pacer=Pacer(settings.whatsapp_number or "sandbox", settings.rate_per_second, slots),
        )

    def _twilio(self) -> Client:
        """Created on first use, inside the running event loop (aiohttp sessions belong to one loop)."""
        if self._client is None:
            http = _TimedAsyncHttpClient(timeout=self.settings.timeout_seconds, logger=http_logger)
            self._client = Client(self.settings.account_sid, self.settings.auth_token, http_client=http)
            if self.settings.api_base_url:
                self._client.api.base_url = self.settings.api_base_url.rstrip("/")
        return self._client

    async def _create_content(self, definition: Mapping[str, Any]) -> str:
        """One Content API create (`POST /v1/Content`, JSON) through twilio-python's client; the new ContentSid."""
        answer = await self._twilio().request_async(
            "POST",
            f"{self.settings.content_base_url}/v1/Content",
            data=json.dumps(definition),  # aiohttp sends a str body as it is
            headers={"Content-Type": "application/json"},
        )
        if answer.status_code not in (200, 201):
            raise TwilioRestException(answer.status_code, "/v1/Content", answer.text[:200])
        sid = str(json.loads(answer.text).get("sid") or "")
        if not sid.startswith("HX"):
            raise ValueError("the Content API answered without a ContentSid")
        return sid

    async def close(self) -> None:
        if self._client is not None:
            await self._client.http_client.close()
            self._client = None
        await self.pacer.close()

    # ------------------------------------------------------------------------------------------ the callers' API
    async def send(
        self,
        to: str,
        text: Optional[str] = None,
        *,
        template: Optional[str] = None,
        variables: Optional[Mapping[str, Any]] = None,
        media_url: Optional[str] = None,
        offer: Optional[TapOffer] = None,
        force: bool = False,
        kind: str = "reply",
        key: Optional[str] = None,
        deadline: Optional[dt.datetime] = None,
    ) -> SendResult:
        """Write the message to the outbox, then send the patient's queue as far as it can go now. Text/media go
        inside the window (`text` as the numbered form of an `offer`, which goes as buttons when it can), the
        template outside it. `force` skips the opt-out check (only for confirming STOP
        itself); `kind` sets how long it is retried, unless `deadline` says; `key` makes a repeat a no-op."""
        if not (text or media_url or template):
            raise ValueError("nothing to send: give text, media_url or template")
        phone = normalize_phone(to)
        if not force and await asyncio.to_thread(self.contacts.is_opted_out, phone):
            logger.info("WhatsApp: %s opted out, nothing sent", mask_phone(phone))
            return SendResult("opted_out")
        message_id = await asyncio.to_thread(
            self.outbox.enqueue,
            phone,
            kind,
            text=text,
            media_url=media_url,
            template=template,
            variables=variables,
            offer=offer,
            force=force,
            key=key,
            deadline=deadline,
            now=self.clock(),
        )
        await self.drain(phone)
        return self._result(await asyncio.to_thread(self.outbox.get, message_id))

    async def deliver_held(self, phone: str) -> None:
        """Queue what was held while the window was closed, then send it; called when the patient writes."""
        if await asyncio.to_thread(self.outbox.release_held, phone, self.clock()):
            await self.drain(normalize_phone(phone))

    async def drain(self, phone: str) -> None:
        """Send the patient's due messages in order until none is left that may go now (a retry not yet due, or
        a message another process holds, stops it: that one carries on with the rest)."""
        started = self.clock()
        while True:
            message = await asyncio.to_thread(
                self.outbox.claim_head, phone, self.worker_id, self.lease, self.clock(), started
            )
            if message is None:
                return
            keeper = asyncio.ensure_future(self._keep_claim(message))
            try:
                await self._work(message)
            finally:
                keeper.cancel()

    async def _keep_claim(self, message: OutboxMessage) -> None:
        """Renew the claim while this worker sends (Twilio may take longer than a lease): only a dead worker's
        claim lapses. A lapse while alive is safe too: the taker reconciles with Twilio before any resend."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                if not await asyncio.to_thread(self.outbox.renew_claim, message, self.lease, self.clock()):
                    return
            except Exception:  # noqa: BLE001 - the database is away: try again at the next third
                logger.warning("WhatsApp outbox: could not renew the claim on message %d", message.id)

    def _result(self, message: OutboxMessage) -> SendResult:
        status = {
            "accepted": "sent",
            "sandbox": "sandbox",
            "cancelled": "opted_out",
            "held": "held",
            "dead": "failed",
        }.get(message.state, "queued")
        return SendResult(
            status,
            message_sids=message.sids,
            via_template=message.route == "template" or message.state == "held",
            error_code=message.error_code,
            error=message.error,
            outbox_id=message.id,
        )

    # ------------------------------------------------------------------------------------------ one message
    async def _work(self, message: OutboxMessage) -> None:
        """Take one claimed message as far as it goes: reconciled if its last attempt's outcome is unknown, then
        routed (text, template or held), then posted part by part."""
        if message.state == "unknown":
            reconciled = await self._reconcile(message)
            if reconciled is None:
                return
            message = reconciled
        if not message.force and await asyncio.to_thread(self.contacts.is_opted_out, message.phone):
            await asyncio.to_thread(self.outbox.settle, message, "cancelled", "patient opted out")
            return
        if message.route in (None, "tap"):  # a tap offer is routed again: its template may need loading here
            routed = await self._route(message)
            if routed is None:
                return
            message = routed
        if self.settings.sandbox:
            self._log_sandbox(message)
            await asyncio.to_thread(self.outbox.settle, message, "sandbox", None, None, self.clock())
            return
        await self._post_parts(message)

    async def _route(self, message: OutboxMessage, window_closed: bool = False) -> Optional[OutboxMessage]:
        """Inside the window buttons (tap) or free text, else the caller's template, else hold it and send the
        re-open template."""
        phone = message.phone
        if (message.text or message.media_url) and not window_closed:
            if await asyncio.to_thread(self.contacts.in_window, phone, self.clock()):
                if await self._tap_content(message):
                    await asyncio.to_thread(self.outbox.set_route, message, "tap", 1)
                    return replace_route(message, "tap", 1)
                parts = len(chunk_text(message.text)) if (message.text or "").strip() else 1
                await asyncio.to_thread(self.outbox.set_route, message, "free", parts)
                return replace_route(message, "free", parts)
        if message.template:
            if not self._content_sid(message.template):
                reason = f"template {message.template!r} not configured"
                logger.error("WhatsApp: %s; nothing sent to %s", reason, mask_phone(phone))
                await asyncio.to_thread(self.outbox.settle, message, "dead", reason, None, self.clock())
                return None
            if not await self._within_tier(message):
                return None
            await asyncio.to_thread(self.outbox.set_route, message, "template", 1)
            return replace_route(message, "template", 1)
        # No template carries this content: keep it for the patient's reply to the re-open template.
        await asyncio.to_thread(self.outbox.hold, message, self.clock())
        logger.info(
            "WhatsApp: %s is outside the 24-hour window; message held, re-open template queued",
            mask_phone(phone),
        )
        await asyncio.to_thread(
            self.outbox.enqueue, phone, "template", template=self.settings.reopen_template, now=self.clock()
        )
        return None

    async def _within_tier(self, message: OutboxMessage) -> bool:
        """Whether a template may open a conversation with the patient now under the sender's Meta tier; if not, the
        message waits in the outbox until a place frees up (a dead letter if its deadline comes first)."""
        frees_at = await asyncio.to_thread(self.budget.admit, message.phone, self.clock())
        if frees_at is None:
            return True
        reason = (
            f"Meta's limit of {self.settings.daily_recipient_limit} patients a day reached; "
            f"waiting for a place at {frees_at:%H:%M} UTC"
        )
        logger.warning("WhatsApp: message %d to %s: %s", message.id, mask_phone(message.phone), reason)
        await asyncio.to_thread(
            self.outbox.retry_at, message, "queued", min(frees_at, message.deadline_at), reason
        )
        return False

    async def _tap_content(self, message: OutboxMessage) -> Optional[str]:
        """The ContentSid that shows the message's offer as buttons; None when it goes as numbered text."""
        if message.offer is None or self.settings.sandbox or not self.settings.tap_to_answer.enabled:
            return None
        return await self.content.sid_for(message.offer)

    def _content_sid(self, name: str) -> str:
        return self.settings.templates.get(name) or (name if name.startswith("HX") else "")

    def _part(self, message: OutboxMessage, index: int) -> Dict[str, Any]:
        if message.route == "tap" and message.offer is not None:
            return {
                "content_sid": self.content.cached(message.offer),
                "content_variables": json.dumps(content_variables(message.offer)),
            }
        if message.route == "template":
            data: Dict[str, Any] = {"content_sid": self._content_sid(message.template or "")}
            if message.variables:
                data["content_variables"] = json.dumps(message.variables)
            return data
        parts = chunk_text(message.text or "") if (message.text or "").strip() else [""]
        data = {"body": parts[index]} if parts[index] else {}
        if message.media_url and index == 0:
            data["media_url"] = [message.media_url]
        return data

    def _log_sandbox(self, message: OutboxMessage) -> None:
        for index in range(message.parts_total):
            data = self._part(message, index)
            kind = "template" if "content_sid" in data else ("media" if "media_url" in data else "text")
            logger.info(
                "WhatsApp sandbox: would send %s (%d chars) to %s",
                kind,
                len(data.get("body", "")),
                mask_phone(message.phone),
            )
            logger.debug("WhatsApp sandbox message to %s: %s", mask_phone(message.phone), data)

    async def _post_parts(self, message: OutboxMessage) -> None:
        tries = 1
        while True:
            index = message.parts_done
            kind, sid, code, reason = await self._post(message, index)
            if kind == "accepted" and sid:
                logger.info("WhatsApp: sent %s %s to %s", message.route, sid, mask_phone(message.phone))
                if await asyncio.to_thread(self.outbox.record_part, message.id, index, sid, self.clock()):
                    return
                message = await asyncio.to_thread(self.outbox.get, message.id)
                continue
            if kind == "window" and index == 0 and message.route == "free":
                logger.info(
                    "WhatsApp: %s is outside the 24-hour window (63016), sending the template",
                    mask_phone(message.phone),
                )
                await asyncio.to_thread(self.contacts.close_window, message.phone)
                routed = await self._route(message, window_closed=True)
                if routed is None:
                    return
                message = routed
                continue
            if kind == "fatal" and message.route == "tap" and message.offer is not None:
                self.content.failed(message.offer, reason)  # the numbered text needs no template
                parts = len(chunk_text(message.text or ""))
                await asyncio.to_thread(self.outbox.set_route, message, "free", parts)
                message = replace_route(message, "free", parts)
                continue
            level = logging.WARNING if kind in ("retry", "unknown") else logging.ERROR
            logger.log(level, "WhatsApp: message %d to %s: %s", message.id, mask_phone(message.phone), reason)
            if kind == "unknown":
                later = self.clock() + dt.timedelta(seconds=self.settings.reconcile_after_seconds)
                await asyncio.to_thread(self.outbox.retry_at, message, "unknown", later, reason, code)
                return
            if kind != "retry":
                await asyncio.to_thread(self.outbox.settle, message, "dead", reason, code, self.clock())
                return
            attempt = message.attempts + tries - 1
            if tries < self.settings.max_attempts and not self.twilio_looks_down:
                delay = self._backoff(attempt, self.settings.max_backoff_seconds)
                if self.clock() + dt.timedelta(seconds=delay) < message.deadline_at:
                    logger.warning(
                        "WhatsApp: retrying message %d in %.2fs (attempt %d)", message.id, delay, tries + 1
                    )
                    await self._sleep(delay)
                    tries += 1
                    continue
            await self._retry_later(message, attempt, reason, code)
            return

    async def _retry_later(
        self, message: OutboxMessage, attempt: int, reason: str, code: Optional[int]
    ) -> None:
        """Leave it to the relay after a backoff (the last try at its deadline); once the deadline has passed it
        becomes a dead letter with the last error as its reason."""
        now = self.clock()
        if now >= message.deadline_at:
            dead = f"deadline passed after {message.attempts} attempts; last error: {reason}"
            logger.error(
                "WhatsApp: message %d to %s is a dead letter: %s", message.id, mask_phone(message.phone), dead
            )
            await asyncio.to_thread(self.outbox.settle, message, "dead", dead, code, now)
            return
        backoff = dt.timedelta(seconds=self._backoff(attempt, self.settings.relay_max_backoff_seconds))
        later = min(now + backoff, message.deadline_at)
        await asyncio.to_thread(self.outbox.retry_at, message, "queued", later, reason, code)

    def _backoff(self, attempt: int, cap: float) -> float:
        delay = min(cap, self.settings.backoff_seconds * 2 ** max(0, attempt - 1))
        return delay * (0.5 + self._jitter())

    async def _post(self, message: OutboxMessage, index: int) -> Outcome:
        """One POST of one part, after its pacing slot."""
        payload = dict(
            self._part(message, index),
            to=whatsapp_address(message.phone),
            from_=whatsapp_address(self.settings.whatsapp_number),
        )
        if self.settings.status_callback_url:
            # The marker lets the callback name the message even when the POST's answer was lost (a timeout).
            payload["status_callback"] = f"{self.settings.status_callback_url}?outbox={message.id}.{index}"
        await self.pacer.wait()
        try:
            created = await self._twilio().messages.create_async(**payload)
            outcome: Outcome = ("accepted", str(created.sid), None, "")
        except (TwilioRestException, asyncio.TimeoutError, aiohttp.ClientError) as error:
            outcome = _classify(error)
        self.outcomes[outcome[0]] = self.outcomes.get(outcome[0], 0) + 1
        if outcome[0] == "accepted":
            self.failing_patients.clear()
        else:
            self.failing_patients.add(message.phone)
        return outcome

    @property
    def twilio_looks_down(self) -> bool:
        return len(self.failing_patients) >= OUTAGE_FAILURES

    async def _reconcile(self, message: OutboxMessage) -> Optional[OutboxMessage]:
        """The last POST's outcome is unknown: find it at Twilio before posting again. Only this worker may send
        to the patient now, so a message Twilio lists for them since the attempt began, and not yet recorded, is
        this one. Returns the message ready to (re)post, or None when it is settled or must wait."""
        started = (message.attempt_started_at or message.created_at) - dt.timedelta(seconds=5)
        try:
            listed = await self._twilio().messages.list_async(
                to=whatsapp_address(message.phone),
                from_=whatsapp_address(self.settings.whatsapp_number),
                limit=20,
            )
        except (TwilioRestException, asyncio.TimeoutError, aiohttp.ClientError) as error:
            reason = f"outcome unknown and Twilio's message list unavailable ({type(error).__name__})"
            if self.clock() >= message.deadline_at:
                await asyncio.to_thread(
                    self.outbox.settle, message, "dead", reason + "; may have been sent", None, self.clock()
                )
            else:
                later = self.clock() + dt.timedelta(
                    seconds=self._backoff(message.attempts, self.settings.relay_max_backoff_seconds)
                )
                await asyncio.to_thread(self.outbox.retry_at, message, "unknown", later, reason)
            return None
        recent = [m for m in listed if m.date_created is not None and m.date_created >= started]
        known = set(await asyncio.to_thread(self.outbox.known_sids, [str(m.sid) for m in recent]))
        found = sorted((m for m in recent if str(m.sid) not in known), key=lambda m: m.date_created)
        if found:
            logger.info("WhatsApp: message %d reconciled: Twilio has it as %s", message.id, found[0].sid)
            if await asyncio.to_thread(
                self.outbox.record_part, message.id, message.parts_done, str(found[0].sid), self.clock()
            ):
                return None
            return await asyncio.to_thread(self.outbox.get, message.id)  # the next part is still to go
        if self.clock() >= message.deadline_at:
            await asyncio.to_thread(
                self.outbox.settle,
                message,
                "dead",
                "deadline passed; the last attempt never reached Twilio",
                None,
                self.clock(),
            )
            return None
        logger.info("WhatsApp: message %d never reached Twilio; sending it again", message.id)
        return await asyncio.to_thread(self.outbox.restart, message, self.clock())


def replace_route(message: OutboxMessage, route: str, parts_total: int) -> OutboxMessage:
    return dataclasses.replace(message, route=route, parts_total=parts_total)


class OutboxRelay:
    """Sends what the callers could not: retries when due, reconciliations, messages of crashed workers, held
    messages' re-open templates. Run one or more (the reminder dispatcher's process runs one); they share the work
    through the outbox's claims and the pace through the sender's limiter.

    When a whole pass fails (Twilio down), the relay stops retrying every message and sends one probe per interval
    (doubling to `relay_max_backoff_seconds`), so an outage does not spend the sender's rate on doomed POSTs; the
    first accepted probe makes everything waiting due at once, and the pacer spreads the backlog."""

    def __init__(self, sender: WhatsAppSender, concurrency: int = 20, poll_seconds: float = 1.0) -> None:
        self.sender = sender
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self._slots = asyncio.Semaphore(concurrency)
        self.probe_until: Optional[dt.datetime] = None  # in an outage: no pass before this
        self._probe_interval = 0.0
        self._probed: Set[str] = set()  # patients probed in this outage: each probe goes to another patient

    async def run_once(self) -> int:
        """One pass: expire what is past its deadline, then drain every patient with a message due (one, as a
        probe, during an outage). Returns how many patients were drained."""
        now = self.sender.clock()
        expired = await asyncio.to_thread(self.sender.outbox.expire, now)
        if expired:
            logger.warning(
                "WhatsApp outbox: %d messages passed their deadline unsent (dead letters)", expired
            )
        if self.probe_until is not None and now < self.probe_until:
            return 0
        phones = await asyncio.to_thread(self.sender.outbox.due_phones, self.concurrency * 10, now)
        probing = self.probe_until is not None or self.sender.twilio_looks_down
        if probing and phones:
            phones = [self._next_probe(phones)]
        self.sender.outcomes.clear()
        await asyncio.gather(*(self._drain(phone, probing) for phone in phones))
        await self._watch_for_outage(now)
        return len(phones)

    def _next_probe(self, phones: List[str]) -> str:
        """The first due patient not yet probed in this outage (all probed: start again), so one patient whose
        number Twilio refuses cannot keep the relay believing Twilio is down while the others wait."""
        fresh = [phone for phone in phones if phone not in self._probed] or phones
        if fresh is phones:
            self._probed.clear()
        self._probed.add(fresh[0])
        return fresh[0]

    async def _watch_for_outage(self, now: dt.datetime) -> None:
        accepted = self.sender.outcomes.get("accepted", 0)
        failed = self.sender.outcomes.get("retry", 0) + self.sender.outcomes.get("unknown", 0)
        if accepted and self.probe_until is not None:
            released = await asyncio.to_thread(self.sender.outbox.release_backoff, self.sender.clock())
            logger.warning("WhatsApp outbox: Twilio answers again; %d waiting messages are due now", released)
            self.probe_until, self._probe_interval = None, 0.0
            self._probed.clear()
        elif not accepted and failed and (self.sender.twilio_looks_down or self.probe_until):
            self._probe_interval = min(
                self.sender.settings.relay_max_backoff_seconds, max(5.0, self._probe_interval * 2)
            )
            self.probe_until = now + dt.timedelta(seconds=self._probe_interval)
            logger.warning(
                "WhatsApp outbox: Twilio is failing every send; probing every %.0f s", self._probe_interval
            )

    async def _drain(self, phone: str, probing: bool) -> None:
        async with self._slots:
            if not probing and self.sender.twilio_looks_down:
                return  # Twilio started failing during this pass: the rest waits for the probe
            try:
                await self.sender.drain(phone)
            except Exception:  # noqa: BLE001 - one patient's failure must not stop the others' messages
                logger.exception(
                    "WhatsApp outbox: sending to %s failed; its lease will lapse and it is retried",
                    mask_phone(phone),
                )

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Until `stop`: a pass whenever work is due, else a poll; database outages are logged, never fatal."""
        while not stop.is_set():
            busy = 0
            try:
                busy = await self.run_once()
            except Exception:  # noqa: BLE001 - the relay must outlive a database restart
                logger.exception("WhatsApp outbox relay pass failed; retrying in %.0f s", self.poll_seconds)
            if busy:
                continue
            try:
                await asyncio.wait_for(stop.wait(), self.poll_seconds)
            except asyncio.TimeoutError:
                pass
