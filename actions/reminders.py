"""Medication and appointment reminders in the conversation (issue 7): thin glue over carebot.reminders.

The phrasing is parsed here with carebot.reminders.recurrence (no backend needed to ask "when?"); everything
stored goes through `RemindersClient` to the backend, which the dispatcher reads. Reminders belong to the Rasa
conversation id (`tracker.sender_id`, `whatsapp:+44…` on WhatsApp): the dispatcher triggers the reminder intent
into exactly that conversation, so the patient's answer ("taken", "2") continues it.

The reminder itself is spoken by `action_send_reminder` on the triggered intent. It acknowledges the occurrence's
idempotency key first and says nothing unless that was the first acknowledgement (exactly once to the patient,
see carebot/reminders/dispatcher.py). It speaks as a WhatsApp custom payload: text plus numbered options inside
the 24-hour window, the clinic.yml template outside it (carebot/channels/whatsapp.py `send_custom_json`).
"""

from __future__ import annotations

import abc
import datetime as dt
import json
import logging
import re
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import clinic, latest_entity, latest_intent, output_channel, say, send, step_aside
from carebot.booking import long_when
from carebot.messages import render
from carebot.reminders.client import ReminderInfo, RemindersClient
from carebot.reminders.model import MATCH_THRESHOLD, label_score
from carebot.reminders.recurrence import (
    ReminderParseError,
    ReminderSpec,
    next_occurrences,
    parse_reminder,
    parse_times,
)
from carebot.scheduling.client import BackendError, BackendUnavailable, NotFound, SchedulingClient

logger = logging.getLogger(__name__)

DEFAULT_SNOOZE_MINUTES = 30  # what "3" (snooze) means; "snooze 45" or "snooze an hour" says otherwise
MAX_SNOOZE_MINUTES = 24 * 60
DONE_MESSAGE = {
    "stop": "reminder_stopped",
    "pause": "reminder_paused",
    "resume": "reminder_resumed",
    "change": "reminder_changed",
}
RESPONSE_OF_INTENT = {"reminder_taken": "taken", "reminder_skipped": "skipped", "reminder_snooze": "snoozed"}


def scheduling_client() -> SchedulingClient:
    """A client per action run (tests replace this factory with an in-memory fake)."""
    return SchedulingClient(clinic=clinic())


def reminders_client() -> RemindersClient:
    """A client per action run (tests point it at a test backend)."""
    return RemindersClient()


def now() -> dt.datetime:
    return clinic().now()


def entity(tracker: Tracker, name: str) -> Optional[str]:
    """The entity as text; an empty value counts as not given."""
    value = latest_entity(tracker, name)
    return str(value) if value not in (None, "") else None


def what(label: str, dose: Optional[str]) -> str:
    """'metformin 500mg': the medicine as the patient will read it."""
    return f"{label} {dose}" if dose else label


def when(moment: Optional[dt.datetime]) -> str:
    """'today at 20:00', 'tomorrow at 08:00', else 'Tuesday 1 December at 08:00'."""
    if moment is None:
        return render("reminder_no_next_time").text
    facts = clinic()
    local, today = moment.astimezone(facts.tz), now().date()
    if local.date() == today:
        return f"today at {local:%H:%M}"
    if local.date() == today + dt.timedelta(days=1):
        return f"tomorrow at {local:%H:%M}"
    return long_when(local, facts, today)


def unavailable(dispatcher: CollectingDispatcher) -> List[EventType]:
    say(dispatcher, "reminder_unavailable", clinic_phone=clinic().phone)
    return []


# --------------------------------------------------------------------------------------------- setting one
def parse(text: str) -> ReminderSpec:
    return parse_reminder(text, now(), clinic().timezone)


def missing_part(text: str) -> Optional[ReminderParseError]:
    """What the request still lacks (None when it can be saved as it is)."""
    try:
        parse(text)
    except ReminderParseError as error:
        return error
    return None


class ValidateReminderForm(Action):
    """Reads the request; when it lacks what or when, keeps what was said and lets the form ask for the rest.

    Each answer is added to the request ("remind me to take metformin" + "at 8am every day") and the whole is read
    again, so details may come in any order. An answer that adds nothing ("zzq") is dropped, not kept in the request.
    """

    def name(self) -> Text:
        return "validate_reminder_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        if tracker.get_slot("requested_slot") is None:  # the form starts: the opening message is the request,
            request = (
                tracker.latest_message.get("text") or ""
            )  # or, right after consent, the one kept meanwhile
            if latest_intent(tracker) == "affirm":
                request = tracker.get_slot("reminder_draft") or ""
            if missing_part(request) is None:
                return [SlotSet("reminder_draft", None), SlotSet("reminder_request", request)]
            return [SlotSet("reminder_draft", request), SlotSet("reminder_request", None)]
        aside = step_aside(tracker, "reminder_form")
        if aside is not None:
            return (
                aside  # not an answer ("cancel that", a photo): the rules for leaving or answering it apply
            )
        if "reminder_request" not in tracker.slots_to_validate():
            return []
        draft = tracker.get_slot("reminder_draft") or ""
        request = f"{draft} {tracker.get_slot('reminder_request') or ''}".strip()
        now_missing = missing_part(request)
        if now_missing is None:
            return [SlotSet("reminder_draft", None), SlotSet("reminder_request", request)]
        before = missing_part(draft)
        helped = before is None or before.missing != now_missing.missing
        return [SlotSet("reminder_draft", request if helped else draft), SlotSet("reminder_request", None)]


class AskReminderRequest(Action):
    """Asks for what the request still lacks: the medicine, or when (the parser says which, and why)."""

    def name(self) -> Text:
        return "action_ask_reminder_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        missing = missing_part(tracker.get_slot("reminder_draft") or "")
        if missing is not None and missing.missing == "time":
            say(dispatcher, "reminder_ask_time", problem=str(missing))
        else:
            say(dispatcher, "reminder_ask_medication")
        return []


class ActionSaveReminder(Action):
    """Stores the reminder the form gathered and confirms it in plain words with the next time it will fire."""

    def name(self) -> Text:
        return "action_save_reminder"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        request = tracker.get_slot("reminder_request") or ""
        try:
            spec = parse(request)
        except ReminderParseError as error:  # only if the clinic's clock moved past a one-off time meanwhile
            say(dispatcher, "reminder_ask_time", problem=str(error))
            return [SlotSet("reminder_request", None)]
        try:
            async with reminders_client() as reminders:
                created = await reminders.create(
                    tracker.sender_id, spec.to_dict(), channel=output_channel(tracker)
                )
        except (BackendError, NotFound) as error:
            logger.warning("reminder not saved: %s", error)
            say(dispatcher, "reminder_not_saved", clinic_phone=clinic().phone)
            return [SlotSet("reminder_request", None)]
        upcoming = created.next_due or (next_occurrences(spec, now(), 1) or [None])[0]
        say(
            dispatcher,
            "reminder_set",
            what=what(created.label, created.dose),
            schedule=created.description,
            next=when(upcoming),
        )
        return [SlotSet("reminder_request", None)]


class ActionStopReminderForm(Action):
    def name(self) -> Text:
        return "action_reminder_form_stopped"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        say(dispatcher, "reminder_form_stopped")
        return [SlotSet("reminder_draft", None), SlotSet("reminder_request", None)]


# ----------------------------------------------------------------------------------------- listing, changing
class ActionListReminders(Action):
    def name(self) -> Text:
        return "action_list_reminders"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        try:
            async with reminders_client() as reminders:
                found = await reminders.list(tracker.sender_id)
        except (BackendError, NotFound):
            return unavailable(dispatcher)
        if not found:
            say(dispatcher, "reminder_none")
            return []
        lines = "\n".join(
            render(
                "reminder_paused_line" if r.status == "paused" else "reminder_line",
                {"what": what(r.label, r.dose), "schedule": r.description, "next": when(r.next_due)},
            ).text
            for r in found
        )
        say(dispatcher, "reminder_list", lines=lines)
        return []


def _clock(text: str) -> Tuple[int, int]:
    """'07:30' (from a button payload) → (7, 30)."""
    hour, minute = text.strip().split(":")
    return int(hour), int(minute)


def which_buttons(intent: str, candidates: List[ReminderInfo], extra: Dict[str, str]) -> List[Dict[str, str]]:
    """One button per reminder; the payload repeats the request with the reminder's id, so the choice completes it."""
    return [
        {
            "title": f"{what(r.label, r.dose)} ({r.description})",
            "payload": f"/{intent}" + json.dumps({"reminder_id": str(r.id), **extra}),
        }
        for r in candidates
    ]


class ReminderChange(Action, abc.ABC):
    """Stop, pause, resume or change the time of the reminder the patient names (fuzzy: "metfromin" works).

    Names that match several reminders, or none, get a numbered list to choose from.
    """

    intent: str  # the intent this action answers; its "which one?" buttons repeat it with the chosen id
    task: str  # stop | pause | resume | change

    @abc.abstractmethod
    def name(self) -> Text:
        """One action per task, so rules read naturally."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        text = tracker.latest_message.get("text") or ""
        extra: Dict[str, str] = {}
        times: List[Tuple[int, int]] = []
        if self.task == "change":
            times_said = entity(tracker, "reminder_times")
            try:
                times = [_clock(t) for t in times_said.split(",")] if times_said else parse_times(text)
            except ValueError:
                times = []
            if not times:
                say(dispatcher, "reminder_change_needs_time")
                return []
            extra["reminder_times"] = ",".join(f"{h:02d}:{m:02d}" for h, m in times)
        try:
            async with reminders_client() as reminders:
                reminder = await self.find(reminders, tracker, text, dispatcher, extra)
                if reminder is None:
                    return []
                if self.task == "change":
                    reminder = await reminders.change_times(reminder.id, times)
                else:
                    reminder = await getattr(reminders, self.task)(reminder.id)
        except NotFound:
            say(dispatcher, "reminder_gone")
            return []
        except BackendUnavailable:
            return unavailable(dispatcher)
        except BackendError as error:
            if error.status == 409:  # e.g. resuming one that is not paused
                say(dispatcher, "reminder_not_possible", problem=str(error))
                return []
            return unavailable(dispatcher)
        say(
            dispatcher,
            DONE_MESSAGE[self.task],
            what=what(reminder.label, reminder.dose),
            label=reminder.label,
            schedule=reminder.description,
            next=when(reminder.next_due),
        )
        return []

    async def find(
        self,
        reminders: RemindersClient,
        tracker: Tracker,
        text: str,
        dispatcher: CollectingDispatcher,
        extra: Dict[str, str],
    ) -> Optional[ReminderInfo]:
        """The reminder meant, or None after asking which one (or saying there are none)."""
        mine = [r for r in await reminders.list(tracker.sender_id) if r.kind == "medication"]
        if not mine:
            say(dispatcher, "reminder_none")
            return None
        chosen = entity(tracker, "reminder_id")
        if chosen:  # a tap on the numbered list
            found = next((r for r in mine if str(r.id) == chosen), None)
            if found:
                return found
        else:
            # The patient's words, then the recognised medicine (a brand name names the generic's reminder).
            for words in dict.fromkeys(filter(None, [text, entity(tracker, "medicine")])):
                try:
                    return await reminders.match(tracker.sender_id, words)
                except NotFound:
                    continue
                except BackendError as error:
                    if error.status != 409:
                        raise
                    # Several match ("metformin" morning and evening): offer only those.
                    mine = [r for r in mine if label_score(r.label, words) >= MATCH_THRESHOLD] or mine
                    break
        if self.task == "resume":
            mine = [r for r in mine if r.status == "paused"] or mine
        send(dispatcher, "reminder_which", which_buttons(self.intent, mine, extra))
        return None


class ActionStopReminder(ReminderChange):
    intent, task = "stop_reminder", "stop"

    def name(self) -> Text:
        return "action_stop_reminder"


class ActionPauseReminder(ReminderChange):
    intent, task = "pause_reminder", "pause"

    def name(self) -> Text:
        return "action_pause_reminder"


class ActionResumeReminder(ReminderChange):
    intent, task = "resume_reminder", "resume"

    def name(self) -> Text:
        return "action_resume_reminder"


class ActionChangeReminder(ReminderChange):
    intent, task = "change_reminder", "change"

    def name(self) -> Text:
        return "action_change_reminder"


# ------------------------------------------------------------------------------------------------ adherence
class ActionAdherenceReport(Action):
    """ "How am I doing": the last 7 days of answered medication reminders, in total and per medicine."""

    def name(self) -> Text:
        return "action_adherence_report"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        try:
            async with reminders_client() as reminders:
                summary = await reminders.adherence(tracker.sender_id, days=7)
        except (BackendError, NotFound):
            return unavailable(dispatcher)
        if not summary["doses"]:
            say(dispatcher, "reminder_adherence_none", days=summary["days"])
            return []
        lines = "\n".join(
            render("reminder_adherence_line", {"label": label, **counts}).text
            for label, counts in sorted(summary["by_label"].items())
        )
        answered = summary["doses"] - summary["awaiting"]
        percent = f"{summary['percent_taken']}%" if summary["percent_taken"] is not None else "-"
        say(
            dispatcher,
            "reminder_adherence",
            days=summary["days"],
            taken=summary["taken"],
            answered=answered,
            percent=percent,
            lines=lines,
        )
        return []


def snooze_minutes(text: str) -> int:
    """'snooze 45' → 45, 'snooze 2 hours' / 'an hour' → 120 / 60; a bare option number ('3') → the default."""
    lowered = text.lower().strip()
    if lowered.isdigit():
        return DEFAULT_SNOOZE_MINUTES
    match = re.search(r"\b(\d{1,4})\s*(h|hrs?|hours?)?\b", lowered)
    if match:
        amount = int(match.group(1)) * (60 if match.group(2) else 1)
        return amount if 1 <= amount <= MAX_SNOOZE_MINUTES else DEFAULT_SNOOZE_MINUTES
    if re.search(r"\bhalf an hour\b", lowered):
        return 30
    if re.search(r"\b(?:an|one) hour\b", lowered):
        return 60
    return DEFAULT_SNOOZE_MINUTES


class ActionRecordReminderResponse(Action):
    """Records taken / skip / snooze for the reminder just sent (its occurrence, from the triggering intent)."""

    def name(self) -> Text:
        return "action_record_reminder_response"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        intent = latest_intent(tracker) or ""
        response = RESPONSE_OF_INTENT.get(intent)
        if response is None:
            say(dispatcher, "reminder_answer_unclear")
            return []
        minutes = snooze_minutes(tracker.latest_message.get("text") or "")
        occurrence = tracker.get_slot("reminder_occurrence")
        occurrence_id = int(occurrence) if occurrence and str(occurrence).isdigit() else None
        try:
            async with reminders_client() as reminders:
                try:
                    snoozed_until = await reminders.respond(
                        tracker.sender_id, response, occurrence_id, minutes
                    )
                except NotFound:
                    if occurrence_id is None:
                        raise
                    # The remembered reminder is not this patient's latest any more: answer the latest instead.
                    snoozed_until = await reminders.respond(tracker.sender_id, response, None, minutes)
        except NotFound:
            say(dispatcher, "reminder_nothing_to_answer")
            return []
        except (BackendError, BackendUnavailable):
            say(dispatcher, "reminder_answer_not_saved")
            return []
        if response == "snoozed":
            say(dispatcher, "reminder_snoozed", next=when(snoozed_until))
        else:
            say(dispatcher, f"reminder_{response}")
        return []


# -------------------------------------------------------------------------------------------- the reminder
class ActionSendReminder(Action):
    """Speaks a reminder the dispatcher triggered (intent medication_reminder or appointment_reminder), once.

    The trigger's entities (reminder_key, reminder_label, reminder_dose, reminder_due, reminder_occurrence,
    appointment_id) carry everything; the occurrence is kept in a slot so the patient's answer is recorded for it.
    """

    def name(self) -> Text:
        return "action_send_reminder"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        key = entity(tracker, "reminder_key")
        intent = latest_intent(tracker)
        if not key:  # the patient's own words ("what was that reminder?"), not the dispatcher's trigger
            if intent == "appointment_reminder":
                say(dispatcher, "reminder_appointment_question")
                return []
            return await ActionListReminders().run(dispatcher, tracker, domain)
        try:
            async with reminders_client() as reminders:
                first = await reminders.acknowledge_delivery(key, tracker.sender_id)
        except (BackendError, NotFound) as error:
            # Unconfirmed means maybe already said: a duplicated medication reminder can cause a double dose.
            logger.error("reminder %s not spoken: its delivery could not be recorded (%s)", key, error)
            return []
        if not first:
            logger.info("reminder %s was already delivered: not repeated", key)
            return []
        label = entity(tracker, "reminder_label") or ""
        due = entity(tracker, "reminder_due")
        due_time = dt.datetime.fromisoformat(due) if due else now()
        if intent == "appointment_reminder":
            appointment = entity(tracker, "appointment_id") or ""
            message = self._appointment(label, appointment, tracker)
        else:
            message = self._medication(what(label, entity(tracker, "reminder_dose")), due_time)
        # For the WhatsApp outbox: one message per occurrence, retried no later than the reminder is worth sending.
        deadline = due_time + dt.timedelta(minutes=clinic().reminder_grace_minutes)
        message["outbox"] = {"key": key, "kind": intent, "deadline": deadline.isoformat()}
        dispatcher.utter_message(json_message=message)
        return []

    @staticmethod
    def _medication(medicine: str, due: dt.datetime) -> Dict[str, Any]:
        local = due.astimezone(clinic().tz)
        rendered = render("reminder_medication", {"what": medicine, "time": f"{local:%H:%M}"})
        return {
            "text": rendered.text,
            "buttons": rendered.buttons,
            "template": "medication_reminder",
            "variables": {"1": medicine, "2": f"{local:%H:%M}"},
        }

    @staticmethod
    def _appointment(label: str, appointment_id: str, tracker: Tracker) -> Dict[str, Any]:
        start = entity(tracker, "appointment_start")
        words = when(dt.datetime.fromisoformat(start)) if start else render("reminder_appointment_soon").text
        # The buttons lead into the booking flows with this appointment already chosen (actions/booking.py).
        rendered = render(
            "reminder_appointment",
            {"what": label, "when": words, "appointment": json.dumps({"appointment_id": appointment_id})},
        )
        return {
            "text": rendered.text,
            "buttons": rendered.buttons,
            "template": "appointment_reminder",
            "variables": {"1": label, "2": words},
        }


class ActionConfirmAppointment(Action):
    """ "1" (confirm) after an appointment reminder: the confirmation is recorded on the appointment (staff see the
    unconfirmed ones near their start), and the patient is told we expect them."""

    def name(self) -> Text:
        return "action_confirm_appointment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        appointment_id = entity(tracker, "appointment_id")
        if appointment_id:  # the reminder's button names it; words alone ("I'll be there") record nothing
            try:
                async with scheduling_client() as scheduling:
                    await scheduling.confirm_attendance(appointment_id)
            except BackendError as error:  # staff see it unconfirmed and call: nothing is lost
                logger.warning("appointment %s: confirmation not recorded (%s)", appointment_id, error)
        say(dispatcher, "reminder_appointment_confirmed")
        return []
