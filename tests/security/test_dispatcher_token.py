"""Least privilege for the reminder dispatcher (issue 14, finding 7): its own token (REMINDER_DISPATCH_TOKEN) opens
Rasa's `trigger_intent`, the one route it needs, and nothing else: not a tracker, not the model, not the backend.
The other tokens do not open its route, and the launcher starts it without them. Rasa's real HTTP API on loopback;
a reminder delivered with this token through the whole stack: tests/e2e/test_reminders_e2e.py."""

from __future__ import annotations

import os
from typing import AsyncIterator

import aiohttp
import pytest
import rasa.server
from aiohttp.test_utils import TestServer
from sanic import Sanic

from carebot import launcher, rasa_server
from carebot.backend.db import make_engine
from carebot.server.app import create_app
from tests.channels.whatsapp_harness import serve, stop

RASA_TOKEN = "rasa-api-token-0123456789-abcdefghijklmnopqrstuv"
DISPATCH_TOKEN = "dispatch-token-0123456789-abcdefghijklmnopqrstuv"
BACKEND_TOKEN = "actions-token-0123456789-abcdefghijklmnopqrstuvw"
CHANNEL_TOKEN = "channel-token-0123456789-abcdefghijklmnopqrstuvw"
TRIGGER = ("POST", "/conversations/whatsapp:+447700900123/trigger_intent")
NO_AGENT = 409  # Rasa's answer after the token check passed (no model loaded in this test)


@pytest.fixture
async def rasa_url(monkeypatch) -> AsyncIterator[str]:
    monkeypatch.setattr(rasa.server, "requires_auth", rasa.server.requires_auth)  # put back after the test
    rasa_server.allow_dispatch_token(DISPATCH_TOKEN)
    Sanic.test_mode = True
    server, url = await serve(rasa.server.create_app(auth_token=RASA_TOKEN))
    yield url
    await stop(server)


async def rasa_call(url: str, method: str, path: str, token: str) -> int:
    async with aiohttp.ClientSession() as session:
        body = {"name": "medication_reminder", "entities": {}} if path.endswith("trigger_intent") else {}
        async with session.request(method, url + path, params={"token": token}, json=body) as response:
            return response.status


async def test_the_dispatcher_token_opens_trigger_intent_only(rasa_url) -> None:
    assert await rasa_call(rasa_url, *TRIGGER, DISPATCH_TOKEN) == NO_AGENT
    for method, path in [
        ("GET", "/conversations/whatsapp:+447700900123/tracker"),
        ("POST", "/conversations/whatsapp:+447700900123/tracker/events"),
        ("PUT", "/conversations/whatsapp:+447700900123/tracker/events"),
        ("POST", "/conversations/whatsapp:+447700900123/messages"),
        ("POST", "/conversations/whatsapp:+447700900123/execute"),
        ("POST", "/model/parse"),
        ("PUT", "/model"),
        ("GET", "/status"),
    ]:
        assert await rasa_call(rasa_url, method, path, DISPATCH_TOKEN) == 401, path
        assert await rasa_call(rasa_url, method, path, RASA_TOKEN) != 401, (
            path
        )  # Rasa's own token still works


async def test_other_tokens_do_not_open_the_dispatchers_route(rasa_url) -> None:
    for token in (BACKEND_TOKEN, CHANNEL_TOKEN, "", DISPATCH_TOKEN[:-1]):
        assert await rasa_call(rasa_url, *TRIGGER, token) == 401
    assert await rasa_call(rasa_url, *TRIGGER, RASA_TOKEN) == NO_AGENT  # Rasa's own token opens every route


async def test_the_backend_refuses_the_dispatcher_token(tmp_path, clinic) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'carebot.db'}")
    server = TestServer(create_app(engine, clinic, BACKEND_TOKEN, CHANNEL_TOKEN), host="127.0.0.1", port=0)
    await server.start_server()
    headers = {"Authorization": f"Bearer {DISPATCH_TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for path in ("/api/reminders/deliveries/r1v1", "/fhir/Appointment", "/api/handoff/conversations/x"):
            async with session.get(f"http://127.0.0.1:{server.port}{path}") as response:
                assert response.status == 401, path
    await server.close()
    engine.dispose()


def test_the_launcher_gives_the_dispatcher_its_own_token_and_no_other(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CAREBOT_VAR_DIR", str(tmp_path / "var"))
    umask = os.umask(0o022)  # prepare_environment sets the launcher's 077: give the test process its own back
    try:
        env = launcher.prepare_environment()
    finally:
        os.umask(umask)
    assert (tmp_path / "var" / "dispatch_token").read_text() == env["REMINDER_DISPATCH_TOKEN"]
    [dispatcher] = [s for s in launcher.services("python", env) if s.name == "reminders"]
    given = dispatcher.environment(env)
    assert given["REMINDER_DISPATCH_TOKEN"] == env["REMINDER_DISPATCH_TOKEN"]
    assert len(given["REMINDER_DISPATCH_TOKEN"]) >= 32
    for name in ("RASA_API_TOKEN", "ACTION_SERVER_TOKEN", "CAREBOT_BACKEND_TOKEN", "HANDOFF_CHANNEL_TOKEN"):
        assert name in env and name not in given
    [rasa_service] = [s for s in launcher.services("python", env) if s.name == "rasa"]
    assert rasa_service.environment(env)["REMINDER_DISPATCH_TOKEN"] == env["REMINDER_DISPATCH_TOKEN"]
