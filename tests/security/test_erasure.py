"""Erasure and export of one patient across every store (issue 14, "Erasure and export"): the operator's
`python -m carebot.privacy erase|export PHONE` path, on SQLite and (TEST_POSTGRES_URL) PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa
from fhir.resources.bundle import Bundle
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import func, select

from carebot.backend.audit import AuditLog, patient_ref
from carebot.backend.db import to_db
from carebot.backend.notices import notices
from carebot.channels.contacts import ContactStore
from carebot.channels.outbox import OutboxStore
from carebot.handoff.store import handoff_cases, handoff_events
from carebot.identity.store import identity_check
from carebot.payloads import FORGET_CONVERSATION, FORGET_NUMBER
from carebot.privacy import __main__ as cli
from carebot.privacy.erasure import erase_everywhere
from carebot.privacy.export import export_bundle
from carebot.privacy.model import PAST_APPOINTMENTS
from carebot.privacy.stores import PatientStores
from carebot.privacy.tracker_store import ProtectedSQLTrackerStore
from carebot.reminders.store import ReminderStore
from carebot.review.store import ReviewStore
from carebot.scheduling import tables as t
from carebot.waitlist import tables as waitlist
from tests.channels.whatsapp_harness import PATIENT as SENDER
from tests.handoff.handoff_harness import csrf_of
from tests.security.store_search import found_in_databases, found_in_files

PATIENT = "+447700900555"
OTHER = "+447700900666"
BYSTANDER = "+447700900777"  # the tracker store must exist before PatientStores opens it
ONLY_THEIRS = "Quorvelline"  # a word only this patient ever wrote
UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC).replace(microsecond=0)


def tracker_store(url: str) -> ProtectedSQLTrackerStore:
    parsed = sa.engine.make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return ProtectedSQLTrackerStore(Domain.empty(), dialect="sqlite", db=parsed.database)
    return ProtectedSQLTrackerStore(
        Domain.empty(),
        dialect="postgresql",
        host=parsed.host,
        port=parsed.port,
        db=parsed.database,
        username=parsed.username,
        password=parsed.password,
    )


async def save_chat(url: str, phone: str, said: str) -> None:
    tracker = DialogueStateTracker.from_events(
        f"whatsapp:{phone}",
        [ActionExecuted("action_listen"), UserUttered(said), BotUttered("Thanks, noted.")],
    )
    await tracker_store(url).save(tracker)


def add_appointment(conn, patient_id: str, start: dt.datetime, ident: str) -> None:
    slot_id = f"dr-patel-{start:%Y%m%d%H%M}"
    conn.execute(
        t.slot.insert().values(
            id=slot_id,
            schedule_id="sched-dr-patel",
            practitioner_id="dr-patel",
            start=to_db(start),
            end=to_db(start + dt.timedelta(minutes=15)),
            status="busy",
            version=1,
            last_updated=to_db(NOW),
        )
    )
    conn.execute(
        t.appointment.insert().values(
            id=ident,
            status="booked",
            patient_id=patient_id,
            practitioner_id="dr-patel",
            service_id="gp",
            slot_ids=slot_id,
            start=to_db(start),
            end=to_db(start + dt.timedelta(minutes=15)),
            created=to_db(NOW),
            version=1,
            last_updated=to_db(NOW),
        )
    )


def add_waitlist_place(conn, patient_id: str, phone: str) -> None:
    """The patient waits for an earlier GP time and has been offered one."""
    today = NOW.date()
    conn.execute(
        waitlist.entry.insert().values(
            id=f"wait-{patient_id}",
            patient_id=patient_id,
            service_id="gp",
            date_from=today,
            date_to=today + dt.timedelta(days=7),
            day_parts=7,
            state="offered",
            conversation_id=f"whatsapp:{phone}",
            channel="whatsapp",
            created=to_db(NOW),
            last_updated=to_db(NOW),
        )
    )
    conn.execute(
        waitlist.offer.insert().values(
            id=f"offer-{patient_id}",
            entry_id=f"wait-{patient_id}",
            patient_id=patient_id,
            slot_id=f"dr-patel-offered-{patient_id}",
            service_id="gp",
            practitioner_id="dr-patel",
            start=to_db(NOW + dt.timedelta(days=1)),
            expires_at=to_db(NOW + dt.timedelta(minutes=15)),
            state="open",
            created=to_db(NOW),
            last_updated=to_db(NOW),
        )
    )


async def seed(stores: PatientStores, tracker_url: str, phone: str, word: str, hour: int = 0) -> None:
    """One patient in every store: record, a past and a future appointment, a waitlist place with an offer, a
    reminder, a staff case, an identity check, the channel's window and a held message, and a conversation."""
    patient_id = uuid.uuid4().hex[:12]
    # a dependant the phone books for (issue 18): erased and exported with it
    child_id = f"{patient_id}-child"
    with stores.backend.begin() as conn:
        for ident, given, born in (
            (patient_id, "Ada", dt.date(1980, 5, 1)),
            (child_id, "Bo", dt.date(2019, 6, 1)),
        ):
            conn.execute(
                t.patient.insert().values(
                    id=ident,
                    family=f"{word}son",
                    given=given,
                    phone=phone,
                    birth_date=born,
                    version=1,
                    last_updated=to_db(NOW),
                )
            )
        conn.execute(
            t.related_person.insert().values(
                id=f"rp-{patient_id}",
                patient_id=child_id,
                phone=phone,
                relationship="PRN",
                version=1,
                last_updated=to_db(NOW),
            )
        )
        add_appointment(conn, patient_id, NOW - dt.timedelta(days=20, hours=hour), f"past-{patient_id}")
        add_appointment(conn, patient_id, NOW + dt.timedelta(days=3, hours=hour), f"next-{patient_id}")
        add_waitlist_place(conn, patient_id, phone)
        conn.execute(identity_check.insert().values(phone=phone, verified_at=to_db(NOW), failures=0))
        case_id = conn.execute(
            handoff_cases.insert().values(
                conversation_id=f"whatsapp:{phone}",
                patient_phone=phone,
                reason="asked_for_human",
                transcript=f"Patient: my {word} rash",
                status="resolved",
                created_at=to_db(NOW),
            )
        ).inserted_primary_key[0]
        conn.execute(
            handoff_events.insert().values(
                case_id=case_id, kind="patient_message", author="patient", text=f"{word} again", at=to_db(NOW)
            )
        )
    ReminderStore(stores.backend).create(
        f"whatsapp:{phone}",
        f"{word}mycin",
        "FREQ=DAILY;BYHOUR=9;BYMINUTE=0",
        NOW,
        "Europe/London",
        dose="1 tablet",
    )
    channel = ContactStore(str(stores.channel.url))
    channel.record_inbound(phone)
    channel.hold_message(phone, f"Time for your {word}mycin")
    OutboxStore(channel.engine).enqueue(phone, "medication_reminder", text=f"Take your {word}mycin now")
    await save_chat(tracker_url, phone, f"my {word} rash is back")
    mark_for_review(stores, phone)


def mark_for_review(stores: PatientStores, phone: str) -> None:
    """Staff mark the patient's message as an NLU example (conversation review): a copy of their words."""
    with stores.tracker.connect() as conn:
        [event_id] = conn.execute(
            sa.text("SELECT id FROM events WHERE sender_id = :sender AND type_name = 'user'"),
            {"sender": f"whatsapp:{phone}"},
        ).scalars()
    assert ReviewStore(stores.backend, stores.tracker, frozenset({"report_symptoms"})).mark(
        event_id, "report_symptoms", "dr.lee"
    )


def sqlite_urls(folder: Path) -> dict:
    return {
        store: f"sqlite:///{folder / name}"
        for store, name in (("backend", "carebot.db"), ("channel", "whatsapp.db"), ("tracker", "tracker.db"))
    }


def postgres_param():
    return pytest.param(
        "postgres",
        id="postgres",
        marks=pytest.mark.skipif(not os.environ.get("TEST_POSTGRES_URL"), reason="TEST_POSTGRES_URL not set"),
    )


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"), postgres_param()])
def store_urls(request, tmp_path) -> Iterator[dict]:
    """Backend, channel and tracker databases: three SQLite files, or one fresh PostgreSQL database for all."""
    if request.param == "sqlite":
        yield sqlite_urls(tmp_path)
        return
    admin = sa.create_engine(os.environ["TEST_POSTGRES_URL"], isolation_level="AUTOCOMMIT")
    name = f"carebot_erasure_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = str(sa.engine.make_url(os.environ["TEST_POSTGRES_URL"]).set(database=name))
    yield {"backend": url, "channel": url, "tracker": url}
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


async def test_erasure_leaves_no_trace_of_the_patient_in_any_store(store_urls, clinic, tmp_path) -> None:
    await save_chat(
        store_urls["tracker"], BYSTANDER, "hello"
    )  # the tracker store exists before the stores open
    stores = PatientStores(store_urls["backend"], store_urls["channel"], store_urls["tracker"])
    await seed(stores, store_urls["tracker"], PATIENT, ONLY_THEIRS)
    await seed(stores, store_urls["tracker"], OTHER, "Brindlewick", hour=1)
    engines = [stores.backend, stores.channel, stores.tracker]
    assert set(found_in_databases(engines, [ONLY_THEIRS])) >= {
        "sched_patient",
        "reminders",
        "handoff_events",
        "whatsapp_held_messages",
        "whatsapp_outbox",
        "events",
        "review_queue",
    }

    report = erase_everywhere(stores, clinic, PATIENT, kept=())
    AuditLog(stores.backend).record("operator", "erase", PATIENT, report.describe())

    assert found_in_databases(engines, [ONLY_THEIRS, PATIENT, PATIENT.lstrip("+")]) == {}
    if store_urls["backend"].startswith("sqlite"):
        assert found_in_files(tmp_path.glob("*.db"), [ONLY_THEIRS, PATIENT.lstrip("+")]) == {}
    assert set(found_in_databases(engines, ["Brindlewick"])) >= {
        "sched_patient",
        "reminders",
        "events",
        "review_queue",
    }
    [erased] = [e for e in AuditLog(stores.backend).entries() if e.action == "erase"]
    assert erased.patient == patient_ref(PATIENT) and AuditLog(stores.backend).verify() is None
    assert report.deleted["upcoming appointments"] == 1 and report.deleted["conversation events"] == 3
    assert report.deleted["waitlist places"] == 1 and report.deleted["identity checks"] == 1
    assert report.deleted["messages marked for review"] == 1
    with stores.backend.connect() as conn:  # the other patient's place and offer are untouched
        assert conn.execute(select(func.count()).select_from(waitlist.offer)).scalar() == 1
        assert conn.execute(select(waitlist.entry.c.conversation_id)).scalars().all() == [f"whatsapp:{OTHER}"]
    assert (report.deleted["patient records"], report.deleted["dependant links"]) == (2, 1)
    [(_, notice)] = notices(stores.backend)
    assert notice.startswith("Cancelled: GP appointment with Dr Asha Patel, ") and "erased" in notice
    with stores.backend.connect() as conn:
        freed = conn.execute(
            select(func.count()).select_from(t.slot).where(t.slot.c.status == "free")
        ).scalar()
    assert freed == 1  # the cancelled appointment's time can be booked by someone else
    stores.close()


@pytest.fixture
async def seeded(tmp_path) -> PatientStores:
    """Three SQLite stores holding PATIENT's data."""
    urls = sqlite_urls(tmp_path)
    await save_chat(urls["tracker"], BYSTANDER, "hello")  # the tracker store exists before the stores open
    stores = PatientStores(urls["backend"], urls["channel"], urls["tracker"])
    await seed(stores, urls["tracker"], PATIENT, ONLY_THEIRS)
    yield stores
    stores.close()


async def test_what_the_clinic_must_keep_is_kept_and_reported(seeded, clinic) -> None:
    stores = seeded
    report = erase_everywhere(stores, clinic, PATIENT, kept=(PAST_APPOINTMENTS,))

    assert report.kept == {PAST_APPOINTMENTS: 1} and report.deleted["upcoming appointments"] == 1
    assert found_in_databases([stores.backend, stores.channel, stores.tracker], [ONLY_THEIRS]) == {
        "sched_patient": [ONLY_THEIRS]
    }  # the name on the kept appointment; reminders, cases, chat are gone


async def test_export_is_a_valid_fhir_bundle_with_the_transcript(seeded, clinic) -> None:
    bundle = export_bundle(seeded, clinic, PATIENT)

    Bundle.parse_obj(bundle)  # FHIR R4 validation of every entry
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert kinds == [
        "Patient",
        "Patient",
        "RelatedPerson",
        "Appointment",
        "Appointment",
        "MedicationRequest",
        "DocumentReference",
    ]
    medication = bundle["entry"][5]["resource"]
    assert medication["medicationCodeableConcept"]["text"] == f"{ONLY_THEIRS}mycin"
    assert (
        medication["dosageInstruction"][0]["timing"]["code"]["text"] == "RRULE:FREQ=DAILY;BYHOUR=9;BYMINUTE=0"
    )
    text = base64.b64decode(bundle["entry"][6]["resource"]["content"][0]["attachment"]["data"]).decode()
    assert f"patient: my {ONLY_THEIRS} rash is back" in text and "bot: Thanks, noted." in text
    assert f"patient (staff case): {ONLY_THEIRS} again" in text
    assert "Brindlewick" not in json.dumps(bundle) and "hello" not in text


async def test_the_operator_cli_exports_then_erases(tmp_path, monkeypatch, capsys) -> None:
    backend, channel = tmp_path / "carebot.db", tmp_path / "whatsapp.db"
    monkeypatch.setenv("CAREBOT_DATABASE_URL", f"sqlite:///{backend}")
    monkeypatch.setenv("WHATSAPP_STATE_DATABASE_URL", f"sqlite:///{channel}")
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        f"tracker_store:\n  type: carebot.privacy.tracker_store.ProtectedSQLTrackerStore\n"
        f"  dialect: sqlite\n  db: {tmp_path / 'tracker.db'}\n"
    )
    monkeypatch.setenv("RASA_ENDPOINTS", str(endpoints))
    await save_chat(f"sqlite:///{tmp_path / 'tracker.db'}", BYSTANDER, "hello")
    stores = PatientStores()
    await seed(stores, f"sqlite:///{tmp_path / 'tracker.db'}", PATIENT, ONLY_THEIRS)
    stores.close()

    out = tmp_path / "export.json"
    assert cli.main(["export", PATIENT, "--out", str(out)]) == 0
    assert json.loads(out.read_text())["resourceType"] == "Bundle"
    assert cli.main(["erase", PATIENT]) == 0
    assert "cancelled 1" in capsys.readouterr().out
    stores = PatientStores()
    assert found_in_databases([stores.backend, stores.channel, stores.tracker], [ONLY_THEIRS, PATIENT]) == {}
    assert [e.action for e in AuditLog(stores.backend).entries(phone=PATIENT)] == ["erase", "export"]
    stores.close()


@pytest.fixture
def staff_admins(monkeypatch, tmp_path) -> None:
    """alice is an admin; the services' tracker store is a fresh file (set before the backend starts)."""
    monkeypatch.setenv("STAFF_ADMINS", "alice")
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        f"tracker_store:\n  type: carebot.privacy.tracker_store.ProtectedSQLTrackerStore\n"
        f"  dialect: sqlite\n  db: {tmp_path / 'tracker.db'}\n"
    )
    monkeypatch.setenv("RASA_ENDPOINTS", str(endpoints))


@pytest.fixture
async def admin_backend(staff_admins, backend):
    return backend


async def test_an_admin_exports_and_erases_from_the_inbox_and_staff_see_the_freed_time(
    admin_backend, tmp_path
):
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    await save_chat(tracker_url, BYSTANDER, "hello")
    stores = PatientStores(admin_backend.service.store.engine)
    await seed(stores, tracker_url, PATIENT, ONLY_THEIRS)
    staff, _, _ = await admin_backend.login("bob")
    assert (await admin_backend.page(staff, f"/staff/privacy/export?phone=%2B{PATIENT[1:]}"))[0] == 403
    admin, _, _ = await admin_backend.login("alice")

    status, exported, _ = await admin_backend.page(admin, f"/staff/privacy/export?phone=%2B{PATIENT[1:]}")
    assert status == 200 and json.loads(exported)["entry"][0]["resource"]["telecom"][0]["value"] == PATIENT
    _, audit_page, _ = await admin_backend.page(admin, "/staff/audit")
    unconfirmed = await admin_backend.post_form(
        admin, "/staff/privacy/erase", {"phone": PATIENT, "csrf": csrf_of(audit_page)}
    )
    assert unconfirmed[2] == "/staff/audit?done=not_confirmed"
    assert set(found_in_databases([stores.backend], [ONLY_THEIRS])) >= {"sched_patient", "reminders"}
    erased = await admin_backend.post_form(
        admin, "/staff/privacy/erase", {"phone": PATIENT, "confirm": "yes", "csrf": csrf_of(audit_page)}
    )
    assert erased[2] == "/staff/audit?done=erased"

    assert found_in_databases([stores.backend, stores.channel, stores.tracker], [ONLY_THEIRS, PATIENT]) == {}
    assert [e.action for e in AuditLog(stores.backend).entries(phone=PATIENT)] == ["erase", "export"]
    assert {e.actor for e in AuditLog(stores.backend).entries(phone=PATIENT)} == {"staff:alice"}
    _, inbox, _ = await admin_backend.page(staff, "/staff")
    assert "Cancelled: GP appointment with Dr Asha Patel" in inbox and "The time is free again." in inbox
    stores.close()


async def test_the_whatsapp_channel_forgets_the_number_once_the_erasing_reply_has_left(
    harness, contacts
) -> None:
    """The bot's last reply of an erasure carries forget_number: after it, the channel's window, held messages
    and remembered buttons of the number are gone (the next message shows it: nothing held is delivered, "1"
    means nothing)."""

    async def something_held_meanwhile(message) -> None:
        contacts.hold_message(SENDER, f"Time for your {ONLY_THEIRS}mycin")

    harness.bot.before_reply = something_held_meanwhile
    harness.bot.respond = lambda message: (
        []
        if len(harness.bot.messages) > 1
        else [
            {"text": "Done: erased.", "buttons": [{"title": "Book", "payload": "/book_appointment"}]},
            {"custom": {FORGET_CONVERSATION: True, FORGET_NUMBER: True}},
        ]
    )
    await harness.post(harness.message("yes, erase it"))
    await harness.twilio.wait_for(1)
    harness.bot.before_reply = None
    await harness.post(harness.message("1"))

    _, second = await harness.bot.wait_for(2)
    assert second.text == "1"  # the buttons offered before the erasure were forgotten
    assert harness.twilio.bodies() == [
        "Done: erased."
    ]  # with its button; the held message was erased, not sent
