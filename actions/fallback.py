"""The answer to a message the bot did not understand, without Rasa's rewind events.

Rasa's default fallback reverts the user turn (UserUtteranceReverted); every later action then re-scans the
history for it, so long WhatsApp conversations slow down. This action only answers.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import say


class ActionFallback(Action):
    def name(self) -> Text:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        say(dispatcher, "fallback")
        return []
