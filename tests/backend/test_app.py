"""The backend composition: bearer auth, error shapes, body limit, the /staff exemption, engine and token setup."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import text

from carebot.backend.db import make_engine
from carebot.clinic import load_clinic
from carebot.server import app as backend_app
from carebot.server.app import create_app

TOKEN = "backend-test-token"


@pytest.fixture
def engine(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'backend.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
async def server(engine):
    application = create_app(engine, load_clinic(), TOKEN)

    async def public_page(_request: web.Request) -> web.Response:
        return web.Response(text="public page")

    async def broken(_request: web.Request) -> web.Response:
        raise RuntimeError("secret internal detail")

    application.router.add_get("/public-test", public_page)
    application.router.add_get("/api/broken", broken)
    running = TestServer(application, host="127.0.0.1", port=0)
    await running.start_server()
    yield f"http://127.0.0.1:{running.port}"
    await running.close()


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", "Basic abc", f"bearer {TOKEN}", TOKEN, f"Bearer {TOKEN}x"]
)
async def test_fhir_and_api_need_the_exact_bearer_token(server, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    async with aiohttp.ClientSession() as session:
        for path in ("/fhir/Practitioner", "/api/broken", "/fhir", "/api"):
            async with session.get(server + path, headers=headers) as response:
                assert response.status == 401
                body = await response.json(content_type=None)
                assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == "login"
                assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_the_right_token_passes_and_pages_outside_the_apis_need_none(server):
    async with aiohttp.ClientSession() as session:
        async with session.get(
            server + "/fhir/Practitioner", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as r:
            assert r.status == 200
        async with session.get(server + "/public-test") as response:
            assert response.status == 200 and await response.text() == "public page"
        async with session.get(server + "/staff", allow_redirects=False) as response:
            assert response.status != 401  # the staff inbox has its own browser login


async def test_unhandled_errors_become_an_operation_outcome_without_details(server, caplog):
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
        async with session.get(server + "/api/broken") as response:
            assert response.status == 500
            body = await response.text()
    assert "OperationOutcome" in body and "secret" not in body and "Traceback" not in body
    assert "secret internal detail" in caplog.text  # logged server-side for the operator


async def test_unknown_routes_and_oversized_bodies_are_operation_outcomes(server):
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
        async with session.get(server + "/fhir/Nothing") as response:
            assert response.status == 404
            assert (await response.json(content_type=None))["resourceType"] == "OperationOutcome"
        big = b"{" + b" " * (backend_app.MAX_BODY_BYTES + 10) + b"}"
        async with session.post(
            server + "/fhir/Patient", data=big, headers={"Content-Type": "application/fhir+json"}
        ) as response:
            assert response.status == 413
            assert (await response.json(content_type=None))["resourceType"] == "OperationOutcome"


def test_sqlite_engine_uses_wal_and_creates_its_directory(engine, tmp_path):
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
    assert (tmp_path / "var" / "backend.db").exists()


def test_an_empty_token_is_refused(engine):
    with pytest.raises(ValueError):
        create_app(engine, load_clinic(), "")
