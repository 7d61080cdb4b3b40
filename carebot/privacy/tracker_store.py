"""Rasa's SQL tracker store (SQLite or PostgreSQL) with two protections, named in endpoints*.yml as
`type: carebot.privacy.tracker_store.ProtectedSQLTrackerStore` (same keys as `type: SQL`).

- **Encryption at rest.** Each event's JSON (message texts, entities such as medicine names, slots) is stored as a
  Fernet token under a key from `TRACKER_ENCRYPTION_KEY` (else the owner-only file var/tracker_key). Only the
  columns Rasa queries by stay clear: sender id, event type, timestamp, intent and action names (and, in the intent
  column of a `requested_slot` event, the slot a form asks for). Rows written before encryption was switched on are
  still read.
- **Erasure.** When the turn being saved holds the bot's `forget_conversation` payload (actions/privacy.py after
  the patient confirmed "delete my data"; actions/consent.py when consent is withdrawn), every event of that
  conversation is deleted instead of saved: the action cannot do it itself, because Rasa saves the turn after the
  action ran. The `forget_since` payload (actions/consent.py, medicine-reminder consent declined) deletes the stored
  events from that time on instead: the request that named the medicine and the question about it.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Text

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import REQUESTED_SLOT
from rasa.shared.core.events import BotUttered, Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from carebot.erasing import checkpoint, secure_delete
from carebot.payloads import FORGET_CONVERSATION, FORGET_SINCE
from carebot.privacy.sealing import event_data, seal


def asks_to_forget(events: Iterable[Event]) -> bool:
    return any(
        isinstance(e, BotUttered) and (e.data.get("custom") or {}).get(FORGET_CONVERSATION) for e in events
    )


def forget_since(events: Iterable[Event]) -> Optional[float]:
    """The earliest `forget_since` timestamp a bot message of the turn carries, or None."""
    found = [
        float(custom[FORGET_SINCE])
        for e in events
        if isinstance(e, BotUttered)
        and isinstance(custom := e.data.get("custom") or {}, dict)
        and isinstance(custom.get(FORGET_SINCE), (int, float))
    ]
    return min(found) if found else None


def clear_name(data: Dict[str, Any]) -> Optional[str]:
    """What the `intent_name` column keeps in clear: a message's intent, or, for a `requested_slot` event, the slot a
    form asks for next (a form's question is logged only this way; the dashboard counts questions without decrypting,
    docs/dashboard.md). Both are the bot's own names, never patient data."""
    if data.get("event") == "slot" and data.get("name") == REQUESTED_SLOT:
        value = data.get("value")
        return (
            value if isinstance(value, str) else ""
        )  # "": no question (a form ended); NULL: stored before this
    return data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY)


class ProtectedSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore whose event data is encrypted and whose conversations can be erased by the bot."""

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        with self.session_scope() as session:
            events = list(self._additional_events(session, tracker))
            forget, since = asks_to_forget(events), forget_since(events)
            if forget or since is not None:
                secure_delete(session.connection())
                doomed = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == tracker.sender_id)
                if not forget:
                    doomed = doomed.filter(self.SQLEvent.timestamp >= since)
                doomed.delete(synchronize_session=False)
            for event in [] if forget else events:
                data = event.as_dict()
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=clear_name(data),
                        action_name=data.get("name"),
                        data=seal(data),
                    )
                )
            session.commit()
        if forget or since is not None:
            checkpoint(
                self.engine
            )  # a SQLite file in WAL mode: the deleted rows' old pages leave the log too

    async def _retrieve(
        self, sender_id: Text, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            rows = self._event_query(session, sender_id, fetch_events_from_all_sessions).all()
            events = [event_data(row.data) for row in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None
