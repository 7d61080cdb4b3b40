"""Finding 6 (every staff member sees every case): a case opened from the queue is its taker's; colleagues neither
see nor open it, admins do; every look at the queue and every access to a case, refused ones too, is audited."""

from __future__ import annotations

import asyncio

import pytest

from carebot.backend.audit import AuditLog, patient_ref
from carebot.handoff.store import HandoffStore
from tests.handoff.handoff_harness import PATIENT, csrf_of, database_urls, engine_for, hours_ago

OTHER = "+447700900666"


@pytest.fixture
def bob_is_admin(monkeypatch) -> None:
    monkeypatch.setenv("STAFF_ADMINS", "bob")  # read when the backend starts


async def logged_in(backend, name):
    client, status, _ = await backend.login(name)
    assert status == 303
    return client


def audit_of(backend) -> AuditLog:
    return AuditLog(backend.service.store.engine)


async def test_a_taken_case_is_hidden_from_colleagues_and_refused_to_them(backend) -> None:
    case_id = (await backend.open_case(PATIENT))["case"]["id"]
    alice, bob = await logged_in(backend, "alice"), await logged_in(backend, "bob")
    _, queue, _ = await backend.page(bob, "/staff")
    assert f'href="/staff/cases/{case_id}"' in queue  # waiting in everyone's queue, nobody has it yet

    status, html, _ = await backend.page(alice, f"/staff/cases/{case_id}")
    assert status == 200 and PATIENT in html and "Taken by" in html
    _, queue, _ = await backend.page(bob, "/staff")
    assert f'href="/staff/cases/{case_id}"' not in queue
    status, html, _ = await backend.page(bob, f"/staff/cases/{case_id}")
    assert status == 403 and "handled by alice" in html and PATIENT not in html

    _, alice_page, _ = await backend.page(alice, f"/staff/cases/{case_id}")
    async with bob.post(  # even with a valid form token of the page, bob writes nothing on alice's case
        f"{backend.url}/staff/cases/{case_id}/reply",
        data={"text": "hello from bob", "csrf": csrf_of(alice_page)},
        allow_redirects=False,
    ) as response:
        assert response.status == 403
    assert backend.twilio.to(PATIENT) == []

    entries = [(e.actor, e.action) for e in audit_of(backend).entries(phone=PATIENT)]
    assert ("staff:alice", "take case") in entries and ("staff:alice", "read case") in entries
    assert ("staff:bob", "read case refused") in entries
    refused = next(e for e in audit_of(backend).entries() if e.action == "read case refused")
    assert refused.patient == patient_ref(PATIENT) and refused.detail == f"case {case_id}"


async def test_looking_at_the_queue_is_audited_with_the_cases_shown(backend) -> None:
    first = (await backend.open_case(PATIENT))["case"]["id"]
    second = (await backend.open_case(OTHER))["case"]["id"]
    alice = await logged_in(backend, "alice")
    await backend.page(alice, "/staff")
    [listed] = [e for e in audit_of(backend).entries() if e.action == "list cases"]
    assert (listed.actor, listed.detail) == ("staff:alice", f"open cases {first}, {second}")


async def test_an_admin_sees_and_opens_every_case_without_taking_it(bob_is_admin, backend) -> None:
    case_id = (await backend.open_case(PATIENT))["case"]["id"]
    await backend.page(await logged_in(backend, "alice"), f"/staff/cases/{case_id}")
    admin = await logged_in(backend, "bob")
    _, queue, _ = await backend.page(admin, "/staff")
    assert f'href="/staff/cases/{case_id}"' in queue and "taken by alice" in queue
    status, html, _ = await backend.page(admin, f"/staff/cases/{case_id}")
    assert status == 200 and PATIENT in html
    assert backend.service.store.get(case_id).assigned_to == "alice"
    assert ("staff:bob", "read case") in [(e.actor, e.action) for e in audit_of(backend).entries()]


async def test_a_case_put_back_in_the_queue_can_be_taken_by_a_colleague(backend) -> None:
    case_id = (await backend.open_case(PATIENT))["case"]["id"]
    alice, bob = await logged_in(backend, "alice"), await logged_in(backend, "bob")
    status, _, location = await backend.post_form(alice, f"/staff/cases/{case_id}/release", {})
    assert (status, location) == (303, "/staff?done=released")
    assert backend.service.store.get(case_id).assigned_to is None
    status, html, _ = await backend.page(bob, f"/staff/cases/{case_id}")
    assert status == 200 and PATIENT in html
    assert (await backend.page(alice, f"/staff/cases/{case_id}"))[0] == 403


async def test_two_staff_opening_a_queued_case_at_once_one_gets_it(backend) -> None:
    case_id = (await backend.open_case(PATIENT))["case"]["id"]
    alice, bob = await logged_in(backend, "alice"), await logged_in(backend, "bob")
    pages = await asyncio.gather(*(backend.page(c, f"/staff/cases/{case_id}") for c in (alice, bob)))
    assert sorted(status for status, _, _ in pages) == [200, 403]
    winner = backend.service.store.get(case_id).assigned_to
    assert pages[0 if winner == "alice" else 1][0] == 200


@pytest.mark.parametrize("url", database_urls())
def test_taking_a_case_is_one_conditional_update(url, tmp_path) -> None:
    store = HandoffStore(engine_for(url, tmp_path))
    case, _ = store.open_case("whatsapp:" + PATIENT, PATIENT, "asked_for_human", "", hours_ago(1))
    queued, _ = store.open_case("whatsapp:" + OTHER, OTHER, "media", "", hours_ago(1))
    assert store.take(case.id, "alice").assigned_to == "alice"
    assert store.take(case.id, "bob").assigned_to == "alice"  # bob lost: the case stays alice's
    assert [c.id for c in store.list_open(visible_to="bob")] == [queued.id]
    assert [c.id for c in store.list_open(visible_to="alice")] == [case.id, queued.id]
    assert [c.id for c in store.list_open()] == [case.id, queued.id]
    assert store.put_back(case.id).assigned_to is None
    store.engine.dispose()
