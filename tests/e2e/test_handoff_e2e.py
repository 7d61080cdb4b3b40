"""Clinic answers and the handoff through the whole stack: REST and the WhatsApp webhook in, the staff inbox out.

"I want to talk to a person" creates exactly one case and pauses the bot; while paused the bot answers nothing
and a WhatsApp message joins the case; a staff member resolving the case in the inbox resumes the bot. "Delete my
data" on WhatsApp during a case closes it (staff get an anonymous notice) and the bot asks to confirm the erasure.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, Dict, List

import httpx
import pytest
import sqlalchemy as sa
import yaml

from carebot.backend.db import make_engine
from carebot.backend.notices import staff_notices
from carebot.channels.signature import sign
from carebot.handoff.model import EventKind, Reason
from carebot.handoff.store import HandoffStore
from tests.e2e.conftest import ROOT, STAFF_NAME, STAFF_PASSWORD, Stack

pytestmark = pytest.mark.slow
WEBHOOK = "/webhooks/whatsapp/webhook"


def cases_of(stack: Stack, conversation: str) -> List[Any]:
    store = HandoffStore(make_engine(stack.env["CAREBOT_DATABASE_URL"]))
    return [case for case in store.list_open() if case.conversation_id == conversation]


def case_events(stack: Stack, case_id: int) -> List[Any]:
    return HandoffStore(make_engine(stack.env["CAREBOT_DATABASE_URL"])).events(case_id)


def whatsapp(stack: Stack, sender: str, body: str) -> None:
    """One message through the WhatsApp webhook, signed as Twilio would; it is handled after the 204."""
    phone = sender.split(":", 1)[1]
    form = {
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "From": sender,
        "To": "whatsapp:+14155238886",
        "Body": body,
        "WaId": phone.lstrip("+"),
        "NumMedia": "0",
        "ProfileName": "E2E Patient",
    }
    signature = sign(stack.env["TWILIO_AUTH_TOKEN"], stack.env["WHATSAPP_WEBHOOK_URL"] + WEBHOOK, form)
    reply = httpx.post(
        stack.rasa_url + WEBHOOK, data=form, headers={"X-Twilio-Signature": signature}, timeout=10
    )
    assert reply.status_code == 204, reply.text


def wait_for(condition: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def resolve_in_the_inbox(stack: Stack, case_id: int) -> None:
    with httpx.Client(base_url=stack.backend_url, timeout=10) as browser:
        login = browser.post(
            "/staff/login",
            data={
                "name": STAFF_NAME,
                "password": STAFF_PASSWORD,
                "csrf": csrf(browser.get("/staff/login").text),
            },
        )
        assert login.status_code == 303, login.text
        page = browser.get(f"/staff/cases/{case_id}")
        assert page.status_code == 200
        resolved = browser.post(f"/staff/cases/{case_id}/resolve", data={"csrf": csrf(page.text)})
        assert resolved.status_code == 303 and "done=resolved" in resolved.headers["location"], resolved.text


def user_texts(tracker: Dict[str, Any]) -> List[str]:
    return [e.get("text") for e in tracker["events"] if e["event"] == "user"]


def test_asking_for_a_person_pauses_the_bot_until_staff_resolve(stack: Stack, sender: str) -> None:
    assert stack.texts(sender, "hello")  # the bot is answering
    [notice] = stack.say(sender, "I want to talk to a person")
    assert notice["text"].startswith("I've passed this to our team.") and "999" in notice["text"]

    [case] = cases_of(stack, sender)
    assert (case.reason, case.patient_phone) == (Reason.ASKED_FOR_HUMAN, sender.split(":", 1)[1])
    assert stack.backend(f"/api/handoff/conversations/{sender}") == {"paused": True, "case_id": case.id}
    assert stack.tracker(sender)["paused"] is True

    assert stack.say(sender, "hello? anyone there?") == []  # paused: Rasa records it and says nothing
    whatsapp(stack, sender, "my arm is still swollen")  # the WhatsApp channel puts it on the case instead
    messages = wait_for(
        lambda: [e for e in case_events(stack, case.id) if e.kind == EventKind.PATIENT_MESSAGE],
        "the WhatsApp message on the case",
    )
    assert [e.text for e in messages] == ["my arm is still swollen"]
    assert "my arm is still swollen" not in user_texts(stack.tracker(sender))
    assert len(cases_of(stack, sender)) == 1  # every message went to the one case

    resolve_in_the_inbox(stack, case.id)
    assert stack.backend(f"/api/handoff/conversations/{sender}") == {"paused": False, "case_id": None}
    assert stack.tracker(sender)["paused"] is False
    assert stack.texts(sender, "what are your opening hours").startswith(
        "Our opening hours for the next 7 days:"
    )


def bot_texts(tracker: Dict[str, Any]) -> List[str]:
    return [e.get("text") or "" for e in tracker["events"] if e["event"] == "bot"]


def test_delete_my_data_during_a_case_goes_to_the_bot_and_closes_the_case(stack: Stack, sender: str) -> None:
    stack.say(sender, "I want to talk to a person")
    [case] = cases_of(stack, sender)

    whatsapp(stack, sender, "please delete my data")  # read by Rasa's own NLU inside the channel
    wait_for(lambda: not cases_of(stack, sender), "the case closed for the privacy request")
    confirm = wait_for(
        lambda: [t for t in bot_texts(stack.tracker(sender)) if t.startswith("This erases what")],
        "the bot asking to confirm the erasure",
    )
    assert confirm and stack.tracker(sender)["paused"] is False
    assert [e.text for e in case_events(stack, case.id) if e.kind == EventKind.PATIENT_MESSAGE] == []
    with make_engine(stack.env["CAREBOT_DATABASE_URL"]).connect() as conn:
        texts = [row.text for row in conn.execute(sa.select(staff_notices))]
    assert (
        f"Case #{case.id} (asked for a person) was closed: the patient asked for their data to be erased"
        in (" ".join(texts))
    )
    assert sender.split(":", 1)[1] not in " ".join(texts)


def test_clinic_questions_are_answered_from_the_clinic_file_and_the_faq(stack: Stack, sender: str) -> None:
    assert "Saturday" in stack.texts(sender, "are you open on saturday?")
    assert "12 River Street" in stack.texts(sender, "what's your address")
    answers = yaml.safe_load((ROOT / "data" / "responses" / "faq.yml").read_text())["responses"]
    assert (
        stack.texts(sender, "how do I get a sick note for my employer")
        == answers["utter_faq/sick_note"][0]["text"]
    )
    # Designers' answers quote clinic facts through slots filled from clinic.yml at session start.
    assert "If it's an emergency call 999." in stack.texts(sender, "can a doctor come to my house")
    help_text = yaml.safe_load((ROOT / "domain.yml").read_text())["responses"]["utter_help"][0]["text"]
    assert stack.texts(sender, "what can I ask you") == help_text
