"""Handing a conversation to staff (issue 8): open a case in the staff inbox, tell the patient, pause the bot.

Triggers: the patient asks for a person (ask_human, also the "talk to a person" choice the fallback offers), sends a
photo or document outside a form (send_media) or a triage result is marked for call-back (the triage action calls
`open_handoff(tracker, Reason.TRIAGE_CALLBACK, dispatcher)`). `ConversationPaused` keeps the bot quiet until staff
resolve the case, which resumes the conversation through Rasa's HTTP API; while paused, the WhatsApp channel adds
the patient's messages to the case. If the backend cannot record the case nothing is paused: the patient gets the
clinic's phone number instead of a promise nobody will keep.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import clinic, latest_intent, patient_phone, say
from carebot.handoff.client import HandoffClient, HandoffError, HandoffUnavailable
from carebot.handoff.model import TRANSCRIPT_MAX_CHARS, Reason
from carebot.phones import mask_phone

log = logging.getLogger(__name__)

TRANSCRIPT_MESSAGES = (
    12  # enough for staff to see what led here; the case page also shows Rasa's full tracker
)
REASON_BY_INTENT = {"ask_human": Reason.ASKED_FOR_HUMAN, "send_media": Reason.MEDIA}
LEAD_MESSAGES = {Reason.MEDIA: "handoff_lead_media"}


def _patient_line(event: Dict[str, Any]) -> str:
    """A user event as staff should read it: the text, or what was sent when the message was a /intent payload."""
    text = (event.get("text") or "").strip()
    media = [m for m in ((event.get("metadata") or {}).get("media") or []) if isinstance(m, dict)]
    attachments = [f"[{m.get('content_type') or 'file'}: {m.get('url') or 'no link'}]" for m in media]
    if text.startswith("/"):  # a button or channel payload such as /send_media{"media_type": "image"}
        text = "" if attachments else f"[{text[1:].split('{', 1)[0].replace('_', ' ')}]"
    return " ".join(part for part in [text, *attachments] if part)


def transcript_excerpt(tracker: Tracker, limit: int = TRANSCRIPT_MESSAGES) -> str:
    """The last messages of the conversation, oldest first, as 'Patient: …' / 'Carebot: …' lines."""
    lines: List[str] = []
    for event in tracker.events:
        if event.get("event") == "user":
            line = _patient_line(event)
            if line:
                lines.append(f"Patient: {line}")
        elif event.get("event") == "bot" and event.get("text"):
            lines.append(f"Carebot: {event['text']}")
    return "\n".join(lines[-limit:])[-TRANSCRIPT_MAX_CHARS:]


async def open_handoff(
    tracker: Tracker,
    reason: Reason,
    dispatcher: CollectingDispatcher,
    client_factory: Callable[[], HandoffClient] = HandoffClient,
    note: str = "",
) -> List[EventType]:
    """Open (or add to) the conversation's case, tell the patient what happens next, and pause the bot. A `note`
    leads the transcript staff read (whom a triage was about, on a phone that books for several patients).

    Returns the events the calling action must return: the pause, or `[]` when the backend could not be reached
    (the patient was then given the clinic's phone number and the bot keeps answering). The pause ends the turn
    with `action_listen`, as Rasa would have: a paused conversation predicts nothing more, and without it the first
    message after staff resume the bot would not follow a listen, so no rule would match it.
    """
    reason = Reason(reason)
    lead = LEAD_MESSAGES.get(reason)
    if lead:
        say(dispatcher, lead)
    phone = patient_phone(tracker)
    try:
        async with client_factory() as handoff:
            excerpt = transcript_excerpt(tracker)
            opened = await handoff.open_case(
                tracker.sender_id, phone, reason, f"{note}\n{excerpt}" if note else excerpt
            )
    except HandoffError as error:
        log.error("handoff: no case for %s (%s): %s", mask_phone(phone), reason.value, error)
        facts = clinic()
        say(
            dispatcher,
            # Refused, not unreachable: this chat has no phone number for staff to reply to (a REST "me").
            "handoff_unavailable" if isinstance(error, HandoffUnavailable) else "handoff_needs_phone",
            clinic_phone=facts.phone,
            emergency_number=facts.emergency_number,
            urgent_line=facts.urgent_advice_line or facts.emergency_number,
        )
        return []
    log.info(
        "handoff: case %s %s for %s (%s)",
        opened.case_id,
        "opened" if opened.created else "reused",
        mask_phone(phone),
        reason.value,
    )
    dispatcher.utter_message(text=opened.patient_notice)
    return [ConversationPaused(), ActionExecuted("action_listen")]


def reason_for(intent: Optional[str]) -> Reason:
    """Why the patient is handed over, from the intent that triggered the rule (asking for a person by default)."""
    return REASON_BY_INTENT.get(intent or "", Reason.ASKED_FOR_HUMAN)


class ActionHandOffToStaff(Action):
    """The rule-driven triggers: the patient asked for a person, or sent a photo or document."""

    def name(self) -> Text:
        return "action_hand_off_to_staff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        if reason_for(latest_intent(tracker)) == Reason.MEDIA and not carries_an_attachment(
            tracker.latest_message or {}
        ):
            say(dispatcher, "handoff_no_attachment")  # words that only sound like a photo: no case for staff
            return []
        return await open_handoff(tracker, reason_for(latest_intent(tracker)), dispatcher)


def carries_an_attachment(message: Dict[str, Any]) -> bool:
    """Whether the patient's message came with a photo or file: the channel's /send_media payload or media in its
    metadata. The classifier can read "here's a photo of my rash" into send_media when nothing was attached."""
    metadata = message.get("metadata") or {}
    return bool(metadata.get("media")) or (message.get("text") or "").startswith("/send_media")
