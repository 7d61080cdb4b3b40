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
- **A bounded window.** Rasa reads a conversation to answer its next message; reading (decrypting, replaying) every
  event of a long session made each message cost more than the one before. `retrieve` returns the session's
  opening events (up to the first patient message), the latest event of each kind that still holds state at the
  window's start (each slot's last value, the last loop deactivation, the last pause or resume), then the
  stored events of the last `window_turns` patient messages (endpoints `window_turns`, default 12; 0 reads the
  whole session). The window never starts inside an active form (it moves back to the message that opened it), and
  a session holding a rewind, undo, restart or slot reset before the window is read whole, because those events
  change what the earlier ones mean. `save` appends only what follows the events it read. `retrieve_full_tracker`
  (the HTTP API's tracker, the export) still reads everything. Why and what it saves: docs/architecture.md.
"""

from __future__ import annotations

import itertools
from typing import Any, Dict, Iterable, Iterator, Optional, Text, Tuple

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import REQUESTED_SLOT
from rasa.shared.core.events import (
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    Event,
    Restarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from carebot.erasing import checkpoint, secure_delete
from carebot.payloads import FORGET_CONVERSATION, FORGET_SINCE
from carebot.privacy.sealing import event_data, seal
from carebot.sqlite_files import one_connection_engine


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


DEFAULT_WINDOW_TURNS = (
    12  # >= what any action reads back (the handoff transcript's 12 lines) and any rule spans
)
# Events that change what earlier events mean (undo them, or reset the state): with one before the window, the
# state at the window's start is not "the last event of each kind", so such a session is read whole.
REPLAYED_WHOLE = tuple(
    kind.type_name for kind in (UserUtteranceReverted, ActionReverted, Restarted, AllSlotsReset)
)
WINDOW_INDEXES = {
    "ix_events_sender_id_type_name_id": ("sender_id", "type_name", "id"),
    "ix_events_sender_id_id": ("sender_id", "id"),
}
# The events whose latest one before the window carries state into it (each slot's, the form's, pausing).
PAUSING = (ConversationPaused.type_name, ConversationResumed.type_name)
STATE_TYPES = (SlotSet.type_name, ActiveLoop.type_name, *PAUSING)
# Where a tracker read through the window keeps (events before the window's stored tail, id of its first row).
WINDOW_ATTRIBUTE = "_carebot_window"


class ProtectedSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore whose event data is encrypted, whose conversations can be erased by the bot, and which reads
    a long session through a bounded window."""

    engine: sa.engine.Engine  # Rasa's, or on SQLite the one `_keep_one_connection` makes

    def __init__(self, *args: Any, window_turns: int = DEFAULT_WINDOW_TURNS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.window_turns = int(window_turns)
        if self.engine.dialect.name == "sqlite":
            self._keep_one_connection()
        # What the window queries by: a conversation's rows of one type, and its rows from an id on. Without these
        # each query would read every row of the conversation, and reading would still grow with its length.
        # Plain DDL, not an sa.Index on Rasa's shared Table: that would attach the index to the class-wide metadata,
        # and the next store's create_all (one transaction on PostgreSQL) would create it twice and roll back.
        table = self.SQLEvent.__tablename__
        for name, columns in WINDOW_INDEXES.items():
            try:
                with self.engine.begin() as connection:
                    connection.execute(
                        sa.text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({', '.join(columns)})")
                    )
            except sa.exc.DBAPIError:
                # Replicas starting together: another one created it between the check and the CREATE.
                if name not in {
                    index["name"]
                    for index in sa.inspect(self.engine).get_indexes(self.SQLEvent.__tablename__)
                }:
                    raise

    def _keep_one_connection(self) -> None:
        """Rasa opens an SQLite file anew for every read and every write, in the default journal mode, whose commit
        waits for the disk twice: each message paid both on its way to the reply. Rasa uses the store from one
        thread; the overflow only keeps a second session from deadlocking."""
        self.engine.dispose()
        self.engine = one_connection_engine(self.engine.url, max_overflow=2)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

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

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Event]:
        """The tracker's events not stored yet. A tracker read through the window holds fewer events than the
        session has rows, so Rasa's count of the session's rows would skip new ones: count from the window."""
        window: Optional[Tuple[int, int]] = getattr(tracker, WINDOW_ATTRIBUTE, None)
        if window is None:
            return super()._additional_events(session, tracker)
        before_tail, first_tail_id = window
        stored_tail = (
            session.query(self.SQLEvent)
            .filter(self.SQLEvent.sender_id == tracker.sender_id, self.SQLEvent.id >= first_tail_id)
            .count()
        )
        return itertools.islice(tracker.events, before_tail + stored_tail, None)

    async def _retrieve(
        self, sender_id: Text, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            window = None if fetch_events_from_all_sessions else self._window(session, sender_id)
            if window is None:
                rows = self._event_query(session, sender_id, fetch_events_from_all_sessions).all()
            else:
                rows = self._event_query(session, sender_id, False).filter(window[0]).all()
            events = [event_data(row.data) for row in rows]
        if not (self.domain and events):
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        if window is not None:
            first_tail_id = window[1]
            setattr(tracker, WINDOW_ATTRIBUTE, (sum(row.id < first_tail_id for row in rows), first_tail_id))
        return tracker

    def _window(self, session: Any, sender_id: Text) -> Optional[Tuple[Any, int]]:
        """(condition on the session's rows to read, id of the window's first row) for a session longer than the
        window, else None (read the whole session). Only ids, types and names are queried: nothing is decrypted."""
        if self.window_turns <= 0:
            return None
        event = self.SQLEvent
        rows = self._event_query(session, sender_id, False).order_by(None)
        messages = rows.filter(event.type_name == UserUttered.type_name).with_entities(event.id)
        recent = messages.order_by(event.id.desc()).limit(self.window_turns).all()
        if len(recent) < self.window_turns:
            return None
        # (ORDER BY … LIMIT 1 rather than min/max: it stops at the first row inside the session, min reads them all)
        first_message = messages.order_by(event.id).limit(1).scalar()
        start: Optional[int] = recent[-1][0]
        while start is not None and start > first_message:
            latest = (
                rows.filter(event.id < start, event.type_name.in_(STATE_TYPES + REPLAYED_WHOLE))
                .with_entities(event.type_name, event.action_name, sa.func.max(event.id))
                .group_by(event.type_name, event.action_name)
                .all()
            )
            if any(kind in REPLAYED_WHOLE for kind, _, _ in latest):
                return None
            loop = max(
                ((id_, name) for kind, name, id_ in latest if kind == ActiveLoop.type_name), default=None
            )
            if loop is None or loop[1] is None:
                # The state at the window's start, as the stored events that set it: each slot's last SlotSet, the
                # last ActiveLoop (a deactivation), the last pause or resume. Everything else before the window
                # (messages, replies, actions) only mattered to the turn it was in.
                pausing = [id_ for kind, _, id_ in latest if kind in PAUSING]
                state_ids = [id_ for kind, _, id_ in latest if kind == SlotSet.type_name]
                state_ids += [loop[0]] if loop else []
                state_ids += [max(pausing)] if pausing else []
                return sa.or_(event.id < first_message, event.id >= start, event.id.in_(state_ids)), start
            # A form is active at the window's start: start at the message before it was activated instead.
            start = messages.filter(event.id < loop[0]).order_by(event.id.desc()).limit(1).scalar()
        return None
