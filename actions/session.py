"""Session start: fills the clinic-fact slots that responses quote, and carries remembered slots over."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import clinic


def _form_slots(domain: Dict[Text, Any]) -> set:
    """Slots a form asks for: they describe one unfinished task, so a new session starts them afresh."""
    forms = domain.get("forms") or {}
    return {slot for form in forms.values() for slot in (form or {}).get("required_slots", [])}


class ActionSessionStart(Action):
    """Replaces Rasa's default so responses can say {clinic_name}, {clinic_phone} and {emergency_number}."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        facts = clinic()
        transient = _form_slots(domain) | {"requested_slot"}
        carried = [
            SlotSet(name, value)
            for name, value in tracker.current_slot_values().items()
            if value is not None and name not in transient
        ]
        return [
            SessionStarted(),
            *carried,
            SlotSet("clinic_name", facts.name),
            SlotSet("clinic_phone", facts.phone),
            SlotSet("emergency_number", facts.emergency_number),
            ActionExecuted("action_listen"),
        ]
