"""The channel as Rasa itself builds it: the project's credentials.yml read by Rasa's channel loader (settings
from environment variables), mounted by `rasa.core.run.configure_app` next to Rasa's HTTP API."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import aiohttp
import pytest
import pytest_asyncio
from rasa.core.run import configure_app, create_http_input_channels
from sanic import Sanic

from carebot.channels.whatsapp import WhatsAppInput
from tests.channels.whatsapp_harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CLINIC_NUMBER,
    PATIENT,
    PUBLIC_URL,
    FakeAgent,
    Harness,
    ScriptedBot,
    TwilioStandIn,
    serve,
    stop,
)

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.asyncio


@pytest.fixture
def twilio_env(monkeypatch: pytest.MonkeyPatch, twilio: TwilioStandIn, tmp_path: Path) -> Iterator[None]:
    for name, value in {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_WHATSAPP_NUMBER": CLINIC_NUMBER,
        "TWILIO_API_BASE_URL": twilio.url,
        "WHATSAPP_WEBHOOK_URL": PUBLIC_URL,
        "WHATSAPP_STATE_DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}",
        "WHATSAPP_REDIS_URL": "",
    }.items():
        monkeypatch.setenv(name, value)
    yield


@pytest_asyncio.fixture
async def rasa_app(twilio_env: None, twilio: TwilioStandIn) -> Any:
    channels = create_http_input_channels(None, str(ROOT / "credentials.yml"))
    [whatsapp] = [c for c in channels if isinstance(c, WhatsAppInput)]
    Sanic.test_mode = True
    app = configure_app(channels, auth_token="api-token", use_uvloop=False, enable_api=True)
    bot = ScriptedBot()
    app.ctx.agent = FakeAgent(bot)  # the model-loading listener is not registered by configure_app alone
    server, base_url = await serve(app)
    yield Harness(whatsapp, bot, twilio, base_url)
    await stop(server)


async def test_credentials_block_configures_the_channel_from_the_environment(rasa_app: Harness) -> None:
    settings = rasa_app.channel.settings
    assert not settings.sandbox
    assert settings.api_base_url == rasa_app.twilio.url
    assert settings.templates["conversation_reopen"].startswith("HX")  # from clinic.yml


async def test_a_message_goes_through_rasas_own_app_and_the_reply_reaches_twilio(rasa_app: Harness) -> None:
    rasa_app.bot.respond = lambda message: [{"text": f"Hello {message.metadata['profile_name']}"}]
    response = await rasa_app.post(rasa_app.message("hi"))
    assert response.status == 204
    [request] = await rasa_app.twilio.wait_for(1)
    assert request["Body"] == ["Hello Alex Patient"] and request["To"] == [f"whatsapp:{PATIENT}"]
    assert (await rasa_app.post(rasa_app.message("hi"), signature="forged")).status == 403
    async with aiohttp.ClientSession() as session:  # Rasa's own routes are still there beside the channel
        async with session.get(rasa_app.base_url + "/webhooks/whatsapp/") as health:
            assert (await health.json())["sandbox"] is False
        async with session.get(rasa_app.base_url + "/") as root:
            assert "Hello from Rasa" in await root.text()


async def test_without_any_credentials_the_channel_starts_in_sandbox_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in (
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_WHATSAPP_NUMBER",
        "TWILIO_API_BASE_URL",
        "WHATSAPP_WEBHOOK_URL",
        "WHATSAPP_REDIS_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WHATSAPP_STATE_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    [whatsapp] = [
        c
        for c in create_http_input_channels(None, str(ROOT / "credentials.yml"))
        if isinstance(c, WhatsAppInput)
    ]
    assert whatsapp.settings.sandbox
    Sanic.test_mode = True
    app = configure_app([whatsapp], use_uvloop=False, enable_api=False)
    bot = ScriptedBot()
    app.ctx.agent = FakeAgent(bot)
    server, base_url = await serve(app)
    try:
        harness = Harness(whatsapp, bot, TwilioStandIn(), base_url)
        assert (await harness.post(harness.message("hi"))).status == 403  # no token: nothing can be verified
        result = await whatsapp.sender.send(PATIENT, template="conversation_reopen")
        assert result.status == "sandbox"
    finally:
        await stop(server)
