"""The promise of `reminder_consent_declined` ("I won't keep any medicine names"): when a patient declines the
medicine-reminder consent, the request that named the medicine leaves the stored conversation (the tracker store
deletes it and what followed before saving the turn), on SQLite and PostgreSQL; the rest of the chat stays."""

from __future__ import annotations

import json
import uuid

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from actions.consent import ActionDeclineReminderConsent, reminder_request_time
from carebot.payloads import FORGET_SINCE
from carebot.privacy.tracker_store import ProtectedSQLTrackerStore
from tests.security.test_encryption_at_rest import store_kwargs  # noqa: F401 - fixture

ASKED = "remind me to take my warfarin at 6pm"
T0 = 1_765_000_000.0


def asked_for_a_reminder(sender: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        sender,
        [
            ActionExecuted("action_listen", timestamp=T0),
            UserUttered("hello", {"name": "greet"}, timestamp=T0 + 1),
            BotUttered("Hi! How can I help?", timestamp=T0 + 2),
            ActionExecuted("action_listen", timestamp=T0 + 3),
            UserUttered(
                ASKED,
                {"name": "set_reminder"},
                [{"entity": "medicine", "value": "warfarin"}],
                timestamp=T0 + 10,
            ),
            ActionExecuted("action_ask_reminder_consent", timestamp=T0 + 11),
            BotUttered(
                "To remind you, the clinic needs to keep the names of your medicines…", timestamp=T0 + 11
            ),
            SlotSet("reminder_draft", ASKED, timestamp=T0 + 11),
            ActionExecuted("action_listen", timestamp=T0 + 12),
        ],
    )


def declined(tracker: DialogueStateTracker, since: float) -> None:
    for event in [
        UserUttered("no", {"name": "deny"}, timestamp=T0 + 20),
        ActionExecuted("action_decline_reminder_consent", timestamp=T0 + 21),
        BotUttered("That's fine, I won't keep any medicine names…", timestamp=T0 + 21),
        BotUttered(data={"custom": {FORGET_SINCE: since}}, timestamp=T0 + 21),
        SlotSet("reminder_draft", None, timestamp=T0 + 21),
        ActionExecuted("action_listen", timestamp=T0 + 22),
    ]:
        tracker.update(event)


async def test_declining_deletes_the_request_that_named_the_medicine(store_kwargs) -> None:  # noqa: F811
    store = ProtectedSQLTrackerStore(Domain.empty(), **store_kwargs)
    sender = f"whatsapp:+4477009{uuid.uuid4().int % 100000:05d}"
    await store.save(asked_for_a_reminder(sender))
    tracker = await store.retrieve(sender)
    declined(tracker, T0 + 10)
    await store.save(tracker)

    kept = [event.as_dict() for event in (await store.retrieve(sender)).events]
    assert "warfarin" not in json.dumps(kept)
    assert [e.get("text") for e in kept if e["event"] == "user"] == [
        "hello",
        "no",
    ]  # the rest of the chat stays
    assert (await store.retrieve(sender)).get_slot("reminder_draft") is None


def test_the_action_names_the_time_of_the_request(make_tracker, dispatcher, domain) -> None:
    events = [event.as_dict() for event in asked_for_a_reminder("whatsapp:+447700900001").events]
    tracker = make_tracker(
        text="no", intent="deny", events=events + [{"event": "user", "text": "no", "timestamp": T0 + 20}]
    )
    assert reminder_request_time(tracker) == T0 + 10


async def test_the_action_sends_the_payload_the_tracker_store_acts_on(
    make_tracker, dispatcher, domain
) -> None:
    events = [event.as_dict() for event in asked_for_a_reminder("whatsapp:+447700900001").events]
    await ActionDeclineReminderConsent().run(dispatcher, make_tracker(text="no", events=events), domain)
    assert dispatcher.messages[0]["text"].startswith("That's fine, I won't keep any medicine names")
    assert dispatcher.messages[-1]["custom"] == {FORGET_SINCE: T0 + 10}
