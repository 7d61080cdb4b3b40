"""Consent withdrawn (issue 14, the consent text's promise "I have deleted your symptom answers and our chat so
far"): the staff cases a triage of that conversation opened are deleted with their timelines and the chat copied into
its other cases is removed, through the real action and the real backend; what the clinic keeps by law is kept and
the patient is told; a backend that cannot be reached is said, never silence."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import func, select

from actions.consent import ActionWithdrawConsent
from carebot.backend.audit import AuditLog
from carebot.handoff.model import Reason
from carebot.handoff.store import HandoffStore, handoff_events
from carebot.payloads import FORGET_CONVERSATION
from carebot.privacy.erasure import WITHDRAWN_TRANSCRIPT, withdraw_consent
from carebot.privacy.model import HANDOFF_CASES
from carebot.settings import PROJECT_ROOT
from tests.handoff.handoff_harness import API_TOKEN, database_urls, engine_for, hours_ago

SENDER = "whatsapp:+447700900001"
OTHER = "whatsapp:+447700900002"
SYMPTOMS = "Patient: my chest feels tight when I climb stairs"


@pytest.fixture
def action_server_env(backend, monkeypatch):
    monkeypatch.setenv("BACKEND_URL", backend.url)
    monkeypatch.setenv("CAREBOT_BACKEND_TOKEN", API_TOKEN)
    return backend


def seed(store: HandoffStore) -> dict:
    """Two resolved cases of the patient (a triage call-back, a request for a person) and a colleague's case."""
    triage, _ = store.open_case(SENDER, SENDER[9:], Reason.TRIAGE_CALLBACK, SYMPTOMS, hours_ago(3))
    store.add_event(triage.id, "note", "alice", "called back, advised GP", hours_ago(2))
    store.resolve(triage.id, "alice", hours_ago(2))
    person, _ = store.open_case(SENDER, SENDER[9:], Reason.ASKED_FOR_HUMAN, SYMPTOMS, hours_ago(1))
    other, _ = store.open_case(OTHER, OTHER[9:], Reason.TRIAGE_CALLBACK, "Patient: my knee", hours_ago(1))
    return {"triage": triage.id, "person": person.id, "other": other.id}


def event_count(store: HandoffStore, case_id: int) -> int:
    with store.engine.connect() as conn:
        query = select(func.count()).select_from(handoff_events).where(handoff_events.c.case_id == case_id)
        return conn.execute(query).scalar()


async def test_withdrawing_deletes_the_triage_cases_and_the_chat_copies(
    action_server_env, make_tracker, dispatcher, domain
) -> None:
    store = action_server_env.service.store
    ids = seed(store)
    tracker = make_tracker(text="I withdraw consent", intent="withdraw_consent", sender_id=SENDER)

    await ActionWithdrawConsent().run(dispatcher, tracker, domain)

    assert dispatcher.messages[0]["text"].startswith("Understood: I won't ask about your health any more")
    assert dispatcher.messages[-1]["custom"] == {FORGET_CONVERSATION: True}
    remaining = {case.id: case for case in [store.get(ids["person"]), store.get(ids["other"])]}
    with pytest.raises(LookupError):
        store.get(ids["triage"])
    assert event_count(store, ids["triage"]) == 0
    assert remaining[ids["person"]].transcript == WITHDRAWN_TRANSCRIPT
    assert remaining[ids["other"]].transcript == "Patient: my knee"  # another patient's case is untouched
    [entry] = [e for e in AuditLog(store.engine).entries() if e.action == "consent withdrawn"]
    assert entry.actor == "patient" and "staff cases from triage: 1" in entry.detail


async def test_what_the_clinic_keeps_by_law_stays_and_the_patient_is_told(
    action_server_env, make_tracker, dispatcher, domain, tmp_path, monkeypatch
) -> None:
    clinic_file = yaml.safe_load((PROJECT_ROOT / "clinic.yml").read_text())
    clinic_file["privacy"]["kept_after_erasure"] = [HANDOFF_CASES]
    (tmp_path / "clinic.yml").write_text(yaml.safe_dump(clinic_file))
    monkeypatch.setenv("CLINIC_FILE", str(tmp_path / "clinic.yml"))
    store = action_server_env.service.store
    ids = seed(store)

    await ActionWithdrawConsent().run(
        dispatcher, make_tracker(text="I withdraw consent", sender_id=SENDER), domain
    )

    assert store.get(ids["triage"]).transcript == SYMPTOMS
    assert [m["text"] for m in dispatcher.messages if m.get("text")][-1] == (
        "By law the clinic keeps your 2 conversation(s) with staff as part of your medical record."
    )


async def test_a_backend_that_cannot_be_reached_is_said(
    make_tracker, dispatcher, domain, monkeypatch
) -> None:
    monkeypatch.setenv("BACKEND_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("CAREBOT_BACKEND_TOKEN", API_TOKEN)

    await ActionWithdrawConsent().run(
        dispatcher, make_tracker(text="I withdraw consent", sender_id=SENDER), domain
    )

    texts = [m["text"] for m in dispatcher.messages if m.get("text")]
    assert texts[0].startswith("Understood: I won't ask about your health any more")
    assert texts[1].startswith(
        "Clinic staff also hold a copy of our chat, and I couldn't delete it just now."
    )
    assert dispatcher.messages[-1]["custom"] == {FORGET_CONVERSATION: True}


@pytest.mark.parametrize("url", database_urls())
def test_the_backend_part_on_each_database(url, tmp_path) -> None:
    store = HandoffStore(engine_for(url, tmp_path))
    ids = seed(store)
    report = withdraw_consent(store.engine, SENDER, kept=())
    assert report.deleted == {"staff cases from triage": 1, "chat copies in staff cases": 1}
    assert [case.id for case in store.list_open()] == [ids["person"], ids["other"]]
    store.engine.dispose()
