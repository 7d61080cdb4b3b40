"""Loopback harness for the handoff: recording stand-ins for Twilio's REST API and Rasa's HTTP API, and the real
backend (`create_app`) configured through the same environment variables production uses."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from sqlalchemy import delete

from carebot.backend.db import make_engine
from carebot.handoff.api import HANDOFF_KEY
from carebot.handoff.auth import hash_password
from carebot.handoff.store import handoff_cases, handoff_events
from carebot.server.app import create_app
from tests.loopback import start

API_TOKEN = "backend-test-token"
RASA_TOKEN = "rasa-test-token"
SESSION_SECRET = "session-secret-for-tests"
ON_CALL = "+447700900123"  # clinic.yml staff.on_call_whatsapp
PATIENT = "+447700900555"
PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-22"}
TEMPLATE_REOPEN = "HX00000000000000000000000000000003"  # clinic.yml whatsapp.templates.conversation_reopen


class TwilioStandIn:
    """Records every message POST to Twilio's Messages endpoint and answers 201 with a new sid."""

    def __init__(self) -> None:
        self.requests: List[Dict[str, str]] = []
        self._sids = itertools.count(1)

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.requests.append({key: str(value) for key, value in form.items()})
        return web.json_response({"sid": f"SM{next(self._sids):032x}", "status": "queued"}, status=201)

    def to(self, phone: str) -> List[Dict[str, str]]:
        return [r for r in self.requests if r.get("To") == f"whatsapp:{phone}"]


class RasaStandIn:
    """Records tracker-event POSTs (with their token) and serves a scripted tracker; `down` makes it answer 503."""

    def __init__(self) -> None:
        self.appended: List[Tuple[str, Optional[str], Any]] = []
        self.trackers: Dict[str, List[Dict[str, Any]]] = {}
        self.down = False

    async def append(self, request: web.Request) -> web.Response:
        if self.down:
            return web.json_response({"message": "unavailable"}, status=503)
        self.appended.append((request.match_info["id"], request.query.get("token"), await request.json()))
        return web.json_response({"sender_id": request.match_info["id"], "events": None})

    async def tracker(self, request: web.Request) -> web.Response:
        if self.down or request.query.get("token") != RASA_TOKEN:
            return web.json_response({"message": "no"}, status=503 if self.down else 401)
        conversation = request.match_info["id"]
        return web.json_response({"sender_id": conversation, "events": self.trackers.get(conversation, [])})

    def resumes(self) -> List[str]:
        return [conversation for conversation, _, events in self.appended if events == [{"event": "resume"}]]


@dataclass
class Backend:
    url: str
    twilio: TwilioStandIn
    rasa: RasaStandIn
    app: web.Application
    http: aiohttp.ClientSession
    clients: List[aiohttp.ClientSession] = field(default_factory=list)

    @property
    def service(self) -> Any:
        return self.app[HANDOFF_KEY]

    async def api(self, method: str, path: str, body: Any = None, token: str = API_TOKEN) -> Tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        async with self.http.request(method, self.url + path, json=body, headers=headers) as response:
            return response.status, await response.json(content_type=None)

    async def open_case(
        self,
        conversation: str = PATIENT,
        reason: str = "asked_for_human",
        transcript: str = "patient: can I talk to someone",
    ) -> Dict[str, Any]:
        status, body = await self.api(
            "POST",
            "/api/handoff/cases",
            {
                "conversation_id": conversation,
                "reason": reason,
                "transcript": transcript,
            },
        )
        assert status in (200, 201), body
        return body

    def browser(self) -> aiohttp.ClientSession:
        """A fresh 'browser': its own cookie jar (unsafe=True: cookies on 127.0.0.1), no automatic redirects."""
        client = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.clients.append(client)
        return client

    async def login(
        self,
        name: str = "alice",
        password: Optional[str] = None,
        client: Optional[aiohttp.ClientSession] = None,
    ) -> Tuple[aiohttp.ClientSession, int, str]:
        client = client or self.browser()
        async with client.get(self.url + "/staff/login") as page:
            csrf = csrf_of(await page.text())
        form = {"name": name, "password": password if password is not None else PASSWORDS[name], "csrf": csrf}
        async with client.post(self.url + "/staff/login", data=form, allow_redirects=False) as response:
            return client, response.status, await response.text()

    async def page(self, client: aiohttp.ClientSession, path: str) -> Tuple[int, str, str]:
        """(status, html, final path) after following redirects."""
        async with client.get(self.url + path) as response:
            return (
                response.status,
                await response.text(),
                response.url.path + (f"?{response.url.query_string}" if response.url.query_string else ""),
            )

    async def post_form(
        self, client: aiohttp.ClientSession, path: str, data: Dict[str, str], csrf_from: Optional[str] = None
    ) -> Tuple[int, str, str]:
        """POST a form the way the page does: the CSRF token is read from the page at `csrf_from` (default: path's case)."""
        if "csrf" not in data:
            _, html, _ = await self.page(client, csrf_from or path.rsplit("/", 1)[0])
            data = {**data, "csrf": csrf_of(html)}
        async with client.post(self.url + path, data=data, allow_redirects=False) as response:
            location = response.headers.get("Location", "")
            return response.status, await response.text(), location


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def staff_accounts() -> str:
    # Few iterations: the tests check the scheme, not its cost (production uses PBKDF2_ITERATIONS).
    return ",".join(f"{name}:{hash_password(pw, iterations=1000)}" for name, pw in PASSWORDS.items())


def backend_env(tmp_path: Any, twilio_url: str, rasa_url: str) -> Dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2,
        "TWILIO_AUTH_TOKEN": "twilio-test-token",
        "TWILIO_WHATSAPP_NUMBER": "+14155238886",
        "TWILIO_API_BASE_URL": twilio_url,
        "WHATSAPP_WEBHOOK_URL": "",
        "WHATSAPP_STATE_DATABASE_URL": f"sqlite:///{tmp_path / 'whatsapp.db'}",
        "RASA_URL": rasa_url,
        "RASA_API_TOKEN": RASA_TOKEN,
        "STAFF_ACCOUNTS": staff_accounts(),
        "STAFF_SESSION_SECRET": SESSION_SECRET,
        "STAFF_SESSION_MINUTES": "60",
        "STAFF_INBOX_URL": "https://clinic.example/inbox",
    }


def database_urls() -> List[Any]:
    urls = [pytest.param("sqlite", id="sqlite")]
    urls.append(
        pytest.param(
            os.environ.get("TEST_POSTGRES_URL"),
            id="postgres",
            marks=pytest.mark.skipif(
                not os.environ.get("TEST_POSTGRES_URL"), reason="TEST_POSTGRES_URL not set"
            ),
        )
    )
    return urls


def engine_for(url: str, tmp_path: Any) -> Any:
    """A backend engine on a fresh SQLite file, or on PostgreSQL with the handoff tables emptied (both migrated)."""
    from carebot import migrations

    engine = make_engine(f"sqlite:///{tmp_path / 'carebot.db'}" if url == "sqlite" else url)
    migrations.upgrade(
        engine, migrations.BACKEND
    )  # a PostgreSQL test database of an older release is brought up
    with engine.begin() as conn:
        conn.execute(delete(handoff_events))
        conn.execute(delete(handoff_cases))
    return engine


@pytest_asyncio.fixture
async def backend(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, clinic: Any) -> AsyncIterator[Backend]:
    twilio, rasa = TwilioStandIn(), RasaStandIn()
    twilio_app = web.Application()
    twilio_app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", twilio.handle)
    rasa_app = web.Application()
    rasa_app.router.add_post("/conversations/{id}/tracker/events", rasa.append)
    rasa_app.router.add_get("/conversations/{id}/tracker", rasa.tracker)
    twilio_runner, twilio_url = await start(twilio_app)
    rasa_runner, rasa_url = await start(rasa_app)
    for key, value in backend_env(tmp_path, twilio_url, rasa_url).items():
        monkeypatch.setenv(key, value)
    app = create_app(engine_for("sqlite", tmp_path), clinic, API_TOKEN)
    runner, base = await start(app)
    http = aiohttp.ClientSession()
    backend = Backend(base, twilio, rasa, app, http)
    yield backend
    for client in [http, *backend.clients]:
        await client.close()
    await runner.cleanup()
    await rasa_runner.cleanup()
    await twilio_runner.cleanup()


def hours_ago(hours: float) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)
