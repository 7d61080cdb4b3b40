"""The identity check over HTTP, on SQLite and (with TEST_POSTGRES_URL) PostgreSQL: a number confirms the date of
birth of one of its patients; wrong answers count down to a lock, concurrent answers get no extra tries, and the
check comes back after the clinic's interval."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import update

from carebot.identity.store import identity_check

PHONE = "+447700900901"
BORN = "1980-05-17"  # scheduling_harness.patient_json's date of birth


async def status(api, phone: str = PHONE):
    code, body = await api.call(
        "POST", "/../api/identity/status", data=f'{{"phone": "{phone}"}}', headers=JSON
    )
    assert code == 200, body
    return body


async def answer(api, birth_date: str, phone: str = PHONE):
    body = f'{{"phone": "{phone}", "birth_date": "{birth_date}"}}'
    code, found = await api.call("POST", "/../api/identity/check", data=body, headers=JSON)
    assert code == 200, found
    return found


JSON = {"Content-Type": "application/json"}


async def test_a_number_without_patients_needs_no_check_and_one_with_a_patient_does(api, backend):
    assert (await status(api))["state"] == "not_needed"
    await api.new_patient(PHONE, "Parent")
    assert await status(api) == {"state": "needed", "attempts_left": 3, "locked_until": None}


async def test_wrong_answers_count_down_then_lock_and_a_right_one_while_locked_does_not_open(api, backend):
    await api.new_patient(PHONE, "Parent")
    assert (await answer(api, "1980-05-18"))["attempts_left"] == 2
    assert (await answer(api, "1981-05-17"))["attempts_left"] == 1
    locked = await answer(api, "1970-01-01")
    assert locked["state"] == "locked" and locked["attempts_left"] == 0
    until = dt.datetime.fromisoformat(locked["locked_until"])
    assert dt.timedelta(minutes=59) < until - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(minutes=60)
    assert (await answer(api, BORN))["state"] == "locked"
    assert (await status(api))["state"] == "locked"
    with backend.engine.begin() as conn:  # the lock runs out: a fresh set of tries
        conn.execute(update(identity_check).values(locked_until=dt.datetime(2000, 1, 1)))
    assert await status(api) == {"state": "needed", "attempts_left": 3, "locked_until": None}
    assert (await answer(api, BORN))["state"] == "verified"


async def test_the_right_date_of_any_patient_of_the_number_verifies_until_the_interval_passes(api, backend):
    await api.new_patient(PHONE, "Parent")
    assert (await answer(api, "1980-05-18"))["attempts_left"] == 2
    assert (await answer(api, BORN))["state"] == "verified"
    assert (await status(api))["state"] == "verified"
    with backend.engine.begin() as conn:
        conn.execute(update(identity_check).values(verified_at=dt.datetime(2000, 1, 1)))
    assert await status(api) == {"state": "needed", "attempts_left": 3, "locked_until": None}


async def test_ten_wrong_answers_at_once_get_no_more_than_three_tries(api, backend):
    await api.new_patient(PHONE, "Parent")
    results = await asyncio.gather(*(answer(api, "1999-01-01") for _ in range(10)))
    states = sorted(r["state"] for r in results)
    assert states.count("needed") == 2 and states.count("locked") == 8


async def test_bad_requests_are_refused_with_a_reason(api, backend):
    code, body = await api.call("POST", "/../api/identity/check", data='{"phone": "12"}', headers=JSON)
    assert code == 400 and "E.164" in body["issue"][0]["diagnostics"]
    code, body = await api.call(
        "POST", "/../api/identity/check", data=f'{{"phone": "{PHONE}", "birth_date": "soon"}}', headers=JSON
    )
    assert code == 400 and "birth_date" in body["issue"][0]["diagnostics"]
