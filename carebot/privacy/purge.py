"""The retention job: delete what is older than clinic.yml `privacy.retention_days`, in every store.

Run daily by the reminder dispatcher and on demand by `python -m carebot.privacy purge`. Opt-outs are kept
whatever their age (the patient asked not to be messaged; forgetting that would message them again). The WhatsApp
channel's Redis keys (button memory, MessageSids) carry their own expiry of at most 24 hours.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Dict, Optional

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import Engine

from carebot.backend.audit import AuditLog
from carebot.backend.db import to_db
from carebot.backend.review_queue import review_queue
from carebot.channels.contacts import (
    whatsapp_business_initiated,
    whatsapp_contacts,
    whatsapp_held_messages,
    whatsapp_message_sids,
    whatsapp_outbox,
    whatsapp_outbox_sids,
)
from carebot.clock import utc_now
from carebot.handoff.sessions import staff_sessions
from carebot.handoff.store import handoff_cases, handoff_events
from carebot.identity.store import identity_check
from carebot.privacy.settings import Retention
from carebot.privacy.stores import PatientStores
from carebot.waitlist import tables as waitlist
from carebot.waitlist.model import OPEN_ENTRY_STATES

log = logging.getLogger(__name__)
DAY = dt.timedelta(days=1)


@dataclass
class PurgeReport:
    """Rows removed per kind (for the log line and the CLI)."""

    removed: Dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, count: int) -> None:
        self.removed[kind] = self.removed.get(kind, 0) + max(count, 0)

    def describe(self) -> str:
        return ", ".join(f"{kind}: {count}" for kind, count in sorted(self.removed.items())) or "nothing"


def _purge_tracker(stores: PatientStores, cutoff: dt.datetime, report: PurgeReport) -> None:
    if stores.tracker is None:
        return
    events = stores.tracker_events()
    with stores.tracker.begin() as conn:
        report.add(
            "conversation events",
            conn.execute(delete(events).where(events.c.timestamp < cutoff.timestamp())).rowcount,
        )


CHAT_COPY_EXPIRED = "(removed: older than the clinic keeps chats with the bot)"


def _purge_chat_copies(engine: Engine, cutoff: dt.datetime, report: PurgeReport) -> None:
    """The copy of the bot chat a case was opened with (symptoms told, the bot's answers) is kept no longer than the
    chat itself, as the consent text promises; the case and its timeline with staff keep their own retention."""
    with engine.begin() as conn:
        removed = conn.execute(
            update(handoff_cases)
            .where(
                handoff_cases.c.created_at < to_db(cutoff),
                handoff_cases.c.transcript != "",
                handoff_cases.c.transcript.notlike("(removed:%"),
            )
            .values(transcript=CHAT_COPY_EXPIRED)
        ).rowcount
    report.add("chat copies in staff cases", removed)


def _purge_review_marks(engine: Engine, cutoff: dt.datetime, report: PurgeReport) -> None:
    """A message marked for the NLU data is a copy of the patient's words: kept no longer than the chat."""
    with engine.begin() as conn:
        removed = conn.execute(delete(review_queue).where(review_queue.c.marked_at < to_db(cutoff))).rowcount
    report.add("messages marked for review", removed)


def _purge_cases(engine: Engine, cutoff: dt.datetime, report: PurgeReport) -> None:
    """Cases with no activity since the cut-off go, with their messages; a case still being written to stays."""
    latest_event = (
        select(handoff_events.c.case_id, func.max(handoff_events.c.at).label("last_at"))
        .group_by(handoff_events.c.case_id)
        .subquery()
    )
    stale = (
        select(handoff_cases.c.id)
        .outerjoin(latest_event, latest_event.c.case_id == handoff_cases.c.id)
        .where(
            handoff_cases.c.created_at < to_db(cutoff),
            or_(latest_event.c.last_at.is_(None), latest_event.c.last_at < to_db(cutoff)),
        )
    )
    with engine.begin() as conn:
        ids = list(conn.execute(stale).scalars())
        if ids:
            conn.execute(delete(handoff_events).where(handoff_events.c.case_id.in_(ids)))
            conn.execute(delete(handoff_cases).where(handoff_cases.c.id.in_(ids)))
    report.add("handoff cases", len(ids))


def _purge_waitlist(engine: Engine, cutoff: dt.datetime, report: PurgeReport) -> None:
    """Waitlist places that ended (booked, left, expired) before the cut-off, with their offers; open ones stay."""
    ended = select(waitlist.entry.c.id).where(
        waitlist.entry.c.state.notin_(OPEN_ENTRY_STATES), waitlist.entry.c.last_updated < to_db(cutoff)
    )
    with engine.begin() as conn:
        places = list(conn.execute(ended).scalars())
        if places:
            conn.execute(delete(waitlist.offer).where(waitlist.offer.c.entry_id.in_(places)))
            conn.execute(delete(waitlist.entry).where(waitlist.entry.c.id.in_(places)))
    report.add("waitlist places", len(places))


def _purge_identity_checks(
    engine: Engine, cutoff: dt.datetime, now: dt.datetime, report: PurgeReport
) -> None:
    """A number's identity check once nothing in it is recent: no proof since the cut-off and no lock in force
    (wrong answers without a lock carry no time; they go too, which gives no more tries than a lock's end does)."""
    check = identity_check.c
    with engine.begin() as conn:
        removed = conn.execute(
            delete(identity_check).where(
                or_(check.verified_at.is_(None), check.verified_at < to_db(cutoff)),
                or_(check.locked_until.is_(None), check.locked_until < to_db(now)),
            )
        ).rowcount
    report.add("identity checks", removed)


def _purge_channel(engine: Engine, retention: Retention, now: dt.datetime, report: PurgeReport) -> None:
    state_cutoff, media_cutoff = (
        to_db(now - retention.channel_state * DAY),
        to_db(now - retention.media_links * DAY),
    )
    held = whatsapp_held_messages.c
    contacts = whatsapp_contacts.c
    with engine.begin() as conn:
        report.add(
            "held messages",
            conn.execute(
                delete(whatsapp_held_messages).where(
                    or_(
                        held.held_at < state_cutoff,
                        and_(held.media_url.isnot(None), held.held_at < media_cutoff),
                    )
                )
            ).rowcount,
        )
        # Outbox rows settled before the cutoff (bodies are gone once accepted; dead letters keep theirs).
        settled = select(whatsapp_outbox.c.id).where(whatsapp_outbox.c.settled_at < state_cutoff)
        conn.execute(delete(whatsapp_outbox_sids).where(whatsapp_outbox_sids.c.outbox_id.in_(settled)))
        report.add(
            "outbox messages",
            conn.execute(delete(whatsapp_outbox).where(whatsapp_outbox.c.settled_at < state_cutoff)).rowcount,
        )
        report.add(
            "message ids",
            conn.execute(
                delete(whatsapp_message_sids).where(whatsapp_message_sids.c.received_at < state_cutoff)
            ).rowcount,
        )
        initiated = whatsapp_business_initiated.c  # the messaging-tier count: which numbers got a template
        report.add(
            "messaging-tier places",
            conn.execute(
                delete(whatsapp_business_initiated).where(initiated.opened_at < state_cutoff)
            ).rowcount,
        )
        conn.execute(
            update(whatsapp_contacts)
            .where(contacts.last_inbound_at < state_cutoff)
            .values(last_inbound_at=None)
        )
        report.add(
            "contacts",
            conn.execute(
                delete(whatsapp_contacts).where(
                    contacts.last_inbound_at.is_(None), contacts.opted_out_at.is_(None)
                )
            ).rowcount,
        )


def purge(stores: PatientStores, retention: Retention, now: Optional[dt.datetime] = None) -> PurgeReport:
    """Delete everything older than its retention; blocking (the dispatcher runs it on a worker thread)."""
    now = now or utc_now()
    report = PurgeReport()
    _purge_tracker(stores, now - retention.tracker_days * DAY, report)
    _purge_cases(stores.backend, now - retention.handoff_cases * DAY, report)
    _purge_chat_copies(stores.backend, now - retention.tracker_days * DAY, report)
    _purge_review_marks(stores.backend, now - retention.tracker_days * DAY, report)
    _purge_waitlist(stores.backend, now - retention.conversations * DAY, report)
    _purge_identity_checks(stores.backend, now - retention.channel_state * DAY, now, report)
    _purge_channel(stores.channel, retention, now, report)
    with stores.backend.begin() as conn:
        conn.execute(delete(staff_sessions).where(staff_sessions.c.expires_at <= to_db(now)))
    report.add("audit entries", AuditLog(stores.backend).purge_before(now - retention.audit * DAY))
    AuditLog(stores.backend).record("operator", "retention purge", detail=report.describe(), at=now)
    log.info("retention purge: %s", report.describe())
    return report
