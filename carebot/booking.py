"""Booking logic the appointment actions share: which times to offer, which one the patient picked, who they are.

Kept free of Rasa so it is tested on plain values. Offers and appointments travel through Rasa slots as dicts
(`Choice.to_slot`), so a patient's "2" always means the second line *they* were shown, even after a restart.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Protocol, Sequence, Tuple

import dateparser

from carebot.clinic import WEEKDAYS, Clinic
from carebot.dates import DateProblem, ParseResult, TimeWindow
from carebot.household import Member, Relation, members
from carebot.messages import render
from carebot.scheduling.client import BackendError, SchedulingClient
from carebot.scheduling.model import E164, BookedAppointment, FreeSlot
from carebot.waitlist.client import WaitlistClient
from carebot.waitlist.model import AFTERNOON_FROM, DAY_PARTS, EVENING_FROM, AcceptedOffer

Span = Tuple[dt.datetime, dt.datetime]
# How far back from a full window the nearest earlier free times are looked for.
_LOOK_BACK = dt.timedelta(days=7)
_WIDE_SEARCH_COUNT = 100  # free times fetched when the closest (not the earliest) ones are wanted


class SlotSearch(Protocol):
    """The part of the scheduling client the offer search needs (a fake implements it in tests)."""

    async def search_free_slots(
        self,
        service_id: str,
        start: dt.datetime,
        end: dt.datetime,
        practitioner_id: Optional[str] = None,
        count: int = 5,
    ) -> List[FreeSlot]: ...


@dataclass(frozen=True)
class Choice:
    """One line the patient can pick: a free time (id = Slot id) or one of their appointments (id = Appointment id)."""

    id: str
    start: dt.datetime
    practitioner_id: str
    practitioner_name: str
    service_id: str
    patient_name: str = ""  # whose appointment it is, when the phone books for more than one patient

    @classmethod
    def from_slot(cls, slot: FreeSlot) -> "Choice":
        return cls(slot.id, slot.start, slot.practitioner_id, slot.practitioner_name, slot.service_id)

    @classmethod
    def from_appointment(cls, appointment: BookedAppointment, patient_name: str = "") -> "Choice":
        return cls(
            appointment.id,
            appointment.start,
            appointment.practitioner_id,
            appointment.practitioner_name,
            appointment.service_id,
            patient_name,
        )

    def to_slot(self) -> Dict[str, Any]:
        return {**asdict(self), "start": self.start.isoformat()}

    @classmethod
    def from_slot_value(cls, value: Dict[str, Any]) -> "Choice":
        return cls(**{**value, "start": dt.datetime.fromisoformat(value["start"])})


def choices_from_slot(value: Any) -> List[Choice]:
    return [Choice.from_slot_value(item) for item in value or []]


# ---------------------------------------------------------------------------------------------------------------
# Words for times.


def long_when(moment: dt.datetime, clinic: Clinic, today: dt.date) -> str:
    """'Tuesday 1 December at 10:30' (the year only when it is not this year): what a confirmation must say."""
    local = moment.astimezone(clinic.tz)
    return f"{_date_words(local.date(), today)} at {local.strftime('%H:%M')}"


def _date_words(day: dt.date, today: dt.date, with_month: bool = True) -> str:
    """'Tuesday 1 December' (with the year when it is not this year); 'Tuesday 1' when the month follows later."""
    words = f"{day.strftime('%A')} {day.day}"
    if not with_month:
        return words
    return f"{words} {day.strftime('%B')}" + ("" if day.year == today.year else f" {day.year}")


def _part_of_day(moment: dt.datetime) -> str:
    return "morning" if moment.hour < 12 else "afternoon" if moment.hour < 17 else "evening"


def days_of(choices: Sequence[Choice], clinic: Clinic, today: dt.date) -> str:
    """The days the listed times fall on, in words ('Friday 11 December, morning', 'Thursday 10 to Monday
    14 December'): a heading built from the times themselves can never name a day that is not in the list."""
    local = sorted(choice.start.astimezone(clinic.tz) for choice in choices)
    first, last = local[0], local[-1]
    if first.date() == last.date():
        parts = {_part_of_day(moment) for moment in local}
        day = _date_words(first.date(), today)
        return f"{day}, {parts.pop()}" if len(parts) == 1 else day
    same_month = (first.year, first.month) == (last.year, last.month)
    return (
        f"{_date_words(first.date(), today, with_month=not same_month)} to {_date_words(last.date(), today)}"
    )


def short_when(moment: dt.datetime, clinic: Clinic) -> str:
    """'Tue 1 Dec, 10:30': short enough for a WhatsApp list line."""
    local = moment.astimezone(clinic.tz)
    return f"{local.strftime('%a')} {local.day} {local.strftime('%b')}, {local.strftime('%H:%M')}"


def service_name(service_id: str, clinic: Clinic) -> str:
    service = clinic.service(service_id)
    return service.name if service else service_id


def provider_name(choice: Choice, clinic: Clinic) -> str:
    provider = clinic.provider(choice.practitioner_id)
    return choice.practitioner_name or (provider.name if provider else "our team")


# ---------------------------------------------------------------------------------------------------------------
# The window the patient asked for travels in a slot as plain JSON.


@dataclass(frozen=True)
class AskedWindow:
    """Where the patient asked to come in: open `spans` to search within `bounds` (the first span's start to the
    last one's end), closest to `target` when they named a time. A day the clinic is shut has no spans: `closed`
    says why, `bounds` is the whole day, and the offers are the free times around it."""

    label: str
    spans: Tuple[Span, ...]
    bounds: Span
    target: Optional[dt.datetime] = None
    closed: str = ""

    @classmethod
    def of(cls, window: TimeWindow, label: str) -> "AskedWindow":
        return cls(label, tuple(window.spans), (window.start, window.end), window.target)

    @classmethod
    def closed_day(cls, label: str, day: dt.date, reason: str, clinic: Clinic) -> "AskedWindow":
        start = dt.datetime.combine(day, dt.time(0, 0), clinic.tz)
        return cls(label, (), (start, start + dt.timedelta(days=1)), closed=reason)

    def contains(self, moment: dt.datetime) -> bool:
        return any(start <= moment < end for start, end in self.spans)

    def to_slot(self) -> Dict[str, Any]:
        return {
            "label": self.label,
            "spans": [[s.isoformat(), e.isoformat()] for s, e in self.spans],
            "bounds": [moment.isoformat() for moment in self.bounds],
            "target": self.target.isoformat() if self.target else None,
            "closed": self.closed,
        }

    @classmethod
    def from_slot(cls, value: Dict[str, Any]) -> "AskedWindow":
        spans = tuple((dt.datetime.fromisoformat(s), dt.datetime.fromisoformat(e)) for s, e in value["spans"])
        # A window stored before `bounds` existed (a booking under way across an upgrade) always has spans.
        start, end = value.get("bounds") or (value["spans"][0][0], value["spans"][-1][1])
        return cls(
            value["label"],
            spans,
            (dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end)),
            dt.datetime.fromisoformat(value["target"]) if value.get("target") else None,
            value.get("closed") or "",
        )


def asked_window(result: ParseResult, text: str, clinic: Clinic) -> Optional[AskedWindow]:
    """The window read from the patient's words; for a day the clinic is shut (a holiday, a Sunday) the day itself,
    so the patient is offered the nearest open times instead of being asked the same question again."""
    if result.window is not None:
        return AskedWindow.of(result.window, result.window.label or text)
    if result.problem is DateProblem.CLOSED and result.day is not None:
        return AskedWindow.closed_day(result.label or text, result.day, result.reason, clinic)
    return None


# ---------------------------------------------------------------------------------------------------------------
# Finding times to offer.


@dataclass(frozen=True)
class Offers:
    """The times to show, grouped by how they relate to the window asked for. When the window has free times they
    are `inside` and nothing else is offered; when it has none, the alternatives come in the order a receptionist
    offers them: the nearest before, the nearest after, the same window with other practitioners. (The waiting
    list is the next alternative: a line after these in `offer_text`, not a time in the list.)"""

    inside: Tuple[Choice, ...] = ()
    before: Tuple[Choice, ...] = ()
    after: Tuple[Choice, ...] = ()
    other_practitioners: Tuple[Choice, ...] = ()

    @property
    def choices(self) -> List[Choice]:
        """The list as numbered for the patient: each group together, in the order above."""
        return [*self.inside, *self.before, *self.after, *self.other_practitioners]

    @classmethod
    def grouped(cls, choices: Sequence[Choice], window: AskedWindow, provider_id: Optional[str]) -> "Offers":
        """The groups of times already shown, read from the times themselves (shown again after a side question)."""

        def wanted(choice: Choice) -> bool:
            return window.contains(choice.start) and provider_id in (None, choice.practitioner_id)

        return cls(
            inside=tuple(c for c in choices if wanted(c)),
            before=tuple(c for c in choices if c.start < window.bounds[0]),
            after=tuple(c for c in choices if c.start >= window.bounds[0] and not window.contains(c.start)),
            other_practitioners=tuple(c for c in choices if window.contains(c.start) and not wanted(c)),
        )


async def find_offers(
    client: SlotSearch,
    clinic: Clinic,
    service_id: str,
    window: AskedWindow,
    *,
    now: dt.datetime,
    provider_id: Optional[str] = None,
    start_from: Optional[dt.datetime] = None,
) -> Offers:
    """Up to `clinic.offer_count` free times inside the window (from `start_from` on, for "later"), closest to its
    target when the patient named a time. When it has none: the nearest free times before it (not when paging
    on: those were seen) and after it, and, when a practitioner was named, the window with anyone else."""
    count = clinic.offer_count
    spans = [(max(start, start_from) if start_from else start, end) for start, end in window.spans]
    spans = [(start, end) for start, end in spans if start < end]
    inside = await _search_spans(client, service_id, spans, provider_id, count, window.target)
    if inside:
        return Offers(inside=_in_order(inside))
    horizon = now + dt.timedelta(weeks=clinic.horizon_weeks)
    after = await client.search_free_slots(
        service_id, max(window.bounds[1], start_from or now), horizon, provider_id, count=count
    )
    before: List[FreeSlot] = []
    if start_from is None:
        before = await _latest_before(
            client,
            clinic,
            service_id,
            window.bounds[0],
            max(now, window.bounds[0] - _LOOK_BACK),
            provider_id,
            count,
        )
    # The named practitioner has nothing in the window, so a search without the filter finds only the others.
    others = await _search_spans(client, service_id, spans, None, count, window.target) if provider_id else []
    shared_after, shared_before, shared_others = _share(count, after, before, others)
    return Offers(
        before=_in_order(shared_before),
        after=_in_order(shared_after),
        other_practitioners=_in_order(shared_others),
    )


async def _search_spans(
    client: SlotSearch,
    service_id: str,
    spans: Sequence[Span],
    provider_id: Optional[str],
    count: int,
    target: Optional[dt.datetime],
) -> List[FreeSlot]:
    """The first `count` free times in the spans, or the `count` closest to `target` when there is one."""
    found: List[FreeSlot] = []
    for start, end in spans:
        # Around a named time the closest times win, so fetch the whole (short) window, not just its first times.
        wanted = count if target is None else _WIDE_SEARCH_COUNT
        found += await client.search_free_slots(service_id, start, end, provider_id, count=wanted)
        if len(found) >= count and target is None:
            break
    if target is not None:
        found.sort(key=lambda slot: abs(slot.start - target))
    return found[:count]


async def _latest_before(
    client: SlotSearch,
    clinic: Clinic,
    service_id: str,
    end: dt.datetime,
    floor: dt.datetime,
    provider_id: Optional[str],
    count: int,
) -> List[FreeSlot]:
    """The free times closest before `end`, latest first, looking back a day at a time down to `floor`: the backend
    answers earliest first, so one query over the week would give its first morning, not its last afternoon."""
    found: List[FreeSlot] = []
    slice_end = end
    while slice_end > floor and len(found) < count:
        day = (slice_end - dt.timedelta(microseconds=1)).astimezone(clinic.tz).date()
        slice_start = max(floor, dt.datetime.combine(day, dt.time(0, 0), clinic.tz))
        found += reversed(
            await client.search_free_slots(
                service_id, slice_start, slice_end, provider_id, count=_WIDE_SEARCH_COUNT
            )
        )
        slice_end = slice_start
    return found[:count]


def _share(count: int, *groups: Sequence[FreeSlot]) -> List[Sequence[FreeSlot]]:
    """Up to `count` times in all, taken in turn from each group (closest first), so every kind of alternative
    that has times gets a place in the list; earlier groups get the spare places."""
    taken = [0] * len(groups)
    while sum(taken) < count and any(n < len(group) for n, group in zip(taken, groups)):
        for index, group in enumerate(groups):
            if taken[index] < len(group) and sum(taken) < count:
                taken[index] += 1
    return [group[:n] for group, n in zip(groups, taken)]


def _in_order(slots: Sequence[FreeSlot]) -> Tuple[Choice, ...]:
    return tuple(sorted((Choice.from_slot(slot) for slot in slots), key=lambda choice: choice.start))


# ---------------------------------------------------------------------------------------------------------------
# The words above the list: they describe exactly the times listed.


def offer_subject(service_id: str, provider_id: Optional[str], clinic: Clinic) -> str:
    """'GP appointment', or 'GP appointment with Dr Asha Patel' when the patient asked for one practitioner."""
    provider = clinic.provider(provider_id or "")
    service = service_name(service_id, clinic)
    return f"{service} with {provider.name}" if provider else service


def offer_text(
    offers: Offers,
    listed: Sequence[Choice],
    window: AskedWindow,
    subject: str,
    clinic: Clinic,
    today: dt.date,
    paging: bool,
) -> str:
    """The message above the numbered times. Times inside the window get one heading naming their own days; when
    the window had none, the message says so (closed, full, or no more after "later") and then names each kind of
    alternative with its line numbers and its own days."""
    if offers.inside:
        key = "booking_offer_more" if paging else "booking_offer"
        return render(key, {"service": subject, "when": days_of(offers.inside, clinic, today)}).text
    if window.closed:
        lines = [render("booking_window_closed", {"reason": window.closed}).text]
    else:
        key = "booking_window_no_more" if paging else "booking_window_full"
        lines = [render(key, {"service": subject, "asked": window.label}).text]
    for key, group in (
        ("booking_alternative_before", offers.before),
        ("booking_alternative_after", offers.after),
        ("booking_alternative_other_practitioners", offers.other_practitioners),
    ):
        if group:
            lines.append(
                render(
                    key,
                    {
                        "numbers": _line_numbers(group, listed),
                        "when": days_of(group, clinic, today),
                        "practitioners": " or ".join(dict.fromkeys(c.practitioner_name for c in group)),
                    },
                ).text
            )
    lines.append(render("booking_alternative_waitlist").text)
    lines.append(render("booking_alternatives_pick").text)
    return "\n".join(lines)


def _line_numbers(group: Sequence[Choice], listed: Sequence[Choice]) -> str:
    """'3' or '3–5': where the group's times are in the numbered list the patient sees."""
    numbers = sorted(listed.index(choice) + 1 for choice in group)
    return str(numbers[0]) if len(numbers) == 1 else f"{numbers[0]}–{numbers[-1]}"


def next_page_start(offers: Sequence[Choice], clinic: Clinic, another_day: bool) -> dt.datetime:
    """Where "later" searches from: just after the last time shown, or the next morning for "another day"."""
    last = max(choice.start for choice in offers).astimezone(clinic.tz)
    if another_day:
        return dt.datetime.combine(last.date() + dt.timedelta(days=1), dt.time(0, 0), clinic.tz)
    return last + dt.timedelta(minutes=1)


_ANOTHER_DAY = re.compile(r"\b(?:another|different|other|next) day\b|\bday after\b")


def wants_another_day(text: str) -> bool:
    return bool(_ANOTHER_DAY.search(text.lower()))


def wants_earlier(text: str) -> bool:
    """ "Anything earlier?" / "sooner": paging forward would be wrong, the first free times are wanted."""
    return bool(re.search(r"\b(?:earlier|sooner)\b", text.lower()))


# ---------------------------------------------------------------------------------------------------------------
# What the patient picked: "2", "number 3", "the first", "the 10:30 one", "Dr Patel's", "the Tuesday one".

_ORDINAL_WORDS = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "sixth": 6,
    "6th": 6,
    "earliest": 1,
}
_CLOCK = re.compile(
    r"\b(?P<h>\d{1,2})(?:[:.](?P<m>[0-5]\d))?\s*(?P<ap>am|pm)\b|\b(?P<h2>\d{1,2})[:.](?P<m2>[0-5]\d)\b"
    r"|\bat (?P<h3>\d{1,2})\b"
)
_NUMBER = re.compile(r"\b(?P<n>\d{1,2})\b")
_WEEKDAY = re.compile(r"\b(" + "|".join(WEEKDAYS) + r"|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)\b")


def pick(text: str, option: Optional[Any], choices: Sequence[Choice], clinic: Clinic) -> Optional[int]:
    """The index of the choice the patient's reply selects, or None when it selects none (or is ambiguous)."""
    if not choices:
        return None
    if option is not None:
        try:
            number = int(str(option).strip())
        except ValueError:
            number = 0
        return number - 1 if 1 <= number <= len(choices) else None
    said = text.lower().strip()
    for reader in (
        _pick_by_time,
        _pick_by_number,
        _pick_by_ordinal,
        _pick_by_provider,
        _pick_by_service,
        _pick_by_weekday,
    ):
        index = reader(said, choices, clinic)
        if index is not None:
            return index
    return None


def _pick_by_time(said: str, choices: Sequence[Choice], clinic: Clinic) -> Optional[int]:
    for found in _CLOCK.finditer(said):
        hour = int(found.group("h") or found.group("h2") or found.group("h3"))
        minute = int(found.group("m") or found.group("m2") or 0)
        ampm = found.group("ap")
        if ampm:
            hour = hour % 12 + (12 if ampm == "pm" else 0)
        for index, choice in enumerate(choices):
            local = choice.start.astimezone(clinic.tz)
            same_hour = local.hour == hour if ampm or hour > 12 else local.hour % 12 == hour % 12
            if same_hour and local.minute == minute:
                return index
    return None


def _pick_by_number(said: str, choices: Sequence[Choice], clinic: Clinic) -> Optional[int]:
    if _CLOCK.search(said):
        return None  # "the one at 3" names a time, not line 3
    numbers = [int(n) for n in _NUMBER.findall(said)]
    if len(numbers) == 1 and 1 <= numbers[0] <= len(choices):
        return numbers[0] - 1
    return None


def _pick_by_ordinal(said: str, choices: Sequence[Choice], clinic: Clinic) -> Optional[int]:
    if re.search(r"\b(?:last|latest)\b", said):
        return len(choices) - 1
    for word, number in _ORDINAL_WORDS.items():
        if re.search(rf"\b{word}\b", said) and number <= len(choices):
            return number - 1
    return None


def _pick_by_provider(said: str, choices: Sequence[Choice], clinic: Clinic) -> Optional[int]:
    provider = clinic.match_provider(said)
    for index, choice in enumerate(choices):
        if provider and choice.practitioner_id == provider.id:
            return index
        surname = choice.practitioner_name.lower().split()[-1:] if choice.practitioner_name else []
        if surname and re.search(rf"\b{re.escape(surname[0])}\b", said):
            return index
    return None


def _pick_by_service(said: str, choices: Sequence[Choice], clinic: Clinic) -> Optional[int]:
    service = clinic.match_service(said)
    if service is None or len({choice.service_id for choice in choices}) < 2:
        return None  # "the GP one" says nothing when every line is a GP appointment
    return next((i for i, choice in enumerate(choices) if choice.service_id == service.id), None)


def _pick_by_weekday(said: str, choices: Sequence[Choice], clinic: Clinic) -> Optional[int]:
    found = _WEEKDAY.search(said)
    if not found:
        return None
    name = found.group(1)[:3]
    for index, choice in enumerate(choices):
        if choice.start.astimezone(clinic.tz).strftime("%a").lower() == name:
            return index
    return None


# ---------------------------------------------------------------------------------------------------------------
# Who the patient is (asked once, at the first booking).

_NAME_PREFIX = re.compile(
    r"^(?:(?:my|the patient'?s|her|his|their|the) name(?: is|'s)|name(?: is)?:?|i'm|i am"
    r"|it'?s|this is|it is|call me|they(?: are|'re)|she(?: is|'s)|he(?: is|'s))\s+",
    re.IGNORECASE,
)
_NAME_CHARS = re.compile(r"^[^\W\d_]+(?:(?:\.?[ '\-]|\.)[^\W\d_]+)*\.?$")  # St. Leo, O'Neil, Smith-Jones
_BIRTH_PREFIX = re.compile(
    r"^(?:(?:my |her |his |their |the )?(?:date of birth|dob|d\.o\.b\.?|birthday)(?: is)?"
    r"|(?:i was |she was |he was )?born(?: on)?|it'?s|it is)\s*[:\-]?\s*",
    re.IGNORECASE,
)
_WRITTEN_YEAR = re.compile(r"\d{4}|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2}\b")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
BIRTH_DATE_EXAMPLES = {"DMY": "21/07/1980", "MDY": "07/21/1980", "YMD": "1980-07-21"}
_OLDEST_YEARS = 125


def clean_name(text: str) -> Optional[str]:
    """The name as the patient wrote it, without "my name is"; None unless it is made of letters. Many people have
    one name only, or a name of two letters (Li, Wu), so any word of letters counts; all lower case gets capitals."""
    name = " ".join(_NAME_PREFIX.sub("", text.strip().replace("’", "'")).split()).strip(" .,!")
    if not 2 <= len(name) <= 80 or not _NAME_CHARS.match(name):
        return None
    return name if any(ch.isupper() for ch in name) else name.title()


def parse_birth_date(text: str, clinic: Clinic, today: dt.date) -> Optional[dt.date]:
    """A date of birth written in the clinic's numeric date order (03/12/1980 is 3 December in DMY clinics);
    it must have a day, month and year and be in the past, within a human lifetime."""
    cleaned = _BIRTH_PREFIX.sub("", text.strip()).strip(" .")
    if not cleaned or len(cleaned) > 40:
        return None
    if not _WRITTEN_YEAR.search(cleaned):
        return None  # "last year" or "in May" is not a date of birth
    iso = _ISO_DATE.match(cleaned)
    if iso:  # year first is unambiguous whatever the clinic's order
        cleaned = f"{iso.group(3)}/{iso.group(2)}/{iso.group(1)}"
        order = "DMY"
    else:
        order = clinic.date_order
    parsed = dateparser.parse(
        cleaned,
        languages=["en"],
        settings={
            "DATE_ORDER": order,
            "REQUIRE_PARTS": ["day", "month", "year"],
            "PREFER_DATES_FROM": "past",
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    if parsed is None:
        return None
    born = parsed.date()
    if born > today or born.year < today.year - _OLDEST_YEARS:
        return None
    return born


# ---------------------------------------------------------------------------------------------------------------
# Look-ups and changes: the one place the booking flow talks to the scheduling client (actions → booking → client).


class NoPhoneNumber(BackendError):
    """The conversation has no phone number (a REST sender such as "me"): patients are found and registered by
    their phone, so the backend would refuse the search. Not an outage: the patient is told what is needed."""


@dataclass(frozen=True)
class Patient:
    """Who is asking: the remembered Patient id (None until found) and the phone number that identifies them."""

    known_id: Optional[str]
    phone: str

    @property
    def identifiable(self) -> bool:
        """Known already, or by a phone number the backend can search and register (a REST "me" is neither)."""
        return bool(self.known_id) or bool(E164.match(self.phone))


@dataclass(frozen=True)
class Change:
    """What the confirmed form asks for; `offer` is the chosen free time, `appointment` the one to move or cancel."""

    task: str  # book, reschedule or cancel
    service_id: Optional[str] = None
    offer: Optional[Choice] = None
    appointment_id: Optional[str] = None
    appointment: Optional[Choice] = None
    name: Optional[str] = None
    birth_date: Optional[dt.date] = None
    window: Optional[AskedWindow] = None  # joining the waitlist: the window nothing fitted
    provider_id: Optional[str] = None
    patient_id: Optional[str] = None  # whom it is for, when registered (one of the phone's household)
    relation: Optional[Relation] = None  # whom it is for, when new and not the phone's owner ("my son")
    new_patient: bool = (
        False  # register whom it is for (a dependant with `relation`, else the owner themself)
    )


async def find_patient_id(client: SchedulingClient, patient: Patient) -> Optional[str]:
    """The remembered Patient id, else the one registered with the sender's phone number (None: first visit)."""
    if patient.known_id:
        return patient.known_id
    if not patient.identifiable:
        raise NoPhoneNumber("the conversation has no phone number", 400)
    record = await client.find_patient_by_phone(patient.phone)
    return record.id if record else None


async def household_of(client: SchedulingClient, patient: Patient) -> Optional[List[Member]]:
    """Everyone the phone books for (registered order), or None when the chat has no phone number to ask by."""
    if not E164.match(patient.phone):
        return None
    return members(await client.household(patient.phone))


async def upcoming(
    client: SchedulingClient, patient: Patient, only: Optional[str] = None
) -> Tuple[Optional[str], List[Choice]]:
    """The phone owner's id (None: nobody registered) and the upcoming appointments of everyone the phone books for
    (or of the patient `only`), by time; each names its patient when the phone books for more than one."""
    household = await household_of(client, patient)
    if household is None:
        patient_id = await find_patient_id(client, patient)
        household = [Member(patient_id, "", None, None)] if patient_id else []
    owner = next((m.id for m in household if m.relationship is None), household[0].id if household else None)
    named = len(household) > 1
    found: List[Choice] = []
    for member in household:
        if only is None or member.id == only:
            appointments = await client.list_appointments(member.id)
            found += [Choice.from_appointment(a, member.first_name if named else "") for a in appointments]
    return owner, sorted(found, key=lambda choice: choice.start)


async def booking_patient(client: SchedulingClient, change: Change, patient: Patient) -> Tuple[str, bool]:
    """The Patient id to book (or wait-list) for, registering a new patient or dependant first; and whether it is
    the phone's owner (the one the conversation remembers as `patient_id`)."""
    if change.patient_id:
        return change.patient_id, False
    if change.relation is not None:
        record = await client.add_dependant(
            change.name or "",
            patient.phone,
            change.birth_date,
            change.relation.relationship,
            change.relation.gender,
        )
        return record.id, False
    if change.new_patient:  # the owner, on a phone that so far booked only for others
        return (await client.create_patient(change.name or "", patient.phone, change.birth_date)).id, True
    patient_id = await find_patient_id(client, patient)
    if not patient_id:
        patient_id = (await client.create_patient(change.name or "", patient.phone, change.birth_date)).id
    return patient_id, True


async def make_change(
    client: SchedulingClient, change: Change, patient: Patient
) -> Tuple[Optional[str], Dict[str, Any]]:
    """Book, move or cancel: the phone owner's id (when a booking found or registered them) and the result to tell
    the patient and to remind."""
    if change.task == "cancel":
        cancelled = await client.cancel(change.appointment_id)
        return None, change_result("cancelled", cancelled.id, change.appointment)
    if (
        change.task == "reschedule"
    ):  # the backend books the new time and cancels the old appointment in one step
        moved = await client.reschedule(change.appointment_id, change.offer.id)
        name = change.appointment.patient_name if change.appointment else ""
        return None, {
            **change_result("rescheduled", moved.id, Choice.from_appointment(moved, name)),
            "previous_id": change.appointment_id,
        }
    patient_id, owner = await booking_patient(client, change, patient)
    booked = await client.book(patient_id, change.offer.id, change.service_id)
    return patient_id if owner else None, change_result("booked", booked.id, Choice.from_appointment(booked))


def change_result(kind: str, appointment_id: str, appointment: Optional[Choice]) -> Dict[str, Any]:
    return {
        "kind": kind,
        "appointment_id": appointment_id,
        "appointment": appointment.to_slot() if appointment else None,
    }


# ---------------------------------------------------------------------------------------------------------------
# The waitlist: joining when nothing fits, and the answer to an offer of a freed time.

WAITLIST = "waitlist"  # booking_slot's value when the patient chose the waiting list instead of a time


def waitlist_span(window: AskedWindow, clinic: Clinic) -> Tuple[dt.date, dt.date, Tuple[str, ...]]:
    """The days (first, last, inclusive) and the parts of the day the window asked for, as the waitlist keeps them;
    no parts means any time of day: the window covers every part the clinic is open in on those days ("Friday",
    "next week"), or it is a closed day or reaches across midnight."""
    first = window.bounds[0].astimezone(clinic.tz).date()
    last = (window.bounds[1] - dt.timedelta(microseconds=1)).astimezone(clinic.tz).date()
    asked: set = set()
    for span_start, span_end in window.spans:
        local_start, local_end = span_start.astimezone(clinic.tz), span_end.astimezone(clinic.tz)
        if local_start.date() != local_end.date():
            return first, last, ()
        asked |= _parts_between(local_start.time(), local_end.time())
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    open_parts = {
        part for day in days for low, high in clinic.open_intervals(day) for part in _parts_between(low, high)
    }
    if not asked or asked >= open_parts:
        return first, last, ()
    return first, last, tuple(part for part in DAY_PARTS if part in asked)


def _parts_between(start: dt.time, end: dt.time) -> set:
    """The parts of the day (morning, afternoon, evening) that the time range [start, end) overlaps."""
    bounds = {"morning": (dt.time.min, AFTERNOON_FROM), "afternoon": (AFTERNOON_FROM, EVENING_FROM)}
    return {
        part
        for part in DAY_PARTS
        if start < bounds.get(part, (EVENING_FROM, dt.time.max))[1]
        and end > bounds.get(part, (EVENING_FROM, dt.time.max))[0]
    }


async def join_waitlist(
    client: SchedulingClient,
    waitlist: WaitlistClient,
    change: Change,
    patient: Patient,
    conversation_id: str,
    channel: str,
    clinic: Clinic,
) -> Tuple[Optional[str], Dict[str, Any]]:
    """Register the patient if new, then put them on the list for the window nothing fitted: the phone owner's id
    (when it was them) and the result to tell them."""
    patient_id, owner = await booking_patient(client, change, patient)
    first, last, parts = waitlist_span(change.window, clinic)
    await waitlist.join(
        patient_id, change.service_id, first, last, parts, conversation_id, channel, change.provider_id
    )
    return patient_id if owner else None, {
        "kind": "waitlisted",
        "service_id": change.service_id,
        "asked": change.window.label,
    }


async def leave_waitlist(client: SchedulingClient, waitlist: WaitlistClient, patient: Patient) -> int:
    """Take the patient, and everyone the phone books for, off every list they wait on; how many entries that was."""
    household = await household_of(client, patient)
    if household is None:
        patient_id = await find_patient_id(client, patient)
        ids = [patient_id] if patient_id else []
    else:
        ids = [member.id for member in household]
    left = 0
    for patient_id in ids:
        for entry in await waitlist.entries(patient_id):
            await waitlist.leave(entry.id)
            left += 1
    return left


def accepted_choice(accepted: AcceptedOffer) -> Choice:
    """The booked offer as the booking flow's own record (for the confirmation and the reminders)."""
    return Choice(
        accepted.appointment_id,
        accepted.start,
        accepted.practitioner_id,
        accepted.practitioner_name,
        accepted.service_id,
    )
