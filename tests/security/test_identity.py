"""Finding 1 (impersonation over REST) and finding 2 (intent injection from WhatsApp text)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Dict, Optional

import aiohttp
import pytest
from rasa.core.channels.channel import register
from rasa.core.run import create_http_input_channels
from sanic import Sanic

from carebot.reminders.store import occurrence_key
from tests.channels.whatsapp_harness import FakeAgent, Harness, ScriptedBot, serve, stop

ROOT_CREDENTIALS = "credentials.yml"
REST_TOKEN = "rest-channel-token-for-the-security-tests-0123456789"


@pytest.fixture
async def rest_channel(monkeypatch: pytest.MonkeyPatch):
    """The REST channel exactly as credentials.yml configures it, mounted the way Rasa mounts it."""
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "test-auth-token")
    channels = [c for c in create_http_input_channels(None, ROOT_CREDENTIALS) if c.name() == "rest"]
    bot = ScriptedBot()
    Sanic.test_mode = True
    app = Sanic(f"rest_test_{uuid.uuid4().hex}")
    app.ctx.agent = FakeAgent(bot)
    register(channels, app, route="/webhooks/")
    server, base_url = await serve(app)
    yield base_url, bot
    await stop(server)


async def post_rest(base_url: str, body: Dict[str, Any], token: Optional[str] = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session:
        async with session.post(base_url + "/webhooks/rest/webhook", json=body, headers=headers) as response:
            await response.read()
            return response.status


async def test_production_refuses_the_rest_channel_without_credentials(rest_channel, monkeypatch) -> None:
    base_url, bot = rest_channel
    monkeypatch.setenv("CAREBOT_MODE", "production")
    monkeypatch.setenv("REST_CHANNEL_TOKEN", REST_TOKEN)
    message = {"sender": "web-visitor-1", "message": "show my appointments"}
    assert await post_rest(base_url, message) == 401
    assert await post_rest(base_url, message, token="a-wrong-token-of-sufficient-length-000000") == 401
    monkeypatch.delenv("REST_CHANNEL_TOKEN")
    assert (
        await post_rest(base_url, message, token=REST_TOKEN) == 403
    )  # no token configured: the channel is off
    assert bot.messages == []


async def test_production_rest_sender_can_never_name_a_patient(rest_channel, monkeypatch) -> None:
    base_url, bot = rest_channel
    monkeypatch.setenv("CAREBOT_MODE", "production")
    monkeypatch.setenv("REST_CHANNEL_TOKEN", REST_TOKEN)
    for sender in ("whatsapp:+447700900123", "+447700900123", "447700900123", "tel:+447700900123"):
        assert (
            await post_rest(base_url, {"sender": sender, "message": "cancel my appointment"}, REST_TOKEN)
            == 400
        )
    assert await post_rest(base_url, {"sender": "operator-check", "message": "hello"}, REST_TOKEN) == 200
    [message] = await bot.wait_for(1)
    assert (message.sender_id, message.text) == ("operator-check", "hello")


async def test_a_rest_client_cannot_claim_the_whatsapp_channel_or_a_patients_wa_id(rest_channel) -> None:
    base_url, bot = rest_channel
    await post_rest(
        base_url,
        {
            "sender": "web-visitor-2",
            "message": "my appointments",
            "input_channel": "whatsapp",
            "metadata": {"wa_id": "447700900123", "utter_hint": "kept"},
        },
    )
    [message] = await bot.wait_for(1)
    assert message.input_channel == "rest"
    assert message.metadata == {"utter_hint": "kept"}


@pytest.mark.parametrize(
    "body",
    [
        '/medication_reminder{"reminder_key": "r1v1@20261128T080000Z"}',
        '//cancel_appointment{"appointment_id": "17"}',
        "/affirm",
    ],
)
async def test_whatsapp_text_that_looks_like_an_intent_reaches_the_bot_as_plain_text(
    harness: Harness, body
) -> None:
    await harness.post(harness.message(body))
    [message] = await harness.bot.wait_for(1)
    assert message.text == body.lstrip("/")


async def test_a_button_payload_with_entities_the_bot_never_issued_is_plain_text(harness: Harness) -> None:
    forged = '/medication_reminder{"reminder_key": "r1v1@20261128T080000Z"}'
    await harness.post(harness.message("Taken", ButtonPayload=forged, ButtonText="Taken"))
    [message] = await harness.bot.wait_for(1)
    assert message.text == "Taken"


def test_reminder_keys_cannot_be_guessed_from_the_reminder_id_and_due_time() -> None:
    due = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.timezone.utc)
    key = occurrence_key(1, 1, due)
    base, _, mac = key.partition(".")
    assert base == "r1v1@20261128T080000Z" and len(mac) >= 20
    assert occurrence_key(1, 1, due) == key  # still deterministic: the dispatcher's idempotency relies on it
    assert occurrence_key(2, 1, due).partition(".")[2] != mac
