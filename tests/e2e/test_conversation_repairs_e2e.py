"""Issue 13 end to end: a conversation that does not break, over the REST channel against the real stack.

Each test reads like the chat it checks. At every kind of question (consent, a symptom question, the patient's name,
reminder consent) the patient sends gibberish, an emoji, a photo and a voice note, and the same question stays open;
only a stop, a person or another task said plainly leave it. Photos and voice notes arrive as the WhatsApp channel
sends them (`/send_media{"media_type": …}`). Whether a staff case exists is asked of the backend itself.
"""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from carebot.messages import render

PHOTO = '/send_media{"media_type": "image"}'
VOICE_NOTE = '/send_media{"media_type": "audio"}'
CANT_OPEN = "I can't open photos, voice notes or files here"
NOT_UNDERSTOOD = render("fallback").text


def text(replies: List[Dict[str, Any]]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def active_form(stack, sender: str) -> Any:
    return (stack.tracker(sender).get("active_loop") or {}).get("name")


def has_case(stack, sender: str) -> bool:
    return stack.backend(f"/api/handoff/conversations/{sender}")["paused"]


def test_the_consent_question_survives_gibberish_emoji_a_photo_and_a_voice_note(stack, sender):
    assert "Do you agree?" in stack.texts(sender, "I've had a sore throat for two days")
    said = stack.texts(sender, "asdkjh qwe")
    assert "I need a *yes* or *no*" in said, said  # first miss: the question again, in short
    for reply in ("🤷", "😀", "?"):  # from the second miss in a row, a person is offered too
        said = stack.say(sender, reply)
        assert "I still need a *yes* or *no*" in text(said), (reply, text(said))
        assert [b["title"] for b in said[-1]["buttons"]] == ["Yes, I agree", "No", "Talk to a person"]
    for media in (PHOTO, VOICE_NOTE):
        said = stack.texts(sender, media)
        assert CANT_OPEN in said and "*yes* or *no*" in said, said
    # "yes" after all that still carries on with the sore throat told at the start: a question about it comes next
    said = stack.say(sender, "yes")
    assert "that's noted" in text(said) and said[-1].get("buttons"), text(said)
    assert active_form(stack, sender) == "triage_form"
    assert not has_case(stack, sender)


def test_a_symptom_question_survives_everything_but_a_person(stack, sender):
    stack.say(sender, "I've had a cough for a week")
    question = stack.say(sender, "yes")[-1]["text"]
    # Gibberish and an emoji are unreadable answers: asked again, and after two the engine moves on ("not sure").
    for reply in (PHOTO, "sdfkjh qwpo", VOICE_NOTE, "😀", PHOTO, "/share_location"):
        said = stack.say(sender, reply)
        assert active_form(stack, sender) == "triage_form", (reply, text(said))
        assert NOT_UNDERSTOOD not in text(said), reply
        if reply in (PHOTO, VOICE_NOTE):  # not an answer, not even "not sure": said so, and the same question
            assert CANT_OPEN in text(said) and said[-1]["text"] == question, text(said)
        question = said[-1]["text"]
    said = stack.texts(sender, "can I talk to a real person")
    assert "stopped the symptom check" in said and "passed this to our team" in said
    assert has_case(stack, sender)


def test_booking_said_plainly_in_the_symptom_check_starts_the_booking(stack, sender):
    stack.say(sender, "I've had a cough for a week")
    stack.say(sender, "yes")
    said = stack.texts(sender, "I want to book an appointment")
    assert "stopped the symptom check" in said and "What would you like to book?" in said
    assert active_form(stack, sender) == "appointment_form"


def test_the_name_question_survives_a_photo_a_voice_note_and_a_side_question(stack, sender):
    stack.say(sender, "book a GP appointment tomorrow")
    assert "patient's full name" in stack.texts(sender, "1")
    for media in (PHOTO, VOICE_NOTE):
        said = stack.texts(sender, media)
        assert CANT_OPEN in said and "patient's full name" in said and NOT_UNDERSTOOD not in said, said
    said = stack.texts(sender, "what time do you close today")
    assert "patient's full name" in said and "date of birth" not in said, said  # answered, then asked again
    assert "date of birth" in stack.texts(sender, "funmilayo ransome-kuti")  # a name, whatever its words
    assert active_form(stack, sender) == "appointment_form"
    assert not has_case(stack, sender)


def test_a_stop_the_classifier_reads_as_no_still_ends_the_booking(stack, sender):
    stack.say(sender, "book a GP appointment tomorrow")
    stack.say(sender, "1")
    assert "Nothing was booked" in stack.texts(sender, "not now")
    assert active_form(stack, sender) is None
    # "yes" after the finished flow: a short, natural answer, never the fallback or a case
    for reply in ("yes", "ok", "thanks", "👍", "no", "k", "nah", "🙏"):
        said = stack.texts(sender, reply)
        assert said and NOT_UNDERSTOOD not in said and "didn't understand" not in said, (reply, said)
    assert not has_case(stack, sender)


def test_reminder_consent_survives_gibberish_and_a_voice_note(stack, sender):
    assert "Do you agree?" in stack.texts(sender, "remind me to take metformin at 8am every day")
    assert "*yes* or *no*" in stack.texts(sender, "qwpoi zxmn")
    assert CANT_OPEN in stack.texts(sender, VOICE_NOTE)
    said = stack.texts(sender, "yes")
    assert "metformin" in said and "every day at 08:00" in said, said  # the reminder asked for at the start


@pytest.mark.parametrize("rest_sender", ["me"])
def test_a_rest_sender_without_a_phone_number_is_told_what_is_needed_not_an_outage(
    stack, rest_sender, clinic
):
    sender = f"{rest_sender}-{id(stack) % 100000}"
    said = stack.texts(sender, "book a GP appointment tomorrow")
    assert "need your mobile number" in said and "couldn't reach" not in said, said
    assert active_form(stack, sender) is None  # no questions that could never end in a booking
    said = stack.texts(sender, "can I talk to a real person")
    assert "this chat has no phone number" in said and clinic.phone in said and "just now" not in said, said
