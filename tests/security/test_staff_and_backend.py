"""Finding 5 (sessions that outlive logout, unlimited password guesses, cookies not Secure), finding 6 (no record
of who read a case) and finding 7 (one backend token does everything, the whole patient list on request)."""

from __future__ import annotations

import datetime as dt

import aiohttp
import pyotp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import delete

from carebot.backend.audit import AuditLog, audit_log, patient_ref
from carebot.backend.db import make_engine
from carebot.handoff.inbox import LOGIN_COOKIE, SESSION_COOKIE
from carebot.handoff.sessions import StaffSessions, staff_totp_steps
from carebot.server.app import create_app
from tests.handoff.handoff_harness import PASSWORDS, PATIENT, csrf_of, database_urls, engine_for

FULL_TOKEN = "actions-token-0123456789-abcdefghijklmnopqrstuvwxyz"
CHANNEL_TOKEN = "channel-token-0123456789-abcdefghijklmnopqrstuvwxyz"


async def test_the_old_cookie_opens_nothing_after_logout(backend) -> None:
    case_id = (await backend.open_case())["case"]["id"]
    client, status, _ = await backend.login("alice")
    assert status == 303
    cookie = next(c.value for c in client.cookie_jar if c.key == SESSION_COOKIE)
    status, _, location = await backend.post_form(client, "/staff/logout", {}, csrf_from="/staff")
    assert (status, location) == (303, "/staff/login")

    replay = backend.browser()
    replay.cookie_jar.update_cookies({SESSION_COOKIE: cookie}, response_url=aiohttp.client.URL(backend.url))
    _, html, path = await backend.page(replay, f"/staff/cases/{case_id}")
    assert path == "/staff/login?expired=1" and PATIENT not in html


async def test_five_wrong_passwords_lock_the_name_even_for_the_right_password(backend) -> None:
    for _ in range(5):
        _, status, html = await backend.login("alice", password="guess-guess")
        assert status == 401 and "Wrong name or password." in html
    _, status, html = await backend.login("alice")
    assert status == 429 and "Too many wrong passwords for this name. Try again in 15 min" in html
    _, status, _ = await backend.login("bob")  # other staff are not locked out
    assert status == 303


async def test_production_session_cookies_are_secure(backend, monkeypatch) -> None:
    monkeypatch.setenv("CAREBOT_MODE", "production")
    client = (
        backend.browser()
    )  # plain http: it holds Secure cookies back, so the test hands the login nonce over
    async with client.get(backend.url + "/staff/login") as page:
        form = {"name": "alice", "password": PASSWORDS["alice"], "csrf": csrf_of(await page.text())}
        login_cookie = page.cookies[LOGIN_COOKIE]
    async with client.post(
        backend.url + "/staff/login",
        data=form,
        allow_redirects=False,
        headers={"Cookie": f"{LOGIN_COOKIE}={login_cookie.value}"},
    ) as response:
        session_cookie = response.cookies[SESSION_COOKIE]
    assert login_cookie["secure"] is True
    assert response.status == 303 and session_cookie["secure"] is True and session_cookie["httponly"] is True


async def test_every_staff_read_of_a_case_is_in_the_audit_log_with_the_phone_hashed(backend) -> None:
    case_id = (await backend.open_case())["case"]["id"]
    client, _, _ = await backend.login("alice")
    status, _, _ = await backend.page(client, f"/staff/cases/{case_id}")
    assert status == 200
    audit = AuditLog(backend.service.store.engine)
    [read] = [e for e in audit.entries(phone=PATIENT) if e.action == "read case"]
    assert (read.actor, read.detail, read.patient) == ("staff:alice", f"case {case_id}", patient_ref(PATIENT))
    assert PATIENT.lstrip("+") not in read.patient
    assert audit.verify() is None


async def test_an_altered_audit_entry_breaks_the_chain(backend) -> None:
    audit = AuditLog(backend.service.store.engine)
    for action in ("read case", "reply", "resolve"):
        audit.record("staff:alice", action, PATIENT)
    middle = audit.entries()[1]
    with audit.engine.begin() as conn:
        conn.execute(audit_log.update().where(audit_log.c.id == middle.id).values(actor="staff:bob"))
    assert audit.verify() == middle.id


@pytest.fixture
async def scoped_backend(tmp_path, clinic):
    engine = make_engine(f"sqlite:///{tmp_path / 'carebot.db'}")
    app = create_app(engine, clinic, FULL_TOKEN, CHANNEL_TOKEN)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}"
    await server.close()
    engine.dispose()


async def call(base: str, method: str, path: str, token: str, body=None) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.request(
            method, base + path, json=body, headers={"Authorization": f"Bearer {token}"}
        ) as response:
            return response.status


async def test_the_channel_token_only_appends_to_handoff_cases(scoped_backend) -> None:
    assert (
        await call(
            scoped_backend,
            "POST",
            "/api/handoff/messages",
            CHANNEL_TOKEN,
            {"conversation_id": "whatsapp:+447700900123", "text": "hello"},
        )
        == 200
    )
    assert (
        await call(scoped_backend, "GET", "/api/handoff/conversations/whatsapp:+447700900123", CHANNEL_TOKEN)
        == 200
    )
    assert (
        await call(
            scoped_backend,
            "POST",
            "/api/handoff/conversations/whatsapp:+447700900123/privacy-request",
            CHANNEL_TOKEN,
            {"request": "erasure"},
        )
        == 200
    )
    assert await call(scoped_backend, "GET", "/fhir/Patient?telecom=%2B447700900123", CHANNEL_TOKEN) == 403
    assert await call(scoped_backend, "GET", "/fhir/Appointment", CHANNEL_TOKEN) == 403
    assert (
        await call(
            scoped_backend,
            "POST",
            "/api/handoff/cases",
            CHANNEL_TOKEN,
            {"conversation_id": "whatsapp:+447700900123", "reason": "asked_for_human"},
        )
        == 403
    )


async def test_the_whole_patient_list_is_never_served(scoped_backend) -> None:
    assert await call(scoped_backend, "GET", "/fhir/Patient", FULL_TOKEN) == 400
    assert await call(scoped_backend, "GET", "/fhir/Patient?telecom=%2B447700900123", FULL_TOKEN) == 200


ALICE_TOTP = "JBSWY3DPEHPK3PXPJBSWY3DP"


@pytest.fixture
def alice_has_a_second_factor(monkeypatch) -> None:
    monkeypatch.setenv("STAFF_TOTP", f"alice:{ALICE_TOTP}")  # read when the backend starts


@pytest.fixture
async def totp_backend(alice_has_a_second_factor, backend):
    return backend


def wrong_code() -> str:
    return f"{(int(pyotp.TOTP(ALICE_TOTP).now()) + 1) % 1_000_000:06d}"


async def login_with_code(backend, name: str, code: str):
    client = backend.browser()
    async with client.get(backend.url + "/staff/login") as page:
        form = {"name": name, "password": PASSWORDS[name], "code": code, "csrf": csrf_of(await page.text())}
    async with client.post(backend.url + "/staff/login", data=form, allow_redirects=False) as response:
        return response.status, await response.text()


async def test_a_second_factor_is_required_of_the_staff_who_have_one(totp_backend) -> None:
    status, html = await login_with_code(totp_backend, "alice", "")
    assert status == 401 and "Wrong or expired code from your authenticator app." in html
    assert (await login_with_code(totp_backend, "alice", wrong_code()))[0] == 401
    assert (await login_with_code(totp_backend, "alice", pyotp.TOTP(ALICE_TOTP).now()))[0] == 303
    assert (await login_with_code(totp_backend, "bob", ""))[0] == 303  # bob has no second factor


async def test_wrong_codes_count_towards_the_lockout(totp_backend) -> None:
    for _ in range(5):
        await login_with_code(totp_backend, "alice", wrong_code())
    status, html = await login_with_code(totp_backend, "alice", pyotp.TOTP(ALICE_TOTP).now())
    assert status == 429 and "Too many wrong passwords for this name" in html


def test_add_totp_writes_an_owner_only_secret_and_prints_the_app_link(tmp_path, monkeypatch, capsys) -> None:
    from carebot.handoff import __main__ as handoff_cli
    from carebot.handoff.auth import load_totp

    monkeypatch.setenv("STAFF_TOTP_FILE", str(tmp_path / "staff_totp"))
    assert handoff_cli.main(["add-totp", "carol"]) == 0
    assert "otpauth://totp/Carebot%20staff%20inbox:carol?secret=" in capsys.readouterr().out
    assert (tmp_path / "staff_totp").stat().st_mode & 0o777 == 0o600
    assert list(load_totp({"STAFF_TOTP_FILE": str(tmp_path / "staff_totp")})) == ["carol"]


async def test_a_used_code_cannot_be_typed_again_within_its_window(totp_backend) -> None:
    code = pyotp.TOTP(ALICE_TOTP).now()
    assert (await login_with_code(totp_backend, "alice", code))[0] == 303
    status, html = await login_with_code(
        totp_backend, "alice", code
    )  # seen over a shoulder, replayed at once
    assert status == 401 and "Wrong or expired code from your authenticator app." in html
    earlier = pyotp.TOTP(ALICE_TOTP).at(dt.datetime.now(dt.timezone.utc), counter_offset=-1)
    assert (await login_with_code(totp_backend, "alice", earlier))[
        0
    ] == 401  # still in the drift window, older


@pytest.mark.parametrize("url", database_urls())
def test_the_used_time_step_is_kept_in_the_database_for_every_backend(url, tmp_path) -> None:
    engine = engine_for(url, tmp_path)
    with engine.begin() as conn:
        conn.execute(delete(staff_totp_steps))
    assert StaffSessions(engine).accept_code_step("alice", 1000)
    restarted = StaffSessions(engine)  # another backend process, or this one after a restart
    assert not restarted.accept_code_step("alice", 1000)
    assert not restarted.accept_code_step("alice", 999)
    assert restarted.accept_code_step("bob", 1000)  # per person
    assert restarted.accept_code_step("alice", 1001)
    engine.dispose()
