"""Loopback harness for the WhatsApp channel: a recording stand-in for Twilio's REST API, the channel mounted in
a real Sanic server the way Rasa mounts it, a scripted bot, and a client that signs webhooks like Twilio."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import socket
import uuid
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlencode

import aiohttp
import pytest
import pytest_asyncio
from rasa.core.channels.channel import UserMessage, register
from sanic import Sanic

from carebot.channels.contacts import ContactStore
from carebot.channels.signature import sign
from carebot.channels.ttl_store import MemoryTTLStore, TTLStore
from carebot.channels.twilio_sender import TwilioSettings, WhatsAppSender
from carebot.channels.whatsapp import WhatsAppInput
from carebot.clock import utc_now
from carebot.simulator.twilio_standin import TwilioStandIn, twilio_error  # noqa: F401 - re-exported for the tests

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token"
CLINIC_NUMBER = "+14155238886"
PATIENT = "+447700900123"
PUBLIC_URL = "https://carebot.example.org"
WEBHOOK_PATH = "/webhooks/whatsapp/webhook"
STATUS_PATH = "/webhooks/whatsapp/status"
TEMPLATES = {"conversation_reopen": "HX" + "a" * 32, "medication_reminder": "HX" + "b" * 32}


class ManualClock:
    """The sender's and the stand-in's clock in tests: starts now, moves only when told (retries, deadlines)."""

    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest_asyncio.fixture
async def twilio(clock: ManualClock) -> AsyncIterator[TwilioStandIn]:
    stand_in = TwilioStandIn(clock=clock, auth_token=AUTH_TOKEN)
    await stand_in.start()
    yield stand_in
    await stand_in.stop()


@pytest.fixture
def contacts(tmp_path: Any) -> ContactStore:
    return ContactStore(f"sqlite:///{tmp_path / 'whatsapp.db'}")


class ScriptedBot:
    """Stands in for Rasa's agent: records each UserMessage and answers with scripted responses."""

    def __init__(self) -> None:
        self.messages: List[UserMessage] = []
        self.respond: Callable[[UserMessage], List[Dict[str, Any]]] = lambda message: []
        self.before_reply: Optional[Callable[[UserMessage], Any]] = None
        self._changed = asyncio.Condition()

    async def __call__(self, message: UserMessage) -> None:
        async with self._changed:
            self.messages.append(message)
            self._changed.notify_all()
        if self.before_reply:
            await self.before_reply(message)
        for response in self.respond(message):
            await message.output_channel.send_response(message.sender_id, dict(response))

    async def wait_for(self, count: int, timeout: float = 10) -> List[UserMessage]:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.messages) >= count), timeout)
        return self.messages

    def texts(self) -> List[str]:
        return [m.text for m in self.messages]


class FakeAgent:
    """What `register` calls: `app.ctx.agent.handle_message`."""

    def __init__(self, bot: ScriptedBot) -> None:
        self.handle_message = bot


def free_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


async def serve(app: Sanic) -> Tuple[Any, str]:
    """Start a Sanic app on a free loopback port inside the test's event loop; returns (server, base URL)."""
    sock = free_socket()
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    await server.start_serving()
    return server, f"http://127.0.0.1:{sock.getsockname()[1]}"


async def stop(server: Any) -> None:
    await server.before_stop()
    server.close()
    await server.wait_closed()
    await server.after_stop()


def inbound_form(body: str = "hello", sender: str = PATIENT, **fields: str) -> Dict[str, str]:
    """Form fields of an inbound WhatsApp message, as Twilio sends them (also used by tests/e2e)."""
    digits = sender.lstrip("+")
    form = {
        "SmsMessageSid": "",
        "NumMedia": "0",
        "ProfileName": "Alex Patient",
        "WaId": digits,
        "Body": body,
        "To": f"whatsapp:{CLINIC_NUMBER}",
        "From": f"whatsapp:{sender}",
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "NumSegments": "1",
        "MessageSid": f"SM{uuid.uuid4().hex}",
    }
    form.update(fields)
    return form


class Harness:
    """A running channel plus what the tests drive it with."""

    def __init__(
        self, channel: WhatsAppInput, bot: ScriptedBot, twilio: TwilioStandIn, base_url: str
    ) -> None:
        self.channel, self.bot, self.twilio, self.base_url = channel, bot, twilio, base_url
        self.sleeps: List[float] = []
        self._sids = itertools.count(1)

    def message(self, body: str = "hello", sender: str = PATIENT, **fields: str) -> Dict[str, str]:
        return inbound_form(body, sender, **fields)

    async def post(
        self,
        form: Dict[str, str],
        path: str = WEBHOOK_PATH,
        signed_as: Optional[str] = None,
        signature: Optional[str] = "auto",
        token: str = AUTH_TOKEN,
    ) -> aiohttp.ClientResponse:
        """POST the form; the signature covers `signed_as` (default: the public URL + path) unless given."""
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature == "auto":
            signature = sign(token, signed_as or PUBLIC_URL + path, form)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        async with aiohttp.ClientSession() as session:
            async with session.post(self.base_url + path, data=urlencode(form), headers=headers) as response:
                await response.read()
                return response


def stack_env(twilio_url: str, state_database: Any) -> Dict[str, str]:
    """What points a whole Carebot stack's WhatsApp channel at the stand-in, signed with AUTH_TOKEN (tests/e2e)."""
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_WHATSAPP_NUMBER": CLINIC_NUMBER,
        "TWILIO_API_BASE_URL": twilio_url,
        "WHATSAPP_WEBHOOK_URL": PUBLIC_URL,
        "WHATSAPP_STATE_DATABASE_URL": f"sqlite:///{state_database}",
    }


def make_settings(api_base_url: str, **overrides: Any) -> TwilioSettings:
    values: Dict[str, Any] = dict(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        whatsapp_number=CLINIC_NUMBER,
        api_base_url=api_base_url,
        webhook_url=PUBLIC_URL,
        templates=TEMPLATES,
        timeout_seconds=5.0,
        backoff_seconds=0.01,
        max_backoff_seconds=0.05,
    )
    values.update(overrides)
    return TwilioSettings(**values)


@pytest.fixture
def sender_factory(
    twilio: TwilioStandIn, contacts: ContactStore, clock: ManualClock
) -> Callable[..., WhatsAppSender]:
    """Senders talking to the stand-in on the test's clock; their back-off sleeps are recorded instead of slept."""
    created: List[WhatsAppSender] = []

    def build(**overrides: Any) -> WhatsAppSender:
        sleeps: List[float] = []

        async def record_sleep(seconds: float) -> None:
            sleeps.append(seconds)

        settings = make_settings(**{"api_base_url": twilio.url, **overrides})
        sender = WhatsAppSender(settings, contacts, sleep=record_sleep, clock=clock)
        sender.sleeps = sleeps  # type: ignore[attr-defined]
        created.append(sender)
        return sender

    return build


@pytest_asyncio.fixture
async def make_harness(
    twilio: TwilioStandIn, sender_factory: Callable[..., WhatsAppSender]
) -> AsyncIterator[Callable[..., Any]]:
    """Builds a channel (settings overridable) mounted with Rasa's own `register` in a served Sanic app."""
    servers: List[Any] = []

    async def build(store: Optional[TTLStore] = None, **overrides: Any) -> Harness:
        channel = WhatsAppInput({}, sender=sender_factory(**overrides), store=store or MemoryTTLStore())
        bot = ScriptedBot()
        Sanic.test_mode = True
        app = Sanic(f"whatsapp_test_{uuid.uuid4().hex}")
        app.ctx.agent = FakeAgent(bot)
        register([channel], app, route="/webhooks/")
        server, base_url = await serve(app)
        servers.append(server)
        return Harness(channel, bot, twilio, base_url)

    yield build
    for server in servers:
        await stop(server)


@pytest_asyncio.fixture
async def harness(make_harness: Callable[..., Any]) -> Harness:
    return await make_harness()
