"""Review's reads of the tracker store (a period's conversations from the clear columns; one conversation's events
decrypted to be read) and its queue in the backend database (marked messages until exported)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import AbstractSet, Any, FrozenSet, List, Optional, Sequence, Set, Tuple

import yaml
from sqlalchemy import (
    bindparam,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from carebot.backend.db import to_db
from carebot.backend.review_queue import review_queue
from carebot.clock import utc_now
from carebot.dashboard.model import SYSTEM_INTENTS
from carebot.privacy.sealing import event_data
from carebot.review.model import SHOWN_KINDS, Turn, nlu_yaml, story_steps, story_yaml, turns
from carebot.settings import PROJECT_ROOT

EVENTS = "events"  # Rasa's tracker events table
FALLBACK_INTENTS = ("nlu_fallback", "out_of_scope")
LISTED = 200  # conversations a search shows, newest first


def domain_intents(domain: Path = PROJECT_ROOT / "domain.yml") -> FrozenSet[str]:
    """The intents a message may be marked with: the domain's."""
    loaded = yaml.safe_load(domain.read_text(encoding="utf-8")) or {}
    return frozenset(i if isinstance(i, str) else next(iter(i)) for i in loaded.get("intents") or [])


@dataclass(frozen=True)
class Listed:
    """A conversation in the period's list: opened by the id of its first message (no phone in the URL)."""

    first_event: int
    sender: str
    messages: int
    not_understood: int
    started: dt.datetime


class ReviewStore:
    def __init__(self, backend: Engine, tracker: Optional[Engine], intents: FrozenSet[str]) -> None:
        self.backend, self.tracker, self.intents = backend, tracker, intents

    def conversations(
        self,
        start: dt.datetime,
        end: dt.datetime,
        intent: str = "",
        only_not_understood: bool = False,
        among: Optional[AbstractSet[str]] = None,
        below: Optional[float] = None,
    ) -> List[Listed]:
        """Conversations with patient messages in [start, end), newest first, at most LISTED: with `intent`, those
        with a message of that intent; with `only_not_understood`, those with a fallback or declined message; with
        `among`, only those conversations; with `below`, those with a patient message whose intent confidence was
        below it (the confidence is in the encrypted event data: only the candidates' messages are decrypted)."""
        if self.tracker is None or (among is not None and not among):
            return []
        having = []
        if intent:
            having.append("SUM(CASE WHEN intent_name = :intent THEN 1 ELSE 0 END) > 0")
        if only_not_understood:
            having.append("SUM(CASE WHEN intent_name IN :fallback THEN 1 ELSE 0 END) > 0")
        filtered = among is not None or below is not None
        query = text(
            f"SELECT MIN(id), sender_id, COUNT(*), SUM(CASE WHEN intent_name IN :fallback THEN 1 ELSE 0 END), "
            f"MIN(timestamp) FROM {EVENTS} WHERE type_name = 'user' AND timestamp >= :start AND timestamp < :end "
            f"GROUP BY sender_id {'HAVING ' + ' AND '.join(having) if having else ''} "
            f"ORDER BY MIN(timestamp) DESC {'' if filtered else f'LIMIT {LISTED}'}"
        ).bindparams(bindparam("fallback", expanding=True))
        params = {
            "start": start.timestamp(),
            "end": end.timestamp(),
            "intent": intent,
            "fallback": list(FALLBACK_INTENTS),
        }
        with self.tracker.connect() as connection:
            found = [
                Listed(
                    row[0],
                    row[1],
                    int(row[2]),
                    int(row[3] or 0),
                    dt.datetime.fromtimestamp(row[4], dt.timezone.utc),
                )
                for row in connection.execute(query, params)
                if among is None or row[1] in among
            ]
        if below is not None:
            unsure = self._unsure(start, end, {c.sender for c in found}, below)
            found = [c for c in found if c.sender in unsure]
        return found[:LISTED]

    def _unsure(self, start: dt.datetime, end: dt.datetime, senders: Set[str], below: float) -> Set[str]:
        """Of `senders`, those with a patient message in [start, end) classified with confidence below `below`."""
        if not senders or self.tracker is None:
            return set()
        query = text(
            f"SELECT sender_id, data FROM {EVENTS} WHERE type_name = 'user' AND timestamp >= :start "
            f"AND timestamp < :end AND (intent_name IS NULL OR intent_name NOT IN :system)"
        ).bindparams(bindparam("system", expanding=True))
        params = {"start": start.timestamp(), "end": end.timestamp(), "system": sorted(SYSTEM_INTENTS)}
        unsure: Set[str] = set()
        with self.tracker.connect() as connection:
            for sender, data in connection.execute(query, params):
                if sender in senders and sender not in unsure:
                    intent = (event_data(data).get("parse_data") or {}).get("intent") or {}
                    confidence = intent.get("confidence")
                    if confidence is not None and float(confidence) < below:
                        unsure.add(sender)
        return unsure

    def transcript(self, event_id: int) -> Optional[Tuple[str, List[Turn]]]:
        """The conversation of the patient message `event_id`: its sender and every turn, decrypted."""
        found = self._events_of(event_id, SHOWN_KINDS)
        if found is None:
            return None
        sender, rows = found
        return sender, turns((row.id, row.timestamp, event_data(row.data)) for row in rows)

    def _events_of(
        self, event_id: int, kinds: Optional[Sequence[str]] = None
    ) -> Optional[Tuple[str, List[Any]]]:
        """The sender of the patient message `event_id` and that conversation's rows (of `kinds`, or all), in order."""
        if self.tracker is None:
            return None
        with self.tracker.connect() as connection:
            sender = connection.execute(
                text(f"SELECT sender_id FROM {EVENTS} WHERE id = :id AND type_name = 'user'"),
                {"id": event_id},
            ).scalar()
            if sender is None:
                return None
            if kinds is None:
                query = text(
                    f"SELECT id, timestamp, data FROM {EVENTS} WHERE sender_id = :sender ORDER BY id"
                )
                return sender, connection.execute(query, {"sender": sender}).fetchall()
            query = text(
                f"SELECT id, timestamp, data FROM {EVENTS} WHERE sender_id = :sender AND type_name IN :kinds "
                f"ORDER BY id"
            ).bindparams(bindparam("kinds", expanding=True))
            return sender, connection.execute(query, {"sender": sender, "kinds": list(kinds)}).fetchall()

    def story(self, event_id: int) -> Optional[Tuple[str, str]]:
        """The conversation of the patient message `event_id` as a masked test story: (sender, story YAML). Every
        event is read, not only those shown, so the story has the forms' loops; StoryError when it cannot be one."""
        found = self._events_of(event_id)
        if found is None:
            return None
        sender, rows = found
        steps, whole = story_steps(event_data(row.data) for row in rows)
        title = f"Saved in conversation review: conversation {event_id}"
        if not whole:
            title += " (up to the turn where an action forced the next, which a test story cannot replay)"
        return sender, story_yaml(title, steps)

    def mark(self, event_id: int, intent: str, staff: str) -> bool:
        """Queue the patient message `event_id` as an example of `intent` (marked again: the latest mark wins).
        False when the event is not a patient message or the intent is not the domain's."""
        if intent not in self.intents or self.tracker is None:
            return False
        with self.tracker.connect() as connection:
            row = connection.execute(
                text(f"SELECT sender_id, data FROM {EVENTS} WHERE id = :id AND type_name = 'user'"),
                {"id": event_id},
            ).first()
        if row is None:
            return False
        data = event_data(row.data)
        was = ((data.get("parse_data") or {}).get("intent") or {}).get("name")
        values = {
            "event_id": event_id,
            "conversation_id": row.sender_id,
            "text": str(data.get("text") or ""),
            "intent_was": was,
            "intent": intent,
            "marked_by": staff,
            "marked_at": to_db(utc_now()),
            "exported_at": None,
        }
        dialect = postgresql if self.backend.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(review_queue).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["event_id"], set_={k: v for k, v in values.items() if k != "event_id"}
        )
        with self.backend.begin() as connection:
            connection.execute(statement)
        return True

    def export(self) -> str:
        """The marked messages not exported yet as data/nlu YAML; they are then marked exported."""
        now = to_db(utc_now())
        with self.backend.begin() as connection:
            rows = connection.execute(
                select(review_queue.c.id, review_queue.c.text, review_queue.c.intent)
                .where(review_queue.c.exported_at.is_(None))
                .order_by(review_queue.c.id)
            ).fetchall()
            if rows:
                connection.execute(
                    update(review_queue)
                    .where(review_queue.c.id.in_([r.id for r in rows]))
                    .values(exported_at=now)
                )
        return nlu_yaml([(row.text, row.intent) for row in rows])
