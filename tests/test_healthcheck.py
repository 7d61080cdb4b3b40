"""The health routes the probes and nginx use: the backend's `/health` follows its database, and
`python -m carebot.healthcheck` reaches Rasa's `/status` with the process's own token (never one in a manifest)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from sqlalchemy.exc import OperationalError

from carebot import healthcheck
from carebot.backend.db import make_engine
from carebot.server import app as backend_app
from tests import loopback

pytestmark = pytest.mark.asyncio
TOKEN = "a-rasa-token-only-the-process-knows-0123456789"


async def test_the_backend_is_healthy_while_its_database_answers(clinic, db_url: str, monkeypatch) -> None:
    app = backend_app.create_app(make_engine(db_url), clinic, "a-token-for-the-health-test")
    runner, url = await loopback.start(app)
    try:
        assert await asyncio.to_thread(healthcheck.healthy, url + "/health")
        assert not await asyncio.to_thread(healthcheck.healthy, url + "/fhir/Slot")  # no token: still closed

        def database_down(_engine: object) -> None:
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))

        monkeypatch.setattr(backend_app, "_ping", database_down)
        assert not await asyncio.to_thread(healthcheck.healthy, url + "/health")
    finally:
        await runner.cleanup()


async def test_the_rasa_probe_asks_status_with_the_processes_own_token(monkeypatch) -> None:
    asked = []

    async def status(request: web.Request) -> web.Response:
        asked.append(request.query.get("token"))
        if request.query.get("token") != TOKEN:
            return web.json_response({"message": "not authorised"}, status=401)
        return web.json_response({"model_file": "carebot.tar.gz"})

    app = web.Application()
    app.router.add_get("/status", status)
    runner, url = await loopback.start(app)
    try:
        monkeypatch.setenv("RASA_PORT", url.rsplit(":", 1)[1])
        monkeypatch.setenv("RASA_API_TOKEN", TOKEN)
        assert await asyncio.to_thread(healthcheck.main, ["rasa"]) == 0
        monkeypatch.setenv("RASA_API_TOKEN", TOKEN + "-wrong")
        assert await asyncio.to_thread(healthcheck.main, ["rasa"]) == 1
        assert await asyncio.to_thread(healthcheck.main, ["nginx"]) == 2
    finally:
        await runner.cleanup()
    assert asked == [TOKEN, TOKEN + "-wrong"]
