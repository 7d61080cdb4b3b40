"""What happens around a handoff case: notifying staff, replying to the patient, resolving and resuming the bot.

The HTTP layers (`api.py` for the action server, `inbox.py` for staff) stay thin and call this. WhatsApp's rules
are checked here *before* sending so the page can say exactly why a reply did not leave: an opted-out patient gets
nothing, and outside the 24-hour window only an approved template may be sent (staff choose to send it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple

from carebot.backend.db import run_db
from carebot.clinic import Clinic
from carebot.clock import utc_now
from carebot.faq import format_day
from carebot.handoff.model import REASON_LABELS, Case, Delivery, Event, EventKind, PrivacyRequest, Reason
from carebot.handoff.store import HandoffStore
from carebot.messages import render
from carebot.phones import mask_phone
from carebot.rasa_api import RasaAPI, RasaAPIError

log = logging.getLogger(__name__)

REOPEN_TEMPLATE = "conversation_reopen"
STAFF_ALERT_TEMPLATE = "handoff_alert"
TRACKER_MESSAGES_SHOWN = 40


class SendOutcome(Protocol):
    status: str  # sent | sandbox | opted_out | queued | held | failed
    via_template: bool
    error: Optional[str]


class Messenger(Protocol):
    """What the handoff needs from `carebot.channels.twilio_sender.WhatsAppSender`."""

    async def send(
        self,
        to: str,
        text: Optional[str] = None,
        *,
        template: Optional[str] = None,
        variables: Optional[Dict[str, Any]] = None,
        kind: str = "reply",
    ) -> SendOutcome: ...


class Contacts(Protocol):
    """What the handoff needs from `carebot.channels.contacts.ContactStore` (written by the WhatsApp channel)."""

    def is_opted_out(self, phone: str) -> bool: ...

    def in_window(self, phone: str, now: Optional[dt.datetime] = None) -> bool: ...


class ResumeFailed(RuntimeError):
    """The case is resolved but Rasa could not be told; staff can retry from the page."""


def patient_notice(clinic: Clinic, now: dt.datetime) -> str:
    """What the bot tells the patient after a handoff: when a person will reply, and the emergency number."""
    if clinic.staff_available_at(now):
        return render(
            "handoff_in_hours",
            {
                "reply_minutes": clinic.staff_reply_within_minutes,
                "emergency_number": clinic.emergency_number,
            },
        ).text
    back = clinic.next_staff_time(now)
    today = now.astimezone(clinic.tz).date()
    return render(
        "handoff_out_of_hours",
        {
            "staff_back": f"{_on(format_day(back.date(), today))} from {back:%H:%M}",
            "emergency_number": clinic.emergency_number,
            "urgent_line": clinic.urgent_advice_line or clinic.emergency_number,
        },
    ).text


def _on(label: str) -> str:
    return label if label.startswith(("today", "tomorrow")) else f"on {label}"


class HandoffService:
    """Handoff operations over the store, the WhatsApp sender and Rasa's HTTP API."""

    def __init__(
        self,
        store: HandoffStore,
        clinic: Clinic,
        sender: Optional[Messenger],
        contacts: Optional[Contacts],
        rasa: RasaAPI,
        clock: Callable[[], dt.datetime] = utc_now,
        inbox_url: str = "",
    ) -> None:
        self.store, self.clinic, self.sender, self.contacts, self.rasa = store, clinic, sender, contacts, rasa
        self.clock = clock
        self.inbox_url = inbox_url.rstrip("/")

    async def open_case(
        self,
        conversation_id: str,
        patient_phone: str,
        reason: Reason,
        transcript: str,
    ) -> Tuple[Case, bool, str]:
        """Open (or append to) the conversation's case; alert the on-call phone for a new one.
        Returns (case, created, the text the bot should send the patient)."""
        now = self.clock()
        case, created = await run_db(
            self.store.open_case, conversation_id, patient_phone, reason, transcript, now
        )
        if created:
            await self._alert_staff(case)
        return case, created, patient_notice(self.clinic, now)

    async def _alert_staff(self, case: Case) -> None:
        """Best effort: a failed alert must not lose the case, which is already stored and listed in the inbox."""
        if not (self.sender and self.clinic.on_call_whatsapp):
            return
        url = f"{self.inbox_url}/staff/cases/{case.id}"
        text = render(
            "handoff_staff_alert",
            {
                "case_id": case.id,
                "reason": REASON_LABELS[case.reason],
                "masked_phone": mask_phone(case.patient_phone),
                "case_url": url,
            },
        ).text
        variables = {"1": str(case.id), "2": REASON_LABELS[case.reason], "3": url}
        try:  # free text inside the on-call phone's 24-hour window, else the approved alert template
            outcome = await self.sender.send(
                self.clinic.on_call_whatsapp, text, template=STAFF_ALERT_TEMPLATE, variables=variables
            )
            if outcome.status == "failed":
                log.warning("handoff: alert for case %s not delivered: %s", case.id, outcome.error)
        except Exception:  # noqa: BLE001 - the case stays in the inbox whatever the alert channel does
            log.exception("handoff: alert for case %s failed", case.id)

    async def patient_message(self, conversation_id: str, text: str) -> Optional[Case]:
        return await run_db(self.store.append_patient_message, conversation_id, text, self.clock())

    async def open_case_for(self, conversation_id: str) -> Optional[Case]:
        return await run_db(self.store.open_case_for, conversation_id)

    async def contact_state(self, phone: str) -> Tuple[bool, bool]:
        """(opted_out, inside the 24-hour window) for the case page and for reply decisions."""
        if self.contacts is None:
            return False, True
        opted_out = await asyncio.to_thread(self.contacts.is_opted_out, phone)
        in_window = await asyncio.to_thread(self.contacts.in_window, phone, self.clock())
        return opted_out, in_window

    async def reply(self, case_id: int, staff: str, text: str) -> Event:
        """Send staff's text to the patient when WhatsApp allows it; always record it with the outcome."""
        case = await run_db(self.store.get, case_id)
        opted_out, in_window = await self.contact_state(case.patient_phone)
        if opted_out:
            delivery = Delivery.OPTED_OUT
        elif not in_window:
            delivery = Delivery.NEEDS_TEMPLATE
        else:
            delivery = await self._send(case, text=text)
        return await run_db(
            self.store.add_event, case_id, EventKind.STAFF_REPLY, staff, text, self.clock(), delivery
        )

    async def send_reopen_template(self, case_id: int, staff: str) -> Event:
        """Outside the window: send the approved re-open template so the patient can write back."""
        case = await run_db(self.store.get, case_id)
        opted_out, _ = await self.contact_state(case.patient_phone)
        delivery = Delivery.OPTED_OUT if opted_out else await self._send(case, template=REOPEN_TEMPLATE)
        text = f"[template {REOPEN_TEMPLATE}]"
        return await run_db(
            self.store.add_event, case_id, EventKind.STAFF_REPLY, staff, text, self.clock(), delivery
        )

    async def _send(self, case: Case, text: Optional[str] = None, template: Optional[str] = None) -> Delivery:
        if self.sender is None:
            log.error("handoff: no WhatsApp sender configured; reply on case %s not sent", case.id)
            return Delivery.FAILED
        try:
            outcome = await self.sender.send(
                case.patient_phone, text, template=template, kind="template" if template else "staff_reply"
            )
        except Exception:  # noqa: BLE001 - the reply is recorded as failed and shown; staff can retry
            log.exception("handoff: sending on case %s failed", case.id)
            return Delivery.FAILED
        if outcome.status == "opted_out":
            return Delivery.OPTED_OUT
        if outcome.status == "failed":
            return Delivery.FAILED
        if outcome.status == "sandbox":
            return Delivery.SANDBOX
        if outcome.status == "queued":
            return Delivery.QUEUED
        if outcome.via_template and template is None:
            return (
                Delivery.TEMPLATE_INSTEAD
            )  # Twilio said the window had closed; the sender sent the template
        return Delivery.SENT

    async def note(self, case_id: int, staff: str, text: str) -> Event:
        return await run_db(self.store.add_event, case_id, EventKind.NOTE, staff, text, self.clock())

    async def resolve(self, case_id: int, staff: str) -> Case:
        """Close the case (raises AlreadyResolved for the loser of a race), then resume the bot.
        Raises ResumeFailed when the case is closed but Rasa could not be reached."""
        case = await run_db(self.store.resolve, case_id, staff, self.clock())
        await self.resume_bot(case, staff)
        return case

    async def close_for_privacy(self, conversation_id: str, request: PrivacyRequest) -> Optional[Case]:
        """The patient's privacy request arrived while staff had the conversation: close the case (staff get an
        anonymous notice) and resume the bot, which carries the request out. Raises ResumeFailed when Rasa could
        not be reached; None when no case was open."""
        case = await run_db(self.store.close_for_privacy, conversation_id, request, self.clock())
        if case is not None:
            await self.resume_bot(case, "carebot")
        return case

    async def resume_bot(self, case: Case, staff: str) -> None:
        try:
            await self.rasa.append_events(case.conversation_id, [{"event": "resume"}])
        except RasaAPIError as error:
            log.error("handoff: could not resume the bot after case %s: %s", case.id, error)
            await run_db(
                self.store.add_event,
                case.id,
                EventKind.NOTE,
                "carebot",
                "The bot could not be resumed (Rasa unreachable). Press 'Resume bot' to retry.",
                self.clock(),
            )
            raise ResumeFailed(str(error)) from error
        log.info(
            "handoff: case %s resolved by %s, bot resumed for %s",
            case.id,
            staff,
            mask_phone(case.patient_phone),
        )

    async def bot_conversation(self, case: Case) -> Optional[List[Dict[str, Any]]]:
        """The user/bot messages from Rasa's tracker (latest last), or None when Rasa is not reachable."""
        try:
            tracker = await self.rasa.get_tracker(case.conversation_id)
        except RasaAPIError as error:
            log.info("handoff: tracker for case %s unavailable: %s", case.id, error)
            return None
        messages = [
            {
                "who": "patient" if e["event"] == "user" else "bot",
                "text": e.get("text") or "",
                "at": dt.datetime.fromtimestamp(e["timestamp"], dt.timezone.utc)
                if e.get("timestamp")
                else None,
            }
            for e in tracker.get("events") or []
            if e.get("event") in ("user", "bot") and e.get("text")
        ]
        return messages[-TRACKER_MESSAGES_SHOWN:]
