"""The staff inbox in a real browser: headless Debian Chromium driven by tests/browser/staff_inbox.mjs.

Needs `scripts/install_browser.sh` (run by `make test` and .ci/run). Screenshots go to the test's temporary
directory; with UPDATE_SCREENSHOTS=1 they also replace docs/staff-inbox.png and docs/staff-case.png (the README's
pictures), so an ordinary test run never changes tracked files.
"""

import datetime as dt
import json
import os

import pytest
from handoff_harness import ON_CALL, PASSWORDS, PATIENT, RASA_TOKEN, SESSION_SECRET

from carebot.handoff.auth import StaffAuth, parse_accounts
from tests.browser_harness import keep_screenshots, require_browser, run_script

SCREENSHOTS = ("staff-inbox.png", "staff-case.png")

pytestmark = pytest.mark.slow


async def test_staff_inbox_in_headless_chromium(backend, tmp_path):
    require_browser()
    now = dt.datetime.now(dt.timezone.utc)
    backend.service.contacts.record_inbound(PATIENT)
    backend.rasa.trackers[PATIENT] = [
        {"event": "user", "text": "I burnt my arm on the oven yesterday", "timestamp": now.timestamp() - 300},
        {
            "event": "bot",
            "text": "I'm sorry to hear that. Can you send a photo of the burn?",
            "timestamp": now.timestamp() - 290,
        },
        {"event": "user", "text": "[photo]", "timestamp": now.timestamp() - 240},
    ]
    await backend.open_case(
        "+447700900311", "triage_callback", transcript="patient: dizzy since this morning"
    )
    case = await backend.open_case(PATIENT, "media", transcript="patient: [photo of a burn on the forearm]")
    await backend.open_case(
        "+447700900422", "asked_for_human", transcript="patient: can I speak to reception"
    )
    await backend.api(
        "POST", "/api/handoff/messages", {"conversation_id": PATIENT, "text": "Is it infected?"}
    )
    case_id = case["case"]["id"]

    auth = StaffAuth(parse_accounts(os.environ["STAFF_ACCOUNTS"], "env"), SESSION_SECRET.encode(), 60)
    expired = auth.issue("alice", now - dt.timedelta(minutes=61)).token
    stdout = await run_script(
        "staff_inbox.mjs",
        tmp_path,
        BASE_URL=backend.url,
        CASE_ID=str(case_id),
        STAFF_NAME="alice",
        STAFF_PASSWORD=PASSWORDS["alice"],
        EXPIRED_COOKIE=expired,
    )
    steps = [json.loads(line)["step"] for line in stdout.splitlines() if line.startswith("{")]
    assert steps == [
        "wrong_password_refused",
        "expired_session_refused",
        "logged_in",
        "case_opened",
        "replied",
        "resolved",
    ]

    # What the browser did reached the patient on WhatsApp and resumed the bot.
    [reply] = backend.twilio.to(PATIENT)
    assert reply["Body"] == "Hello, this is the practice nurse. Please send the photo again in daylight."
    assert backend.rasa.appended == [(PATIENT, RASA_TOKEN, [{"event": "resume"}])]
    resolved = backend.service.store.get(case_id)
    assert (resolved.status, resolved.resolved_by) == ("resolved", "alice")
    kinds = [(e.kind.value, e.author) for e in backend.service.store.events(case_id)]
    assert kinds == [
        ("patient_message", "patient"),
        ("staff_reply", "alice"),
        ("note", "alice"),
        ("resolved", "alice"),
    ]
    assert len(backend.twilio.to(ON_CALL)) == 3  # one alert per new case
    assert all((tmp_path / name).stat().st_size > 10_000 for name in SCREENSHOTS)
    keep_screenshots(tmp_path, *SCREENSHOTS)
