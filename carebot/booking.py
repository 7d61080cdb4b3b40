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
from carebot.dates import TimeWindow
from carebot.scheduling.client import BookedAppointment, FreeSlot

Span = Tuple[dt.datetime, dt.datetime]
# How far before an unavailable time we still call a free time "near" it (same morning/afternoon).
_NEAREST_BEFORE = dt.timedelta(hours=6)
_WIDE_SEARCH_COUNT = 100  # free times fetched when the closest (not the earliest) ones are wanted


class SlotSearch(Protocol):
    """The part of the scheduling client the offer search needs (a fake implements it in tests)."""

    async def search_free_slots(self, service_id: str, start: dt.datetime, end: dt.datetime,
                                practitioner_id: Optional[str] = None, count: int = 5) -> List[FreeSlot]: ...


@dataclass(frozen=True)
class Choice:
    """One line the patient can pick: a free time (id = Slot id) or one of their appointments (id = Appointment id)."""

    id: str
    start: dt.datetime
    practitioner_id: str
    practitioner_name: str
    service_id: str

    @classmethod
    def from_slot(cls, slot: FreeSlot) -> "Choice":
        return cls(slot.id, slot.start, slot.practitioner_id, slot.practitioner_name, slot.service_id)

    @classmethod
    def from_appointment(cls, appointment: BookedAppointment) -> "Choice":
        return cls(appointment.id, appointment.start, appointment.practitioner_id, appointment.practitioner_name,
                   appointment.service_id)

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
    year = "" if local.year == today.year else f" {local.year}"
    return f"{local.strftime('%A')} {local.day} {local.strftime('%B')}{year} at {local.strftime('%H:%M')}"


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
# The search window travels in a slot as plain JSON.

def window_to_slot(window: TimeWindow) -> Dict[str, Any]:
    return {"label": window.label, "spans": [[s.isoformat(), e.isoformat()] for s, e in window.spans],
            "target": window.target.isoformat() if window.target else None}


def spans_from_slot(value: Dict[str, Any]) -> List[Span]:
    return [(dt.datetime.fromisoformat(s), dt.datetime.fromisoformat(e)) for s, e in value["spans"]]


def target_from_slot(value: Dict[str, Any]) -> Optional[dt.datetime]:
    return dt.datetime.fromisoformat(value["target"]) if value.get("target") else None


# ---------------------------------------------------------------------------------------------------------------
# Finding times to offer.

@dataclass(frozen=True)
class Offers:
    choices: List[Choice]
    nearest: bool  # nothing was free in the window asked for: these are the closest free times instead


async def find_offers(client: SlotSearch, clinic: Clinic, service_id: str, spans: Sequence[Span], *,
                      now: dt.datetime, provider_id: Optional[str] = None, start_from: Optional[dt.datetime] = None,
                      target: Optional[dt.datetime] = None) -> Offers:
    """Up to `clinic.offer_count` free times inside `spans` (from `start_from` on, for "later"), closest to
    `target` when the patient named a time; else the nearest free times around the window, so a patient who
    asked for a full day still gets something to pick instead of a dead end."""
    count = clinic.offer_count
    found: List[FreeSlot] = []
    for start, end in spans:
        start = max(start, start_from) if start_from else start
        if start >= end:
            continue
        # Around a named time the closest times win, so fetch the whole (short) window, not just its first times.
        wanted = count if target is None else _WIDE_SEARCH_COUNT
        found += await client.search_free_slots(service_id, start, end, provider_id, count=wanted)
        if len(found) >= count and target is None:
            break
    if target is not None:
        found.sort(key=lambda slot: abs(slot.start - target))
    if found:
        return Offers(sorted((Choice.from_slot(s) for s in found[:count]), key=lambda c: c.start), nearest=False)

    horizon = now + dt.timedelta(weeks=clinic.horizon_weeks)
    window_start = spans[0][0] if spans else now
    window_end = max(spans[-1][1] if spans else now, start_from or now)
    later = await client.search_free_slots(service_id, window_end, horizon, provider_id, count=count)
    earlier: List[FreeSlot] = []
    if start_from is None and window_start > now:
        begin = max(now, window_start - _NEAREST_BEFORE)
        earlier = (await client.search_free_slots(service_id, begin, window_start, provider_id,
                                                  count=_WIDE_SEARCH_COUNT))[-count:]
    pivot = target or window_start
    nearest = sorted(earlier + later, key=lambda slot: abs(slot.start - pivot))[:count]
    return Offers(sorted((Choice.from_slot(s) for s in nearest), key=lambda c: c.start), nearest=True)


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
    """"Anything earlier?" / "sooner": paging forward would be wrong, the first free times are wanted."""
    return bool(re.search(r"\b(?:earlier|sooner)\b", text.lower()))


# ---------------------------------------------------------------------------------------------------------------
# What the patient picked: "2", "number 3", "the first", "the 10:30 one", "Dr Patel's", "the Tuesday one".

_ORDINAL_WORDS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
                  "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "earliest": 1}
_CLOCK = re.compile(r"\b(?P<h>\d{1,2})(?:[:.](?P<m>[0-5]\d))?\s*(?P<ap>am|pm)\b|\b(?P<h2>\d{1,2})[:.](?P<m2>[0-5]\d)\b"
                    r"|\bat (?P<h3>\d{1,2})\b")
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
    for reader in (_pick_by_time, _pick_by_number, _pick_by_ordinal, _pick_by_provider, _pick_by_service,
                   _pick_by_weekday):
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

_NAME_PREFIX = re.compile(r"^(?:(?:my|the patient'?s|her|his|their|the) name(?: is|'s)|name(?: is)?:?|i'm|i am"
                          r"|it'?s|this is|it is|call me|they(?: are|'re)|she(?: is|'s)|he(?: is|'s))\s+",
                          re.IGNORECASE)
_NAME_CHARS = re.compile(r"^[^\W\d_]+(?:(?:\.?[ '\-]|\.)[^\W\d_]+)*\.?$")  # St. Leo, O'Neil, Smith-Jones
_BIRTH_PREFIX = re.compile(r"^(?:(?:my |her |his |their |the )?(?:date of birth|dob|d\.o\.b\.?|birthday)(?: is)?"
                           r"|(?:i was |she was |he was )?born(?: on)?|it'?s|it is)\s*[:\-]?\s*", re.IGNORECASE)
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
    parsed = dateparser.parse(cleaned, languages=["en"], settings={
        "DATE_ORDER": order, "REQUIRE_PARTS": ["day", "month", "year"], "PREFER_DATES_FROM": "past",
        "RETURN_AS_TIMEZONE_AWARE": False})
    if parsed is None:
        return None
    born = parsed.date()
    if born > today or born.year < today.year - _OLDEST_YEARS:
        return None
    return born
