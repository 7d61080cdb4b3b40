"""The WhatsApp inbox: every signed webhook is written here before Twilio gets its 204, and leaves only once its
turn has been handled, so a Rasa process that dies mid-turn loses no message (Twilio never retries an acknowledged
webhook).

One row per message (`whatsapp_inbound`, in the channel's state database next to the outbox): the form as Twilio
posted it, the patient's number and a lease. Writing the row also records its MessageSid in
`whatsapp_message_sids`, in the same transaction, so a retried or replayed webhook adds nothing: processing is at
least once, never twice for one delivery.

Order per patient across replicas: only a patient's head (their oldest row) can be claimed, so a message that
reached another replica waits for the one before it; whoever finishes a message claims the patient's next one.
A worker renews the leases of the rows it holds while it lives; a row whose lease lapsed (its worker died) is
claimed again by any replica, which replays the turn with the same reply keys (`reply_key`), so what the dead
worker already sent is not sent again. Handled rows are deleted: no message body outlives its turn here.
Calls are blocking (SQLAlchemy Core); the channel runs them in threads.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Union

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from carebot.channels.contacts import _metadata, _utc_naive, whatsapp_message_sids
from carebot.channels.signature import FormParams
from carebot.erasing import secure_delete
from carebot.phones import normalize_phone

whatsapp_inbound = Table(
    "whatsapp_inbound",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # arrival order
    Column("message_sid", String(64), nullable=False, unique=True),
    Column("phone", String(32), nullable=False),  # E.164
    Column("form", Text, nullable=False),  # JSON {field: [values]} as posted: the turn is rebuilt from it
    Column("received_at", DateTime, nullable=False),  # naive UTC
    Column("attempts", Integer, nullable=False, default=0),  # claims so far: above 1, the turn is a replay
    Column("claimed_by", String(80), nullable=True),
    Column("lease_until", DateTime, nullable=True),  # naive UTC; NULL = waiting for its first claim
    Index("ix_whatsapp_inbound_phone", "phone", "id"),
)


@dataclass(frozen=True)
class InboundMessage:
    """A claimed message: handle it, then `done`."""

    id: int
    message_sid: str
    phone: str
    form: FormParams
    attempts: int

    @property
    def replayed(self) -> bool:
        """True when a worker claimed it before (and died, or its lease lapsed): the turn may be half done."""
        return self.attempts > 1


def reply_key(message_sid: str, part: Union[int, str]) -> str:
    """The outbox key of the `part`-th message the bot sends in answer to `message_sid` (or of a named one, the
    apology): a replayed turn sends its replies under the same keys, and the outbox adds nothing for a key it has."""
    return f"in:{message_sid}:{part}"


class InboundQueue:
    """The inbox table over the channel's engine."""

    def __init__(self, engine: Engine, lease: dt.timedelta = dt.timedelta(seconds=30)) -> None:
        self.engine = engine
        self.lease = lease

    def accept(self, message_sid: str, form: FormParams, now: Optional[dt.datetime] = None) -> bool:
        """Keep the webhook; False when its MessageSid was accepted before (Twilio's retry, a replay)."""
        moment = _utc_naive(now)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    whatsapp_message_sids.insert().values(message_sid=message_sid, received_at=moment)
                )
                conn.execute(
                    whatsapp_inbound.insert().values(
                        message_sid=message_sid,
                        phone=normalize_phone(form.first("From")),
                        form=json.dumps(form),
                        received_at=moment,
                        attempts=0,
                    )
                )
        except IntegrityError:
            return False
        return True

    def _claimable(self, moment: dt.datetime) -> Any:
        """A row nobody holds (never claimed, or its lease lapsed) with no older row of the same patient."""
        t, older = whatsapp_inbound.c, whatsapp_inbound.alias("older")
        return and_(
            or_(t.lease_until.is_(None), t.lease_until < moment),
            ~exists().where(older.c.phone == t.phone, older.c.id < t.id),
        )

    def claim_next(
        self, phone: str, worker: str, now: Optional[dt.datetime] = None
    ) -> Optional[InboundMessage]:
        """Lease the patient's oldest message if nobody holds it; None when there is none or it is held."""
        t, moment = whatsapp_inbound.c, _utc_naive(now)
        with self.engine.begin() as conn:
            head = conn.execute(
                select(whatsapp_inbound).where(t.phone == normalize_phone(phone)).order_by(t.id).limit(1)
            ).first()
            if head is None:
                return None
            claimed = conn.execute(
                update(whatsapp_inbound)
                .where(t.id == head.id, or_(t.lease_until.is_(None), t.lease_until < moment))
                .values(claimed_by=worker, lease_until=moment + self.lease, attempts=t.attempts + 1)
            ).rowcount
        if not claimed:
            return None
        return InboundMessage(
            head.id, head.message_sid, head.phone, FormParams(json.loads(head.form)), head.attempts + 1
        )

    def claimable_phones(self, limit: int = 100, now: Optional[dt.datetime] = None) -> List[str]:
        """Patients whose head waits for a worker: never claimed (its replica could not) or abandoned."""
        query = (
            select(whatsapp_inbound.c.phone)
            .where(self._claimable(_utc_naive(now)))
            .order_by(whatsapp_inbound.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(dict.fromkeys(conn.execute(query).scalars()))

    def renew(self, worker: str, message_ids: Iterable[int], now: Optional[dt.datetime] = None) -> int:
        """Extend `worker`'s leases of the messages it is still handling (it is alive); how many. Only those: a
        message whose `done` failed must lapse and be taken over, not stay held by a live worker forever."""
        t, moment, ids = whatsapp_inbound.c, _utc_naive(now), list(message_ids)
        if not ids:
            return 0
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    update(whatsapp_inbound)
                    .where(t.id.in_(ids), t.claimed_by == worker)
                    .values(lease_until=moment + self.lease)
                ).rowcount
            )

    def done(self, message: InboundMessage) -> None:
        """The turn is handled (answered, or apologised for): the row and the patient's words go, zeroed in an
        SQLite file (an erasure's checkpoint then leaves none of them behind)."""
        with self.engine.begin() as conn:
            secure_delete(conn)
            conn.execute(delete(whatsapp_inbound).where(whatsapp_inbound.c.id == message.id))

    def waiting(self) -> int:
        """Rows not yet handled (tests and the operator's check that the inbox drains)."""
        with self.engine.connect() as conn:
            return len(conn.execute(select(whatsapp_inbound.c.id)).all())
