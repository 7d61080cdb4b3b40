"""Per-patient WhatsApp facts that must survive restarts and be readable by other processes.

Two facts: whether the patient opted out (STOP), and when they last wrote to us (WhatsApp only allows free-form
messages within 24 hours of that; outside it only approved templates). Plus the bot's free-text messages held
back while the window was closed: the re-open template asks the patient to reply, and the reply releases them. The
Rasa channel writes them; the reminder
dispatcher and the staff inbox read them through `WhatsAppSender` or `is_opted_out(phone)`.

Storage: tables `whatsapp_contacts` and `whatsapp_held_messages` (and the outbox's tables, defined here with the rest
of the channel's schema and used by carebot/channels/outbox.py), in the database named by
`WHATSAPP_STATE_DATABASE_URL` (default: the SQLite file `var/whatsapp.db`; point it at PostgreSQL when several hosts
run Carebot).
Calls are blocking (SQLAlchemy Core); async callers wrap them with `asyncio.to_thread`.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from carebot import migrations, settings
from carebot.clock import utc_now
from carebot.erasing import checkpoint, secure_delete
from carebot.phones import normalize_phone
from carebot.sqlite_files import one_connection_engine
from carebot.tokens import secure_sqlite_file

DEFAULT_STATE_DATABASE = settings.PROJECT_ROOT / "var" / "whatsapp.db"
# WhatsApp's customer-service window, minus a margin for clock skew between us and Twilio.
SESSION_WINDOW = dt.timedelta(hours=24) - dt.timedelta(minutes=5)
# A held message older than this is dropped rather than delivered out of context ("your visit is tomorrow").
HELD_MAX_AGE = dt.timedelta(days=3)

_metadata = MetaData()
whatsapp_contacts = Table(
    "whatsapp_contacts",
    _metadata,
    Column("phone", String(32), primary_key=True),  # E.164, e.g. +447700900123
    Column("last_inbound_at", DateTime, nullable=True),  # naive UTC
    Column("opted_out_at", DateTime, nullable=True),  # naive UTC; NULL = may be messaged
)
whatsapp_held_messages = Table(
    "whatsapp_held_messages",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("phone", String(32), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("media_url", Text, nullable=True),
    Column("held_at", DateTime, nullable=False),  # naive UTC
)

# Every MessageSid accepted, so a replayed signed webhook is refused even after a restart (Redis does this when
# configured; see WhatsAppInput._first_delivery). Rows older than the retention are purged by carebot.privacy.
whatsapp_message_sids = Table(
    "whatsapp_message_sids",
    _metadata,
    Column("message_sid", String(64), primary_key=True),
    Column("received_at", DateTime, nullable=False, index=True),  # naive UTC
)


# The outbox (carebot/channels/outbox.py): every outbound message until its fate is known.
whatsapp_outbox = Table(
    "whatsapp_outbox",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("phone", String(32), nullable=False),  # E.164
    Column("kind", String(24), nullable=False),  # a key of DEADLINES
    Column("idempotency_key", String(128), nullable=True, unique=True),  # a reminder occurrence's key
    Column("text", Text, nullable=True),  # cleared once accepted: bodies are kept only while needed
    Column("media_url", Text, nullable=True),
    Column("template", String(64), nullable=True),
    Column("variables", Text, nullable=True),  # JSON
    Column("force", Boolean, nullable=False, default=False),  # skips the opt-out check (STOP's own reply)
    Column("state", String(16), nullable=False),
    Column("route", String(16), nullable=True),  # free | template | tap, fixed at the first attempt
    Column("parts_total", Integer, nullable=False, default=0),
    Column("parts_done", Integer, nullable=False, default=0),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", DateTime, nullable=False),  # naive UTC, as every time here
    Column("next_attempt_at", DateTime, nullable=False),
    Column("deadline_at", DateTime, nullable=False),
    Column("attempt_started_at", DateTime, nullable=True),
    Column("lease_until", DateTime, nullable=True),
    Column("claimed_by", String(80), nullable=True),
    Column("settled_at", DateTime, nullable=True),  # accepted, dead, cancelled or dismissed
    Column("delivery_status", String(16), nullable=True),  # Twilio's, from the status callback
    Column("delivery_at", DateTime, nullable=True),
    Column("error", Text, nullable=True),  # the last failure; a dead letter's reason
    Column("error_code", Integer, nullable=True),
    Column(
        "offer", Text, nullable=True
    ),  # JSON TapOffer: tap-to-answer buttons for `text` (its numbered form)
    Index("ix_whatsapp_outbox_phone_state", "phone", "state", "id"),
    Index("ix_whatsapp_outbox_state_next", "state", "next_attempt_at"),
)
# One row per message Twilio accepted (a long text is several): the status callback finds its row by SID.
whatsapp_outbox_sids = Table(
    "whatsapp_outbox_sids",
    _metadata,
    Column("outbox_id", Integer, primary_key=True),
    Column("part", Integer, primary_key=True),  # one SID per part of a message: recorded once, however learnt
    Column("sid", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=True),
)


# Twilio Content API templates the sender created (carebot/channels/content.py), by the hash of their definition: made
# once per shape and account, then read from here by every process.
whatsapp_content_templates = Table(
    "whatsapp_content_templates",
    _metadata,
    Column("definition_hash", String(64), primary_key=True),
    Column("content_sid", String(34), nullable=False),
    Column("created_at", DateTime, nullable=False),  # naive UTC
)


# The recipients each sender opened a business-initiated conversation with (a template outside the 24-hour window)
# in the last 24 hours: Meta's messaging tier caps how many there may be (carebot/channels/budget.py).
whatsapp_business_initiated = Table(
    "whatsapp_business_initiated",
    _metadata,
    Column("sender", String(32), primary_key=True),
    Column("phone", String(32), primary_key=True),
    Column("opened_at", DateTime, nullable=False, index=True),  # naive UTC
)


def state_database_url(url: Optional[str] = None) -> str:
    return url or settings.current().whatsapp_state_database_url or f"sqlite:///{DEFAULT_STATE_DATABASE}"


def _utc_naive(moment: Optional[dt.datetime]) -> dt.datetime:
    moment = moment or utc_now()
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def in_session_window(last_inbound: Optional[dt.datetime], now: Optional[dt.datetime] = None) -> bool:
    """True while free-form messages are allowed (the patient wrote within the last ~24 hours)."""
    if last_inbound is None:
        return False
    return _utc_naive(now) - _utc_naive(last_inbound) < SESSION_WINDOW


class ContactStore:
    """Opt-out flags and last-inbound times, keyed by E.164 phone number."""

    def __init__(self, url: Optional[str] = None) -> None:
        self.url = state_database_url(url)
        self.engine = self._engine(self.url)
        migrations.upgrade(self.engine, migrations.CHANNEL)

    @staticmethod
    def _engine(url: str) -> Engine:
        if not url.startswith("sqlite"):
            return create_engine(url, future=True, pool_pre_ping=True)
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            secure_sqlite_file(Path(database))
        # With the outbox writing several rows per message, the kept connection and the WAL cost 30x in throughput
        # if missing. Commits a power cut may lose are reconciled by the outbox with Twilio's list.
        return one_connection_engine(url, future=True)

    def _upsert(self, phone: str, values: Dict[str, Any]) -> None:
        key = normalize_phone(phone)
        statement = update(whatsapp_contacts).where(whatsapp_contacts.c.phone == key).values(**values)
        with self.engine.begin() as connection:
            if connection.execute(statement).rowcount:
                return
            try:
                with connection.begin_nested():
                    connection.execute(whatsapp_contacts.insert().values(phone=key, **values))
            except IntegrityError:  # another process inserted the row first
                connection.execute(statement)

    def _row(self, phone: str) -> Optional[Any]:
        query = select(whatsapp_contacts).where(whatsapp_contacts.c.phone == normalize_phone(phone))
        with self.engine.connect() as connection:
            return connection.execute(query).first()

    def record_inbound(self, phone: str, at: Optional[dt.datetime] = None) -> None:
        self._upsert(phone, {"last_inbound_at": _utc_naive(at)})

    def close_window(self, phone: str) -> None:
        """Forget the last inbound time: Twilio told us (error 63016) the window is closed."""
        self._upsert(phone, {"last_inbound_at": None})

    def last_inbound(self, phone: str) -> Optional[dt.datetime]:
        row = self._row(phone)
        if row is None or row.last_inbound_at is None:
            return None
        return row.last_inbound_at.replace(tzinfo=dt.timezone.utc)

    def in_window(self, phone: str, now: Optional[dt.datetime] = None) -> bool:
        return in_session_window(self.last_inbound(phone), now)

    def set_opted_out(self, phone: str, opted_out: bool, at: Optional[dt.datetime] = None) -> None:
        self._upsert(phone, {"opted_out_at": _utc_naive(at) if opted_out else None})

    def is_opted_out(self, phone: str) -> bool:
        row = self._row(phone)
        return row is not None and row.opted_out_at is not None

    def first_delivery(self, message_sid: str, at: Optional[dt.datetime] = None) -> bool:
        """Record `message_sid`; False when it was recorded before (a retry or a replay)."""
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    whatsapp_message_sids.insert().values(message_sid=message_sid, received_at=_utc_naive(at))
                )
        except IntegrityError:
            return False
        return True

    def hold_message(
        self, phone: str, body: str, media_url: Optional[str] = None, at: Optional[dt.datetime] = None
    ) -> None:
        """Keep a message that could not be sent (window closed) until the patient writes again."""
        values = dict(phone=normalize_phone(phone), body=body, media_url=media_url, held_at=_utc_naive(at))
        with self.engine.begin() as connection:
            connection.execute(whatsapp_held_messages.insert().values(**values))

    def take_held(self, phone: str, now: Optional[dt.datetime] = None) -> List[Tuple[str, Optional[str]]]:
        """Remove and return the patient's held (body, media_url) in order; too-old ones are dropped."""
        table = whatsapp_held_messages
        query = select(table).where(table.c.phone == normalize_phone(phone)).order_by(table.c.id)
        with self.engine.begin() as connection:
            rows = connection.execute(query).fetchall()
            if rows:
                connection.execute(delete(table).where(table.c.id.in_([row.id for row in rows])))
        oldest = _utc_naive(now) - HELD_MAX_AGE
        return [(row.body, row.media_url) for row in rows if row.held_at >= oldest]


@functools.lru_cache(maxsize=8)
def _shared_store(url: str) -> ContactStore:
    return ContactStore(url)


def shared_engine(database_url: Optional[str] = None) -> Engine:
    """The channel database's engine for processes that only read it (the reminder dispatcher)."""
    return _shared_store(state_database_url(database_url)).engine


def is_opted_out(phone: str, database_url: Optional[str] = None) -> bool:
    """Whether the patient sent STOP (and not START since). For the reminder dispatcher and the staff inbox."""
    return _shared_store(state_database_url(database_url)).is_opted_out(phone)


def forget_number(engine: Engine, phone: str) -> Dict[str, int]:
    """The patient's erasure, the channel's own tables: the number's 24-hour window and opt-out, its outbox
    messages, its place in the messaging-tier count and the messages held for it (an erased number has no
    reminders left, so forgetting an opt-out sends nothing; a new STOP is honoured as ever). How many rows of each
    went, for the erasure report."""
    with engine.begin() as conn:
        secure_delete(conn)
        held = conn.execute(
            delete(whatsapp_held_messages).where(whatsapp_held_messages.c.phone == phone)
        ).rowcount
        contact = conn.execute(delete(whatsapp_contacts).where(whatsapp_contacts.c.phone == phone)).rowcount
        mine = select(whatsapp_outbox.c.id).where(whatsapp_outbox.c.phone == phone)
        conn.execute(delete(whatsapp_outbox_sids).where(whatsapp_outbox_sids.c.outbox_id.in_(mine)))
        outbox = conn.execute(delete(whatsapp_outbox).where(whatsapp_outbox.c.phone == phone)).rowcount
        conn.execute(delete(whatsapp_business_initiated).where(whatsapp_business_initiated.c.phone == phone))
    checkpoint(engine)
    return {"held messages": held, "channel contact": contact, "outbox messages": outbox}
