"""The fast direct-write demo seed: `python -m carebot.dashboard seed-demo` (500 conversations over 30 days), the
fixture of the dashboard's figure tests and its benchmark. (`make seed-demo` plays scripts through the real bot
instead: carebot/dashboard/live.py.)

Each script is what one conversation leaves behind: the tracker events Rasa writes for it (in Rasa's events table,
sealed like the tracker store seals them) and the backend rows its actions write (appointments, reminders and their
WhatsApp outbox rows, staff cases). The seed keeps its own `Ledger` of what it did, written from each script's
declared outcomes, never from the dashboard's queries: the tests compare every dashboard figure with it.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, func, insert, select
from sqlalchemy.engine import Engine

from carebot import migrations
from carebot.backend.db import to_db
from carebot.dashboard.model import FUNNELS
from carebot.handoff.store import handoff_cases
from carebot.privacy.sealing import seal
from carebot.reminders.store import reminder_occurrences, reminders
from carebot.scheduling.tables import appointment, patient

_metadata = MetaData()
# Rasa's SQLTrackerStore.SQLEvent, for databases Rasa has not started on yet (same columns and sender index).
tracker_events = Table(
    "events",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)

# Not-understood messages: (wording, the group it belongs to). Variants of one request share a group.
NOT_UNDERSTOOD = (
    ("can you fix my bike", "bike"),
    ("Can you fix my bike?", "bike"),
    ("can u fix my bike please", "bike"),
    ("what's the weather tomorrow", "weather"),
    ("whats the weather tomorrow?", "weather"),
    ("blorp zzk", "blorp"),
)
FLAG_FIGURES = ("red_flag", "consent_declined")  # per-patient figures named like their marker
TRIAGE = (("headache", "routine"), ("sore_throat", "self_care"), ("abdominal_pain", "urgent"))


@dataclass
class Step:
    """One event: kind is user / bot / action / slot / pause."""

    kind: str
    name: Optional[str] = None  # intent (user), action or slot name
    value: Any = None  # slot value, or the text of a user / bot message


@dataclass
class Script:
    """A conversation's events, the backend rows it leaves (`side`) and the figures it counts in (`counts`)."""

    kind: str
    steps: List[Step]
    counts: Set[str] = field(default_factory=set)
    side: Tuple[str, ...] = ()  # "booked", "rescheduled", "cancelled", "noshow", "reminder", "case:<reason>"
    not_understood: Tuple[str, ...] = ()  # group names of the not-understood messages


def _turn(intent: str, text: str, *after: Step, reply: str = "ok") -> List[Step]:
    return [Step("user", intent, text), *after, Step("bot", None, reply)]


def _act(name: str) -> Step:
    return Step("action", name)


def _slot(name: str, value: Any) -> Step:
    return Step("slot", name, value)


def _form(name: str, asks: Optional[str], *more: Step) -> List[Step]:
    """A form's turn as Rasa logs it: the form action, its slots, the slot it asks for next (`requested_slot`: the
    form's own `action_ask_*` is not logged)."""
    return [_act(name), *more, _slot("requested_slot", asks)]


def _booking(stop_at: int, task: str = "book") -> Script:
    """A booking (or reschedule/cancel) that stops after `stop_at` of its questions (all of them: done). A name is
    not an intent the classifier knows (`nlu_fallback`), yet the form takes it: not a message the bot failed."""
    opening = {
        "book": "book_appointment",
        "reschedule": "reschedule_appointment",
        "cancel": "cancel_appointment",
    }
    reset = (_slot("booking_result", None), _slot("booking_slot", None))  # the form's fresh start
    steps = _turn(
        opening[task], f"I want to {task} an appointment", *_form("appointment_form", "booking_when", *reset)
    )
    # (the slot asked next, the intent of the answer before it, the steps the patient has reached once asked)
    offered = ("booking_slot", "inform", {"time_offered"})
    confirm = ("booking_confirmed", "choose_option", {"picked", "confirm_asked"})
    plan = {
        "book": [
            offered,
            ("patient_name", "choose_option", {"picked"}),
            ("patient_birth_date", "nlu_fallback", set()),
            ("booking_confirmed", "inform", {"picked", "confirm_asked"}),
        ],
        "reschedule": [offered, confirm],
        "cancel": [confirm],
    }[task]
    counts = {f"{task if task != 'book' else 'booking'}_started"}
    for asks, intent, reached in plan[:stop_at]:
        steps += _turn(
            intent,
            "Sam Taylor" if intent == "nlu_fallback" else "the first one",
            *_form("appointment_form", asks),
        )
        counts |= reached
    done = {"book": "booked", "reschedule": "rescheduled", "cancel": "cancelled"}[task]
    if stop_at < len(plan):
        return Script(f"{task}-{stop_at}", steps, counts)
    result = _slot("booking_result", {"kind": done, "appointment_id": "demo"})
    steps += _turn("affirm", "yes", *_form("appointment_form", None, result), _act("action_appointment_done"))
    return Script(f"{task}-{stop_at}", steps, counts | {done}, (done,))


def _triage(number: int) -> Script:
    complaint, level = TRIAGE[number % len(TRIAGE)]
    steps = _turn(
        "describe_symptoms",
        "I have been feeling unwell",
        _act("action_triage_start"),
        *_form(
            "triage_form", "triage_answer", _slot("triage_state", {"protocols": [complaint], "findings": []})
        ),
    )
    steps += _turn(
        "deny",
        "no",
        *_form("triage_form", None, _slot("triage_state", {"protocols": [complaint], "findings": ["x"]})),
        _act("action_triage_outcome"),
        _slot("triage_level", level),
    )
    counts = {"triage_started", "triage_asked", "triage_completed", f"triage_level:{level}"}
    return Script("triage", steps, counts | {f"triage_complaint:{complaint}"})


def _scripts(number: int) -> Script:
    """The script of conversation `number`: a fixed rotation, so any seed size has every kind."""
    kinds: Sequence[Callable[[], Script]] = (
        lambda: _booking(4),
        lambda: Script(
            "faq", _turn("ask_opening_hours", "when are you open", _act("action_answer_clinic_question"))
        ),
        lambda: _booking(1),
        lambda: _triage(number),
        lambda: _booking(2),
        lambda: _booking(2, "reschedule"),
        lambda: _booking(1, "cancel"),
        lambda: _not_understood(number, twice=number % 3 == 0),
        lambda: Script(
            "red_flag",
            _turn(
                "red_flag",
                "crushing chest pain",
                _act("action_red_flag"),
                _slot("triage_state", None),
                _slot("triage_level", "emergency"),
            ),
            {"red_flag", "triage_level:emergency", "triage_complaint:red flag"},
        ),
        lambda: _reminder(number),
        lambda: Script(
            "ask_human",
            _turn("ask_human", "can I talk to a person", _act("action_hand_off_to_staff"), Step("pause")),
            {"paused"},
            ("case:asked_for_human",),
        ),
        lambda: Script(
            "consent_declined",
            _turn("describe_symptoms", "my knee hurts", _act("action_ask_consent"))
            + _turn("deny", "no", _act("action_decline_consent")),
            {"consent_declined"},
        ),
        lambda: _booking(0),
        lambda: _booking(0, "cancel"),
        lambda: Script("noshow", _turn("greet", "hi", _act("utter_greet")), set(), ("noshow",)),
        lambda: Script(
            "out_of_scope",
            _turn("out_of_scope", "what's the weather tomorrow", _act("utter_out_of_scope")),
            {"not_understood"},
            (),
            ("weather",),
        ),
    )
    return kinds[number % len(kinds)]()


def _not_understood(number: int, twice: bool) -> Script:
    wording, group = NOT_UNDERSTOOD[number % len(NOT_UNDERSTOOD)]
    steps = _turn("nlu_fallback", wording, _act("action_fallback"))
    groups: Tuple[str, ...] = (group,)
    if not twice:
        return Script("fallback", steps, {"not_understood"}, (), groups)
    again, again_group = NOT_UNDERSTOOD[(number + 1) % len(NOT_UNDERSTOOD)]
    steps += _turn("nlu_fallback", again, _act("action_fallback"), Step("pause"))
    return Script(
        "fallback-twice",
        steps,
        {"not_understood", "paused"},
        ("case:repeated_fallback",),
        (group, again_group),
    )


def _reminder(number: int) -> Script:
    steps = _turn("set_reminder", "remind me to take my pills at 8", _act("action_save_reminder"))
    return Script("reminder", steps, {"reminder_started", "reminder_saved"}, ("reminder",))


# ---- the ledger -----------------------------------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the seed did, counted as it did it: the expected value of every dashboard figure."""

    patients: Dict[str, Set[str]] = field(default_factory=dict)  # sender → figure keys it counts in
    conversations: int = 0
    messages: int = 0
    bot_messages: int = 0
    not_understood_messages: int = 0
    response_seconds: List[float] = field(default_factory=list)
    groups: Dict[str, Set[str]] = field(default_factory=dict)  # not-understood group → senders
    group_counts: Dict[str, int] = field(default_factory=dict)
    backend: Dict[str, Set[str]] = field(default_factory=dict)  # figure key → identities (phones or senders)
    backend_counts: Dict[str, int] = field(default_factory=dict)

    def add_backend(self, key: str, identity: str) -> None:
        self.backend.setdefault(key, set()).add(identity)
        self.backend_counts[key] = self.backend_counts.get(key, 0) + 1

    def add(self, other: "Ledger") -> None:
        """Counts what `other` counted too (the ledger of a longer period from those of its days)."""
        for sender, keys in other.patients.items():
            self.patients.setdefault(sender, set()).update(keys)
        self.conversations += other.conversations
        self.messages += other.messages
        self.bot_messages += other.bot_messages
        self.not_understood_messages += other.not_understood_messages
        self.response_seconds += other.response_seconds
        for group, senders in other.groups.items():
            self.groups.setdefault(group, set()).update(senders)
            self.group_counts[group] = self.group_counts.get(group, 0) + other.group_counts.get(group, 0)
        for key, identities in other.backend.items():
            self.backend.setdefault(key, set()).update(identities)
            self.backend_counts[key] = self.backend_counts.get(key, 0) + other.backend_counts.get(key, 0)

    def expected(self) -> Dict[str, int]:
        """Every figure the dashboard shows, as this ledger counts it."""
        figures: Dict[str, int] = {
            "conversations": self.conversations,
            "patients": len(self.patients),
            "messages": self.messages,
            "bot_messages": self.bot_messages,
            "not_understood": self.not_understood_messages,
        }
        per_key: Dict[str, int] = {}
        for keys in self.patients.values():
            for key in keys:
                per_key[key] = per_key.get(key, 0) + 1
        figures["paused"] = per_key.pop("paused", 0)
        figures["contained"] = len(self.patients) - figures["paused"]
        per_key.pop("not_understood", None)
        for funnel in FUNNELS:
            for index in range(len(funnel.steps)):
                needed = {marker for marker, _label in funnel.steps[: index + 1]}
                figures[f"funnel:{funnel.key}:{index}"] = sum(
                    1 for keys in self.patients.values() if needed <= keys
                )
        figures.update({key: value for key, value in per_key.items() if ":" in key or key in FLAG_FIGURES})
        figures.update(self.backend_counts)
        return figures

    def identities(self, key: str) -> Set[str]:
        """Who is behind the figure `key`: conversation ids, or phones for appointments."""
        if key in self.backend:
            return set(self.backend[key])
        everyone = set(self.patients)
        if key in ("patients", "messages", "conversations", "bot_messages"):
            return everyone
        if key == "contained":
            return {sender for sender, keys in self.patients.items() if "paused" not in keys}
        needed = {key}
        for funnel in FUNNELS:
            for index in range(len(funnel.steps)):
                if key == f"funnel:{funnel.key}:{index}":
                    needed = {marker for marker, _label in funnel.steps[: index + 1]}
        return {sender for sender, keys in self.patients.items() if needed <= keys}

    @property
    def median_response(self) -> Optional[float]:
        return round(statistics.median(self.response_seconds), 2) if self.response_seconds else None


# ---- writing --------------------------------------------------------------------------------------------------------


def sender_of(number: int, patients: int, prefix: str = "+4477009") -> str:
    """The conversation id (a WhatsApp number, as the channel names conversations) of conversation `number`."""
    return f"{prefix}{number % patients:05d}"


def _event(sender: str, at: float, step: Step) -> Dict[str, Any]:
    data: Dict[str, Any] = {"event": step.kind, "timestamp": at}
    row = {
        "sender_id": sender,
        "type_name": step.kind,
        "timestamp": at,
        "intent_name": None,
        "action_name": None,
    }
    if step.kind == "user":
        # As the classifier scores them: the fallback at its threshold (config.yml), the rest well above.
        confidence = 0.3 if step.name == "nlu_fallback" else 0.9
        data.update(text=step.value, parse_data={"intent": {"name": step.name, "confidence": confidence}})
        row["intent_name"] = step.name
    elif step.kind == "bot":
        data["text"] = step.value
    elif (
        step.kind == "slot" and step.name == "requested_slot"
    ):  # as the tracker store keeps it: the slot in clear
        data.update(name=step.name, value=step.value)
        row.update(action_name=step.name, intent_name=step.value or "")
    elif step.kind in ("action", "slot"):
        data.update(name=step.name, value=step.value) if step.kind == "slot" else data.update(name=step.name)
        row["action_name"] = step.name
    row["data"] = seal(data)
    return row


def _session(sender: str, start: float) -> List[Dict[str, Any]]:
    return [
        _event(sender, start, Step("action", "action_session_start")),
        _event(sender, start, Step("session_started")),
        _event(sender, start, Step("action", "action_listen")),
    ]


@dataclass
class Seed:
    """Where the seed writes: Rasa's tracker database, the backend's and the WhatsApp channel's (the outbox)."""

    tracker: Engine
    backend: Engine
    channel: Optional[Engine] = None
    _last_reminder: int = 0

    def run(
        self,
        conversations: int,
        last_day: dt.date,
        days: int,
        zone: dt.tzinfo,
        patients: Optional[int] = None,
        batch: int = 2000,
        prefix: str = "+4477009",
        by_day: Optional[Dict[int, Ledger]] = None,
    ) -> Ledger:
        """`conversations` scripted conversations over the `days` clinic days ending `last_day`; `by_day` (days
        before `last_day` → ledger) also counts each on its day (carebot.dashboard.live.within: a shorter period)."""
        tracker_events.create(self.tracker, checkfirst=True)
        migrations.upgrade(self.backend, migrations.BACKEND)
        with self.backend.connect() as connection:
            self._last_reminder = connection.execute(select(func.max(reminders.c.id))).scalar() or 0
        if self.channel is not None:
            from carebot.channels.contacts import whatsapp_outbox  # the channel's table, only when writing it

            self._outbox = whatsapp_outbox
        ledger, run = Ledger(), uuid.uuid4().hex[:8]
        patients = patients or max(1, conversations * 7 // 10)
        rows: List[Dict[str, Any]] = []
        backend_rows: Dict[str, List[Dict[str, Any]]] = {
            "patient": [],
            "appointment": [],
            "reminder": [],
            "occurrence": [],
            "case": [],
            "outbox": [],
        }
        for number in range(conversations):
            days_ago = days - 1 - number % days
            day = last_day - dt.timedelta(days=days_ago)
            local = dt.datetime.combine(day, dt.time(8 + number * 7 % 10, number * 13 % 60), zone)
            sender = sender_of(number, patients, prefix)
            script = _scripts(number)
            one = ledger if by_day is None else Ledger()
            rows += self._conversation(one, sender, local.timestamp(), number, script)
            ident = f"{run}-{number}"  # row ids unique across runs; the demo's patients keep their numbers
            self._side(one, backend_rows, sender, local.astimezone(dt.timezone.utc), ident, script)
            if by_day is not None:
                ledger.add(one)
                by_day.setdefault(days_ago, Ledger()).add(one)
            if len(rows) >= batch:
                self._flush(rows, backend_rows)
                rows = []
        self._flush(rows, backend_rows)
        return ledger

    def _conversation(
        self, ledger: Ledger, sender: str, start: float, number: int, script: Script
    ) -> List[Dict[str, Any]]:
        ledger.conversations += 1
        keys = ledger.patients.setdefault(sender, set())
        keys.update(script.counts)
        rows, at, asked = _session(sender, start), start, None
        delay = 0.4 + (number % 7) * 0.15
        for step in script.steps:
            at += delay if step.kind == "bot" else 0.01
            if step.kind == "user":
                at += 20
                ledger.messages += 1
                asked = at
            elif step.kind == "bot":
                ledger.bot_messages += 1
                if asked is not None:
                    ledger.response_seconds.append(round(at - asked, 6))
                asked = None
            rows.append(_event(sender, at, step))
        ledger.not_understood_messages += len(script.not_understood)
        for group in script.not_understood:
            ledger.groups.setdefault(group, set()).add(sender)
            ledger.group_counts[group] = ledger.group_counts.get(group, 0) + 1
        return rows

    def _side(
        self,
        ledger: Ledger,
        rows: Dict[str, List[Dict[str, Any]]],
        sender: str,
        when: dt.datetime,
        ident: str,
        script: Script,
    ) -> None:
        at = to_db(when)
        for effect in script.side:
            if effect.startswith("case:"):
                reason = effect.split(":", 1)[1]
                rows["case"].append(
                    {
                        "conversation_id": sender,
                        "patient_phone": sender,
                        "reason": reason,
                        "transcript": "",
                        "status": "resolved",
                        "created_at": at,
                        "resolved_at": at,
                        "resolved_by": "demo",
                    }
                )
                ledger.add_backend(f"handoff:{reason}", sender)
            elif effect == "reminder":
                self._reminder(ledger, rows, sender, at, ident)
            else:
                self._appointment(ledger, rows, sender, at, ident, effect)

    def _appointment(
        self,
        ledger: Ledger,
        rows: Dict[str, List[Dict[str, Any]]],
        sender: str,
        at: dt.datetime,
        ident: str,
        effect: str,
    ) -> None:
        patient_id = f"demo-p{ident}"
        rows["patient"].append(
            {
                "id": patient_id,
                "family": "Demo",
                "given": "Patient",
                "phone": sender,
                "version": 1,
                "last_updated": at,
            }
        )
        start = at + dt.timedelta(days=2)

        def booking(
            ident: str,
            status: str,
            created: dt.datetime,
            replaces: Optional[str] = None,
            begins: dt.datetime = start,
        ) -> Dict[str, Any]:
            return {
                "id": ident,
                "status": status,
                "patient_id": patient_id,
                "practitioner_id": "demo",
                "service_id": "demo",
                "slot_ids": "",
                "start": begins,
                "end": begins + dt.timedelta(minutes=15),
                "replaces_id": replaces,
                "created": created,
                "version": 1,
                "last_updated": at,
            }

        earlier = at - dt.timedelta(days=60)  # booked before any demo period
        if effect == "booked":
            rows["appointment"].append(booking(f"demo-a{ident}", "booked", at))
            ledger.add_backend("appointments:booked", sender)
        elif effect == "rescheduled":
            rows["appointment"].append(booking(f"demo-a{ident}", "cancelled", earlier))
            rows["appointment"].append(booking(f"demo-b{ident}", "booked", at, f"demo-a{ident}"))
        elif effect == "cancelled":
            rows["appointment"].append(booking(f"demo-a{ident}", "cancelled", earlier))
            ledger.add_backend("appointments:cancelled", sender)
        elif effect == "noshow":
            rows["appointment"].append(
                booking(f"demo-a{ident}", "noshow", earlier, begins=at - dt.timedelta(hours=1))
            )
            ledger.add_backend("appointments:noshow", sender)

    def _reminder(
        self, ledger: Ledger, rows: Dict[str, List[Dict[str, Any]]], sender: str, at: dt.datetime, ident: str
    ) -> None:
        self._last_reminder += 1
        reminder_id = self._last_reminder
        rows["reminder"].append(
            {
                "id": reminder_id,
                "conversation_id": sender,
                "channel": "whatsapp",
                "kind": "medication",
                "label": "pills",
                "rrule": "FREQ=DAILY",
                "dtstart": at,
                "tz": "UTC",
                "description": "",
                "status": "active",
                "revision": 1,
                "created_at": at,
                "updated_at": at,
            }
        )
        # Three doses an hour apart: answered taken / skipped / not at all in turn; delivery from the outbox.
        for dose, response in enumerate(("taken", "skipped", None)):
            due = at + dt.timedelta(hours=dose + 1)
            key = f"demo-{ident}-{dose}"
            rows["occurrence"].append(
                {
                    "reminder_id": reminder_id,
                    "revision": 1,
                    "due_at": due,
                    "status": "sent",
                    "idempotency_key": key,
                    "attempts": 1,
                    "sent_at": due,
                    "response": response,
                }
            )
            ledger.add_backend("reminders:sent", sender)
            ledger.add_backend(f"reminders:{response or 'no_answer'}", sender)
            if self.channel is not None:
                delivery = ("read", "delivered", None)[(len(rows["occurrence"]) + len(ident)) % 3]
                rows["outbox"].append(
                    {
                        "phone": sender,
                        "kind": "medication_reminder",
                        "idempotency_key": key,
                        "state": "accepted",
                        "force": False,
                        "parts_total": 1,
                        "parts_done": 1,
                        "attempts": 1,
                        "created_at": due,
                        "next_attempt_at": due,
                        "deadline_at": due,
                        "settled_at": due,
                        "delivery_status": delivery,
                    }
                )
                if delivery:
                    ledger.add_backend("reminders:delivered", sender)
                if delivery == "read":
                    ledger.add_backend("reminders:read", sender)

    def _flush(self, events: List[Dict[str, Any]], rows: Dict[str, List[Dict[str, Any]]]) -> None:
        if events:
            with self.tracker.begin() as connection:
                connection.execute(insert(tracker_events), events)
        with self.backend.begin() as connection:
            for table, name in (
                (patient, "patient"),
                (appointment, "appointment"),
                (reminders, "reminder"),
                (reminder_occurrences, "occurrence"),
                (handoff_cases, "case"),
            ):
                if rows[name]:
                    connection.execute(insert(table), rows[name])
        if self.channel is not None and rows["outbox"]:
            with self.channel.begin() as connection:
                connection.execute(insert(self._outbox), rows["outbox"])
        for name in rows:
            rows[name].clear()


def dumps(ledger: Ledger) -> str:
    """The ledger's figures as JSON (what `make seed-demo` prints)."""
    return json.dumps({"expected": ledger.expected(), "median_response": ledger.median_response}, indent=1)
