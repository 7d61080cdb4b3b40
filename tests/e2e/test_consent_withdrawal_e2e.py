"""Consent withdrawn (issue 14): "I withdraw consent" in the middle of a symptom check stops the questions, and the
triage record (symptoms, answers, level) is deleted with the conversation that held it; the next health message
asks for consent again instead of asking a health question. Declining the medicine-reminder consent leaves no
medicine name in the stored conversation. Through the real stack over REST (tests/e2e/conftest)."""

from __future__ import annotations

from carebot.messages import render


def test_withdrawing_consent_stops_health_questions_and_deletes_the_triage_record(stack, sender):
    consent_question = render(
        "consent_request", {"clinic_name": "x", "clinic_phone": "x", "retention_days": 1}
    ).text.split(":", 1)[0]  # "Before I ask about your health"
    assert stack.texts(sender, "I've had an earache since Tuesday").startswith(consent_question)
    first_question = stack.texts(sender, "yes")
    assert first_question.startswith("Thank you, that's noted.") and "?" in first_question
    assert stack.tracker(sender)["slots"]["triage_state"] is not None  # the triage record exists

    reply = stack.texts(sender, "I withdraw my consent")

    assert reply.startswith("Understood: I won't ask about your health any more")
    tracker = stack.tracker(sender)
    assert [e for e in tracker["events"] if e["event"] in ("user", "bot")] == []  # a fresh conversation
    assert tracker["slots"]["triage_state"] is None and tracker["slots"]["consent_given"] is None
    assert stack.texts(sender, "my throat is sore").startswith(
        consent_question
    )  # asked again, no health question


def test_declining_the_reminder_consent_keeps_no_medicine_name(stack, sender):
    assert stack.texts(sender, "remind me to take metformin 500mg at 8am every day").startswith(
        "To remind you,"
    )
    assert stack.texts(sender, "no").startswith("That's fine, I won't keep any medicine names")
    stored = stack.tracker(sender)  # read back from the tracker store
    assert "metformin" not in str(stored["events"]) and stored["slots"]["reminder_draft"] is None
    assert [e["text"] for e in stored["events"] if e["event"] == "user"] == ["no"]
