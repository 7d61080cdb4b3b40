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
    IDENTITY_LOCKED = "identity_locked"


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
    Reason.IDENTITY_LOCKED: "wrong date of birth too often: appointments locked",
}


class PrivacyRequest(str, Enum):
    """A patient's privacy request that arrived while staff had the conversation: the bot carries it out (with its
    confirmation and its erasure in every store), so the case is closed and the bot takes the conversation back."""

    ERASURE = "erasure"
    CONSENT_WITHDRAWN = "consent_withdrawn"


PRIVACY_REQUEST_LABELS = {
    PrivacyRequest.ERASURE: "asked for their data to be erased",
    PrivacyRequest.CONSENT_WITHDRAWN: "withdrew their consent",
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
    assigned_to: Optional[str] = None  # the staff member who took the case; None while it waits in the queue

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    def visible_to(self, staff: str, is_admin: bool) -> bool:
        """Who may read or act on a case: admins every case; other staff the cases they took, and open cases nobody
        has taken yet (the queue; opening one takes it). So a case's conversation is read by one person and the
        admins, and a case taken by a colleague stays theirs until they put it back in the queue."""
        return is_admin or self.assigned_to == staff or (self.assigned_to is None and self.is_open)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "reason": self.reason.value,
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "resolved_by": self.resolved_by,
            "assigned_to": self.assigned_to,
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
