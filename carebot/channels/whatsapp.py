"""Rasa channel `whatsapp`: Twilio's WhatsApp webhook in, Twilio's REST API out.

Replaces Rasa's stock `twilio` connector, which is unsafe for patients (see issue 4). One message's path:
signature header present (else 403 before a byte is read) → body read up to 64 KB (else 413) → signature check on
the raw body → the message kept in the inbox (`carebot/channels/inbound.py`, the channel's database), which refuses
a MessageSid it has seen (a replay after a restart too) → 204 → in the background, in arrival order per patient
across replicas: opt-out words, button replies, media/location → `UserMessage` → replies via `WhatsAppSender`, each
under a key of its MessageSid → the message leaves the inbox. A process that dies mid-turn leaves the message in
the inbox; its lease lapses and a replica (or the restarted process) replays the turn: what was already sent is not
sent again, and a turn Rasa had already recorded is not run again.

What a patient types is always text: a body like `/medication_reminder{…}` never reaches Rasa as an intent. Only
payloads the bot issued carry intents: numbered buttons it offered to this very number, and template quick replies
(bare `/intent`, no entities) whose payloads the clinic fixed in its approved templates.

Conversation ids are Twilio's address of the patient, normalised: `whatsapp:+447700900123` (what Rasa's stock
connector used too); `carebot.phones.normalize_phone` turns it into the E.164 number stored elsewhere. Enable it in
credentials.yml with the block `carebot.channels.whatsapp.WhatsAppInput:` (see
docs/operations.md); every key falls back to its environment variable.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import logging
import re
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Set,
    Text,
    Tuple,
    Union,
)

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.core.events import UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from carebot import tokens
from carebot.channels.buttons import ButtonMemory, buttons_from_rasa, render_numbered, tap_offer
from carebot.channels.contacts import forget_number
from carebot.channels.inbound import InboundMessage, InboundQueue, reply_key
from carebot.channels.optout import OptCommand, opt_command
from carebot.channels.outbox import DEADLINES
from carebot.channels.signature import FormParams, is_valid_signature, parse_form, signed_url
from carebot.channels.ttl_store import TTLStore, ttl_store_from_url
from carebot.channels.twilio_sender import OUTSIDE_WINDOW_ERROR, SendResult, WhatsAppSender, setting
from carebot.handoff.client import HandoffClient, HandoffError
from carebot.handoff.model import PrivacyRequest
from carebot.payloads import FORGET_NUMBER
from carebot.phones import mask_phone, normalize_phone, whatsapp_address

logger = logging.getLogger(__name__)

CHANNEL_NAME = "whatsapp"
# How long a worker's claim on a message lasts unless renewed (every third of it while the worker lives): a dead
# worker's messages are taken over after at most this long. A turn may take longer; only death stops the renewal.
INBOUND_LEASE_SECONDS = 30.0
INBOUND_MAX_ATTEMPTS = 3  # claims of one message before it counts as the cause of its workers' deaths
REOPEN_GUARD_SECONDS = 3600  # at most one re-open template per patient per hour after 63016 status callbacks
MAX_WEBHOOK_BYTES = 64 * 1024  # Twilio's largest message form is a few KB: anything bigger is not Twilio
TEMPLATE_PAYLOAD = re.compile(
    r"^/[A-Za-z_]+$"
)  # a quick reply of an approved template: an intent, no entities
# A patient's privacy request is the bot's to carry out (confirmation, erasure in every store), also while staff
# have the conversation: the channel hands the conversation back instead of adding the message to the case.
PRIVACY_INTENTS = {
    "erase_my_data": PrivacyRequest.ERASURE,
    "withdraw_consent": PrivacyRequest.CONSENT_WITHDRAWN,
}
IntentOf = Callable[[str], Awaitable[Optional[str]]]
SEND_MEDIA_INTENT = "send_media"
SHARE_LOCATION_INTENT = "share_location"

DEFAULT_REPLIES = {
    "opt_out_reply": "You will no longer receive WhatsApp messages from us, reminders included. "
    "Reply START at any time to receive them again.",
    "opt_in_reply": "Welcome back: you will receive WhatsApp messages and reminders from us again. "
    "Reply STOP at any time to stop them.",
    "opted_out_notice": "You asked us not to message you on WhatsApp, so we cannot answer here. "
    "Reply START to receive messages again.",
    "error_reply": "Sorry, something went wrong on our side and I could not answer. "
    "Please try again in a few minutes.",
}


class WhatsAppOutput(OutputChannel):
    """Rasa responses → WhatsApp messages; buttons become tap-to-answer buttons or a list picker (the sender's
    choice, inside the 24-hour window), else a numbered list; the patient answers by tap, number or title."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    def __init__(self, sender: WhatsAppSender, buttons: ButtonMemory) -> None:
        self.sender = sender
        self.buttons = buttons
        self.to_forget: Set[str] = set()  # numbers whose erasure the bot confirmed in the turn being handled

    async def _send(self, recipient_id: Text, **message: Any) -> SendResult:
        result = await self.sender.send(recipient_id, **message)
        if not result.ok:
            logger.error("WhatsApp reply to %s not delivered: %s", mask_phone(recipient_id), result.error)
        return result

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self._send(recipient_id, text=text)

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._send(recipient_id, media_url=image)

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        await self._send_offering(recipient_id, text, buttons)

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        """`{"template": name, "variables": {...}, "text": "…", "buttons": [...]}`: inside the window the text (with
        numbered buttons), outside it the template — how a reminder speaks, with `"outbox": {"key", "kind",
        "deadline"}` so a repeated trigger adds nothing and retries stop at its grace period. Or
        `{"media_url": url, "text": caption}`.
        Or `{"forget_number": true}`: the patient's erasure is done, forget the number after this turn (other
        keys of that payload are for the tracker store)."""
        if json_message.get(FORGET_NUMBER):
            self.to_forget.add(normalize_phone(recipient_id))
            return
        if not any(json_message.get(key) for key in ("text", "template", "media_url")):
            logger.debug(
                "WhatsApp: custom payload with nothing WhatsApp can show, skipped: %s", sorted(json_message)
            )
            return
        await self._send_offering(
            recipient_id,
            json_message.get("text"),
            json_message.get("buttons") or [],
            template=json_message.get("template"),
            variables=json_message.get("variables"),
            media_url=json_message.get("media_url"),
            **_outbox_fields(json_message.get("outbox") or {}),
        )

    async def _send_offering(
        self, recipient_id: Text, text: Optional[Text], buttons: List[Dict[Text, Any]], **message: Any
    ) -> None:
        """Send, remembering the buttons only if the patient actually gets them (tap-to-answer or numbered)."""
        if not buttons:
            await self._send(recipient_id, text=text, **message)
            return
        offered = buttons_from_rasa(buttons)
        phone = normalize_phone(recipient_id)
        await self.buttons.remember(phone, offered)  # before sending: the answer may come back at once
        offer = None if message.get("media_url") else tap_offer(text or "", offered)
        result = await self._send(
            recipient_id, text=render_numbered(text or "", offered), offer=offer, **message
        )
        if result.via_template or result.status not in ("sent", "sandbox", "queued"):
            await self.buttons.forget(phone)  # the patient never saw the numbered list


def _outbox_fields(outbox: Mapping[str, Any]) -> Dict[str, Any]:
    """The outbox keys of a bot payload (a reminder's idempotency key, kind and deadline) as `send` arguments."""
    fields: Dict[str, Any] = {}
    if outbox.get("key"):
        fields["key"] = str(outbox["key"])
    if outbox.get("kind") in DEADLINES:
        fields["kind"] = outbox["kind"]
    if outbox.get("deadline"):
        with contextlib.suppress(ValueError, TypeError):
            fields["deadline"] = dt.datetime.fromisoformat(str(outbox["deadline"]))
    return fields


class TurnOutput(WhatsAppOutput):
    """The output of one inbound message's turn: every message it sends carries the turn's next reply key, so a
    turn replayed after a crash sends only what the dead worker had not (the outbox adds nothing for a known key)."""

    def __init__(self, base: WhatsAppOutput, message_sid: str) -> None:
        super().__init__(base.sender, base.buttons)
        self.to_forget = base.to_forget
        self.message_sid = message_sid
        self._sent = itertools.count()

    async def _send(self, recipient_id: Text, **message: Any) -> SendResult:
        message.setdefault("key", reply_key(self.message_sid, next(self._sent)))
        return await super()._send(recipient_id, **message)

    async def send_notice(self, phone: str, text: str, force: bool = False, part: str = "") -> None:
        """A channel notice (opt-out confirmation, apology) in this turn, keyed like the bot's replies, or by `part`
        when it may follow replies a dead worker sent (an apology must not take the key of one of them)."""
        keyed = {"key": reply_key(self.message_sid, part)} if part else {}
        await self._send(phone, text=text, force=force, kind="notice", **keyed)


def _media(form: FormParams) -> List[Dict[str, str]]:
    try:
        count = int(form.first("NumMedia", "0") or 0)
    except ValueError:
        count = 0
    return [
        {"url": form.first(f"MediaUrl{i}"), "content_type": form.first(f"MediaContentType{i}")}
        for i in range(count)
        if form.first(f"MediaUrl{i}")
    ]


def _location(form: FormParams) -> Optional[Dict[str, Any]]:
    try:
        latitude, longitude = float(form.first("Latitude")), float(form.first("Longitude"))
    except ValueError:
        return None
    return {
        "latitude": latitude,
        "longitude": longitude,
        "address": form.first("Address") or None,
        "label": form.first("Label") or None,
    }


def _intent_message(intent: str, entities: Mapping[str, Any]) -> str:
    """Rasa's `/intent{"entity": value}` syntax: the message skips NLU and arrives as this intent."""
    return f"/{intent}{json.dumps(dict(entities))}" if entities else f"/{intent}"


def as_plain_text(body: str) -> str:
    """The patient's words with leading slashes removed, so Rasa never reads them as `/intent{entities}`."""
    return body.lstrip("/").strip() if body.startswith("/") else body


async def read_limited(request: Request, limit: int) -> Optional[bytes]:
    """The streamed body, or None as soon as it (or its declared length) exceeds `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    while (chunk := await request.stream.read()) is not None:
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def intent_reader(app: Any) -> IntentOf:
    """The intent Rasa's own NLU gives a text (the agent of the Sanic app the channel is mounted on); None when no
    model is loaded. Asked only while staff have the conversation, so other messages are understood once."""

    async def intent_of(text: str) -> Optional[str]:
        agent = getattr(app.ctx, "agent", None)
        parse = getattr(agent, "parse_message", None)
        if parse is None or not agent.is_ready():
            return None
        parsed = await parse(text)
        return (parsed.get("intent") or {}).get("name")

    return intent_of


async def _no_handler(message: UserMessage) -> None:
    raise RuntimeError("the WhatsApp channel handles messages only once Rasa has mounted its blueprint")


async def _turn_recorded(app: Any, message: InboundMessage) -> bool:
    """True when Rasa's tracker already holds this message: the worker died after Rasa saved the turn (so after
    every reply was in the outbox), and running it again would record the patient's words twice."""
    store = getattr(getattr(app.ctx, "agent", None), "tracker_store", None)
    if store is None:
        return False
    tracker = await store.retrieve(whatsapp_address(message.phone))
    return tracker is not None and any(
        isinstance(event, UserUttered) and event.message_id == message.message_sid for event in tracker.events
    )


def _case_text(text: str, metadata: Mapping[str, Any]) -> str:
    """What staff read in a handoff case: the patient's own words (not a /intent payload) and what they attached."""
    words = (metadata.get("button_reply") or {}).get("text") or ("" if text.startswith("/") else text)
    attached = [f"[{m.get('content_type') or 'file'}] {m.get('url')}" for m in metadata.get("media") or []]
    location = metadata.get("location")
    if location:
        attached.append(f"[location] {location['latitude']},{location['longitude']}")
    return " ".join(part for part in [words or metadata.get("button_text") or "", *attached] if part)


class WhatsAppInput(InputChannel):
    """Twilio WhatsApp webhook: POST /webhooks/whatsapp/webhook (messages), POST /webhooks/whatsapp/status."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """Never fails for missing credentials: without them the channel runs in sandbox mode."""
        return cls(credentials or {})

    def __init__(
        self,
        credentials: Optional[Mapping[str, Any]] = None,
        sender: Optional[WhatsAppSender] = None,
        store: Optional[TTLStore] = None,
        handoff: Optional[HandoffClient] = None,
    ) -> None:
        credentials = credentials or {}
        self.sender = sender or WhatsAppSender.from_env(credentials)
        self.settings = self.sender.settings
        self.store = store or ttl_store_from_url(setting(credentials, "redis_url"))
        self.buttons = ButtonMemory(self.store)
        self.output = WhatsAppOutput(self.sender, self.buttons)
        self.replies = {key: str(credentials.get(key) or text) for key, text in DEFAULT_REPLIES.items()}
        lease = float(credentials.get("inbound_lease_seconds") or INBOUND_LEASE_SECONDS)
        self.inbound = InboundQueue(self.sender.contacts.engine, dt.timedelta(seconds=lease))
        self._on_new_message: Callable[[UserMessage], Awaitable[Any]] = _no_handler
        self._working: Dict[str, bool] = {}  # patients this process works on → a message came meanwhile
        self._holding: Set[int] = set()  # inbox rows this process is handling (their leases are renewed)
        self._watcher: Optional[asyncio.Task] = None
        self._tasks: Set[asyncio.Task] = set()
        # Asked before every message (is a person handling this patient?): a short timeout, so a stuck backend
        # delays the bot by at most 2 s. BACKEND_URL, CAREBOT_BACKEND_TOKEN: see carebot/handoff/client.py.
        # Its token may only append to a case and ask whether one is open (least privilege: carebot/server/app.py).
        self.handoff = handoff or HandoffClient(
            timeout=2.0, connect_timeout=1.0, token_source=tokens.HANDOFF_CHANNEL
        )
        if not self.settings.auth_token:
            logger.warning(
                "WhatsApp: TWILIO_AUTH_TOKEN is not set, so webhook signatures cannot be checked and every "
                "webhook will be refused (403). Set it (any value works in sandbox mode) to try the channel."
            )

    def get_output_channel(self) -> OutputChannel:
        return self.output

    async def _verified_form(self, request: Request) -> Union[FormParams, HTTPResponse]:
        """The full form when `X-Twilio-Signature` matches, else the refusal to answer. An unsigned or oversized
        post is refused before its body is read or parsed, so it costs the server nothing."""
        signature = request.headers.get("X-Twilio-Signature")
        if signature and self.settings.auth_token:
            raw = await read_limited(request, MAX_WEBHOOK_BYTES)
            if raw is None:
                logger.warning(
                    "WhatsApp: refused a request to %s larger than %d bytes", request.path, MAX_WEBHOOK_BYTES
                )
                return response.text("request body too large", status=413)
            form = parse_form(raw.decode("utf-8", errors="replace"))
            if is_valid_signature(
                self.settings.auth_token, signed_url(request.url, self.settings.webhook_url), form, signature
            ):
                return form
        logger.warning("WhatsApp: refused a request to %s with a missing or wrong signature", request.path)
        return response.text("invalid signature", status=403)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        whatsapp = Blueprint("whatsapp_webhook", __name__)
        self._on_new_message = on_new_message

        @whatsapp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "sandbox": self.settings.sandbox})

        @whatsapp.route("/webhook", methods=["POST"], stream=True)
        async def webhook(request: Request) -> HTTPResponse:
            form = await self._verified_form(request)
            if isinstance(form, HTTPResponse):
                return form
            message_sid = form.first("MessageSid") or form.first("SmsMessageSid")
            if not message_sid or not form.first("From"):
                return response.text("not a message: MessageSid and From are required", status=400)
            try:
                first = await asyncio.to_thread(self.inbound.accept, message_sid, form)
            except Exception:  # not kept, so not acknowledged: Twilio's fallback or retry still has it
                logger.exception("WhatsApp: could not keep %s in the inbox", message_sid)
                return response.text("message not stored, try again", status=503)
            if not first:
                logger.info("WhatsApp: duplicate delivery of %s ignored", message_sid)
                return response.empty()
            self._take_up(normalize_phone(form.first("From")), request.app)
            return response.empty()

        @whatsapp.route("/status", methods=["POST"], stream=True)
        async def status(request: Request) -> HTTPResponse:
            form = await self._verified_form(request)
            if isinstance(form, HTTPResponse):
                return form
            self._in_background(self._handle_status(form, request.args.get("outbox", "")))
            return response.empty()

        @whatsapp.listener("after_server_start")
        async def watch(app: Any, *_: Any) -> None:
            self._watcher = asyncio.ensure_future(self._watch(app))

        @whatsapp.listener("before_server_stop")
        async def finish(*_: Any) -> None:
            """Let replies already being prepared leave before the process exits; what is left stays in the inbox
            and is taken over when its lease lapses."""
            if self._watcher is not None:
                self._watcher.cancel()
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=10)
            await self.sender.close()
            await self.store.close()
            await self.handoff.close()

        return whatsapp

    async def drained(self) -> None:
        """Returns once no work a webhook started is still running: the signal that a refused or repeated request
        has had every chance to do something (the tests wait on it, not on a sleep)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    def _in_background(self, work: Awaitable[None]) -> None:
        """Run after the acknowledgement (Twilio gives up after 15 s); kept referenced until done."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self, app: Any) -> None:
        """While the process lives: renew the leases of the messages it handles, and take up the messages nobody
        holds (their replica could not claim them, or died handling them)."""
        pause = self.inbound.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(pause)
            try:
                await asyncio.to_thread(self.inbound.renew, self.sender.worker_id, sorted(self._holding))
                for phone in await asyncio.to_thread(self.inbound.claimable_phones):
                    self._take_up(phone, app)
            except Exception:  # the database is away: try again next round, nothing is lost
                logger.exception("WhatsApp: could not look after the inbox")

    def _take_up(self, phone: str, app: Any) -> None:
        """Work through the patient's inbox unless this process already does (then it looks once more)."""
        if phone in self._working:
            self._working[phone] = True
            return
        self._working[phone] = False
        self._in_background(self._work_through(phone, app))

    async def _work_through(self, phone: str, app: Any) -> None:
        """The patient's messages one at a time, oldest first, for as long as this process can claim the head."""
        try:
            while True:
                self._working[phone] = False
                message = await asyncio.to_thread(self.inbound.claim_next, phone, self.sender.worker_id)
                if message is None:
                    if self._working[phone]:
                        continue
                    return
                self._holding.add(message.id)
                try:
                    await self._process(message, app)
                    await asyncio.to_thread(self.inbound.done, message)
                finally:
                    self._holding.discard(message.id)
                # After `done`, so that the erasure's checkpoint takes the inbox row too.
                if phone in self.output.to_forget:
                    await self._forget(phone)
        finally:
            del self._working[phone]

    async def _process(self, message: InboundMessage, app: Any) -> None:
        output = TurnOutput(self.output, message.message_sid)
        if (
            message.attempts > INBOUND_MAX_ATTEMPTS
        ):  # its turn killed every worker that took it: stop the loop
            logger.error(
                "WhatsApp: %s from %s was claimed %d times without finishing; given up",
                message.message_sid,
                mask_phone(message.phone),
                message.attempts - 1,
            )
            await self._apologise(message.phone, output)
            return
        try:
            if message.replayed and await _turn_recorded(app, message):
                logger.info("WhatsApp: %s was answered before its worker stopped", message.message_sid)
                return
            await self._handle(message.form, message.phone, output, intent_reader(app))
        except Exception:
            logger.exception(
                "WhatsApp: handling %s from %s failed", message.message_sid, mask_phone(message.phone)
            )
            await self._apologise(message.phone, output)

    async def _apologise(self, phone: str, output: TurnOutput) -> None:
        """A patient never meets silence: say something went wrong, even if the failure was ours."""
        try:
            await output.send_notice(phone, self.replies["error_reply"], part="sorry")
        except Exception:
            logger.exception("WhatsApp: could not tell %s about the failure", mask_phone(phone))

    async def _handle(self, form: FormParams, phone: str, output: TurnOutput, intent_of: IntentOf) -> None:
        contacts = self.sender.contacts
        await asyncio.to_thread(contacts.record_inbound, phone)
        command = opt_command(form.first("Body"))
        if command:
            await self._apply_opt_command(phone, command, output)
            return
        if await asyncio.to_thread(contacts.is_opted_out, phone):
            await output.send_notice(phone, self.replies["opted_out_notice"], force=True)
            return
        await self.sender.deliver_held(phone)  # what the re-open template announced comes before the new turn
        text, metadata = await self._user_text(form, phone)
        if not text:
            logger.info(
                "WhatsApp: %s from %s has no text, media or location; ignored",
                metadata["message_sid"],
                mask_phone(phone),
            )
            return
        if await self._held_for_staff(phone, text, metadata, intent_of):
            return
        logger.info("WhatsApp: message %s from %s", metadata["message_sid"], mask_phone(phone))
        await self._on_new_message(
            UserMessage(
                text,
                output,
                whatsapp_address(phone),
                input_channel=CHANNEL_NAME,
                message_id=metadata["message_sid"],
                metadata=metadata,
            )
        )

    async def _forget(self, phone: str) -> None:
        """The patient's erasure, the channel's part, once the last reply has left: the 24-hour window, opt-out,
        held messages, the buttons offered and the re-open guard."""
        self.output.to_forget.discard(phone)
        await asyncio.to_thread(forget_number, self.sender.contacts.engine, phone)
        await self.buttons.forget(phone)
        await self.store.delete(f"reopen:{phone}")
        logger.info(
            "WhatsApp: %s erased from the channel's state at the patient's request", mask_phone(phone)
        )

    async def _held_for_staff(
        self, phone: str, text: str, metadata: Mapping[str, Any], intent_of: IntentOf
    ) -> bool:
        """True when staff have this patient's conversation (an open handoff case): the message was added to the
        case and must not reach Rasa, whose paused conversation would record it and answer nothing. A privacy
        request ("delete my data", "I withdraw consent") is not added: the case is closed (staff get a notice without
        the patient's name) and the resumed bot carries the request out. If the backend cannot be asked, the message
        goes to Rasa: a paused bot stays silent, a running one answers."""
        conversation = whatsapp_address(phone)
        try:
            if await self.handoff.open_case_of(conversation) is None:
                return False
            if await self._handed_back_for_privacy(conversation, text, intent_of):
                return False
            case_id = await self.handoff.append_message(conversation, _case_text(text, metadata))
        except HandoffError as error:
            logger.warning(
                "WhatsApp: handoff state of %s unknown (%s); passing the message to Rasa",
                mask_phone(phone),
                error,
            )
            return False
        if case_id is None:
            return False
        logger.info(
            "WhatsApp: message %s from %s added to handoff case %s",
            metadata["message_sid"],
            mask_phone(phone),
            case_id,
        )
        return True

    async def _handed_back_for_privacy(self, conversation: str, text: str, intent_of: IntentOf) -> bool:
        """True when `text` is a privacy request and the backend closed the case and resumed the bot for it. If the
        backend cannot, the message stays with staff (added to the case), who then handle the request."""
        request = PRIVACY_INTENTS.get(await intent_of(text) or "")
        if request is None:
            return False
        try:
            case_id = await self.handoff.privacy_request(conversation, request)
        except HandoffError as error:
            logger.warning(
                "WhatsApp: could not hand %s back to the bot for a privacy request (%s); it goes to staff",
                mask_phone(conversation),
                error,
            )
            return False
        logger.info(
            "WhatsApp: privacy request from %s: handoff case %s closed, the bot handles it",
            mask_phone(conversation),
            case_id,
        )
        return True

    async def _apply_opt_command(self, phone: str, command: OptCommand, output: TurnOutput) -> None:
        opted_out = command == "stop"
        await asyncio.to_thread(self.sender.contacts.set_opted_out, phone, opted_out)
        if opted_out:  # they asked for nothing more: held and queued messages are discarded
            await asyncio.to_thread(self.sender.contacts.take_held, phone)
            await asyncio.to_thread(self.sender.outbox.cancel_unsent, phone, "patient opted out")
        logger.info("WhatsApp: %s opted %s", mask_phone(phone), "out" if opted_out else "back in")
        await output.send_notice(
            phone, self.replies["opt_out_reply" if opted_out else "opt_in_reply"], force=True
        )

    async def _user_text(self, form: FormParams, phone: str) -> Tuple[str, Dict[str, Any]]:
        """The text handed to Rasa and the message metadata (WaId, ProfileName, media, location, buttons)."""
        body = form.first("Body").strip()
        media, location = _media(form), _location(form)
        metadata: Dict[str, Any] = {
            "channel": CHANNEL_NAME,
            "message_sid": form.first("MessageSid") or form.first("SmsMessageSid"),
            "wa_id": form.first("WaId") or None,
            "profile_name": form.first("ProfileName") or None,
            "media": media,
            "location": location,
            "button_payload": form.first("ButtonPayload") or None,
            "button_text": form.first("ButtonText") or None,
        }
        # Any new message ends the previous turn, so the remembered buttons are consumed even when unused. A tapped
        # option names itself by id: ButtonPayload for a quick reply, ListId for a list picker.
        tapped = form.first("ButtonPayload") or form.first("ListId")
        chosen = await self.buttons.take(phone, body, tapped)
        if metadata["button_payload"] and TEMPLATE_PAYLOAD.match(metadata["button_payload"]):
            return metadata[
                "button_payload"
            ], metadata  # a template quick-reply whose payload is a Rasa intent
        if chosen:
            metadata["button_reply"] = {"text": body, "payload": chosen}
            return chosen, metadata
        if as_plain_text(body):
            return as_plain_text(body), metadata
        if media:
            kind = media[0]["content_type"].split("/")[0] or "file"
            return _intent_message(SEND_MEDIA_INTENT, {"media_type": kind}), metadata
        if location:
            return _intent_message(SHARE_LOCATION_INTENT, {}), metadata
        return metadata["button_text"] or "", metadata

    async def _handle_status(self, form: FormParams, marker: str) -> None:
        """Record the delivery status in the outbox (the URL's `outbox` marker settles a message whose POST timed
        out); a 63016 failure means the window closed, so re-open it with the template."""
        recipient = normalize_phone(form.first("To"))
        error_code = form.first("ErrorCode")
        status = form.first("MessageStatus") or form.first("SmsStatus") or "unknown"
        logger.info(
            "WhatsApp: %s to %s is %s%s",
            form.first("MessageSid"),
            mask_phone(recipient),
            status,
            f" (error {error_code})" if error_code else "",
        )
        try:
            await asyncio.to_thread(
                self.sender.outbox.record_status,
                form.first("MessageSid"),
                status,
                int(error_code) if error_code.isdigit() else None,
                marker,
            )
        except Exception:  # the relay's reconciliation still finds the message; the status is only late
            logger.exception("WhatsApp: could not record the status of %s", form.first("MessageSid"))
        if error_code != str(OUTSIDE_WINDOW_ERROR) or not recipient:
            return
        try:
            await asyncio.to_thread(self.sender.contacts.close_window, recipient)
            if await self.store.add(f"reopen:{recipient}", "1", REOPEN_GUARD_SECONDS):
                await self.sender.send(recipient, template=self.settings.reopen_template, kind="template")
        except Exception:
            logger.exception("WhatsApp: could not re-open the conversation with %s", mask_phone(recipient))
