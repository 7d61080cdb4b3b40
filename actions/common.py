"""What every action module shares: the clinic file (loaded once per action-server process), the message
catalogue, and readers of the latest message."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecutionRejected, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from carebot.clinic import Clinic, load_clinic
from carebot.forms import Reading, read_message
from carebot.messages import render
from carebot.phones import WHATSAPP_PREFIX, normalize_phone


@lru_cache(maxsize=1)
def clinic() -> Clinic:
    """The validated clinic file; the server restarts to pick up edits, like it does for new actions."""
    return load_clinic()


def say(dispatcher: CollectingDispatcher, key: str, **values: Any) -> None:
    """Send the catalogue message `key` (data/messages/*.yml) with its placeholders filled."""
    message = render(key, values)
    dispatcher.utter_message(text=message.text, buttons=message.buttons or None)


def send(dispatcher: CollectingDispatcher, key: str, buttons: List[Dict[str, str]], **values: Any) -> None:
    """A catalogue message with buttons built from live data (times, appointments, reminders, triage options)."""
    dispatcher.utter_message(text=render(key, values).text, buttons=buttons)


def latest_intent(tracker: Tracker) -> Optional[str]:
    """The intent of the message being answered (None when the NLU gave none)."""
    return (tracker.latest_message.get("intent") or {}).get("name")


# The entity the NLU gives a service clinic.yml lists under `not_offered` (value: that entry's id).
UNOFFERED_ENTITY = "unoffered_service"


def latest_entity(tracker: Tracker, name: str) -> Any:
    """The first `name` entity of the latest message, as the NLU or a button payload gave it
    (`/choose_option{"option": "2"}`); None when there is none."""
    return next(
        (e.get("value") for e in tracker.latest_message.get("entities") or [] if e.get("entity") == name),
        None,
    )


def output_channel(tracker: Tracker) -> str:
    """The channel a reminder or a waitlist offer will be spoken on: the one the patient asked on (WhatsApp unless
    a test says so)."""
    return tracker.get_latest_input_channel() or "whatsapp"


def patient_phone(tracker: Tracker) -> str:
    """The patient's identity: their WhatsApp number in E.164 (`+447700900123`).

    The WhatsApp channel names conversations by the sender's number (`whatsapp:+44…`, or WaId in the metadata,
    trusted only from that signed channel); other channels (REST, tests) may use any id, which is then used as it
    is (in production mode the REST channel refuses phone-like ids: carebot/channels/rest.py).
    """
    from_whatsapp = tracker.get_latest_input_channel() == "whatsapp"
    metadata = (tracker.latest_message.get("metadata") or {}) if from_whatsapp else {}
    wa_id = str(metadata.get("WaId") or metadata.get("wa_id") or "").strip()
    if wa_id:
        return normalize_phone(wa_id)
    sender = tracker.sender_id or ""
    return normalize_phone(sender) if sender.startswith(WHATSAPP_PREFIX) else sender


# Bot actions that leave an asked question open: the "this is not an answer" reply to a photo, and listening.
_KEEPS_QUESTION_OPEN = {"action_listen", "utter_media_in_form"}


def times_asked_in_a_row(tracker: Tracker, question: str) -> int:
    """How many times the question `question` (an action) was asked in a row before the message being answered:
    0 when something else came before it, 1 when this message replies to it, 2 or more when the patient's replies
    to it were neither yes nor no and it was asked again (the rules of data/rules/ send such replies back there)."""
    count, past_message = 0, False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if past_message and count == 0:
                break
            past_message = True
        elif kind == "action" and past_message and event.get("name") not in _KEEPS_QUESTION_OPEN:
            if event.get("name") != question:
                break
            count += 1
    return count


def form_reading(tracker: Tracker, form: str) -> Reading:
    """How the latest message counts at the form's open question: its answer, an interruption, or neither."""
    intent = tracker.latest_message.get("intent") or {}
    return read_message(
        form,
        tracker.get_slot("requested_slot"),
        tracker.latest_message.get("text") or "",
        intent.get("name"),
        float(intent.get("confidence") or 0.0),
    )


def judging_the_message(tracker: Tracker, form: str) -> bool:
    """True when the form validates the patient's latest message; False when it comes back to its question after a
    rule answered that message (Rasa then validates again, with the same latest message).

    Rasa hands the validation action a tracker that ends with the form's own execution; the action before it says
    which: listening (a new message), or the rule's answer ("I can't open photos…")."""
    names = [event.get("name") for event in tracker.events if event.get("event") == "action"]
    if names and names[-1] == form:
        names.pop()
    return not names or names[-1] == "action_listen"


def step_aside(tracker: Tracker, form: str) -> Optional[List[EventType]]:
    """The events that hand the turn from the form to the rules when the message interrupts its question; an
    unclear non-answer ("yes" to "what is your name?") clears the candidate so the form asks again; None for an
    answer, and when the form comes back after a rule answered the interruption (the message was judged then).

    An interruption also clears what the slot mapping took from it (a free-text question takes every message), so
    the form asks its question again instead of reading "/send_media…" as a name."""
    if not judging_the_message(tracker, form):
        return None
    question = tracker.get_slot("requested_slot")
    reading = form_reading(tracker, form)
    if reading is Reading.INTERRUPTION:
        return [SlotSet(question, None), ActionExecutionRejected(form)]
    if reading is Reading.ASK_AGAIN:
        return [SlotSet(question, None), SlotSet("requested_slot", question)]
    return None
