"""The /api/reminders routes on the real backend app, driven through the async client the actions use."""

from __future__ import annotations

import datetime as dt

import pytest
from aiohttp.test_utils import TestClient, TestServer

from carebot.reminders.client import RemindersClient, default_url
from carebot.reminders.store import ReminderStore
from carebot.scheduling.client import BackendError, BackendUnavailable, NotFound
from carebot.server.app import create_app

from .conftest import PATIENT, UTC

NOW = dt.datetime(2026, 11, 28, 7, 10, tzinfo=UTC)

TOKEN = "test-token"


@pytest.fixture
async def served(engine, clinic):
    server = TestServer(create_app(engine, clinic, TOKEN), host="127.0.0.1")
    await server.start_server()
    client = RemindersClient(str(server.make_url("/api/reminders")), token=TOKEN)
    yield client, server
    await client.close()
    await server.close()


async def test_parse_create_list_change_pause_resume_stop(served):
    reminders, _ = served
    parsed = await reminders.parse(
        "remind me to take metformin 500mg at 8am and 8pm every day",
        now=dt.datetime(2026, 11, 28, 7, 10, tzinfo=UTC),
    )
    assert parsed.understood and parsed.description == "every day at 08:00 and 20:00"
    assert parsed.next_due == dt.datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    created = await reminders.create(PATIENT, parsed.spec)
    assert (created.label, created.dose, created.status) == ("metformin", "500mg", "active")
    assert [r.id for r in await reminders.list(PATIENT)] == [created.id]
    matched = await reminders.match(PATIENT, "change my metformin reminder")
    assert matched.id == created.id
    changed = await reminders.change_times(created.id, [(9, 0), (21, 0)])
    assert changed.description == "every day at 09:00 and 21:00"
    assert (await reminders.pause(created.id)).status == "paused"
    assert (await reminders.resume(created.id)).status == "active"
    assert (await reminders.stop(created.id)).status == "stopped"
    assert await reminders.list(PATIENT) == []


async def test_parse_not_understood_is_a_question_not_an_error(served):
    reminders, _ = served
    parsed = await reminders.parse("remind me to take metformin")
    assert not parsed.understood and parsed.missing == "time" and parsed.medication == "metformin"
    assert parsed.message.startswith("When should I remind you")


async def test_errors_map_to_the_scheduling_client_exceptions(served):
    reminders, server = served
    with pytest.raises(NotFound):
        await reminders.pause(424242)
    with pytest.raises(NotFound, match="don't have any medication reminders"):
        await reminders.match(PATIENT, "stop vitamin D")
    with pytest.raises(NotFound, match="no recent reminder"):
        await reminders.respond(PATIENT, "taken")
    with pytest.raises(BackendError) as caught:
        await reminders.change_times(1, [(25, 0)])
    assert caught.value.status == 400 and "not a time" in str(caught.value)
    wrong_token = RemindersClient(str(server.make_url("/api/reminders")), token="wrong")
    with pytest.raises(BackendUnavailable):
        await wrong_token.list(PATIENT)
    await wrong_token.close()


async def test_ambiguous_match_is_a_conflict(served):
    reminders, _ = served
    for text in ("remind me to take vitamin D every morning", "remind me to take metformin every evening"):
        await reminders.create(PATIENT, (await reminders.parse(text)).spec)
    with pytest.raises(BackendError) as caught:
        await reminders.match(PATIENT, "stop my reminder")
    assert caught.value.status == 409 and "vitamin D" in str(caught.value)


async def test_bad_bodies_get_clear_messages(served):
    _, server = served
    async with TestClient(server) as http:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        answer = await http.post("/api/reminders", data="not json", headers=headers)
        assert answer.status == 400 and "JSON" in (await answer.json())["issue"][0]["diagnostics"]
        answer = await http.post(
            "/api/reminders",
            json={"conversation_id": PATIENT, "label": "x", "rrule": "FREQ=DAILY", "dtstart": "tomorrow"},
            headers=headers,
        )
        assert answer.status == 400 and "ISO 8601" in (await answer.json())["issue"][0]["diagnostics"]
        answer = await http.get("/api/reminders", headers=headers)
        assert answer.status == 400 and "conversation_id" in (await answer.json())["issue"][0]["diagnostics"]
        assert (await http.get(f"/api/reminders?conversation_id={PATIENT}")).status == 401


async def test_respond_snooze_and_adherence(served, engine):
    reminders, _ = served
    now = dt.datetime.now(UTC)
    store = ReminderStore(engine)
    due = now - dt.timedelta(minutes=5)
    reminder = store.create(
        PATIENT,
        "metformin",
        "RRULE:FREQ=DAILY;COUNT=1",
        due,
        "Europe/London",
        now=due - dt.timedelta(minutes=1),
    )
    [occurrence] = store.claim("t", due, 10, dt.timedelta(minutes=1))
    store.mark_sending([occurrence.id], due, dt.timedelta(minutes=1))
    store.mark_sent([occurrence.id], due)
    snoozed_until = await reminders.respond(PATIENT, "snoozed", snooze_minutes=15)
    assert dt.timedelta(minutes=14) < snoozed_until - now < dt.timedelta(minutes=16)
    [follow_up] = [o for o in store.occurrences(reminder.id) if o.id != occurrence.id]
    assert follow_up.status == "pending" and follow_up.due_at == snoozed_until
    summary = await reminders.adherence(PATIENT)
    assert summary["doses"] == 0  # the snoozed send is not a dose; its follow-up (not yet due) will be
    assert await reminders.respond(PATIENT, "taken", occurrence_id=occurrence.id) is None
    assert store.occurrence(follow_up.id).status == "cancelled"  # answered after all: no second ask
    summary = await reminders.adherence(PATIENT)
    assert summary["doses"] == 1 and summary["taken"] == 1 and "took 1 of 1" in summary["text"]


async def test_delivery_acknowledgement_is_first_once_and_refused_to_another_sender(served, engine):
    reminders, _ = served
    created = await reminders.create(
        PATIENT, (await reminders.parse("remind me to take metformin at 8am every day", now=NOW)).spec
    )
    key = ReminderStore(engine).occurrences(created.id)[0].idempotency_key
    with pytest.raises(NotFound):
        await reminders.acknowledge_delivery(key, "whatsapp:+447700900999")
    assert await reminders.acknowledge_delivery(key, PATIENT) is True
    assert await reminders.acknowledge_delivery(key, PATIENT) is False


async def test_appointment_reminders_follow_clinic_hours(served, clinic):
    reminders, _ = served
    start = (dt.datetime.now(UTC) + dt.timedelta(days=3)).replace(microsecond=0)
    created = await reminders.create_appointment_reminders(PATIENT, "appt-7", start, "GP appointment")
    assert created.kind == "appointment"
    assert created.next_due == start - dt.timedelta(hours=max(clinic.appointment_reminder_hours))
    assert await reminders.cancel_appointment_reminders("appt-7") == 1


def test_default_url_follows_the_scheduling_url():
    assert default_url({"SCHEDULING_URL": "http://backend:9000/fhir"}) == "http://backend:9000/api/reminders"
    assert default_url({"REMINDERS_URL": "http://x/api/reminders"}) == "http://x/api/reminders"
    assert default_url({}) == "http://127.0.0.1:8080/api/reminders"
