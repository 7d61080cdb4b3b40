"""What every action module shares: the clinic file, loaded once per action-server process."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

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
