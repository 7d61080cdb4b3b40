"""What the clinic dashboard shows, defined once: the period, which tracker events make each figure, the funnels,
and the report the staff page renders. Pure: no database, web framework or Rasa (carebot.dashboard.store runs the
queries these definitions describe; docs/dashboard.md states each figure in words).

A *conversation* is a Rasa session (a `session_started` event: 60 minutes of silence start a new one); a *patient*
is a Rasa conversation id (the WhatsApp number) that sent at least one message in the period. Funnel steps and the
"handled without staff" share are counted per patient: a patient reaches a step when the event that marks it
happened in the period, and is counted at step k only after reaching every step before it.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple

from rapidfuzz import fuzz

TRIAGE_LEVELS = ("emergency", "urgent", "routine", "self_care")  # most urgent first, as the page lists them
MAX_DAYS = 366
DEFAULT_DAYS = 30
# Intents the bot's own processes send through `trigger_intent` (reminders, waitlist offers): not patient messages.
SYSTEM_INTENTS: FrozenSet[str] = frozenset(
    {"medication_reminder", "appointment_reminder", "waitlist_offer", "waitlist_offer_gone"}
)
SIMILAR_ENOUGH = 80  # rapidfuzz token_set_ratio at which two not-understood messages are one group
_DIGITS = re.compile(r"\d[\d\s().-]{3,}\d")
_WORDS = re.compile(r"[^\w\s]+")


class PeriodError(ValueError):
    """A period the page cannot show, phrased for the person who typed it."""


@dataclass(frozen=True)
class Period:
    """Whole clinic days `first`..`last` (inclusive), as the UTC instants [start, end) the queries compare with."""

    first: dt.date
    last: dt.date
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def of_days(cls, first: dt.date, last: dt.date, zone: dt.tzinfo) -> "Period":
        if last < first:
            raise PeriodError("The period ends before it starts: choose a 'to' date on or after 'from'.")
        if (last - first).days + 1 > MAX_DAYS:
            raise PeriodError(f"Choose at most {MAX_DAYS} days.")
        start = dt.datetime.combine(first, dt.time(), zone).astimezone(dt.timezone.utc)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.timezone.utc)
        return cls(first, last, start, end)

    @classmethod
    def parse(cls, first: Optional[str], last: Optional[str], today: dt.date, zone: dt.tzinfo) -> "Period":
        """`from`/`to` as YYYY-MM-DD; missing ones default to the last DEFAULT_DAYS days ending today."""
        end_day = _day(last, "to") if last else today
        start_day = _day(first, "from") if first else end_day - dt.timedelta(days=DEFAULT_DAYS - 1)
        return cls.of_days(start_day, end_day, zone)

    @property
    def query(self) -> str:
        return f"from={self.first.isoformat()}&to={self.last.isoformat()}"


def _day(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(f"'{name}' must be a date like 2026-03-31.") from None


@dataclass(frozen=True)
class Marker:
    """A per-patient flag: the patient had an event of `type_name` whose `column` is one of `names`; for
    `column` "requested_slot", a form asked for one of the slots `names` (the `requested_slot` slot's value, the only
    way a form's question shows in the tracker: Rasa logs the form, not its `action_ask_*`)."""

    key: str
    type_name: str
    column: str  # "intent_name", "action_name", "type_name" (Rasa's clear columns) or "requested_slot"
    names: Tuple[str, ...] = ()


def _intent(key: str, *names: str) -> Marker:
    return Marker(key, "user", "intent_name", names)


def _action(key: str, *names: str) -> Marker:
    return Marker(key, "action", "action_name", names)


def _asked(key: str, *slots: str) -> Marker:
    return Marker(key, "slot", "requested_slot", slots)


# Every per-patient flag the dashboard counts (carebot.dashboard.store: one grouped query for the clear ones).
MARKERS: Tuple[Marker, ...] = (
    Marker("paused", "pause", "type_name"),
    _intent("booking_started", "book_appointment"),
    _asked("time_offered", "booking_slot"),
    _asked("picked", "patient_name", "booking_confirmed"),
    _asked("confirm_asked", "booking_confirmed"),
    _intent("reschedule_started", "reschedule_appointment"),
    _intent("cancel_started", "cancel_appointment"),
    _intent("reminder_started", "set_reminder"),
    _action("reminder_saved", "action_save_reminder"),
    _action("triage_started", "action_triage_start"),
    _asked("triage_asked", "triage_answer"),
    _action("triage_completed", "action_triage_outcome"),
    _action("red_flag", "action_red_flag"),
    _action("consent_declined", "action_decline_consent", "action_decline_reminder_consent"),
)
# The bot's answers to a message it did not understand (the fallback) or declines as outside a clinic's work. A
# message counts as not understood when the first action after it is one of these: a form that took an unclassified
# answer (a name, a date of birth) did understand it.
NOT_UNDERSTOOD_ACTIONS: Tuple[str, ...] = ("action_fallback", "utter_out_of_scope")
MARKER_KEYS = tuple(marker.key for marker in MARKERS)
# Outcomes read from the `booking_result` slot (decrypted, as are requested slots, triage and not-understood texts).
RESULT_MARKERS = {"booked": "booked", "rescheduled": "rescheduled", "cancelled": "cancelled"}


@dataclass(frozen=True)
class Funnel:
    key: str
    title: str
    steps: Tuple[Tuple[str, str], ...]  # (marker key, label), in order


FUNNELS: Tuple[Funnel, ...] = (
    Funnel(
        "booking",
        "Booking",
        (
            ("booking_started", "booking started"),
            ("time_offered", "times offered"),
            ("picked", "time picked"),
            ("confirm_asked", "identified"),
            ("booked", "booked"),
        ),
    ),
    Funnel(
        "reschedule",
        "Reschedule",
        (
            ("reschedule_started", "reschedule started"),
            ("time_offered", "times offered"),
            ("confirm_asked", "asked to confirm"),
            ("rescheduled", "rescheduled"),
        ),
    ),
    Funnel(
        "cancel",
        "Cancel",
        (
            ("cancel_started", "cancel started"),
            ("confirm_asked", "asked to confirm"),
            ("cancelled", "cancelled"),
        ),
    ),
    Funnel(
        "reminder",
        "Reminder",
        (("reminder_started", "reminder asked for"), ("reminder_saved", "reminder set")),
    ),
    Funnel(
        "triage",
        "Triage",
        (
            ("triage_started", "triage started"),
            ("triage_asked", "question asked"),
            ("triage_completed", "triage completed"),
        ),
    ),
)


@dataclass(frozen=True)
class Count:
    """One number on the page and the key of the list of patients behind it (`/staff/dashboard/list?figure=`)."""

    label: str
    value: int
    key: str
    total: Optional[int] = None  # the number this one is a share of, for a percentage

    @property
    def percent(self) -> Optional[float]:
        return None if not self.total else round(100 * self.value / self.total, 1)


@dataclass(frozen=True)
class FunnelReport:
    funnel: Funnel
    steps: Tuple[Count, ...]
    left_most: Optional[str]  # the label of the step where most patients left, or None when nobody left


def funnel_report(funnel: Funnel, reached: Mapping[str, FrozenSet[str]]) -> FunnelReport:
    """Patients at each step who also reached every earlier step; where the largest drop happens."""
    members: Optional[FrozenSet[str]] = None
    counts: List[Count] = []
    drops: List[Tuple[int, str]] = []
    for index, (marker, label) in enumerate(funnel.steps):
        here = reached.get(marker, frozenset())
        members = here if members is None else members & here
        if counts and counts[-1].value > len(members):
            drops.append((counts[-1].value - len(members), counts[-1].label))
        counts.append(
            Count(label, len(members), f"funnel:{funnel.key}:{index}", counts[0].value if counts else None)
        )
    left_most = max(drops)[1] if drops else None
    return FunnelReport(funnel, tuple(counts), left_most)


def funnel_members(funnel: Funnel, step: int, reached: Mapping[str, FrozenSet[str]]) -> FrozenSet[str]:
    members: FrozenSet[str] = reached.get(funnel.steps[0][0], frozenset())
    for marker, _label in funnel.steps[1 : step + 1]:
        members = members & reached.get(marker, frozenset())
    return members


@dataclass(frozen=True)
class Group:
    """Messages the bot did not understand that read alike, most frequent first."""

    example: str
    count: int
    senders: FrozenSet[str]


def mask_text(text: str) -> str:
    """A not-understood message as staff see it: digit runs (phone numbers, dates of birth) hidden."""
    return _DIGITS.sub("…", text.strip())[:200]


def _normalised(text: str) -> str:
    return " ".join(_WORDS.sub(" ", text.lower()).split())


def group_similar(messages: Iterable[Tuple[str, str]]) -> List[Group]:
    """(sender, text) pairs grouped by wording: identical texts (case and punctuation aside) first, then each
    distinct wording joins the largest group whose example reads alike (token-set ratio ≥ SIMILAR_ENOUGH)."""
    exact: Dict[str, List[Tuple[str, str]]] = {}
    for sender, text in messages:
        key = _normalised(text)
        if key:
            exact.setdefault(key, []).append((sender, text))
    groups: List[Tuple[str, str, List[Tuple[str, str]]]] = []  # (normalised example, shown example, members)
    for key, members in sorted(exact.items(), key=lambda item: (-len(item[1]), item[0])):
        home = next((g for g in groups if fuzz.token_set_ratio(key, g[0]) >= SIMILAR_ENOUGH), None)
        if home is None:
            groups.append((key, mask_text(members[0][1]), list(members)))
        else:
            home[2].extend(members)
    made = [Group(example, len(members), frozenset(s for s, _ in members)) for _, example, members in groups]
    return sorted(made, key=lambda g: (-g.count, g.example))


def median_seconds(values: Sequence[float]) -> Optional[float]:
    return round(statistics.median(values), 2) if values else None


@dataclass(frozen=True)
class Rate:
    """`part` of `whole` with the list key behind `part`."""

    label: str
    part: int
    whole: int
    key: str

    @property
    def percent(self) -> Optional[float]:
        return round(100 * self.part / self.whole, 1) if self.whole else None


@dataclass
class Report:
    """Everything the dashboard page shows for one period."""

    period: Period
    overview: List[Count] = field(default_factory=list)
    handoff_reasons: List[Count] = field(default_factory=list)
    funnels: List[FunnelReport] = field(default_factory=list)
    triage_levels: List[Count] = field(default_factory=list)
    triage_complaints: List[Count] = field(default_factory=list)
    reminders: List[Rate] = field(default_factory=list)
    appointments: List[Count] = field(default_factory=list)
    not_understood: List[Group] = field(default_factory=list)
    median_response_seconds: Optional[float] = None

    def figures(self) -> Dict[str, int]:
        """Every number by its list key: what the tests compare with their own count of the seed."""
        numbers: Dict[str, int] = {}
        for count in [*self.overview, *self.handoff_reasons, *self.triage_levels, *self.triage_complaints]:
            numbers[count.key] = count.value
        for count in self.appointments:
            numbers[count.key] = count.value
        for funnel in self.funnels:
            for count in funnel.steps:
                numbers[count.key] = count.value
        for rate in self.reminders:
            numbers[rate.key] = rate.part
        for index, group in enumerate(self.not_understood):
            numbers[f"not_understood:{index}"] = group.count
        return numbers
