"""Handoff records, reasons and errors: what the store, the API, the inbox and the client share.

Pure (no SQLAlchemy, no HTTP): the Rasa and action processes import this, never the store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum
from typing import Optional

TRANSCRIPT_MAX_CHARS = 4000
TEXT_MAX_CHARS = 4000


class Reason(str, Enum):
    """Why the bot handed the conversation to a person."""

    ASKED_FOR_HUMAN = "asked_for_human"
    REPEATED_FALLBACK = "repeated_fallback"
    TRIAGE_CALLBACK = "triage_callback"
    MEDIA = "media"


class EventKind(str, Enum):
    PATIENT_MESSAGE = "patient_message"
    STAFF_REPLY = "staff_reply"
    NOTE = "note"
    RESOLVED = "resolved"


class Delivery(str, Enum):
    """What happened to a staff reply; shown next to it on the case page."""

    SENT = "sent"
    FAILED = "failed"
    NEEDS_TEMPLATE = (
        "needs_template"  # outside WhatsApp's 24-hour window: only an approved template may be sent
    )
    OPTED_OUT = "opted_out"  # the patient sent STOP: nothing is sent
    SANDBOX = "sandbox"  # no Twilio credentials: logged, not sent
    TEMPLATE_INSTEAD = (
        "template_instead"  # Twilio reported the window closed; the re-open template went instead
    )
    QUEUED = "queued"  # Twilio refused it for now: the outbox retries it until its deadline


REASON_LABELS = {
    Reason.ASKED_FOR_HUMAN: "asked for a person",
    Reason.REPEATED_FALLBACK: "bot did not understand twice",
    Reason.TRIAGE_CALLBACK: "triage call-back",
    Reason.MEDIA: "sent a photo or document",
}


class CaseNotFound(LookupError):
    pass


class AlreadyResolved(RuntimeError):
    """Another staff member resolved the case first."""

    def __init__(self, case: "Case") -> None:
        self.case = case
        super().__init__(f"case {case.id} was already resolved by {case.resolved_by}")


@dataclass(frozen=True)
class Case:
    id: int
    conversation_id: str
    patient_phone: str
    reason: Reason
    transcript: str
    status: str
    created_at: dt.datetime  # aware UTC
    resolved_at: Optional[dt.datetime]
    resolved_by: Optional[str]

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "reason": self.reason.value,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "resolved_by": self.resolved_by,
        }


@dataclass(frozen=True)
class Event:
    id: int
    case_id: int
    kind: EventKind
    author: str
    text: str
    at: dt.datetime  # aware UTC
    delivery_status: Optional[Delivery]
