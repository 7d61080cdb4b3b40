"""The staff inbox over real HTTP: login, sessions, CSRF, replies through the Twilio stand-in, resolve → Rasa resume."""

import asyncio
import datetime as dt
import os

import pytest
from handoff_harness import PATIENT, RASA_TOKEN, SESSION_SECRET, TEMPLATE_REOPEN, csrf_of, hours_ago
from sqlalchemy import select
from yarl import URL

from carebot.handoff.auth import StaffAuth, parse_accounts
from carebot.handoff.inbox import SESSION_COOKIE, waiting_time
from carebot.reminders.api import STORE_KEY
from carebot.scheduling import store as scheduling_store
from carebot.scheduling import tables as sched
from carebot.waitlist import store as waitlist_store


async def logged_in(backend, name="alice"):
    client, status, _ = await backend.login(name)
    assert status == 303
    return client


async def test_login_then_the_open_cases_are_listed(backend):
    case_id = (await backend.open_case(PATIENT, "media"))["case"]["id"]
    client = await logged_in(backend)
    status, html, path = await backend.page(client, "/staff")
    assert (status, path) == (200, "/staff")
    assert f'href="/staff/cases/{case_id}"' in html and "sent a photo or document" in html
    assert "…0555" in html and PATIENT not in html  # the list shows masked numbers only
    assert "waiting 0 min" in html


async def test_wrong_password_and_unknown_name_are_refused_alike(backend):
    for name, password in [("alice", "wrong-password"), ("mallory", "alice-password-1")]:
        client, status, html = await backend.login(name, password)
        assert status == 401 and "Wrong name or password." in html
        assert SESSION_COOKIE not in {c.key for c in client.cookie_jar}
        status, _, path = await backend.page(client, "/staff")
        assert path == "/staff/login"


async def test_login_without_the_form_token_is_refused(backend):
    client = backend.browser()
    async with client.post(
        backend.url + "/staff/login",
        data={"name": "alice", "password": "alice-password-1"},
        allow_redirects=False,
    ) as response:
        assert response.status == 403 and "The login form expired" in await response.text()


async def test_an_expired_session_is_refused(backend):
    auth = StaffAuth(parse_accounts(backend_accounts(), "test"), SESSION_SECRET.encode(), 60)
    stale = auth.issue("alice", dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=61))
    client = backend.browser()
    client.cookie_jar.update_cookies({SESSION_COOKIE: stale.token}, response_url=URL(backend.url))
    status, html, path = await backend.page(client, "/staff")
    assert path == "/staff/login?expired=1" and "Your session has expired" in html


async def test_a_forged_session_is_refused(backend):
    auth = StaffAuth(parse_accounts(backend_accounts(), "test"), b"someone-elses-secret", 60)
    forged = auth.issue("alice", dt.datetime.now(dt.timezone.utc))
    client = backend.browser()
    client.cookie_jar.update_cookies({SESSION_COOKIE: forged.token}, response_url=URL(backend.url))
    _, _, path = await backend.page(client, "/staff")
    assert path.startswith("/staff/login")


async def test_session_cookie_is_httponly_strict_and_expires(backend):
    client = backend.browser()
    async with client.get(backend.url + "/staff/login") as page:
        csrf = csrf_of(await page.text())
    async with client.post(
        backend.url + "/staff/login",
        allow_redirects=False,
        data={"name": "alice", "password": "alice-password-1", "csrf": csrf},
    ) as response:
        cookie = response.cookies[SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/staff"
    assert cookie["max-age"] == str(60 * 60)


async def test_reply_reaches_the_patient_through_twilio_and_is_recorded(backend):
    backend.service.contacts.record_inbound(PATIENT)
    case_id = (await backend.open_case(PATIENT))["case"]["id"]
    client = await logged_in(backend)
    status, _, location = await backend.post_form(
        client, f"/staff/cases/{case_id}/reply", {"text": "Hello, this is Alice from reception."}
    )
    assert (status, location) == (303, f"/staff/cases/{case_id}?done=sent")
    [message] = backend.twilio.to(PATIENT)
    assert message["Body"] == "Hello, this is Alice from reception."
    assert message["From"] == "whatsapp:+14155238886"
    _, html, _ = await backend.page(client, location)
    assert "Reply sent to the patient on WhatsApp." in html
    [event] = backend.service.store.events(case_id)
    assert (event.kind.value, event.author, event.delivery_status.value) == ("staff_reply", "alice", "sent")


async def test_reply_after_24_hours_says_a_template_is_needed(backend):
    backend.service.contacts.record_inbound(PATIENT, hours_ago(25))
    case_id = (await backend.open_case(PATIENT))["case"]["id"]
    client = await logged_in(backend)
    _, html, _ = await backend.page(client, f"/staff/cases/{case_id}")
    assert "WhatsApp only allows an approved template now" in html
    status, _, location = await backend.post_form(
        client, f"/staff/cases/{case_id}/reply", {"text": "Are you ok?"}
    )
    assert location.endswith("?done=needs_template")
    assert backend.twilio.to(PATIENT) == []
    _, html, _ = await backend.page(client, location)
    assert "Not sent: more than 24 hours since the patient last wrote." in html
    assert "not sent: template needed" in html
    # The page offers the approved re-open template instead; that one is sent.
    _, _, location = await backend.post_form(client, f"/staff/cases/{case_id}/reopen", {})
    assert location.endswith("?done=sent")
    [message] = backend.twilio.to(PATIENT)
    assert message["ContentSid"] == TEMPLATE_REOPEN and "Body" not in message


async def test_opted_out_patient_gets_nothing_and_the_page_says_so(backend):
    backend.service.contacts.record_inbound(PATIENT)
    backend.service.contacts.set_opted_out(PATIENT, True)
    case_id = (await backend.open_case(PATIENT))["case"]["id"]
    client = await logged_in(backend)
    _, html, _ = await backend.page(client, f"/staff/cases/{case_id}")
    assert "This patient has opted out of WhatsApp messages (STOP)" in html
    assert 'action="/staff/cases/%d/reply"' % case_id not in html
    # A crafted POST (old page, second tab) is still not sent, and recorded as such.
    status, _, location = await backend.post_form(client, f"/staff/cases/{case_id}/reply", {"text": "hello"})
    assert location.endswith("?done=opted_out")
    assert backend.twilio.to(PATIENT) == []
    [event] = backend.service.store.events(case_id)
    assert event.delivery_status.value == "opted_out"


async def test_a_note_is_recorded_with_author_and_not_sent(backend):
    backend.service.contacts.record_inbound(PATIENT)
    case_id = (await backend.open_case(PATIENT))["case"]["id"]
    client = await logged_in(backend, "bob")
    _, _, location = await backend.post_form(
        client, f"/staff/cases/{case_id}/note", {"text": "Called, no answer."}
    )
    assert location.endswith("?done=note")
    _, html, _ = await backend.page(client, location)
    assert "Called, no answer." in html and "note · bob ·" in html
    assert backend.twilio.to(PATIENT) == []


async def test_empty_reply_and_missing_csrf_change_nothing(backend):
    backend.service.contacts.record_inbound(PATIENT)
    case_id = (await backend.open_case(PATIENT))["case"]["id"]
    client = await logged_in(backend)
    _, _, location = await backend.post_form(client, f"/staff/cases/{case_id}/reply", {"text": "   "})
    assert location.endswith("?done=empty")
    status, html, _ = await backend.post_form(client, f"/staff/cases/{case_id}/resolve", {"csrf": "forged"})
    assert status == 403 and "did not come from this page" in html
    assert backend.service.store.events(case_id) == [] and backend.twilio.to(PATIENT) == []
    assert backend.service.store.get(case_id).is_open


async def test_resolve_resumes_the_bot_through_rasa(backend):
    case_id = (await backend.open_case(PATIENT))["case"]["id"]
    client = await logged_in(backend)
    _, _, location = await backend.post_form(client, f"/staff/cases/{case_id}/resolve", {})
    assert location.endswith("?done=resolved")
    assert backend.rasa.appended == [(PATIENT, RASA_TOKEN, [{"event": "resume"}])]
    assert await backend.api("GET", f"/api/handoff/conversations/{PATIENT}") == (
        200,
        {"paused": False, "case_id": None},
    )
    case = backend.service.store.get(case_id)
    assert (case.status, case.resolved_by) == ("resolved", "alice")
    _, html, _ = await backend.page(client, "/staff")
    assert f"/staff/cases/{case_id}" not in html


@pytest.fixture
def bob_is_admin(monkeypatch):
    monkeypatch.setenv("STAFF_ADMINS", "bob")  # read when the backend starts


async def test_the_taker_and_an_admin_resolving_at_once_one_wins_the_other_is_told(bob_is_admin, backend):
    case_id = (await backend.open_case(PATIENT))["case"]["id"]
    alice, bob = (
        await logged_in(backend, "alice"),
        await logged_in(backend, "bob"),
    )  # alice opens it first: hers
    tokens = []
    for client in (alice, bob):
        _, html, _ = await backend.page(client, f"/staff/cases/{case_id}")
        tokens.append(csrf_of(html))
    results = await asyncio.gather(
        *(
            backend.post_form(client, f"/staff/cases/{case_id}/resolve", {"csrf": token})
            for client, token in zip((alice, bob), tokens)
        )
    )
    locations = sorted(location for _, _, location in results)
    assert locations == [
        f"/staff/cases/{case_id}?done=already_resolved",
        f"/staff/cases/{case_id}?done=resolved",
    ]
    winner = backend.service.store.get(case_id).resolved_by
    loser = bob if winner == "alice" else alice
    _, html, _ = await backend.page(loser, f"/staff/cases/{case_id}?done=already_resolved")
    assert f"Already resolved by {winner} at" in html
    assert backend.rasa.resumes() == [PATIENT]


async def test_rasa_down_at_resolve_is_reported_and_can_be_retried(backend):
    case_id = (await backend.open_case(PATIENT))["case"]["id"]
    client = await logged_in(backend)
    backend.rasa.down = True
    _, _, location = await backend.post_form(client, f"/staff/cases/{case_id}/resolve", {})
    assert location.endswith("?done=resume_failed")
    _, html, _ = await backend.page(client, location)
    assert "the bot could not be resumed" in html
    assert "The bot's history is not available right now" in html
    backend.rasa.down = False
    _, _, location = await backend.post_form(client, f"/staff/cases/{case_id}/resume", {})
    assert location.endswith("?done=resumed")
    assert backend.rasa.resumes() == [PATIENT]


async def test_case_page_shows_the_bot_conversation_and_patient_messages(backend):
    backend.rasa.trackers[PATIENT] = [
        {"event": "user", "text": "I cut my hand", "timestamp": 1795773600.0},
        {"event": "action", "name": "action_listen"},
        {"event": "bot", "text": "Can you send a photo?", "timestamp": 1795773601.0},
    ]
    case_id = (await backend.open_case(PATIENT, "media", transcript="patient: [photo]"))["case"]["id"]
    await backend.api(
        "POST", "/api/handoff/messages", {"conversation_id": PATIENT, "text": "is anyone there <b>?"}
    )
    client = await logged_in(backend)
    _, html, _ = await backend.page(client, f"/staff/cases/{case_id}")
    assert "I cut my hand" in html and "Can you send a photo?" in html and "action_listen" not in html
    assert "patient: [photo]" in html
    assert "is anyone there &lt;b&gt;?" in html  # patient text is escaped
    assert "Fri 27 Nov 10:00" in html  # tracker times in clinic time (GMT in November)


async def test_logout_ends_the_session_cookie(backend):
    client = await logged_in(backend)
    _, html, _ = await backend.page(client, "/staff")
    async with client.post(
        backend.url + "/staff/logout", data={"csrf": csrf_of(html)}, allow_redirects=False
    ) as r:
        assert r.status == 303 and r.headers["Location"] == "/staff/login"
    _, _, path = await backend.page(client, "/staff")
    assert path == "/staff/login"


async def test_pages_send_protective_headers(backend):
    client = backend.browser()
    async with client.get(backend.url + "/staff/login") as response:
        assert response.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_waiting_time_reads_like_a_person_would_say_it():
    start = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.timezone.utc)
    assert waiting_time(start, start + dt.timedelta(minutes=12)) == "12 min"
    assert waiting_time(start, start + dt.timedelta(minutes=185)) == "3 h 5 min"
    assert waiting_time(start, start + dt.timedelta(hours=50)) == "2 d 2 h"


def backend_accounts() -> str:
    return os.environ["STAFF_ACCOUNTS"]


async def test_dead_letters_are_listed_with_their_reason_and_can_be_retried_or_dismissed(backend):
    outbox = backend.service.sender.outbox  # the WhatsApp outbox the server hands the inbox
    reminder = outbox.enqueue(
        PATIENT, "medication_reminder", text="Time for your metformin", deadline=hours_ago(1)
    )
    reply = outbox.enqueue(PATIENT, "reply", text="Your results are ready", deadline=hours_ago(1))
    assert outbox.expire() == 2
    client = await logged_in(backend)
    _, html, _ = await backend.page(client, "/staff")
    assert "Messages WhatsApp did not take" in html and "deadline passed before sending" in html
    assert "medication reminder" in html and "Time for your metformin" in html
    assert "…0555" in html and PATIENT not in html
    status, _, location = await backend.post_form(
        client, f"/staff/outbox/{reminder}/retry", {}, csrf_from="/staff"
    )
    assert (status, location) == (303, "/staff?done=outbox_retried")
    assert outbox.get(reminder).state == "queued" and outbox.get(reminder).deadline_at > hours_ago(0)
    _, _, location = await backend.post_form(client, f"/staff/outbox/{reply}/dismiss", {}, csrf_from="/staff")
    assert location == "/staff?done=outbox_dismissed" and outbox.get(reply).state == "dismissed"
    _, _, location = await backend.post_form(client, f"/staff/outbox/{reply}/retry", {}, csrf_from="/staff")
    assert location == "/staff?done=outbox_gone"  # a dismissed message stays unsent
    _, html, _ = await backend.page(client, "/staff?done=outbox_gone")
    assert "Messages WhatsApp did not take" not in html and "already retried or dismissed" in html


async def test_a_dead_letter_cannot_be_retried_without_the_form_token(backend):
    outbox = backend.service.sender.outbox
    message = outbox.enqueue(PATIENT, "reply", text="hello", deadline=hours_ago(1))
    outbox.expire()
    client = await logged_in(backend)
    status, _, _ = await backend.post_form(client, f"/staff/outbox/{message}/retry", {"csrf": "forged"})
    assert status == 403 and outbox.get(message).state == "dead"


async def test_the_case_page_shows_the_patients_reminder_delivery_and_read_rates(backend):
    """Staff see, per patient, how many reminders WhatsApp delivered and the patient read (from the outbox)."""
    store, outbox = backend.app[STORE_KEY], backend.service.sender.outbox
    first_due = hours_ago(30)
    store.create(
        PATIENT,
        "metformin",
        "RRULE:FREQ=DAILY;COUNT=2",
        first_due,
        "Europe/London",
        now=first_due - dt.timedelta(minutes=1),
    )
    occurrences = store.claim("t", hours_ago(0), 10, dt.timedelta(minutes=1))
    store.mark_sending([o.id for o in occurrences], hours_ago(0), dt.timedelta(minutes=1))
    store.mark_sent([o.id for o in occurrences], hours_ago(0))
    for number, (occurrence, status) in enumerate(zip(occurrences, ("read", "sent"))):
        message = outbox.enqueue(
            PATIENT, "medication_reminder", text="metformin", key=occurrence.idempotency_key
        )
        outbox.record_part(message, 0, f"SM{number:032x}")
        outbox.record_status(f"SM{number:032x}", status)
    case_id = (await backend.open_case(PATIENT))["case"]["id"]
    client = await logged_in(backend)
    _, html, _ = await backend.page(client, f"/staff/cases/{case_id}")
    assert "Medication reminders, last 7 days" in html
    assert "1 of 2 sent on WhatsApp (50%)" in html  # delivered: the read one (the other is only "sent")
    assert 'class="read-rate">1 of 2 (50%)' in html


async def test_the_waiting_list_is_shown_to_staff_in_offer_order(backend, clinic):
    """Staff see who waits for what (name, masked number, days, times of day), in the order offers go out."""
    engine = backend.service.store.engine
    day = clinic.now().date() + dt.timedelta(days=3)
    for family, parts in (("First", 1), ("Second", 7)):
        patient = scheduling_store.create_patient(engine, family, "Jo", "+447700900888", None, None)
        waitlist_store.join(
            engine, clinic, patient.id, "gp", day, day, parts, None, "whatsapp:+447700900888", "whatsapp"
        )
    client = await logged_in(backend)
    _, html, _ = await backend.page(client, "/staff")
    assert "Waiting list" in html and "+447700900888" not in html and "…0888" in html
    assert html.index("Jo First") < html.index("Jo Second")
    assert "morning" in html and "any time" in html


async def test_staff_see_an_unmarked_appointment_record_a_no_show_and_the_count_follows(backend, clinic):
    engine = backend.service.store.engine
    patient = scheduling_store.create_patient(engine, "Absent", "Al", "+447700900999", None, None)
    started = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(hours=1)
    with engine.begin() as conn:
        conn.execute(
            sched.appointment.insert().values(
                id="appt-missed",
                status="booked",
                patient_id=patient.id,
                practitioner_id="dr-patel",
                service_id="gp",
                slot_ids="",
                start=started,
                end=started + dt.timedelta(minutes=15),
                created=started,
                version=1,
                last_updated=started,
            )
        )
    client = await logged_in(backend)
    _, html, _ = await backend.page(client, "/staff")
    assert "Appointments to check" in html and "Al Absent" in html and "started, not marked" in html
    assert "0 earlier no-shows" in html
    status, _, location = await backend.post_form(
        client, "/staff/appointments/appt-missed/noshow", {}, csrf_from="/staff"
    )
    assert status == 303 and location == "/staff?done=noshow"
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(sched.appointment.c.status).where(sched.appointment.c.id == "appt-missed")
            ).scalar()
            == "noshow"
        )
    _, html, _ = await backend.page(client, location)
    assert "No-show recorded" in html and "Al Absent" not in html  # marked: no longer to check
