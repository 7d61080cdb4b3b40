"""Finding 3: the consent text promised 30 days and deletion, and nothing purged anything. Now clinic.yml
`privacy.retention_days` drives both the purge of every store and the number the consent text quotes."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import yaml
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import delete, func, select

from actions import consent
from carebot.backend.db import to_db
from carebot.backend.review_queue import review_queue
from carebot.channels.contacts import ContactStore, whatsapp_held_messages, whatsapp_message_sids
from carebot.channels.outbox import OutboxStore
from carebot.handoff.store import handoff_cases, handoff_events
from carebot.identity.store import identity_check
from carebot.privacy.purge import CHAT_COPY_EXPIRED, purge
from carebot.privacy.settings import Retention, kept_from, retention_from
from carebot.privacy.stores import PatientStores
from carebot.waitlist import tables as waitlist

ROOT = Path(__file__).resolve().parents[2]
PATIENT = "+447700900777"
NOTHING_KEPT = Retention(
    conversations=0, triage_records=0, handoff_cases=0, channel_state=0, media_links=0, audit=0
)
YESTERDAY = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)


def backend_urls():
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            os.environ.get("TEST_POSTGRES_URL"),
            id="postgres",
            marks=pytest.mark.skipif(
                not os.environ.get("TEST_POSTGRES_URL"), reason="TEST_POSTGRES_URL not set"
            ),
        ),
    ]


def patient_stores(tmp_path, backend_url="sqlite", tracker_url=None) -> PatientStores:
    """The stores the purge reaches: the backend (a SQLite file, or `backend_url`), the channel's SQLite file, and
    the tracker store at `tracker_url` (else an empty SQLite file)."""
    return PatientStores(
        f"sqlite:///{tmp_path / 'carebot.db'}" if backend_url == "sqlite" else backend_url,
        f"sqlite:///{tmp_path / 'whatsapp.db'}",
        tracker_url or f"sqlite:///{tmp_path / 'no-tracker.db'}",
    )


async def save_conversation(url: str, sender: str, said: str) -> None:
    """A conversation in Rasa's own SQL tracker store, written by Rasa's own code, a day old."""
    store = (
        SQLTrackerStore(Domain.empty(), db=url.split("///", 1)[1], dialect="sqlite")
        if url.startswith("sqlite")
        else SQLTrackerStore(Domain.empty(), host=url)
    )
    stamp = YESTERDAY.timestamp()
    tracker = DialogueStateTracker.from_events(
        sender, [ActionExecuted("action_listen", timestamp=stamp), UserUttered(said, timestamp=stamp)]
    )
    await store.save(tracker)


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


@pytest.mark.parametrize("backend_url", backend_urls())
async def test_purge_with_zero_days_leaves_nothing_older_than_the_cut_off(tmp_path, backend_url) -> None:
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    await save_conversation(tracker_url, f"whatsapp:{PATIENT}", "my knee hurts since the fall")
    stores = patient_stores(tmp_path, backend_url, tracker_url)
    with stores.backend.begin() as conn:
        conn.execute(delete(handoff_events))
        conn.execute(delete(handoff_cases))
        case_id = conn.execute(
            handoff_cases.insert().values(
                conversation_id=f"whatsapp:{PATIENT}",
                patient_phone=PATIENT,
                reason="asked_for_human",
                transcript="patient: my knee hurts",
                status="resolved",
                created_at=to_db(YESTERDAY),
            )
        ).inserted_primary_key[0]
        conn.execute(
            handoff_events.insert().values(
                case_id=case_id,
                kind="patient_message",
                author="patient",
                text="still hurts",
                at=to_db(YESTERDAY),
            )
        )
    channel = ContactStore(f"sqlite:///{tmp_path / 'whatsapp.db'}")
    channel.record_inbound(PATIENT, at=YESTERDAY)
    channel.hold_message(PATIENT, "Your reminder", media_url="https://api.twilio.com/media/ME1", at=YESTERDAY)
    assert channel.first_delivery("SM-yesterday", at=YESTERDAY)
    channel.set_opted_out("+447700900888", True, at=YESTERDAY)
    outbox = OutboxStore(channel.engine)
    hour = dt.timedelta(hours=1)
    outbox.enqueue(PATIENT, "reply", text="Your results", now=YESTERDAY - 2 * hour, deadline=YESTERDAY - hour)
    assert outbox.expire(now=YESTERDAY) == 1  # a dead letter, settled yesterday
    live = outbox.enqueue(PATIENT, "reply", text="Being sent now")

    report = purge(stores, NOTHING_KEPT)

    assert count(stores.tracker, stores.tracker_events()) == 0
    assert count(stores.backend, handoff_cases) == 0 and count(stores.backend, handoff_events) == 0
    assert (
        count(stores.channel, whatsapp_held_messages) == 0
        and count(stores.channel, whatsapp_message_sids) == 0
    )
    assert [m.id for m in outbox.dead_letters()] == [] and outbox.get(
        live
    ).state == "queued"  # unsettled stays
    assert channel.last_inbound(PATIENT) is None
    assert channel.is_opted_out("+447700900888")  # an opt-out is kept: forgetting it would message them again
    assert report.removed["conversation events"] == 2 and report.removed["handoff cases"] == 1
    stores.close()


@pytest.mark.parametrize("backend_url", backend_urls())
def test_the_chat_copied_into_a_case_is_kept_no_longer_than_the_chat(tmp_path, backend_url) -> None:
    stores = patient_stores(tmp_path, backend_url)
    now = dt.datetime.now(dt.timezone.utc)
    with stores.backend.begin() as conn:
        conn.execute(delete(handoff_events))
        conn.execute(delete(handoff_cases))
        for days, conversation in ((40, "whatsapp:+447700900771"), (10, "whatsapp:+447700900772")):
            conn.execute(
                handoff_cases.insert().values(
                    conversation_id=conversation,
                    patient_phone=conversation[9:],
                    reason="triage_callback",
                    transcript="Patient: my chest feels tight",
                    status="resolved",
                    created_at=to_db(now - dt.timedelta(days=days)),
                )
            )

    report = purge(stores, Retention(conversations=30, triage_records=30, handoff_cases=90), now=now)

    with stores.backend.connect() as conn:
        rows = conn.execute(select(handoff_cases.c.transcript).order_by(handoff_cases.c.created_at)).scalars()
        assert list(rows) == [CHAT_COPY_EXPIRED, "Patient: my chest feels tight"]  # both cases stay (90 days)
    assert report.removed["chat copies in staff cases"] == 1
    assert purge(stores, Retention(), now=now).removed["chat copies in staff cases"] == 0  # once
    stores.close()


@pytest.mark.parametrize("backend_url", backend_urls())
def test_messages_marked_for_review_are_kept_no_longer_than_the_chat(tmp_path, backend_url) -> None:
    stores = patient_stores(tmp_path, backend_url)
    now = dt.datetime.now(dt.timezone.utc)
    with stores.backend.begin() as conn:
        conn.execute(delete(review_queue))
        for event_id, days in ((1, 40), (2, 29)):
            conn.execute(
                review_queue.insert().values(
                    event_id=event_id,
                    conversation_id="whatsapp:+447700900773",
                    text="my tummy hurts all over",
                    intent="report_symptoms",
                    marked_by="dr.lee",
                    marked_at=to_db(now - dt.timedelta(days=days)),
                )
            )

    report = purge(stores, Retention(conversations=30, triage_records=60), now=now)

    with stores.backend.connect() as conn:
        assert conn.execute(select(review_queue.c.event_id)).scalars().all() == [2]
    assert report.removed["messages marked for review"] == 1
    stores.close()


def add_waitlist_place(conn, ident: str, state: str, updated: dt.datetime) -> None:
    """A waitlist place with one offer made on it, last changed at `updated`."""
    stamp = to_db(updated)
    conn.execute(
        waitlist.entry.insert().values(
            id=ident,
            patient_id=f"patient-{ident}",
            service_id="gp",
            date_from=updated.date(),
            date_to=updated.date(),
            day_parts=7,
            state=state,
            conversation_id=f"whatsapp:+4477009001{len(ident):02d}",
            channel="whatsapp",
            created=stamp,
            last_updated=stamp,
        )
    )
    conn.execute(
        waitlist.offer.insert().values(
            id=f"offer-{ident}",
            entry_id=ident,
            patient_id=f"patient-{ident}",
            slot_id=f"slot-{ident}",
            service_id="gp",
            practitioner_id="dr-patel",
            start=stamp,
            expires_at=stamp,
            state="accepted" if state == "booked" else "expired",
            created=stamp,
            last_updated=stamp,
        )
    )


@pytest.mark.parametrize("backend_url", backend_urls())
def test_identity_checks_and_ended_waitlist_places_are_kept_no_longer_than_their_retention(
    tmp_path, backend_url
) -> None:
    stores = patient_stores(tmp_path, backend_url)
    now = dt.datetime.now(dt.timezone.utc)
    days = lambda n: to_db(now - dt.timedelta(days=n))  # noqa: E731
    with stores.backend.begin() as conn:
        conn.execute(delete(identity_check))
        conn.execute(delete(waitlist.offer))
        conn.execute(delete(waitlist.entry))
        conn.execute(
            identity_check.insert(),
            [
                {"phone": "+447700900401", "verified_at": days(40), "failures": 0, "locked_until": None},
                {"phone": "+447700900402", "verified_at": days(10), "failures": 0, "locked_until": None},
                {"phone": "+447700900403", "verified_at": None, "failures": 3, "locked_until": days(-1)},
                {"phone": "+447700900404", "verified_at": None, "failures": 2, "locked_until": None},
            ],
        )
        add_waitlist_place(conn, "booked-long-ago", "booked", now - dt.timedelta(days=40))
        add_waitlist_place(conn, "left-lately", "left", now - dt.timedelta(days=10))
        add_waitlist_place(conn, "still-waiting", "active", now - dt.timedelta(days=40))

    report = purge(stores, Retention(conversations=30, triage_records=30, channel_state=30), now=now)

    with stores.backend.connect() as conn:
        phones = conn.execute(select(identity_check.c.phone).order_by(identity_check.c.phone)).scalars()
        assert list(phones) == ["+447700900402", "+447700900403"]  # a recent proof, a lock in force
        places = conn.execute(select(waitlist.entry.c.id).order_by(waitlist.entry.c.id)).scalars()
        assert list(places) == ["left-lately", "still-waiting"]  # an open place stays whatever its age
        offers = conn.execute(select(waitlist.offer.c.entry_id).order_by(waitlist.offer.c.entry_id)).scalars()
        assert list(offers) == ["left-lately", "still-waiting"]
    assert report.removed["identity checks"] == 2 and report.removed["waitlist places"] == 1
    stores.close()


def test_purge_keeps_what_is_younger_than_its_retention(tmp_path) -> None:
    stores = patient_stores(tmp_path)
    channel = ContactStore(f"sqlite:///{tmp_path / 'whatsapp.db'}")
    channel.first_delivery("SM-yesterday", at=YESTERDAY)
    purge(stores, Retention(channel_state=2))
    assert not channel.first_delivery("SM-yesterday")
    stores.close()


async def test_the_consent_text_quotes_the_configured_retention(tmp_path, monkeypatch, domain) -> None:
    clinic_file = yaml.safe_load((ROOT / "clinic.yml").read_text())
    clinic_file["privacy"] = {"retention_days": {"conversations": 14}}
    (tmp_path / "clinic.yml").write_text(yaml.safe_dump(clinic_file))
    monkeypatch.setenv("CLINIC_FILE", str(tmp_path / "clinic.yml"))
    dispatcher = CollectingDispatcher()
    tracker = Tracker(
        "whatsapp:+447700900777",
        {},
        {"text": "check my symptoms", "intent": {"name": "check_symptoms"}, "entities": []},
        [],
        False,
        None,
        {},
        "action_listen",
    )
    await consent.ActionAskConsent().run(dispatcher, tracker, domain)
    [message] = dispatcher.messages
    assert "it is kept for 14 days" in message["text"]


def test_a_wrong_retention_is_refused_with_the_kind_named() -> None:
    with pytest.raises(
        ValueError, match="privacy.retention_days.conversations must be a whole number of days"
    ):
        retention_from({"retention_days": {"conversations": -1}})
    with pytest.raises(ValueError, match="unknown kind 'chats'"):
        retention_from({"retention_days": {"chats": 3}})
    with pytest.raises(
        ValueError, match="privacy.kept_after_erasure must be a list of: past_appointments, handoff_cases"
    ):
        kept_from({"kept_after_erasure": ["conversations"]})
