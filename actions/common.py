"""What every action module shares: the clinic file, loaded once per action-server process."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from carebot.clinic import Clinic, load_clinic
from carebot.messages import render


@lru_cache(maxsize=1)
def clinic() -> Clinic:
    """The validated clinic file; the server restarts to pick up edits, like it does for new actions."""
    return load_clinic()


def say(dispatcher: CollectingDispatcher, key: str, **values: Any) -> None:
    """Send the catalogue message `key` (data/messages/*.yml) with its placeholders filled."""
    message = render(key, values)
    dispatcher.utter_message(text=message.text, buttons=message.buttons or None)


def patient_phone(tracker: Tracker) -> str:
    """The patient's identity: their WhatsApp number in E.164 (`+447700900123`).

    The WhatsApp channel names conversations by the sender's number (`whatsapp:+44…`, or WaId in the metadata);
    other channels (REST, tests) may use any id, which is then used as it is.
    """
    metadata = tracker.latest_message.get("metadata") or {}
    wa_id = str(metadata.get("WaId") or metadata.get("wa_id") or "").strip()
    if wa_id:
        return wa_id if wa_id.startswith("+") else f"+{wa_id}"
    sender = tracker.sender_id or ""
    return sender.split(":", 1)[1] if sender.startswith("whatsapp:") else sender
