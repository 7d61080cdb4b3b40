"""Reminder records, constants, errors and the label matching the store and the actions share.

Pure (no SQLAlchemy, no HTTP): the action server imports this, never the store.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

UTC = dt.timezone.utc
KINDS = ("medication", "appointment")
REMINDER_STATUSES = ("active", "paused", "stopped")
OCCURRENCE_STATUSES = ("pending", "claimed", "sending", "sent", "missed", "cancelled")
RESPONSES = ("taken", "skipped", "snoozed", "no_reply")
DEFAULT_HORIZON = dt.timedelta(hours=48)
# Occurrences older than this are never generated after a long outage: they could only be recorded as missed.
MAX_BACKFILL = dt.timedelta(days=7)
# How well the patient's words must name a reminder (label_score) for "stop my metformin" to pick that one.
MATCH_THRESHOLD = 0.75
# Reminders due at the same moment (08:00 for thousands of patients) are spread over +-spread in steps of this.
SPREAD_STEP = dt.timedelta(seconds=30)


class ReminderError(Exception):
    """Base of the store's refusals; the message is fit to show to a developer or be reworded for a patient."""


class ReminderNotFound(ReminderError, LookupError):
    pass


class AmbiguousReminder(ReminderError):
    def __init__(self, message: str, candidates: Sequence["Reminder"]) -> None:
        super().__init__(message)
        self.candidates = list(candidates)


class InvalidReminderState(ReminderError):
    pass


class NothingToAnswer(ReminderError, LookupError):
    """A reply like "taken" arrived but no reminder was sent to this patient recently."""


@dataclass(frozen=True)
class Reminder:
    id: int
    conversation_id: str
    channel: str
    kind: str
    label: str
    dose: Optional[str]
    rrule: str
    dtstart: dt.datetime  # aware, in `timezone`
    timezone: str
    description: str
    appointment_id: Optional[str]
    status: str
    revision: int
    created_at: dt.datetime
    updated_at: dt.datetime
    next_due: Optional[dt.datetime] = None  # filled by list/get: the next pending occurrence or rule instance

    def to_dict(self) -> Dict[str, Any]:
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "kind": self.kind,
            "label": self.label,
            "dose": self.dose,
            "rrule": self.rrule,
            "dtstart": self.dtstart.isoformat(),
            "timezone": self.timezone,
            "description": self.description,
            "appointment_id": self.appointment_id,
            "status": self.status,
            "next_due": self.next_due.isoformat() if self.next_due else None,
        }


@dataclass(frozen=True)
class Occurrence:
    """One due send, joined with what the dispatcher needs to deliver it."""

    id: int
    reminder_id: int
    due_at: dt.datetime
    status: str
    idempotency_key: str
    attempts: int
    sent_at: Optional[dt.datetime]
    response: Optional[str]
    conversation_id: str
    channel: str
    kind: str
    label: str
    dose: Optional[str]
    appointment_id: Optional[str]
    timezone: str
    reminder_status: str
    is_current: bool  # the occurrence belongs to the reminder's current schedule revision
    reminder_start: Optional[dt.datetime] = None  # the rule's DTSTART; for an appointment, when it starts

    def to_dict(self) -> Dict[str, Any]:
        return {
            "id": self.id,
            "reminder_id": self.reminder_id,
            "due_at": self.due_at.isoformat(),
            "status": self.status,
            "idempotency_key": self.idempotency_key,
            "label": self.label,
            "dose": self.dose,
            "response": self.response,
            "kind": self.kind,
        }


def spread_steps(spread: dt.timedelta) -> int:
    """How many SPREAD_STEPs either side of the due time a spread of +-`spread` allows."""
    return max(0, int(spread / SPREAD_STEP))


def spread_offset(reminder_id: int, spread: dt.timedelta) -> dt.timedelta:
    """When, relative to its due time, a reminder's occurrences go out under a spread of +-`spread`: fixed per
    reminder (a patient's 08:00 reminder comes at the same minute every day), and uniform over the reminders, so a
    burst due on the hour leaves over the whole window instead of at once (Meta's and Twilio's rates; issue 16)."""
    steps = spread_steps(spread)
    return ((reminder_id % (2 * steps + 1)) - steps) * SPREAD_STEP if steps else dt.timedelta(0)


@dataclass(frozen=True)
class Adherence:
    """Medication reminders over a period: what the patient answered, per medicine and in total."""

    days: int
    doses: int
    taken: int
    skipped: int
    no_reply: int
    missed: int  # never delivered (the system was down beyond the grace period)
    awaiting: int  # sent, no answer yet
    by_label: Dict[str, Dict[str, int]] = field(default_factory=dict)
    # Of the reminders sent on WhatsApp: how many Twilio reported delivered to the phone, and read (blue ticks; only
    # when the patient shares read receipts, so a low read rate is not proof of unread reminders).
    sent_on_whatsapp: int = 0
    delivered: int = 0
    read: int = 0

    @property
    def percent_taken(self) -> Optional[int]:
        answered = self.doses - self.awaiting
        return round(100 * self.taken / answered) if answered else None

    @property
    def percent_delivered(self) -> Optional[int]:
        return round(100 * self.delivered / self.sent_on_whatsapp) if self.sent_on_whatsapp else None

    @property
    def percent_read(self) -> Optional[int]:
        return round(100 * self.read / self.sent_on_whatsapp) if self.sent_on_whatsapp else None

    def describe(self) -> str:
        if not self.doses:
            return f"No medication reminders were due in the last {self.days} days."
        text = f"In the last {self.days} days you took {self.taken} of {self.doses - self.awaiting} reminded doses"
        text += f" ({self.percent_taken}%)." if self.percent_taken is not None else "."
        extras = [
            f"{n} {what}"
            for n, what in (
                (self.skipped, "skipped"),
                (self.no_reply, "without a reply"),
                (self.missed, "not sent"),
            )
            if n
        ]
        return text + (" " + ", ".join(extras) + "." if extras else "")

    def to_dict(self) -> Dict[str, Any]:
        return {
            "days": self.days,
            "doses": self.doses,
            "taken": self.taken,
            "skipped": self.skipped,
            "no_reply": self.no_reply,
            "missed": self.missed,
            "awaiting": self.awaiting,
            "percent_taken": self.percent_taken,
            "sent_on_whatsapp": self.sent_on_whatsapp,
            "delivered": self.delivered,
            "read": self.read,
            "percent_delivered": self.percent_delivered,
            "percent_read": self.percent_read,
            "by_label": self.by_label,
            "text": self.describe(),
        }


_STOPWORDS = frozenset(
    "stop pause resume restart cancel delete remove change move my the a an for to of reminder reminders remind me "
    "please pls about taking take tablet tablets pill pills medicine medication meds dose doses can you could i want "
    "don't dont need no longer anymore any more that this".split()
)


def meaningful_words(text: str) -> List[str]:
    """The words of a label or message that can tell reminders apart (no "stop", "my", "tablets" …)."""
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOPWORDS]


def label_score(label: str, text: str) -> float:
    """How well the patient's words name a reminder's label (1.0 = the label appears whole)."""
    label_words, said = meaningful_words(label), meaningful_words(text)
    if not label_words or not said:
        return 0.0
    if " ".join(label_words) in " ".join(said):
        return 1.0
    # Each label word matched by its closest said word (typos allowed: "metfromin"), averaged.
    per_word = [max(difflib.SequenceMatcher(None, lw, sw).ratio() for sw in said) for lw in label_words]
    return sum(per_word) / len(per_word)
