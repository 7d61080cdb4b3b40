"""The outbox: every WhatsApp message Carebot sends is written here before it is sent, and stays until its fate is
known, so none is lost on a Twilio error, a timeout or a crash, and none leaves twice.

A row is one logical message (a bot reply, a reminder, a staff reply, a template). Its `state`:

    queued ──► sending ──► accepted (Twilio SID) ──► delivery_status: sent / delivered / read / failed / undelivered
       ▲          │  └──► unknown (timeout: Twilio may have it) ──► reconciled: accepted, or queued again
       └──────────┘ 429, 5xx, connection error: queued again with backoff, until the row's deadline ──► dead
    Route (fixed when first sent): free (text/media, in chunks), template (ContentSid outside the window) or tap
    (an offer's buttons as Twilio content inside the window; `text` keeps the numbered list as its fallback).
    held: outside the 24-hour window with no template for it: moved to the held messages, which become new
          queued rows when the patient writes
    cancelled: the patient opted out;  sandbox: no credentials, logged only;  dismissed: a dead letter staff closed

Ordering: a patient's messages leave one at a time, lowest id first. Only the patient's *head* (the lowest id among
queued/sending/unknown) can be claimed, with a lease, by one worker in any process; so at most one message to a
patient is ever in flight, which also makes a timeout reconcilable (any unknown message Twilio lists for that
recipient since the attempt began is ours). Rows live in the channel's state database (SQLite by default, the
shared PostgreSQL in production) next to the opt-outs and 24-hour windows the sender reads on every send.
Calls are blocking (SQLAlchemy Core); async callers wrap them with `asyncio.to_thread`.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from sqlalchemy import (
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from carebot.channels.buttons import TapOffer
from carebot.channels.contacts import (
    HELD_MAX_AGE,
    _utc_naive,
    whatsapp_held_messages,
    whatsapp_outbox,
    whatsapp_outbox_sids,
)
from carebot.phones import normalize_phone

ACTIVE = ("queued", "sending", "unknown")  # not yet settled: the patient's head is the lowest id among these
ACCEPTED = ("accepted", "sandbox")  # Twilio has it (or, in sandbox mode, it was logged)
# Twilio's statuses only move forward; a late "sent" callback must not overwrite "read".
DELIVERY_RANK = {"queued": 0, "accepted": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4}
FINAL_DELIVERY = ("failed", "undelivered")
# How long each kind of message is worth retrying (a reminder's own deadline, from its grace period, wins).
DEADLINES = {
    "reply": dt.timedelta(hours=1),  # an answer later than that no longer fits the conversation
    "staff_reply": dt.timedelta(hours=23),  # inside the 24-hour window it was written for
    "template": dt.timedelta(hours=23),
    "notice": dt.timedelta(hours=1),  # opt-out confirmations, apologies
    "medication_reminder": dt.timedelta(hours=2),
    "appointment_reminder": dt.timedelta(hours=12),
    "waitlist_offer": dt.timedelta(minutes=15),  # the action gives the offer's own hold as its deadline
}


@dataclass(frozen=True)
class OutboxMessage:
    """One row, as the sender and the staff inbox read it."""

    id: int
    phone: str
    kind: str
    state: str
    created_at: dt.datetime
    deadline_at: dt.datetime
    text: Optional[str] = None
    media_url: Optional[str] = None
    template: Optional[str] = None
    variables: Dict[str, Any] = field(default_factory=dict)
    force: bool = False
    idempotency_key: Optional[str] = None
    route: Optional[str] = None
    parts_total: int = 0
    parts_done: int = 0
    attempts: int = 0
    attempt_started_at: Optional[dt.datetime] = None
    claim: Optional[str] = None
    delivery_status: Optional[str] = None
    error: Optional[str] = None
    error_code: Optional[int] = None
    settled_at: Optional[dt.datetime] = None
    sids: List[str] = field(default_factory=list)
    offer: Optional[TapOffer] = None


def _aware(moment: Optional[dt.datetime]) -> Optional[dt.datetime]:
    return moment.replace(tzinfo=dt.timezone.utc) if moment is not None else None


def _message(row: Any, sids: Sequence[str] = ()) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        phone=row.phone,
        kind=row.kind,
        state=row.state,
        created_at=_aware(row.created_at),
        deadline_at=_aware(row.deadline_at),
        text=row.text,
        media_url=row.media_url,
        template=row.template,
        variables=json.loads(row.variables) if row.variables else {},
        force=bool(row.force),
        idempotency_key=row.idempotency_key,
        route=row.route,
        parts_total=row.parts_total,
        parts_done=row.parts_done,
        attempts=row.attempts,
        attempt_started_at=_aware(row.attempt_started_at),
        claim=row.claimed_by,
        delivery_status=row.delivery_status,
        error=row.error,
        error_code=row.error_code,
        settled_at=_aware(row.settled_at),
        sids=list(sids),
        offer=TapOffer.from_json(row.offer) if row.offer else None,
    )


class OutboxStore:
    """The outbox table over the channel's engine (see the module docstring for states and ordering)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------------------------------ writing
    def enqueue(
        self,
        phone: str,
        kind: str,
        *,
        text: Optional[str] = None,
        media_url: Optional[str] = None,
        template: Optional[str] = None,
        variables: Optional[Mapping[str, Any]] = None,
        offer: Optional[TapOffer] = None,
        force: bool = False,
        key: Optional[str] = None,
        deadline: Optional[dt.datetime] = None,
        now: Optional[dt.datetime] = None,
    ) -> int:
        """The new row's id; with a `key` already used, the existing row's id (a repeated trigger adds nothing)."""
        moment = _utc_naive(now)
        values = dict(
            phone=normalize_phone(phone),
            kind=kind,
            idempotency_key=key,
            text=text,
            media_url=media_url,
            template=template,
            variables=json.dumps({str(k): str(v) for k, v in variables.items()}) if variables else None,
            offer=offer.to_json() if offer else None,
            force=force,
            state="queued",
            parts_total=0,
            parts_done=0,
            attempts=0,
            created_at=moment,
            next_attempt_at=moment,
            deadline_at=_utc_naive(deadline)
            if deadline
            else moment + DEADLINES.get(kind, DEADLINES["reply"]),
        )
        try:
            with self.engine.begin() as conn:
                return int(conn.execute(whatsapp_outbox.insert().values(**values)).inserted_primary_key[0])
        except IntegrityError:
            if key is None:
                raise
            with self.engine.connect() as conn:
                existing = conn.execute(
                    select(whatsapp_outbox.c.id).where(whatsapp_outbox.c.idempotency_key == key)
                ).scalar()
            if existing is None:
                raise
            return int(existing)

    def claim_head(
        self,
        phone: str,
        worker: str,
        lease: dt.timedelta,
        now: Optional[dt.datetime] = None,
        retries_due_by: Optional[dt.datetime] = None,
    ) -> Optional[OutboxMessage]:
        """Lease the patient's oldest unsettled message if it is due and nobody holds it; None otherwise. A queued
        row becomes `sending` (a crash from here on is a "maybe sent"); a `sending` row whose lease lapsed (its
        worker died mid-POST) becomes `unknown`; the caller reconciles an unknown row before any resend. With
        `retries_due_by`, a row already tried is claimed only if it was due by then: a caller draining a queue does
        not pick up again the retry it has just scheduled (that is the relay's), but does send what others wrote."""
        t = whatsapp_outbox.c
        moment = _utc_naive(now)
        token = f"{worker}:{uuid.uuid4().hex[:12]}"
        with self.engine.begin() as conn:
            head = conn.execute(
                select(func.min(t.id)).where(t.phone == normalize_phone(phone), t.state.in_(ACTIVE))
            ).scalar()
            if head is None:
                return None
            claimed = conn.execute(
                update(whatsapp_outbox)
                .where(
                    t.id == head,
                    t.state.in_(ACTIVE),
                    t.next_attempt_at <= moment,
                    or_(t.lease_until.is_(None), t.lease_until < moment),
                    or_(t.attempts == 0, t.next_attempt_at <= _utc_naive(retries_due_by or now)),
                )
                .values(
                    claimed_by=token,
                    lease_until=moment + lease,
                    state=case((t.state == "queued", "sending"), else_="unknown"),
                    attempt_started_at=case((t.state == "queued", moment), else_=t.attempt_started_at),
                    attempts=case((t.state == "queued", t.attempts + 1), else_=t.attempts),
                )
            ).rowcount
            if not claimed:
                return None
            return self._get(conn, head)

    def renew_claim(
        self, message: OutboxMessage, lease: dt.timedelta, now: Optional[dt.datetime] = None
    ) -> bool:
        """Extend a live worker's lease of the message it is sending; False once the claim is gone (settled,
        released for a retry, or lapsed and taken over), so a renewal never re-takes what the worker let go."""
        t = whatsapp_outbox.c
        with self.engine.begin() as conn:
            renewed = conn.execute(
                update(whatsapp_outbox)
                .where(
                    t.id == message.id,
                    t.claimed_by == message.claim,
                    t.state.in_(ACTIVE),
                    t.lease_until.is_not(None),
                )
                .values(lease_until=_utc_naive(now) + lease)
            ).rowcount
        return bool(renewed)

    def due_phones(self, limit: int, now: Optional[dt.datetime] = None) -> List[str]:
        """Patients whose head may be claimable now, replies and staff first, oldest first: the relay's work."""
        t = whatsapp_outbox.c
        moment = _utc_naive(now)
        urgency = case((t.kind.in_(("reply", "staff_reply", "notice")), 0), else_=1)
        query = (
            select(t.phone, func.min(urgency).label("urgency"), func.min(t.id).label("first"))
            .where(
                t.state.in_(ACTIVE),
                t.next_attempt_at <= moment,
                or_(t.lease_until.is_(None), t.lease_until < moment),
            )
            .group_by(t.phone)
            .order_by("urgency", "first")
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [row.phone for row in conn.execute(query)]

    def next_due(self) -> Optional[dt.datetime]:
        """When the earliest waiting message becomes due (the relay sleeps until then, or its poll)."""
        t = whatsapp_outbox.c
        with self.engine.connect() as conn:
            moment = conn.execute(select(func.min(t.next_attempt_at)).where(t.state.in_(ACTIVE))).scalar()
        return _aware(moment)

    def set_route(self, message: OutboxMessage, route: str, parts_total: int) -> None:
        self._update(message, route=route, parts_total=parts_total)

    def record_part(self, message_id: int, part: int, sid: str, now: Optional[dt.datetime] = None) -> bool:
        """Twilio accepted `part` as `sid`. True when that was the last part (the row is then `accepted`, its
        body cleared). Idempotent: a part is recorded once, whether the POST's answer, its status callback or a
        reconciliation told us first."""
        t = whatsapp_outbox.c
        moment = _utc_naive(now)
        with self.engine.begin() as conn:
            sids = whatsapp_outbox_sids.c
            known = conn.execute(
                select(sids.sid).where(sids.outbox_id == message_id, sids.part == part)
            ).scalar()
            if known is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            whatsapp_outbox_sids.insert().values(sid=sid, outbox_id=message_id, part=part)
                        )
                except IntegrityError:  # the callback and the POST's answer recorded it at the same moment
                    pass
            row = conn.execute(select(t.parts_done, t.parts_total, t.state).where(t.id == message_id)).first()
            if row is None or row.state not in ACTIVE or row.parts_done > part:
                return row is not None and row.state in ACCEPTED
            last = part + 1 >= row.parts_total
            values: Dict[str, Any] = dict(parts_done=part + 1, error=None, error_code=None)
            if last:
                values.update(
                    state="accepted",
                    settled_at=moment,
                    lease_until=None,
                    text=None,
                    media_url=None,
                    offer=None,
                    variables=None,
                    delivery_status=case((t.delivery_status.is_(None), "accepted"), else_=t.delivery_status),
                )
            else:
                values.update(state="sending", attempt_started_at=moment)
            conn.execute(update(whatsapp_outbox).where(t.id == message_id).values(**values))
            return last

    def settle(
        self,
        message: OutboxMessage,
        state: str,
        error: Optional[str] = None,
        code: Optional[int] = None,
        now: Optional[dt.datetime] = None,
    ) -> None:
        """A final state other than accepted: sandbox, cancelled (opted out) or dead (with its reason)."""
        values: Dict[str, Any] = dict(
            state=state, settled_at=_utc_naive(now), lease_until=None, error=error, error_code=code
        )
        if state in ACCEPTED:
            values.update(text=None, media_url=None, variables=None, offer=None)
        self._update(message, **values)

    def retry_at(
        self, message: OutboxMessage, state: str, at: dt.datetime, error: str, code: Optional[int] = None
    ) -> None:
        """Back to `queued` (nothing reached Twilio) or `unknown` (reconcile first), due at `at`."""
        self._update(
            message,
            state=state,
            next_attempt_at=_utc_naive(at),
            lease_until=None,
            error=error,
            error_code=code,
        )

    def restart(self, message: OutboxMessage, now: Optional[dt.datetime] = None) -> OutboxMessage:
        """Reconciled as never received: a new attempt of the same part begins (still under this claim)."""
        t = whatsapp_outbox.c
        self._update(message, state="sending", attempt_started_at=_utc_naive(now), attempts=t.attempts + 1)
        return self.get(message.id)

    def hold(self, message: OutboxMessage, now: Optional[dt.datetime] = None) -> None:
        """Outside the 24-hour window with nothing approved to carry it: the body moves to the channel's held
        messages (released by `release_held` when the patient writes) in the same transaction."""
        t = whatsapp_outbox.c
        moment = _utc_naive(now)
        held = dict(phone=message.phone, body=message.text or "", media_url=message.media_url, held_at=moment)
        with self.engine.begin() as conn:
            if conn.execute(
                update(whatsapp_outbox)
                .where(t.id == message.id, t.claimed_by == message.claim, t.state.in_(ACTIVE))
                .values(
                    state="held", settled_at=moment, lease_until=None, text=None, media_url=None, offer=None
                )
            ).rowcount:
                conn.execute(whatsapp_held_messages.insert().values(**held))

    def release_held(self, phone: str, now: Optional[dt.datetime] = None) -> int:
        """The patient wrote (window open): held messages become queued outbox rows, in order, in one transaction
        (never removed before they are queued), ahead of anything the new turn sends. Ones held longer than
        HELD_MAX_AGE are dropped: they would arrive out of context."""
        h = whatsapp_held_messages.c
        moment = _utc_naive(now)
        key = normalize_phone(phone)
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(whatsapp_held_messages).where(h.phone == key).order_by(h.id)
            ).fetchall()
            if not rows:
                return 0
            conn.execute(delete(whatsapp_held_messages).where(h.id.in_([row.id for row in rows])))
            fresh = [row for row in rows if row.held_at >= moment - HELD_MAX_AGE]
            for row in fresh:
                conn.execute(
                    whatsapp_outbox.insert().values(
                        phone=key,
                        kind="reply",
                        text=row.body or None,
                        media_url=row.media_url,
                        force=False,
                        state="queued",
                        parts_total=0,
                        parts_done=0,
                        attempts=0,
                        created_at=moment,
                        next_attempt_at=moment,
                        deadline_at=moment + DEADLINES["reply"],
                    )
                )
            return len(fresh)

    def cancel_unsent(self, phone: str, reason: str, now: Optional[dt.datetime] = None) -> int:
        """The patient opted out: nothing waiting for them leaves (a message already in flight is reconciled)."""
        t = whatsapp_outbox.c
        with self.engine.begin() as conn:
            return conn.execute(
                update(whatsapp_outbox)
                .where(t.phone == normalize_phone(phone), t.state == "queued", t.lease_until.is_(None))
                .values(state="cancelled", settled_at=_utc_naive(now), error=reason)
            ).rowcount

    def release_backoff(self, now: Optional[dt.datetime] = None) -> int:
        """After an outage: every queued message waiting on its backoff is due now (the pacer spreads them)."""
        t = whatsapp_outbox.c
        moment = _utc_naive(now)
        with self.engine.begin() as conn:
            return conn.execute(
                update(whatsapp_outbox)
                .where(t.state == "queued", t.next_attempt_at > moment)
                .values(next_attempt_at=moment)
            ).rowcount

    def expire(self, now: Optional[dt.datetime] = None) -> int:
        """Queued messages past their deadline become dead letters without another attempt. An `unknown` one is
        left to its reconciliation: Twilio may have it."""
        t = whatsapp_outbox.c
        moment = _utc_naive(now)
        with self.engine.begin() as conn:
            return conn.execute(
                update(whatsapp_outbox)
                .where(
                    t.state == "queued",
                    t.deadline_at < moment,
                    or_(t.lease_until.is_(None), t.lease_until < moment),
                )
                .values(
                    state="dead",
                    settled_at=moment,
                    error=func.coalesce(
                        "deadline passed; last error: " + t.error, "deadline passed before sending"
                    ),
                )
            ).rowcount

    def record_status(
        self,
        sid: str,
        status: str,
        error_code: Optional[int] = None,
        marker: str = "",
        now: Optional[dt.datetime] = None,
    ) -> bool:
        """Twilio's status callback for `sid`; False when the SID is not ours. `marker` (`id.part`, from the
        callback URL) names the message even when the POST's answer was lost: the callback then settles it."""
        t = whatsapp_outbox.c
        moment = _utc_naive(now)
        message_id, _, part = marker.partition(".")
        if message_id.isdigit() and part.isdigit() and not self.known_sids([sid]):
            self.record_part(int(message_id), int(part), sid, now)
        with self.engine.begin() as conn:
            outbox_id = conn.execute(
                select(whatsapp_outbox_sids.c.outbox_id).where(whatsapp_outbox_sids.c.sid == sid)
            ).scalar()
            if outbox_id is None:
                return False
            conn.execute(
                update(whatsapp_outbox_sids).where(whatsapp_outbox_sids.c.sid == sid).values(status=status)
            )
            current = conn.execute(select(t.delivery_status).where(t.id == outbox_id)).scalar()
            if _advances(current, status):
                values: Dict[str, Any] = dict(delivery_status=status, delivery_at=moment)
                if status in FINAL_DELIVERY:
                    values.update(error=f"Twilio reports {status}", error_code=error_code)
                conn.execute(update(whatsapp_outbox).where(t.id == outbox_id).values(**values))
            return True

    # ------------------------------------------------------------------------------------------ dead letters
    def dead_letters(self, limit: int = 100) -> List[OutboxMessage]:
        t = whatsapp_outbox.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(whatsapp_outbox).where(t.state == "dead").order_by(t.id.desc()).limit(limit)
            ).fetchall()
        return [_message(row) for row in rows]

    def retry_dead(self, message_id: int, now: Optional[dt.datetime] = None) -> bool:
        """Staff send a dead letter again: queued now, with a fresh deadline for its kind."""
        t = whatsapp_outbox.c
        moment = _utc_naive(now)
        with self.engine.begin() as conn:
            kind = conn.execute(select(t.kind).where(t.id == message_id, t.state == "dead")).scalar()
            if kind is None:
                return False
            return bool(
                conn.execute(
                    update(whatsapp_outbox)
                    .where(t.id == message_id, t.state == "dead")
                    .values(
                        state="queued",
                        next_attempt_at=moment,
                        deadline_at=moment + DEADLINES.get(kind, DEADLINES["reply"]),
                        settled_at=None,
                        attempts=0,
                    )
                ).rowcount
            )

    def dismiss(self, message_id: int, now: Optional[dt.datetime] = None) -> bool:
        t = whatsapp_outbox.c
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    update(whatsapp_outbox)
                    .where(t.id == message_id, t.state == "dead")
                    .values(
                        state="dismissed",
                        settled_at=_utc_naive(now),
                        text=None,
                        media_url=None,
                        offer=None,
                        variables=None,
                    )
                ).rowcount
            )

    # ------------------------------------------------------------------------------------------ reading
    def get(self, message_id: int) -> OutboxMessage:
        with self.engine.connect() as conn:
            return self._get(conn, message_id)

    def states_by_key(self, keys: Iterable[str]) -> Dict[str, OutboxMessage]:
        """Rows by idempotency key: how the reminder dispatcher learns whether a reminder was accepted."""
        wanted = list(keys)
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(whatsapp_outbox).where(whatsapp_outbox.c.idempotency_key.in_(wanted))
            ).fetchall()
        return {row.idempotency_key: _message(row) for row in rows}

    def delivery_by_key(self, keys: Iterable[str]) -> Dict[str, Optional[str]]:
        """Twilio's delivery status of each accepted message by idempotency key (two columns, not whole rows: the
        dashboard asks for a month of reminders at once). The keys go to the driver as they are (an array on
        PostgreSQL): SQLAlchemy's expanding parameters took longer to compile than the query to run."""
        wanted = list(keys)
        found: Dict[str, Optional[str]] = {}
        select_ = "SELECT idempotency_key, delivery_status FROM whatsapp_outbox WHERE state = 'accepted' AND "
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 5000):
                chunk = wanted[start : start + 5000]
                if conn.dialect.name == "postgresql":
                    rows = conn.exec_driver_sql(select_ + "idempotency_key = ANY(%(keys)s)", {"keys": chunk})
                else:
                    marks = ", ".join("?" * len(chunk))
                    rows = conn.exec_driver_sql(select_ + f"idempotency_key IN ({marks})", tuple(chunk))
                found.update({key: status for key, status in rows})
        return found

    def counts(self) -> Dict[str, int]:
        """Rows per state (what `docs/operations.md` tells an operator to look at first)."""
        t = whatsapp_outbox.c
        with self.engine.connect() as conn:
            return {
                row.state: row.n
                for row in conn.execute(select(t.state, func.count().label("n")).group_by(t.state))
            }

    def known_sids(self, sids: Iterable[str]) -> List[str]:
        wanted = list(sids)
        if not wanted:
            return []
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(whatsapp_outbox_sids.c.sid).where(whatsapp_outbox_sids.c.sid.in_(wanted))
                ).scalars()
            )

    def _get(self, conn: Connection, message_id: int) -> OutboxMessage:
        row = conn.execute(select(whatsapp_outbox).where(whatsapp_outbox.c.id == message_id)).first()
        if row is None:
            raise KeyError(message_id)
        sids = conn.execute(
            select(whatsapp_outbox_sids.c.sid)
            .where(whatsapp_outbox_sids.c.outbox_id == message_id)
            .order_by(whatsapp_outbox_sids.c.part)
        ).scalars()
        return _message(row, list(sids))

    def _update(self, message: OutboxMessage, **values: Any) -> None:
        """Change the row only while this worker's claim holds and it is unsettled: a lapsed lease means someone
        else owns it, and a status callback may have accepted it while this worker's POST timed out."""
        t = whatsapp_outbox.c
        with self.engine.begin() as conn:
            conn.execute(
                update(whatsapp_outbox)
                .where(t.id == message.id, t.claimed_by == message.claim, t.state.in_(ACTIVE))
                .values(**values)
            )


def _advances(current: Optional[str], status: str) -> bool:
    """Whether Twilio's `status` is news after `current` (callbacks may arrive out of order)."""
    if current in FINAL_DELIVERY:
        return False
    if status in FINAL_DELIVERY:
        return True
    return DELIVERY_RANK.get(status, -1) > DELIVERY_RANK.get(current or "queued", 0)
