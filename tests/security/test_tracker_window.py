"""The tracker store reads a long session through a bounded window (carebot/privacy/tracker_store.py): the tracker
it returns holds the same state (slots, form, pause, latest message) as the whole session, and saving turn after
turn through it stores every event exactly once, on SQLite and (TEST_POSTGRES_URL) PostgreSQL."""

from __future__ import annotations

import uuid
from typing import List

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    Event,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from carebot.privacy.tracker_store import ProtectedSQLTrackerStore
from tests.security.test_encryption_at_rest import store_kwargs  # noqa: F401 - the SQLite/PostgreSQL fixture

WINDOW = 4
DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, book]
slots:
  patient_name: {type: text, mappings: [{type: custom}]}
  booking_service: {type: text, mappings: [{type: custom}]}
forms:
  booking_form: {required_slots: [booking_service]}
responses:
  utter_greet: [{text: hi}]
"""
)
OPENING: List[Event] = [
    ActionExecuted("action_session_start"),
    SessionStarted(),
    SlotSet("patient_name", None),
    ActionExecuted("action_listen"),
]


def turn(number: int, *extra: Event) -> List[Event]:
    """One patient message, the bot's reply and whatever else the turn did, ending with listening."""
    return [
        UserUttered(f"message {number}", {"name": "greet", "confidence": 1.0}),
        ActionExecuted("utter_greet"),
        BotUttered(f"reply {number}"),
        *extra,
        ActionExecuted("action_listen"),
    ]


async def converse(store: ProtectedSQLTrackerStore, sender: str, turns: List[List[Event]]) -> List[Event]:
    """Saves the conversation as Rasa does (read, append the turn, save) and returns every event in order."""
    everything = list(OPENING)
    await store.save(DialogueStateTracker.from_events(sender, OPENING, slots=DOMAIN.slots))
    for events in turns:
        tracker = await store.retrieve(sender)
        assert tracker is not None
        for event in events:
            tracker.update(event)
        await store.save(tracker)
        everything += events
    return everything


def dicts(events: List[Event]) -> List[dict]:
    return [event.as_dict() for event in events]


async def test_a_long_session_is_read_through_the_window_with_the_same_state(store_kwargs) -> None:  # noqa: F811
    store = ProtectedSQLTrackerStore(DOMAIN, window_turns=WINDOW, **store_kwargs)
    sender = f"window-{uuid.uuid4().hex[:8]}"
    extras = {
        2: [SlotSet("patient_name", "Ann")],
        3: [ActiveLoop("booking_form"), SlotSet("booking_service", "gp")],
        4: [ActiveLoop(None)],
        6: [SlotSet("patient_name", "Bo"), ConversationPaused()],
        7: [ConversationResumed(), ConversationPaused()],
    }
    everything = await converse(store, sender, [turn(n, *extras.get(n, [])) for n in range(20)])

    full = await store.retrieve_full_tracker(sender)
    window = await store.retrieve(sender)
    assert full is not None and window is not None
    assert dicts(list(full.events)) == dicts(everything)  # nothing stored twice, nothing lost
    assert len(window.events) < len(everything) // 2
    assert window.current_slot_values() == full.current_slot_values()
    assert (full.get_slot("patient_name"), full.get_slot("booking_service")) == ("Bo", "gp")
    assert window.is_paused() and full.is_paused()
    assert window.active_loop_name is None and full.active_loop_name is None
    assert window.latest_message.text == "message 19"
    said = [e.text for e in window.events if isinstance(e, UserUttered)]
    assert said[-WINDOW:] == [f"message {n}" for n in range(20 - WINDOW, 20)]


async def test_the_window_never_starts_inside_an_active_form(store_kwargs) -> None:  # noqa: F811
    store = ProtectedSQLTrackerStore(DOMAIN, window_turns=WINDOW, **store_kwargs)
    sender = f"form-{uuid.uuid4().hex[:8]}"
    await converse(
        store, sender, [turn(n, *([ActiveLoop("booking_form")] if n == 5 else [])) for n in range(14)]
    )

    window = await store.retrieve(sender)
    assert window is not None and window.active_loop_name == "booking_form"
    said = [e.text for e in window.events if isinstance(e, UserUttered)]
    assert said[0] == "message 5"  # the message the form answered, and every one since


async def test_a_session_with_a_rewind_before_the_window_is_read_whole(store_kwargs) -> None:  # noqa: F811
    store = ProtectedSQLTrackerStore(DOMAIN, window_turns=WINDOW, **store_kwargs)
    sender = f"rewind-{uuid.uuid4().hex[:8]}"
    await converse(
        store, sender, [turn(n, *([UserUtteranceReverted()] if n == 2 else [])) for n in range(12)]
    )

    window = await store.retrieve(sender)
    whole = await ProtectedSQLTrackerStore(DOMAIN, window_turns=0, **store_kwargs).retrieve(sender)
    assert window is not None and whole is not None
    assert dicts(list(window.events)) == dicts(list(whole.events))
