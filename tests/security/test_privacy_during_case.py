"""A patient's "delete my data" (or "I withdraw consent") while staff have the conversation: the backend closes the
case with a notice to staff that names neither patient nor number, and resumes the bot, which carries the request
out (the WhatsApp channel's part: tests/channels/test_whatsapp_handoff.py; the whole path with the real NLU:
tests/e2e/test_handoff_e2e.py)."""

from __future__ import annotations

import pytest

from carebot.backend.notices import notices
from carebot.handoff.model import EventKind, PrivacyRequest
from carebot.handoff.store import HandoffStore
from tests.handoff.handoff_harness import PATIENT, database_urls, engine_for, hours_ago

ADDRESS = f"whatsapp:{PATIENT}"


async def test_an_erasure_request_closes_the_case_resumes_the_bot_and_tells_staff_anonymously(
    backend,
) -> None:
    case_id = (await backend.open_case(ADDRESS, "triage_callback"))["case"]["id"]
    status, body = await backend.api(
        "POST", f"/api/handoff/conversations/{ADDRESS}/privacy-request", {"request": "erasure"}
    )
    assert (status, body) == (200, {"closed": True, "case_id": case_id})
    case = backend.service.store.get(case_id)
    assert (case.status, case.resolved_by) == ("resolved", "carebot")
    assert backend.rasa.resumes() == [ADDRESS]
    [(_, notice)] = notices(backend.service.store.engine)
    assert notice == (
        f"Case #{case_id} (triage call-back) was closed: the patient asked for their data to be erased, "
        "and the bot is handling the request."
    )
    assert PATIENT.lstrip("+")[-4:] not in notice

    client, _, _ = await backend.login("alice")
    _, inbox, _ = await backend.page(client, "/staff")
    assert notice in inbox and f'href="/staff/cases/{case_id}"' not in inbox

    again = await backend.api(
        "POST", f"/api/handoff/conversations/{ADDRESS}/privacy-request", {"request": "erasure"}
    )
    assert again == (200, {"closed": False, "case_id": None})


async def test_a_bot_that_cannot_be_resumed_is_a_503_so_the_channel_leaves_the_message_to_staff(
    backend,
) -> None:
    await backend.open_case(ADDRESS)
    backend.rasa.down = True
    status, body = await backend.api(
        "POST", f"/api/handoff/conversations/{ADDRESS}/privacy-request", {"request": "consent_withdrawn"}
    )
    assert status == 503 and "could not be resumed" in str(body)


async def test_an_unknown_request_is_refused_with_the_choices(backend) -> None:
    status, body = await backend.api(
        "POST", f"/api/handoff/conversations/{ADDRESS}/privacy-request", {"request": "forget"}
    )
    assert status == 400 and "erasure, consent_withdrawn" in str(body)


@pytest.mark.parametrize("url", database_urls())
def test_closing_for_privacy_on_each_database(url, tmp_path) -> None:
    store = HandoffStore(engine_for(url, tmp_path))
    case, _ = store.open_case(ADDRESS, PATIENT, "asked_for_human", "", hours_ago(1))
    closed = store.close_for_privacy(ADDRESS, PrivacyRequest.CONSENT_WITHDRAWN, hours_ago(0))
    assert closed is not None and closed.id == case.id and not closed.is_open
    assert [e.kind for e in store.events(case.id)] == [EventKind.NOTE, EventKind.RESOLVED]
    assert "withdrew their consent" in store.events(case.id)[0].text
    assert store.close_for_privacy(ADDRESS, PrivacyRequest.ERASURE, hours_ago(0)) is None
    store.engine.dispose()
