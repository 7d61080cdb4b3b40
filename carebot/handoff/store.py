"""Handoff cases and their timelines, on the backend's shared database (SQLAlchemy 1.4 Core, naive UTC times).

Two rules the rest of Carebot relies on are enforced by the database itself, so they hold across processes:
- one *open* case per conversation (a partial unique index): a second trigger appends to the open case;
- a case is resolved once (a conditional UPDATE): when two staff resolve together, exactly one wins.
"""

from __future__ import annotations

import datetime as dt
from typing import List, Optional, Tuple

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    or_,
    select,
    update,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from carebot.backend.db import from_db, metadata, to_db
from carebot.backend.notices import add_notice
from carebot.handoff.model import (
    PRIVACY_REQUEST_LABELS,
    REASON_LABELS,
    TEXT_MAX_CHARS,
    TRANSCRIPT_MAX_CHARS,
    AlreadyResolved,
    Case,
    CaseNotFound,
    Delivery,
    Event,
    EventKind,
    PrivacyRequest,
    Reason,
)

CAREBOT = "carebot"  # the author of what the bot itself records on a case

handoff_cases = Table(
    "handoff_cases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(128), nullable=False),
    Column("patient_phone", String(32), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("transcript", Text, nullable=False, default=""),
    Column("status", String(16), nullable=False, default="open"),
    Column("created_at", DateTime, nullable=False),
    Column("resolved_at", DateTime, nullable=True),
    Column("resolved_by", String(64), nullable=True),
    Column(
        "assigned_to", String(64), nullable=True
    ),  # who took the case (carebot.handoff.model.Case.visible_to)
    Index("ix_handoff_cases_status_created", "status", "created_at"),
    Index("ix_handoff_cases_created_at", "created_at"),  # the dashboard's cases of a period
    Index(
        "uq_handoff_cases_one_open",
        "conversation_id",
        unique=True,
        sqlite_where=sql_text("status = 'open'"),
        postgresql_where=sql_text("status = 'open'"),
    ),
)

handoff_events = Table(
    "handoff_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Integer, ForeignKey("handoff_cases.id"), nullable=False, index=True),
    Column("kind", String(24), nullable=False),
    Column("author", String(64), nullable=False),
    Column("text", Text, nullable=False, default=""),
    Column("at", DateTime, nullable=False),
    Column("delivery_status", String(24), nullable=True),
)


def _case(row) -> Case:
    return Case(
        id=row.id,
        conversation_id=row.conversation_id,
        patient_phone=row.patient_phone,
        reason=Reason(row.reason),
        transcript=row.transcript or "",
        status=row.status,
        created_at=from_db(row.created_at),
        resolved_at=from_db(row.resolved_at),
        resolved_by=row.resolved_by,
        assigned_to=row.assigned_to,
    )


def _event(row) -> Event:
    return Event(
        id=row.id,
        case_id=row.case_id,
        kind=EventKind(row.kind),
        author=row.author,
        text=row.text or "",
        at=from_db(row.at),
        delivery_status=Delivery(row.delivery_status) if row.delivery_status else None,
    )


class HandoffStore:
    """Blocking store calls; aiohttp handlers run them through `carebot.backend.db.run_db`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def open_case(
        self,
        conversation_id: str,
        patient_phone: str,
        reason: Reason,
        transcript: str,
        now: dt.datetime,
    ) -> Tuple[Case, bool]:
        """Open a case, or append to the conversation's open one. Returns (case, created)."""
        reason = Reason(reason)
        with self.engine.begin() as conn:
            existing = self._open_case(conn, conversation_id)
            if existing is None:
                try:
                    with conn.begin_nested():
                        case_id = conn.execute(
                            handoff_cases.insert().values(
                                conversation_id=conversation_id,
                                patient_phone=patient_phone,
                                reason=reason.value,
                                transcript=transcript[-TRANSCRIPT_MAX_CHARS:],
                                status="open",
                                created_at=to_db(now),
                            )
                        ).inserted_primary_key[0]
                    return self._get(conn, case_id), True
                except IntegrityError:  # another process opened it between our read and insert
                    existing = self._open_case(conn, conversation_id)
                    if existing is None:
                        raise
            note = f"Handoff requested again: {REASON_LABELS[reason]}."
            if transcript:
                note += f"\n{transcript[-TRANSCRIPT_MAX_CHARS:]}"
            self._insert_event(conn, existing.id, EventKind.NOTE, "carebot", note, now)
            return existing, False

    def append_patient_message(self, conversation_id: str, text: str, now: dt.datetime) -> Optional[Case]:
        """Record a message the patient sent while the bot is paused; None when no case is open (bot not paused)."""
        with self.engine.begin() as conn:
            case = self._open_case(conn, conversation_id)
            if case is not None:
                self._insert_event(conn, case.id, EventKind.PATIENT_MESSAGE, "patient", text, now)
            return case

    def open_case_for(self, conversation_id: str) -> Optional[Case]:
        with self.engine.connect() as conn:
            return self._open_case(conn, conversation_id)

    def get(self, case_id: int) -> Case:
        with self.engine.connect() as conn:
            return self._get(conn, case_id)

    def list_open(self, visible_to: Optional[str] = None) -> List[Case]:
        """Open cases, longest-waiting first; with `visible_to`, only that staff member's and those nobody took."""
        query = (
            select(handoff_cases)
            .where(handoff_cases.c.status == "open")
            .order_by(handoff_cases.c.created_at, handoff_cases.c.id)
        )
        if visible_to is not None:
            query = query.where(
                or_(handoff_cases.c.assigned_to.is_(None), handoff_cases.c.assigned_to == visible_to)
            )
        with self.engine.connect() as conn:
            return [_case(row) for row in conn.execute(query)]

    def close_for_privacy(
        self, conversation_id: str, request: PrivacyRequest, now: dt.datetime
    ) -> Optional[Case]:
        """Close the conversation's open case because the patient made a privacy request the bot carries out; staff
        get a notice without the patient's name or number. None when no case was open."""
        label = PRIVACY_REQUEST_LABELS[PrivacyRequest(request)]
        with self.engine.begin() as conn:
            case = self._open_case(conn, conversation_id)
            if case is None:
                return None
            closed = conn.execute(
                update(handoff_cases)
                .where(and_(handoff_cases.c.id == case.id, handoff_cases.c.status == "open"))
                .values(status="resolved", resolved_at=to_db(now), resolved_by=CAREBOT)
            ).rowcount
            if not closed:  # a member of staff resolved it at this very moment: the bot has it back anyway
                return self._get(conn, case.id)
            self._insert_event(
                conn,
                case.id,
                EventKind.NOTE,
                CAREBOT,
                f"Closed: the patient {label}; the bot handles it.",
                now,
            )
            self._insert_event(conn, case.id, EventKind.RESOLVED, CAREBOT, "", now)
            add_notice(
                conn,
                now,
                f"Case #{case.id} ({REASON_LABELS[case.reason]}) was closed: the patient {label}, "
                "and the bot is handling the request.",
            )
            return self._get(conn, case.id)

    def take(self, case_id: int, staff: str) -> Case:
        """Give an open case nobody has taken to `staff` (one conditional UPDATE: when two open it together, one
        gets it); the case as it now is, whoever holds it."""
        with self.engine.begin() as conn:
            conn.execute(
                update(handoff_cases)
                .where(
                    handoff_cases.c.id == case_id,
                    handoff_cases.c.status == "open",
                    handoff_cases.c.assigned_to.is_(None),
                )
                .values(assigned_to=staff)
            )
            return self._get(conn, case_id)

    def put_back(self, case_id: int) -> Case:
        """Return the case to the queue, where every staff member sees it again."""
        with self.engine.begin() as conn:
            conn.execute(update(handoff_cases).where(handoff_cases.c.id == case_id).values(assigned_to=None))
            return self._get(conn, case_id)

    def events(self, case_id: int) -> List[Event]:
        query = (
            select(handoff_events)
            .where(handoff_events.c.case_id == case_id)
            .order_by(handoff_events.c.at, handoff_events.c.id)
        )
        with self.engine.connect() as conn:
            return [_event(row) for row in conn.execute(query)]

    def add_event(
        self,
        case_id: int,
        kind: EventKind,
        author: str,
        text: str,
        now: dt.datetime,
        delivery: Optional[Delivery] = None,
    ) -> Event:
        with self.engine.begin() as conn:
            self._get(conn, case_id)
            event_id = self._insert_event(conn, case_id, kind, author, text, now, delivery)
            row = conn.execute(select(handoff_events).where(handoff_events.c.id == event_id)).one()
            return _event(row)

    def resolve(self, case_id: int, staff: str, now: dt.datetime) -> Case:
        """Close the case for `staff`; raises AlreadyResolved (naming the winner) if someone else did it first."""
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(handoff_cases)
                .where(and_(handoff_cases.c.id == case_id, handoff_cases.c.status == "open"))
                .values(status="resolved", resolved_at=to_db(now), resolved_by=staff)
            ).rowcount
            case = self._get(conn, case_id)
            if not claimed:
                raise AlreadyResolved(case)
            self._insert_event(conn, case_id, EventKind.RESOLVED, staff, "", now)
            return case

    @staticmethod
    def _open_case(conn: Connection, conversation_id: str) -> Optional[Case]:
        row = conn.execute(
            select(handoff_cases).where(
                and_(handoff_cases.c.conversation_id == conversation_id, handoff_cases.c.status == "open")
            )
        ).first()
        return _case(row) if row else None

    @staticmethod
    def _get(conn: Connection, case_id: int) -> Case:
        row = conn.execute(select(handoff_cases).where(handoff_cases.c.id == case_id)).first()
        if row is None:
            raise CaseNotFound(f"no handoff case {case_id}")
        return _case(row)

    @staticmethod
    def _insert_event(
        conn: Connection,
        case_id: int,
        kind: EventKind,
        author: str,
        text: str,
        now: dt.datetime,
        delivery: Optional[Delivery] = None,
    ) -> int:
        return conn.execute(
            handoff_events.insert().values(
                case_id=case_id,
                kind=EventKind(kind).value,
                author=author,
                text=text[:TEXT_MAX_CHARS],
                at=to_db(now),
                delivery_status=delivery.value if delivery else None,
            )
        ).inserted_primary_key[0]
