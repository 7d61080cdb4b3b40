"""Every reminder action on tracker fixtures, against the real backend (reminders API + SQLite) on a test server."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Dict, List, Optional

import pytest
from aiohttp.test_utils import TestServer
from rasa_sdk.executor import CollectingDispatcher

from actions import booking
from actions import reminders as actions
from actions.reminders import (
    ActionAdherenceReport,
    ActionChangeReminder,
    ActionConfirmAppointment,
    ActionListReminders,
    ActionPauseReminder,
    ActionRecordReminderResponse,
    ActionResumeReminder,
    ActionSaveReminder,
    ActionSendReminder,
    ActionStopReminder,
    AskReminderRequest,
    ValidateReminderForm,
    snooze_minutes,
    when,
)
from carebot.channels.buttons import ButtonMemory
from carebot.channels.ttl_store import MemoryTTLStore
from carebot.channels.whatsapp import WhatsAppOutput
from carebot.clock import utc_now as utcnow
from carebot.messages import render
from carebot.reminders.client import RemindersClient
from carebot.reminders.dispatcher import trigger_entities
from carebot.reminders.recurrence import next_occurrences, parse_reminder
from carebot.reminders.store import ReminderStore
from carebot.server.app import create_app
from tests.actions.fake_backends import FakeScheduling
from tests.channels.whatsapp_harness import PATIENT, TEMPLATES, clock, contacts, sender_factory, twilio  # noqa: F401 - fixtures
from tests.reminders.conftest import fresh_engine

TOKEN = "test-token"
SENDER = f"whatsapp:{PATIENT}"  # the WhatsApp channel's conversation id


@pytest.fixture
def engine(tmp_path):
    engine = fresh_engine(f"sqlite:///{tmp_path / 'carebot.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine) -> ReminderStore:
    return ReminderStore(engine)


@pytest.fixture
async def backend(engine, clinic, monkeypatch):
    """The backend app on a loopback port; every action's client talks to it."""
    server = TestServer(create_app(engine, clinic, TOKEN), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("/api/reminders"))
    monkeypatch.setattr(actions, "reminders_client", lambda: RemindersClient(url, token=TOKEN))
    client = RemindersClient(url, token=TOKEN)
    yield client
    await client.close()
    await server.close()


@pytest.fixture
def backend_down(monkeypatch, unused_tcp_port):
    """Nothing listens on the port: every call fails as if the backend were down."""
    url = f"http://127.0.0.1:{unused_tcp_port}/api/reminders"
    monkeypatch.setattr(
        actions, "reminders_client", lambda: RemindersClient(url, token=TOKEN, connect_timeout=1)
    )


def said(key: str, **values: Any) -> str:
    return render(key, values).text


def texts(dispatcher: CollectingDispatcher) -> List[str]:
    return [m["text"] for m in dispatcher.messages]


def slots_of(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def run(
    action, make_tracker, dispatcher, domain, text: str = "", intent: Optional[str] = None, **kwargs: Any
) -> List[Dict[str, Any]]:
    return await action.run(dispatcher, make_tracker(text, intent, sender_id=SENDER, **kwargs), domain)


async def add(backend: RemindersClient, phrase: str, sender: str = SENDER):
    spec = parse_reminder(phrase, utcnow(), "Europe/London")
    return await backend.create(sender, spec.to_dict())


# ------------------------------------------------------------------------------------------------ setting one
async def test_a_complete_request_ends_the_form_and_is_saved_with_the_next_time(
    make_tracker, dispatcher, domain, backend, clinic
):
    phrase = "remind me to take metformin 500mg at 8am and 8pm every day"
    events = await run(ValidateReminderForm(), make_tracker, dispatcher, domain, phrase, "set_reminder")
    assert slots_of(events) == {"reminder_draft": None, "reminder_request": phrase}
    assert dispatcher.messages == []

    events = await run(
        ActionSaveReminder(), make_tracker, dispatcher, domain, slots={"reminder_request": phrase}
    )
    [saved] = await backend.list(SENDER)
    assert (saved.label, saved.dose, saved.description) == (
        "metformin",
        "500mg",
        "every day at 08:00 and 20:00",
    )
    expected_next = next_occurrences(parse_reminder(phrase, clinic.now(), clinic.timezone), clinic.now(), 1)[
        0
    ]
    assert saved.next_due == expected_next
    assert texts(dispatcher) == [
        said(
            "reminder_set",
            what="metformin 500mg",
            schedule="every day at 08:00 and 20:00",
            next=when(expected_next),
        )
    ]
    assert slots_of(events) == {"reminder_request": None}


async def test_a_request_without_a_time_asks_when_then_combines_the_answer(
    make_tracker, dispatcher, domain, backend
):
    events = await run(
        ValidateReminderForm(),
        make_tracker,
        dispatcher,
        domain,
        "remind me to take my vitamin D",
        "set_reminder",
    )
    assert slots_of(events) == {"reminder_draft": "remind me to take my vitamin D", "reminder_request": None}

    await run(
        AskReminderRequest(),
        make_tracker,
        dispatcher,
        domain,
        slots={"reminder_draft": "remind me to take my vitamin D"},
    )
    assert texts(dispatcher) == [
        said(
            "reminder_ask_time",
            problem=(
                "When should I remind you? For example 'every day at 8am', 'every 8 hours' or 'in 20 minutes'."
            ),
        )
    ]

    events = await answer(
        make_tracker, domain, "every Monday at 10am", draft="remind me to take my vitamin D"
    )
    assert slots_of(events) == {
        "reminder_draft": None,
        "reminder_request": "remind me to take my vitamin D every Monday at 10am",
    }


def answer_tracker(make_tracker, text: str, draft: str, intent: str = "inform"):
    """The tracker validate_reminder_form gets for an answer: the form's candidate SlotSet comes last."""
    candidate = {"event": "slot", "name": "reminder_request", "value": text}
    return make_tracker(
        text,
        intent,
        sender_id=SENDER,
        events=[{"event": "action", "name": "reminder_form"}, candidate],
        slots={"requested_slot": "reminder_request", "reminder_draft": draft, "reminder_request": text},
    )


async def answer(make_tracker, domain, text: str, draft: str) -> List[Dict[str, Any]]:
    return await ValidateReminderForm().run(
        CollectingDispatcher(), answer_tracker(make_tracker, text, draft), domain
    )


async def test_an_answer_that_adds_nothing_is_dropped_from_the_request(make_tracker, domain, backend):
    events = await answer(make_tracker, domain, "zzq", draft="remind me to take my vitamin D")
    assert slots_of(events) == {"reminder_draft": "remind me to take my vitamin D", "reminder_request": None}


async def test_an_answer_naming_the_medicine_is_kept_while_the_time_is_asked(make_tracker, domain, backend):
    events = await answer(make_tracker, domain, "metformin 500mg", draft="set a reminder")
    assert slots_of(events) == {"reminder_draft": "set a reminder metformin 500mg", "reminder_request": None}


REJECTED = [
    {"event": "slot", "name": "reminder_request", "value": None, "timestamp": None},
    {
        "event": "action_execution_rejected",
        "name": "reminder_form",
        "policy": None,
        "confidence": None,
        "timestamp": None,
    },
]


@pytest.mark.parametrize(
    "text, intent",
    [
        ("never mind", "stop"),
        ("can I talk to a nurse", "ask_human"),
        ('/send_media{"media_type": "audio"}', "send_media"),
        ("/share_location", "share_location"),
    ],
)
async def test_a_plain_stop_a_person_or_media_is_not_the_reminder_so_the_rules_answer_it(
    make_tracker, domain, backend, text, intent
):
    tracker = answer_tracker(make_tracker, text, "set a reminder", intent=intent)
    assert await ValidateReminderForm().run(CollectingDispatcher(), tracker, domain) == REJECTED


async def test_a_reminder_text_the_classifier_reads_as_stop_is_still_the_answer(
    make_tracker, domain, backend
):
    tracker = answer_tracker(
        make_tracker, "stop smoking patch at 8am", "remind me to put on my", intent="stop"
    )
    tracker.latest_message["intent"]["confidence"] = 0.62
    events = await ValidateReminderForm().run(CollectingDispatcher(), tracker, domain)
    assert slots_of(events) == {
        "reminder_draft": None,
        "reminder_request": "remind me to put on my stop smoking patch at 8am",
    }


async def test_a_request_without_a_medicine_asks_what_to_take(make_tracker, dispatcher, domain, backend):
    events = await run(
        ValidateReminderForm(), make_tracker, dispatcher, domain, "set a reminder", "set_reminder"
    )
    assert slots_of(events) == {"reminder_draft": "set a reminder", "reminder_request": None}
    await run(
        AskReminderRequest(), make_tracker, dispatcher, domain, slots={"reminder_draft": "set a reminder"}
    )
    assert texts(dispatcher) == [said("reminder_ask_medication")]


async def test_backend_down_when_saving_says_so_and_stores_nothing(
    make_tracker, dispatcher, domain, backend_down, store, clinic
):
    await run(
        ActionSaveReminder(),
        make_tracker,
        dispatcher,
        domain,
        slots={"reminder_request": "remind me to take ibuprofen in 20 minutes"},
    )
    assert texts(dispatcher) == [said("reminder_not_saved", clinic_phone=clinic.phone)]
    assert store.list(SENDER) == []


# -------------------------------------------------------------------------------------- listing and changing
async def test_list_shows_each_reminder_with_its_schedule_and_next_time(
    make_tracker, dispatcher, domain, backend
):
    metformin = await add(backend, "remind me to take metformin 500mg at 8am every day")
    zinc = await add(backend, "remind me to take zinc every Monday at 9am")
    await backend.pause(zinc.id)
    await run(ActionListReminders(), make_tracker, dispatcher, domain, "my reminders", "list_reminders")
    [metformin] = [r for r in await backend.list(SENDER) if r.id == metformin.id]
    lines = "\n".join(
        [
            said(
                "reminder_line",
                what="metformin 500mg",
                schedule="every day at 08:00",
                next=when(metformin.next_due),
            ),
            said("reminder_paused_line", what="zinc", schedule="every Monday at 09:00", next=""),
        ]
    )
    assert texts(dispatcher) == [said("reminder_list", lines=lines)]


async def test_list_without_reminders_explains_how_to_set_one(make_tracker, dispatcher, domain, backend):
    await run(ActionListReminders(), make_tracker, dispatcher, domain, "my reminders", "list_reminders")
    assert texts(dispatcher) == [said("reminder_none")]


async def test_stop_finds_the_reminder_by_a_misspelt_name(make_tracker, dispatcher, domain, backend):
    await add(backend, "remind me to take metformin at 8am every day")
    await add(backend, "remind me to take vitamin D every day at 9am")
    await run(
        ActionStopReminder(), make_tracker, dispatcher, domain, "stop my vitamn D reminder", "stop_reminder"
    )
    assert texts(dispatcher) == [said("reminder_stopped", what="vitamin D")]
    assert [r.label for r in await backend.list(SENDER)] == ["metformin"]


async def test_a_brand_name_finds_the_generic_reminder_through_the_medicine_entity(
    make_tracker, dispatcher, domain, backend
):
    await add(backend, "remind me to take metformin at 8am every day")
    await add(backend, "remind me to take ramipril at 9am every day")
    await run(
        ActionPauseReminder(),
        make_tracker,
        dispatcher,
        domain,
        "pause my glucophage reminder",
        "pause_reminder",
        entities=[{"entity": "medicine", "value": "metformin"}],
    )
    assert texts(dispatcher) == [said("reminder_paused", what="metformin", label="metformin")]
    assert {r.label: r.status for r in await backend.list(SENDER)} == {
        "metformin": "paused",
        "ramipril": "active",
    }


async def test_an_ambiguous_name_asks_which_with_numbered_buttons_that_complete_the_request(
    make_tracker, dispatcher, domain, backend
):
    morning = await add(backend, "remind me to take metformin at 8am every day")
    await add(
        backend, "remind me to take vitamin D at 9am every day"
    )  # not offered: it is not what was named
    evening = await add(backend, "remind me to take metformin at 8pm every day")
    await run(
        ActionStopReminder(), make_tracker, dispatcher, domain, "stop my metformin reminder", "stop_reminder"
    )
    assert dispatcher.messages[0]["text"] == said("reminder_which")
    assert dispatcher.messages[0]["buttons"] == [
        {
            "title": "metformin (every day at 08:00)",
            "payload": f'/stop_reminder{{"reminder_id": "{morning.id}"}}',
        },
        {
            "title": "metformin (every day at 20:00)",
            "payload": f'/stop_reminder{{"reminder_id": "{evening.id}"}}',
        },
    ]
    assert len(await backend.list(SENDER)) == 3  # nothing stopped yet

    chosen = CollectingDispatcher()
    await run(
        ActionStopReminder(),
        make_tracker,
        chosen,
        domain,
        f'/stop_reminder{{"reminder_id": "{evening.id}"}}',
        "stop_reminder",
        entities=[{"entity": "reminder_id", "value": str(evening.id)}],
    )
    assert texts(chosen) == [said("reminder_stopped", what="metformin")]
    assert [(r.label, r.description) for r in await backend.list(SENDER)] == [
        ("metformin", "every day at 08:00"),
        ("vitamin D", "every day at 09:00"),
    ]


async def test_change_moves_the_reminder_to_the_new_time(make_tracker, dispatcher, domain, backend):
    created = await add(backend, "remind me to take metformin 500mg at 8am every day")
    await run(
        ActionChangeReminder(),
        make_tracker,
        dispatcher,
        domain,
        "move my metformin reminder to 9am",
        "change_reminder",
    )
    [changed] = await backend.list(SENDER)
    assert (changed.id, changed.description) == (created.id, "every day at 09:00")
    assert texts(dispatcher) == [
        said(
            "reminder_changed",
            what="metformin 500mg",
            label="metformin",
            schedule="every day at 09:00",
            next=when(changed.next_due),
        )
    ]


async def test_an_ambiguous_change_keeps_the_new_time_in_the_buttons(
    make_tracker, dispatcher, domain, backend
):
    first = await add(backend, "remind me to take insulin at 7am every day")
    await add(backend, "remind me to take insulin at 6pm every day")
    await run(
        ActionChangeReminder(),
        make_tracker,
        dispatcher,
        domain,
        "move my insulin reminder to 7:30am",
        "change_reminder",
    )
    payload = dispatcher.messages[0]["buttons"][0]["payload"]
    assert payload == "/change_reminder" + json.dumps(
        {"reminder_id": str(first.id), "reminder_times": "07:30"}
    )

    chosen = CollectingDispatcher()
    await run(
        ActionChangeReminder(),
        make_tracker,
        chosen,
        domain,
        payload,
        "change_reminder",
        entities=[
            {"entity": "reminder_id", "value": str(first.id)},
            {"entity": "reminder_times", "value": "07:30"},
        ],
    )
    assert {r.id: r.description for r in await backend.list(SENDER)}[first.id] == "every day at 07:30"


async def test_change_without_a_time_asks_for_it_and_changes_nothing(
    make_tracker, dispatcher, domain, backend
):
    await add(backend, "remind me to take metformin at 8am every day")
    await run(
        ActionChangeReminder(),
        make_tracker,
        dispatcher,
        domain,
        "change my metformin reminder",
        "change_reminder",
    )
    assert texts(dispatcher) == [said("reminder_change_needs_time")]
    assert [r.description for r in await backend.list(SENDER)] == ["every day at 08:00"]


async def test_pause_then_resume_says_the_next_time(make_tracker, dispatcher, domain, backend):
    await add(backend, "remind me to take zinc every day at 9am")
    await run(
        ActionPauseReminder(), make_tracker, dispatcher, domain, "pause my zinc reminder", "pause_reminder"
    )
    resumed = CollectingDispatcher()
    await run(
        ActionResumeReminder(), make_tracker, resumed, domain, "resume my zinc reminder", "resume_reminder"
    )
    [zinc] = await backend.list(SENDER)
    assert zinc.status == "active"
    assert texts(dispatcher) == [said("reminder_paused", what="zinc", label="zinc")]
    assert texts(resumed) == [
        said("reminder_resumed", what="zinc", schedule="every day at 09:00", next=when(zinc.next_due))
    ]


async def test_resuming_an_active_reminder_says_why_not(make_tracker, dispatcher, domain, backend):
    await add(backend, "remind me to take zinc every day at 9am")
    await run(
        ActionResumeReminder(), make_tracker, dispatcher, domain, "resume my zinc reminder", "resume_reminder"
    )
    assert texts(dispatcher) == [
        said("reminder_not_possible", problem="That reminder is active, not paused.")
    ]


async def test_changes_with_the_backend_down_get_a_polite_message(
    make_tracker, dispatcher, domain, backend_down, clinic
):
    await run(
        ActionStopReminder(), make_tracker, dispatcher, domain, "stop my zinc reminder", "stop_reminder"
    )
    await run(ActionListReminders(), make_tracker, dispatcher, domain, "my reminders", "list_reminders")
    await run(ActionAdherenceReport(), make_tracker, dispatcher, domain, "how am I doing", "adherence_report")
    assert texts(dispatcher) == [said("reminder_unavailable", clinic_phone=clinic.phone)] * 3


# ------------------------------------------------------------------------------------------- the reminder
def sent_occurrence(store: ReminderStore, reminder_id: int):
    """The reminder's first occurrence, as the dispatcher leaves it once delivered."""
    occurrence = store.occurrences(reminder_id)[0]
    [claimed] = store.claim("test", occurrence.due_at, 1, dt.timedelta(minutes=1))
    assert claimed.id == occurrence.id
    store.mark_sent([occurrence.id], occurrence.due_at)
    return store.occurrence(occurrence.id)


def trigger(occurrence) -> List[Dict[str, Any]]:
    return [{"entity": name, "value": value} for name, value in trigger_entities(occurrence).items()]


async def test_the_reminder_is_spoken_once_per_key_with_options_and_its_template(
    make_tracker, dispatcher, domain, backend, store, clinic
):
    created = await add(backend, "remind me to take metformin 500mg in 20 minutes")
    occurrence = store.occurrences(created.id)[0]
    tracker_args = dict(
        text="EXTERNAL: medication_reminder", intent="medication_reminder", entities=trigger(occurrence)
    )
    await run(ActionSendReminder(), make_tracker, dispatcher, domain, **tracker_args)
    local = occurrence.due_at.astimezone(clinic.tz).strftime("%H:%M")
    expected = render("reminder_medication", {"what": "metformin 500mg", "time": local})
    assert [m["custom"] for m in dispatcher.messages] == [
        {
            "text": expected.text,
            "buttons": expected.buttons,
            "template": "medication_reminder",
            "variables": {"1": "metformin 500mg", "2": local},
            # For the WhatsApp outbox: one message per occurrence, retried until the grace period ends.
            "outbox": {
                "key": occurrence.idempotency_key,
                "kind": "medication_reminder",
                "deadline": (
                    occurrence.due_at + dt.timedelta(minutes=clinic.reminder_grace_minutes)
                ).isoformat(),
            },
        }
    ]
    assert [b["payload"] for b in expected.buttons] == [
        "/reminder_taken",
        "/reminder_skipped",
        "/reminder_snooze",
    ]
    assert store.delivered_keys([occurrence.idempotency_key]) == {occurrence.idempotency_key}

    again = CollectingDispatcher()
    await run(ActionSendReminder(), make_tracker, again, domain, **tracker_args)
    assert again.messages == []


@pytest.mark.parametrize("in_window", [True, False])
async def test_on_whatsapp_the_reminder_is_quick_replies_in_the_window_and_the_template_outside(
    in_window, make_tracker, dispatcher, domain, backend, store, clinic, sender_factory, contacts, twilio
):
    if in_window:
        contacts.record_inbound(PATIENT)
    created = await add(backend, "remind me to take metformin 500mg in 20 minutes")
    occurrence = store.occurrences(created.id)[0]
    await run(
        ActionSendReminder(),
        make_tracker,
        dispatcher,
        domain,
        "EXTERNAL: medication_reminder",
        "medication_reminder",
        entities=trigger(occurrence),
    )
    output = WhatsAppOutput(sender_factory(), ButtonMemory(MemoryTTLStore()))
    for message in dispatcher.messages:  # what Rasa does with each response on the whatsapp output channel
        await output.send_response(SENDER, {k: v for k, v in message.items() if v})
    [sent] = twilio.requests
    local = occurrence.due_at.astimezone(clinic.tz).strftime("%H:%M")
    if in_window:
        shown = twilio.show(sent["ContentSid"][0], sent["ContentVariables"][0])
        assert "Body" not in sent and shown["body"] == said(
            "reminder_medication", what="metformin 500mg", time=local
        )
        assert [action["title"] for action in shown["actions"]] == ["Taken", "Skip", "Snooze 30 min"]
    else:
        assert sent["ContentSid"] == [TEMPLATES["medication_reminder"]] and "Body" not in sent
        assert json.loads(sent["ContentVariables"][0]) == {"1": "metformin 500mg", "2": local}


async def test_the_reminder_stays_silent_when_its_delivery_cannot_be_recorded(
    make_tracker, dispatcher, domain, backend_down
):
    await run(
        ActionSendReminder(),
        make_tracker,
        dispatcher,
        domain,
        "EXTERNAL: medication_reminder",
        "medication_reminder",
        entities=[
            {"entity": "reminder_key", "value": "r1v1@20261128T081000Z"},
            {"entity": "reminder_label", "value": "metformin"},
        ],
    )
    assert dispatcher.messages == []


async def test_asking_about_a_reminder_in_words_lists_the_reminders(
    make_tracker, dispatcher, domain, backend
):
    await run(
        ActionSendReminder(),
        make_tracker,
        dispatcher,
        domain,
        "what was that reminder",
        "medication_reminder",
    )
    assert texts(dispatcher) == [said("reminder_none")]


async def test_an_appointment_reminder_offers_confirm_reschedule_cancel_for_that_appointment(
    make_tracker, dispatcher, domain, backend, store, clinic
):
    start = clinic.now().replace(second=0, microsecond=0) + dt.timedelta(days=2)
    created = await backend.create_appointment_reminders(
        SENDER, "appt-7", start, "GP appointment with Dr Patel"
    )
    occurrence = store.occurrences(created.id)[0]
    await run(
        ActionSendReminder(),
        make_tracker,
        dispatcher,
        domain,
        "EXTERNAL: appointment_reminder",
        "appointment_reminder",
        entities=trigger(occurrence),
    )
    [message] = [m["custom"] for m in dispatcher.messages]
    ids = '{"appointment_id": "appt-7"}'
    assert [b["payload"] for b in message["buttons"]] == [
        f"/confirm_appointment{ids}",
        f"/reschedule_appointment{ids}",
        f"/cancel_appointment{ids}",
    ]
    assert message["text"] == said(
        "reminder_appointment", what="GP appointment with Dr Patel", when=when(start), appointment=ids
    )
    assert (message["template"], message["variables"]) == (
        "appointment_reminder",
        {"1": "GP appointment with Dr Patel", "2": when(start)},
    )

    confirmed = CollectingDispatcher()
    await run(ActionConfirmAppointment(), make_tracker, confirmed, domain, ids, "confirm_appointment")
    assert texts(confirmed) == [said("reminder_appointment_confirmed")]


async def test_the_reminders_cancel_button_preselects_its_appointment_in_the_booking_form(
    make_tracker, dispatcher, clinic, monkeypatch
):
    scheduling = FakeScheduling(clinic, clinic.now())
    monkeypatch.setattr(booking, "scheduling_client", lambda: scheduling)
    patient = scheduling.add_patient("Sam Taylor", PATIENT)
    soon = clinic.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=3)
    first = await scheduling.book(patient.id, scheduling.add_slot(soon, clinic.providers[0].id), "gp")
    second = await scheduling.book(
        patient.id, scheduling.add_slot(soon + dt.timedelta(days=1), clinic.providers[0].id), "gp"
    )
    tracker = make_tracker(
        f'/cancel_appointment{{"appointment_id": "{second.id}"}}',
        "cancel_appointment",
        entities=[{"entity": "appointment_id", "value": second.id}],
        sender_id=SENDER,
    )
    chosen = await booking.ValidateAppointmentForm().load_appointments(dispatcher, tracker)
    assert chosen["appointment_choice"] == second.id != first.id


# -------------------------------------------------------------------------------------------- the answers
async def test_taken_is_recorded_for_the_occurrence_in_the_slot(
    make_tracker, dispatcher, domain, backend, store
):
    first = sent_occurrence(store, (await add(backend, "remind me to take metformin in 20 minutes")).id)
    later = sent_occurrence(store, (await add(backend, "remind me to take zinc in 30 minutes")).id)
    await run(
        ActionRecordReminderResponse(),
        make_tracker,
        dispatcher,
        domain,
        "1",
        "reminder_taken",
        slots={"reminder_occurrence": str(first.id)},
    )
    assert texts(dispatcher) == [said("reminder_taken")]
    assert (store.occurrence(first.id).response, store.occurrence(later.id).response) == ("taken", None)


async def test_skip_without_a_remembered_occurrence_answers_the_latest(
    make_tracker, dispatcher, domain, backend, store
):
    occurrence = sent_occurrence(store, (await add(backend, "remind me to take metformin in 20 minutes")).id)
    await run(ActionRecordReminderResponse(), make_tracker, dispatcher, domain, "skip", "reminder_skipped")
    assert texts(dispatcher) == [said("reminder_skipped")]
    assert store.occurrence(occurrence.id).response == "skipped"


async def test_snooze_45_brings_the_reminder_back_in_45_minutes(
    make_tracker, dispatcher, domain, backend, store
):
    created = await add(backend, "remind me to take metformin in 20 minutes")
    occurrence = sent_occurrence(store, created.id)
    before = utcnow()
    await run(
        ActionRecordReminderResponse(),
        make_tracker,
        dispatcher,
        domain,
        "snooze 45",
        "reminder_snooze",
        slots={"reminder_occurrence": str(occurrence.id)},
    )
    [follow_up] = [o for o in store.occurrences(created.id) if o.id != occurrence.id]
    assert before + dt.timedelta(minutes=45) <= follow_up.due_at <= utcnow() + dt.timedelta(minutes=45)
    assert texts(dispatcher) == [said("reminder_snoozed", next=when(follow_up.due_at))]
    assert store.occurrence(occurrence.id).response == "snoozed"


@pytest.mark.parametrize(
    "text, minutes",
    [
        ("3", 30),
        ("/reminder_snooze", 30),
        ("snooze 45", 45),
        ("snooze 2 hours", 120),
        ("snooze for an hour", 60),
        ("snooze 5000", 30),
    ],
)
def test_snooze_minutes_from_the_words(text, minutes):
    assert snooze_minutes(text) == minutes


async def test_an_answer_with_nothing_to_answer_says_so(make_tracker, dispatcher, domain, backend):
    await run(ActionRecordReminderResponse(), make_tracker, dispatcher, domain, "taken", "reminder_taken")
    assert texts(dispatcher) == [said("reminder_nothing_to_answer")]


async def test_an_answer_with_the_backend_down_asks_to_reply_again(
    make_tracker, dispatcher, domain, backend_down
):
    await run(
        ActionRecordReminderResponse(),
        make_tracker,
        dispatcher,
        domain,
        "taken",
        "reminder_taken",
        slots={"reminder_occurrence": "12"},
    )
    assert texts(dispatcher) == [said("reminder_answer_not_saved")]


async def test_adherence_counts_the_last_seven_days_per_medicine(
    make_tracker, dispatcher, domain, backend, store
):
    an_hour_ago = utcnow() - dt.timedelta(hours=1)
    answered = []
    for medicine, answer in (("metformin", "taken"), ("zinc", "skipped"), ("metformin", "taken")):
        spec = parse_reminder(f"remind me to take {medicine} in 5 minutes", an_hour_ago, "Europe/London")
        reminder = store.create(
            SENDER, spec.medication, spec.rrule, spec.dtstart, spec.timezone, now=an_hour_ago
        )
        occurrence = sent_occurrence(store, reminder.id)
        store.record_response(SENDER, answer, occurrence_id=occurrence.id)
        answered.append(occurrence.id)
    await run(ActionAdherenceReport(), make_tracker, dispatcher, domain, "how am I doing", "adherence_report")
    lines = "\n".join(
        [
            said("reminder_adherence_line", label="metformin", taken=2, doses=2, skipped=0, no_reply=0),
            said("reminder_adherence_line", label="zinc", taken=0, doses=1, skipped=1, no_reply=0),
        ]
    )
    assert texts(dispatcher) == [
        said("reminder_adherence", days=7, taken=2, answered=3, percent="67%", lines=lines)
    ]


async def test_adherence_with_nothing_due_says_so(make_tracker, dispatcher, domain, backend):
    await run(ActionAdherenceReport(), make_tracker, dispatcher, domain, "how am I doing", "adherence_report")
    assert texts(dispatcher) == [said("reminder_adherence_none", days=7)]
