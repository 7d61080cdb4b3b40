"""Clinic-aware reading of booking phrasings ("tomorrow after 3", "any evening next week") into a search window.

`dateparser` reads calendar dates (month names, abbreviations, numeric dates in the clinic's day/month order).
Alone it gets booking language wrong ("the 14th" lands in the past, "any evening next week" is nothing, "after 3"
becomes 03:00), so the rules here decide the days and times the way a receptionist would: never in the past,
bare hours read against opening hours, day parts bounded by opening hours, and windows clipped to the booking
horizon. The result says *why* nothing fits (closed day, past, outside hours, too far ahead) so the bot can answer.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from dateparser.date import DateDataParser

from carebot.clinic import WEEKDAYS, Clinic

MAX_TEXT_CHARS = 300  # a date answer is a short phrase; longer text is not a date and must not cost time
END_OF_DAY = dt.time(23, 59, 59)
_AROUND = dt.timedelta(minutes=30)
_BARE_TIME_LOOKAHEAD_DAYS = 14

Span = Tuple[dt.datetime, dt.datetime]
ClockRange = Tuple[dt.time, dt.time]


class DateProblem(Enum):
    """Why a phrase gave no window; each needs a different answer to the patient."""

    UNPARSEABLE = "unparseable"
    PAST = "past"
    CLOSED = "closed"
    OUTSIDE_HOURS = "outside_hours"
    TOO_FAR = "too_far"


@dataclass(frozen=True)
class TimeWindow:
    """Where to look for free slots: slot *start* times inside one of `spans` (half-open, clinic tz).

    `start`/`end` bound all spans, so one backend query covers the window; `contains` filters its answer
    (e.g. evenings only). `target` is the time asked for ("at 4pm", "around 10:30") to sort offers by closeness.
    """

    start: dt.datetime
    end: dt.datetime
    label: str
    spans: Tuple[Span, ...]
    exact: bool = False
    target: Optional[dt.datetime] = None

    def contains(self, moment: dt.datetime) -> bool:
        return any(start <= moment < end for start, end in self.spans)

    @property
    def days(self) -> Tuple[dt.date, ...]:
        return tuple(sorted({start.date() for start, _ in self.spans}))


@dataclass(frozen=True)
class ParseResult:
    """A window, or the problem that prevented one. `label` says what was understood even when it failed."""

    window: Optional[TimeWindow]
    problem: Optional[DateProblem] = None
    reason: str = ""
    day: Optional[dt.date] = None
    label: str = ""

    @property
    def ok(self) -> bool:
        return self.window is not None


# --------------------------------------------------------------------------------------------------------------
# Normalisation: fold spelling variants into one vocabulary so the readers below stay small.

_NUMBER_WORDS = (
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
)
_ORDINAL_UNITS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
_ORDINAL_TEENS = (
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
)


def _ordinal_words() -> Dict[str, int]:
    words = {w: i + 1 for i, w in enumerate(_ORDINAL_UNITS)}
    words.update({w: i + 10 for i, w in enumerate(_ORDINAL_TEENS)})
    words.update({"twentieth": 20, "thirtieth": 30, "thirty first": 31, "thirty-first": 31})
    for i, unit in enumerate(_ORDINAL_UNITS):
        words[f"twenty {unit}"] = words[f"twenty-{unit}"] = 21 + i
    return words


_ORDINALS = _ordinal_words()
_ORDINAL_RE = "|".join(sorted((re.escape(w) for w in _ORDINALS), key=len, reverse=True))
_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_WEEKDAY_NAMES = {
    "mon": 0,
    "monday": 0,
    "tue": 1,
    "tues": 1,
    "tuesday": 1,
    "wed": 2,
    "weds": 2,
    "wednesday": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "thursday": 3,
    "fri": 4,
    "friday": 4,
    "sat": 5,
    "saturday": 5,
    "sun": 6,
    "sunday": 6,
}
_WEEKDAY = "(?:" + "|".join(sorted(_WEEKDAY_NAMES, key=len, reverse=True)) + ")"


def _ordinal_suffix(day: int) -> str:
    return f"{day}{'th' if 10 <= day % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


def _ordinal(match: re.Match[str]) -> str:
    return _ordinal_suffix(_ORDINALS[match.group("ord")])


_REWRITES: Tuple[Tuple[re.Pattern[str], Any], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"[’‘`´]", "'"),
        (r"\ba\.m\.?", "am"),
        (r"\bp\.m\.?", "pm"),
        (r"[^a-z0-9:./\-' ]+", " "),
        (
            r"\b(?:as soon as (?:possible|you can|poss)|asap|a\.s\.a\.p|(?:the )?earliest(?: possible| available)?"
            r"|(?:the )?first (?:available|free|possible|open)(?: slot| appointment| time| one)?|soonest|urgently"
            r"|(?:the )?next (?:available|free)(?: slot| appointment| time| one)?|any ?time|whenever)\b",
            " asap ",
        ),
        (
            r"\b(?:tmrw|tmr|tmrow|tomoz|tommorow|tomorow|tommorrow|tomorrrow|2moro|2morrow|tomorrows)\b",
            "tomorrow",
        ),
        (r"\b(?:tonight|tonite|this evening)\b", "today evening"),
        (r"\bthis (morning|afternoon)\b", r"today \1"),
        (r"\b(tomorrow|today) night\b", r"\1 evening"),
        (r"\b(morning|afternoon|evening|weekday|weekend)s\b", r"\1"),
        (r"\bin the (morning|afternoon|evening)\b", r"\1"),
        (r"\bweek'?s'? time\b", "weeks"),
        (r"\bday'?s'? time\b", "days"),
        (r"\b(?:a )?fortnight\b", "2 weeks"),
        (r"\b(?:a couple of|couple of|a couple)\b", "2"),
        (r"\bin an? (week|day)\b", r"in 1 \1"),
        (r"\b(?:mid ?day|noon)\b", "12:00"),
        (r"\blunch ?time\b", "lunchtime"),
        (rf"\b(the\s+)(?P<ord>{_ORDINAL_RE})\b", lambda m: m.group(1) + _ordinal(m)),
        (rf"\b(?P<ord>{_ORDINAL_RE})(?=\s+of\b)", _ordinal),
        (rf"\b({_MONTH})\s+(?:the\s+)?(?P<ord>{_ORDINAL_RE})\b", lambda m: m.group(1) + " " + _ordinal(m)),
        (r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", lambda m: str(_NUMBER_WORDS.index(m.group(1)) + 1)),
        (r"\b(\d{1,2}) (?:o'?clock|o clock)\b", r"\1:00"),
        (r"\b(\d{1,2}) thirty\b", r"\1:30"),
        (r"\b(\d{1,2}) fifteen\b", r"\1:15"),
        (r"\b(\d{1,2}) forty[ -]?five\b", r"\1:45"),
        (r"\bhalf (?:past )?(\d{1,2})\b", r"\1:30"),
        (r"\b(?:a )?quarter past (\d{1,2})\b", r"\1:15"),
        (r"\b(\d{1,2}) (?:minutes )?past (\d{1,2})\b", lambda m: f"{m.group(2)}:{int(m.group(1)):02d}"),
        (r"\b(?:a )?quarter to (\d{1,2})\b", lambda m: f"{(int(m.group(1)) - 2) % 12 + 1}:45"),
        (r"\b(\d{1,2}(?:[:.]\d{2})?) ?-?ish\b", r"around \1"),
        (r"\s+", " "),
    )
)


def _normalise(text: str) -> str:
    text = text.lower()
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return text.strip()


# --------------------------------------------------------------------------------------------------------------
# Time of day.


@dataclass(frozen=True)
class _TimeAsk:
    ranges: Tuple[ClockRange, ...]
    label: str
    exact: bool = False
    target: Optional[dt.time] = None


_PARTS: Dict[str, ClockRange] = {
    "first thing": (dt.time(0, 0), dt.time(10, 0)),
    "early morning": (dt.time(0, 0), dt.time(10, 0)),
    "late afternoon": (dt.time(15, 0), dt.time(17, 0)),
    "morning": (dt.time(0, 0), dt.time(12, 0)),
    "lunchtime": (dt.time(12, 0), dt.time(14, 0)),
    "afternoon": (dt.time(12, 0), dt.time(17, 0)),
    "evening": (dt.time(17, 0), END_OF_DAY),
}
_PART_RE = re.compile(r"\b(" + "|".join(_PARTS) + r")\b")
_PART_HINT = {"first thing": "morning", "early morning": "morning", "late afternoon": "afternoon"}
_T = r"\d{1,2}(?:[:.][0-5]\d)?(?: ?(?:am|pm))?"
_NOT_A_TIME = r"(?![:.]?\d|(?:st|nd|rd|th)\b| ?(?:weeks?|days?|months?)\b|/)"
_RANGE_RE = re.compile(
    rf"\b(?:between|from) (?P<a>{_T}) ?(?:-|to|and|till|until|til) ?(?P<b>{_T})\b{_NOT_A_TIME}"
    rf"|\b(?P<c>{_T}) ?(?:-|to) ?(?P<d>\d{{1,2}}(?:[:.][0-5]\d)? ?(?:am|pm)|\d{{1,2}}[:.][0-5]\d)\b"
)
_PREP_RE = re.compile(
    rf"\b(?P<p>not before|no earlier than|no later than|later than|earlier than|after|before|"
    rf"around|about|approximately|approx|roughly|from|by|until|till|at) (?P<t>{_T})\b{_NOT_A_TIME}"
)
_HOUR_BEFORE_PART_RE = re.compile(r"\b(?P<t>\d{1,2}(?:[:.][0-5]\d)?) (?:morning|afternoon|evening)\b")
_EXPLICIT_RE = re.compile(r"\b(?P<t>\d{1,2}[:.][0-5]\d(?: ?(?:am|pm))?|\d{1,2} ?(?:am|pm))\b")
_CLOCK_RE = re.compile(r"(?P<h>\d{1,2})(?:[:.](?P<m>\d{2}))?(?: ?(?P<ap>am|pm))?")
_AFTER = {"after", "from", "later than", "not before", "no earlier than"}
_BEFORE = {"before", "by", "until", "till", "earlier than", "no later than"}
_AROUND_WORDS = {"around", "about", "approximately", "approx", "roughly"}


def _fmt(clock: dt.time) -> str:
    return clock.strftime("%H:%M")


def _clock(token: str, hint: Optional[str], clinic_span: ClockRange) -> Optional[dt.time]:
    """A wall-clock time; an hour without am/pm is read as the one the clinic could mean ("after 3" is 15:00)."""
    match = _CLOCK_RE.fullmatch(token.strip())
    if not match:
        return None
    hour, minute, ampm = int(match.group("h")), int(match.group("m") or 0), match.group("ap")
    if hour > 23 or minute > 59 or (ampm and not 1 <= hour <= 12):
        return None
    if ampm:
        return dt.time(hour % 12 + (12 if ampm == "pm" else 0), minute)
    if hour > 12 or hour == 0:
        return dt.time(hour, minute)
    if hint in ("afternoon", "evening") and hour < 12:
        return dt.time(hour + 12, minute)
    if hint == "morning":
        return dt.time(hour % 12, minute)
    candidates = [dt.time(hour, minute)] + ([dt.time(hour + 12, minute)] if hour < 12 else [])
    inside = [c for c in candidates if clinic_span[0] <= c < clinic_span[1]]
    return inside[0] if inside else candidates[-1 if hour < 7 else 0]


def _shift(clock: dt.time, delta: dt.timedelta) -> dt.time:
    moment = dt.datetime.combine(dt.date(2000, 1, 1), clock) + delta
    if moment.date() != dt.date(2000, 1, 1):
        return dt.time(0, 0) if delta < dt.timedelta(0) else END_OF_DAY
    return moment.time()


def _read_time(text: str, clinic: Clinic) -> Optional[_TimeAsk]:
    parts = list(dict.fromkeys(_PART_RE.findall(text)))
    hint = _PART_HINT.get(parts[0], parts[0]) if parts else None
    span = _clinic_clock_span(clinic)
    exact_end = dt.timedelta(minutes=clinic.slot_minutes)

    found = _RANGE_RE.search(text)
    if found:
        first = _clock(found.group("a") or found.group("c"), hint, span)
        second_token = found.group("b") or found.group("d")
        if first and second_token and not re.search(r"am|pm", found.group("a") or found.group("c") or ""):
            # "2-4pm": the am/pm written once applies to both ends.
            ampm = re.search(r"am|pm", second_token)
            if ampm:
                first = _clock(f"{found.group('a') or found.group('c')} {ampm.group()}", hint, span) or first
        second = _clock(second_token, hint, span)
        if first and second and first < second:
            return _TimeAsk(((first, second),), f"between {_fmt(first)} and {_fmt(second)}")
    found = _PREP_RE.search(text)
    if found:
        clock = _clock(found.group("t"), hint, span)
        word = found.group("p")
        if clock and word in _AFTER:
            return _TimeAsk(((clock, END_OF_DAY),), f"after {_fmt(clock)}")
        if clock and word in _BEFORE:
            return _TimeAsk(((dt.time(0, 0), clock),), f"before {_fmt(clock)}")
        if clock and word in _AROUND_WORDS:
            return _TimeAsk(
                ((_shift(clock, -_AROUND), _shift(clock, _AROUND)),), f"around {_fmt(clock)}", target=clock
            )
        if clock:
            return _TimeAsk(
                ((clock, _shift(clock, exact_end)),), f"at {_fmt(clock)}", exact=True, target=clock
            )
    found = _EXPLICIT_RE.search(text) or _HOUR_BEFORE_PART_RE.search(text)
    if found:
        clock = _clock(found.group("t"), hint, span)
        if clock:
            return _TimeAsk(
                ((clock, _shift(clock, exact_end)),), f"at {_fmt(clock)}", exact=True, target=clock
            )
    if parts:
        return _TimeAsk(tuple(_PARTS[p] for p in parts), " or ".join(parts))
    return None


def _clinic_clock_span(clinic: Clinic) -> ClockRange:
    """Earliest opening and latest closing over the week: the hours a patient's bare "at 3" can refer to."""
    intervals = [i for day in range(7) for i in clinic.hours.intervals(day)]
    if not intervals:
        return dt.time(0, 0), END_OF_DAY
    return min(s for s, _ in intervals), max(e for _, e in intervals)


# --------------------------------------------------------------------------------------------------------------
# Days.


@dataclass(frozen=True)
class _DayAsk:
    """Candidate day sets in order of preference: the first that is not ruled out (see `skip`) is used."""

    options: Tuple[Tuple[dt.date, ...], ...]
    label: str
    skip: FrozenSet[str] = frozenset({"past"})


_WD_PREFIX = (
    rf"(?:{_WEEKDAY},? (?:the )?)?"  # "Thursday 3rd December": the date decides, the weekday is consumed
)
_ISO_RE = re.compile(rf"\b{_WD_PREFIX}(?P<date>\d{{4}}-\d{{1,2}}-\d{{1,2}})\b")
_NUMERIC_RE = re.compile(
    rf"\b{_WD_PREFIX}(?P<date>\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})|\d{{1,2}}/\d{{1,2}})"
    r"\b(?!/)"
)
_DAY_MONTH_RE = re.compile(
    rf"\b{_WD_PREFIX}(?P<date>(?:the )?\d{{1,2}}(?:st|nd|rd|th)? (?:of )?{_MONTH}\b\.?"
    rf"|{_MONTH}\.? (?:the )?\d{{1,2}}(?:st|nd|rd|th)?\b(?![:.]\d))(?:,? (?P<year>\d{{4}})\b)?"
)
_ORDINAL_DAY_RE = re.compile(
    rf"(?:\b{_WD_PREFIX}(?:the )?(?P<a>\d{{1,2}})(?:st|nd|rd|th)\b"
    r"|\bon the (?P<b>\d{1,2})\b(?![:.]\d| ?(?:am|pm)))"  # "the 2 of us" is not a date
    r"(?: of (?P<rel>this|next) month\b)?"
)
_WEEK_OF_RE = re.compile(r"\b(?:the )?week (?:of|commencing|beginning|starting)(?: on)?(?: the)? ?$")
_MONTH_ALONE_RE = re.compile(
    rf"\b(?P<q>early|beginning of|start of|mid|middle of|late|end of|in|during)? ?"
    rf"(?P<m>{_MONTH})\b"
)
_REL_MONTH_RE = re.compile(
    r"\b(?P<q>early|beginning of|start of|mid|middle of|late|end of|later)? ?(?:the )?"
    r"(?P<w>this|next) month\b|\b(?P<q2>end|beginning|start) of the month\b"
)
_NEXT_DAYS_RE = re.compile(r"\b(?:next|coming) (?P<n>\d{1,2}|few) days\b")
_IN_N_RE = re.compile(
    r"\b(?:in (?P<n>\d{1,2}) (?P<u>days?|weeks?|months?)"
    r"|(?P<n2>\d{1,2}) (?P<u2>days?|weeks?) (?:from (?:now|today)|later))\b"
)
_WEEK_RE = re.compile(
    r"\b(?P<q>early|beginning of|start of|late|later|end of)? ?(?:the )?"
    r"(?P<w>this|next|following) week(?! ?end)\b|\bweek after next\b|\b(?P<eow>end of the week)\b"
)
_WEEKEND_RE = re.compile(r"\b(?P<q>this|next|coming)? ?weekend\b")
_NEGATED_WEEKDAYS_RE = re.compile(
    r"\b(?:not|except|but not|apart from|excluding|other than|can'?t do|cannot do|can not do"
    rf"|(?:anything|any day|asap) but)(?: on)?(?: a)? "
    rf"(?P<list>{_WEEKDAY}s?(?:(?:,| or| and| nor|, or|, and) {_WEEKDAY}s?)*)\b"
)
_WEEKDAY_RE = re.compile(rf"\b(?:(?P<q>next|this|coming|this coming) )?(?P<d>{_WEEKDAY})s?\b")
_RELATIVE_DAYS = (
    (re.compile(r"\b(?:the )?day after tomorrow\b|\bovermorrow\b"), 2),
    (re.compile(r"\btomorrow\b"), 1),
    (re.compile(r"\btoday\b"), 0),
)


@lru_cache(maxsize=None)
def _date_reader(date_order: str) -> DateDataParser:
    """One dateparser per date order, built and warmed once: settings are fixed, so it is reused for every message.

    The relative base is a leap year so "29 Feb" parses; the real year is chosen afterwards (never in the past).
    """
    reader = DateDataParser(
        languages=["en"],
        settings={
            "DATE_ORDER": date_order,
            "PREFER_DAY_OF_MONTH": "first",
            "REQUIRE_PARTS": ["day", "month"],
            "RELATIVE_BASE": dt.datetime(2000, 1, 1),
        },
    )
    reader.get_date_data("1 January")
    return reader


def _calendar_date(text: str, date_order: str, iso: bool = False) -> Optional[dt.date]:
    """The written date (year 2000 when none was written), or None when dateparser cannot make a real date of it."""
    try:
        data = _date_reader(date_order).get_date_data(text, date_formats=["%Y-%m-%d"] if iso else None)
    except (ValueError, OverflowError, TypeError):
        return None
    if data is None or data.date_obj is None:
        return None
    born: dt.date = data.date_obj.date()
    return born


def _next_date(day: int, month: int, today: dt.date) -> Optional[dt.date]:
    """The first day/month on or after today (29 Feb waits for a leap year)."""
    for year in range(today.year, today.year + 5):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return None


def _month_days(year: int, month: int, first: int = 1, last: int = 31) -> Tuple[dt.date, ...]:
    days = []
    for number in range(first, last + 1):
        try:
            days.append(dt.date(year, month, number))
        except ValueError:
            break
    return tuple(days)


def _part_of_month(year: int, month: int, qualifier: Optional[str]) -> Tuple[Tuple[dt.date, ...], str]:
    name = dt.date(year, month, 1).strftime("%B")
    if qualifier in ("early", "beginning of", "start of", "beginning", "start"):
        return _month_days(year, month, 1, 10), f"early {name}"
    if qualifier in ("mid", "middle of"):
        return _month_days(year, month, 11, 20), f"mid {name}"
    if qualifier in ("late", "end of", "end"):
        return _month_days(year, month, 21), f"end of {name}"
    return _month_days(year, month), name


def _add_months(today: dt.date, count: int) -> Tuple[int, int]:
    index = today.month - 1 + count
    return today.year + index // 12, index % 12 + 1


def _week(monday: dt.date, first: int = 0, last: int = 6) -> Tuple[dt.date, ...]:
    return tuple(monday + dt.timedelta(days=i) for i in range(first, last + 1))


def _part_of_week(monday: dt.date, qualifier: Optional[str]) -> Tuple[dt.date, ...]:
    if qualifier in ("early", "beginning of", "start of"):
        return _week(monday, 0, 2)
    if qualifier in ("late", "later", "end of"):
        return _week(monday, 3, 6)
    return _week(monday)


def _date_label(day: dt.date, today: dt.date) -> str:
    text = f"{day.strftime('%A')} {day.day} {day.strftime('%B')}"
    return text if day.year == today.year else f"{text} {day.year}"


def _read_ranges(text: str, today: dt.date) -> List[_DayAsk]:
    """Multi-day phrases: weeks, weekends, months, "in 2 weeks"."""
    monday = today - dt.timedelta(days=today.weekday())
    asks: List[_DayAsk] = []
    for found in _WEEK_RE.finditer(text):
        if found.group(0) == "week after next":
            asks.append(_DayAsk((_week(monday + dt.timedelta(weeks=2)),), "the week after next"))
        elif found.group("eow"):
            asks.append(_DayAsk((_part_of_week(monday, "end of"),), found.group(0)))
        else:
            which, qualifier = found.group("w"), found.group("q")
            start = monday + dt.timedelta(weeks=0 if which == "this" else 1)
            days = _part_of_week(start, qualifier)
            if which == "this" and qualifier == "later":
                days = tuple(d for d in days if d > today) or days
            asks.append(_DayAsk((days,), found.group(0).strip()))
    for found in _WEEKEND_RE.finditer(text):
        saturday = monday + dt.timedelta(days=5, weeks=1 if found.group("q") == "next" else 0)
        label = "next weekend" if found.group("q") == "next" else "the weekend"
        asks.append(_DayAsk(((saturday, saturday + dt.timedelta(days=1)),), label))
    for found in _IN_N_RE.finditer(text):
        count, unit = int(found.group("n") or found.group("n2")), (found.group("u") or found.group("u2"))
        if unit.startswith("day"):
            day = today + dt.timedelta(days=count)
            asks.append(_DayAsk(((day,),), _date_label(day, today)))
        elif unit.startswith("week"):
            start = monday + dt.timedelta(weeks=count)
            asks.append(_DayAsk((_week(start),), f"the week of {_date_label(start, today)}"))
        else:
            days, label = _part_of_month(*_add_months(today, count), None)
            asks.append(_DayAsk((days,), label))
    for found in _NEXT_DAYS_RE.finditer(text):
        count = 3 if found.group("n") == "few" else int(found.group("n"))
        asks.append(_DayAsk((tuple(today + dt.timedelta(days=i) for i in range(count + 1)),), found.group(0)))
    for found in _REL_MONTH_RE.finditer(text):
        if found.group("q2"):
            qualifier, offset = ("end" if found.group("q2") == "end" else "early"), 0
        else:
            qualifier, offset = found.group("q"), 0 if found.group("w") == "this" else 1
        year, month = _add_months(today, offset)
        if qualifier == "later":
            days = tuple(d for d in _month_days(year, month) if d > today)
            label = f"later in {dt.date(year, month, 1).strftime('%B')}"
        else:
            days, label = _part_of_month(year, month, qualifier)
        asks.append(_DayAsk((days,), label))
    return asks


def _read_dates(text: str, today: dt.date, date_order: str) -> Tuple[List[_DayAsk], str]:
    """Single written dates ("3rd of December", "03/12", "the 14th"); returns them and the text without them."""
    asks: List[_DayAsk] = []

    def take(pattern: re.Pattern[str], handle: Callable[[re.Match[str]], Optional[_DayAsk]]) -> None:
        nonlocal text
        for found in list(pattern.finditer(text)):
            ask = handle(found)
            if ask is None:
                continue
            week_of = _WEEK_OF_RE.search(text[: found.start()])
            if week_of:
                day = ask.options[0][0]
                start = day - dt.timedelta(days=day.weekday())
                ask = _DayAsk((_week(start),), f"the week of {_date_label(start, today)}", ask.skip)
            asks.append(ask)
            text = text[: found.start()] + " " * (found.end() - found.start()) + text[found.end() :]

    def written(found: re.Match[str], iso: bool = False) -> Optional[_DayAsk]:
        written_text = f"{found.group('date')} {found.groupdict().get('year') or ''}".strip()
        parsed = _calendar_date(written_text, date_order, iso)
        if parsed is None:
            return None
        has_year = bool(re.search(r"\d{4}|\d[/.-]\d{1,2}[/.-]\d", written_text))
        chosen = parsed if has_year else _next_date(parsed.day, parsed.month, today)
        return _DayAsk(((chosen,),), _date_label(chosen, today), frozenset()) if chosen else None

    def day_of_month(found: re.Match[str]) -> Optional[_DayAsk]:
        number = int(found.group("a") or found.group("b"))
        if not 1 <= number <= 31:
            return None
        if found.group("rel"):
            try:
                day = dt.date(*_add_months(today, 0 if found.group("rel") == "this" else 1), number)
            except ValueError:
                return None
            return _DayAsk(((day,),), _date_label(day, today), frozenset())
        options: List[Tuple[dt.date, ...]] = []
        year, month = today.year, today.month
        while len(options) < 2 and year <= today.year + 1:
            try:
                candidate = dt.date(year, month, number)
                if candidate >= today:
                    options.append((candidate,))
            except ValueError:
                pass
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return _DayAsk(tuple(options), f"the {_ordinal_suffix(number)}") if options else None

    take(_ISO_RE, lambda f: written(f, iso=True))
    take(_NUMERIC_RE, written)
    take(_DAY_MONTH_RE, written)
    take(_ORDINAL_DAY_RE, day_of_month)
    return asks, text


def _read_months(text: str, today: dt.date) -> List[_DayAsk]:
    asks = []
    for found in _MONTH_ALONE_RE.finditer(text):
        key = found.group("m")[:3]
        if key in ("may", "mar") and not found.group("q"):
            continue  # "may I…", "mar" are words before they are months
        month = _MONTHS[key]
        year = today.year if month >= today.month else today.year + 1
        qualifier = found.group("q") if found.group("q") not in ("in", "during") else None
        days, label = _part_of_month(year, month, qualifier)
        asks.append(_DayAsk((days,), label))
    return asks


def _read_weekdays(text: str) -> Tuple[List[int], List[int], Optional[str]]:
    """Weekdays wanted, weekdays ruled out ("not Monday"), and the qualifier of the first wanted one ("next")."""
    unwanted = [
        _WEEKDAY_NAMES[name.group("d")]
        for found in _NEGATED_WEEKDAYS_RE.finditer(text)
        for name in _WEEKDAY_RE.finditer(found.group("list"))
    ]
    text = _NEGATED_WEEKDAYS_RE.sub(" ", text)
    days, qualifier = [], None
    for found in _WEEKDAY_RE.finditer(text):
        days.append(_WEEKDAY_NAMES[found.group("d")])
        qualifier = qualifier or found.group("q")
    if re.search(r"\bweekday\b", text):
        days.extend(range(5))
    return list(dict.fromkeys(days)), list(dict.fromkeys(unwanted)), qualifier


def _weekday_words(weekdays: Sequence[int]) -> str:
    return (
        "weekdays"
        if sorted(weekdays) == list(range(5))
        else " or ".join(WEEKDAYS[w].capitalize() for w in weekdays)
    )


def _weekday_ask(weekdays: Sequence[int], qualifier: Optional[str], today: dt.date) -> List[_DayAsk]:
    asks = []
    next_monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=1)
    for weekday in weekdays:
        if qualifier == "next":
            day = next_monday + dt.timedelta(days=weekday)
            asks.append(_DayAsk(((day,),), _date_label(day, today)))
        else:
            day = today + dt.timedelta(days=(weekday - today.weekday()) % 7)
            asks.append(_DayAsk(((day,), (day + dt.timedelta(weeks=1),)), WEEKDAYS[weekday].capitalize()))
    return asks


def _read_days(text: str, clinic: Clinic, today: dt.date, horizon: dt.date) -> Tuple[List[_DayAsk], str]:
    """The days asked for, and the text left once written dates are taken out (so "3.12.2026" is not 3:12)."""
    dates, text = _read_dates(text, today, clinic.date_order)
    ranges = _read_ranges(text, today) + ([] if dates else _read_months(text, today))
    singles = list(dates)
    for pattern, offset in _RELATIVE_DAYS:
        if pattern.search(text):
            day = today + dt.timedelta(days=offset)
            singles.append(_DayAsk(((day,),), _date_label(day, today), frozenset()))
            text = pattern.sub(" ", text)
    weekdays, unwanted, qualifier = _read_weekdays(text)
    if ranges:
        if weekdays:
            ranges = [
                _DayAsk(
                    tuple(tuple(d for d in option if d.weekday() in weekdays) for option in r.options),
                    f"{_weekday_words(weekdays)} {r.label}",
                    r.skip,
                )
                for r in ranges
            ]
        asks = singles + ranges
    elif singles or weekdays:
        asks = singles + _weekday_ask(weekdays, qualifier, today)
    elif unwanted or re.search(r"\basap\b", text):
        days = tuple(today + dt.timedelta(days=i) for i in range((horizon - today).days + 1))
        asks = [_DayAsk((days,), "any day" if unwanted else "the first available time")]
    else:
        asks = []
    if unwanted:
        asks = [
            _DayAsk(
                tuple(tuple(d for d in option if d.weekday() not in unwanted) for option in ask.options),
                f"{ask.label} except {_weekday_words(unwanted)}",
                ask.skip,
            )
            for ask in asks
        ]
    return asks, text


# --------------------------------------------------------------------------------------------------------------
# Putting days and times together against the clinic's hours.

_STATUS_ORDER = ("outside", "closed", "past", "too_far")


def _day_spans(
    day: dt.date, time: Optional[_TimeAsk], clinic: Clinic, now: dt.datetime, horizon: dt.date
) -> Tuple[str, List[Span]]:
    """Open spans on `day` matching the asked time, or why there are none."""
    if day < now.date():
        return "past", []
    if day > horizon:
        return "too_far", []
    opening = clinic.open_windows(day)
    if not opening:
        return "closed", []
    ranges = time.ranges if time else ((dt.time(0, 0), END_OF_DAY),)
    asked = [
        (dt.datetime.combine(day, s, clinic.tz), dt.datetime.combine(day, e, clinic.tz)) for s, e in ranges
    ]
    matching = sorted((max(a, o), min(b, c)) for a, b in asked for o, c in opening if max(a, o) < min(b, c))
    if not matching:
        return "outside", []
    future = [(max(s, now), e) for s, e in matching if e > now]
    return ("ok", future) if future else ("past", [])


def _why(status: str, day: dt.date, clinic: Clinic, today: dt.date, horizon: dt.date) -> str:
    if status == "closed":
        closure = clinic.closure_on(day)
        return closure.reason if closure else f"closed on {day.strftime('%A')}s"
    if status == "outside":
        hours = " and ".join(f"{_fmt(s)}–{_fmt(e)}" for s, e in clinic.open_intervals(day))
        return f"open {hours} on {_date_label(day, today)}"
    if status == "too_far":
        return f"bookings open up to {clinic.horizon_weeks} weeks ahead (until {_date_label(horizon, today)})"
    return f"{_date_label(day, today)} has passed" if day < today else "that time has already passed today"


def _choose(
    ask: _DayAsk, evaluate: Callable[[dt.date], Tuple[str, List[Span]]]
) -> Tuple[List[Span], List[Tuple[str, dt.date]]]:
    """Spans of the first acceptable option, and the statuses of days that gave none (for the explanation)."""
    failures: List[Tuple[str, dt.date]] = []
    for option in ask.options:
        spans, option_failures = [], []
        for day in option:
            status, found = evaluate(day)
            spans.extend(found)
            if not found:
                option_failures.append((status, day))
        if spans or not any(status in ask.skip for status, _ in option_failures) or option is ask.options[-1]:
            return spans, failures or option_failures
        failures = failures or option_failures
    return [], failures


def interpret_when(text: str, clinic: Clinic, now: dt.datetime) -> ParseResult:
    """Read a patient's day/time phrase relative to `now` (the message time) in the clinic's timezone.

    Never raises for any text: unusable input gives `DateProblem.UNPARSEABLE`. A naive `now` is taken as clinic time.
    """
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT_CHARS:
        return ParseResult(None, DateProblem.UNPARSEABLE, "no day or time found")
    local_now = now.replace(tzinfo=clinic.tz) if now.tzinfo is None else now.astimezone(clinic.tz)
    today = local_now.date()
    horizon = today + dt.timedelta(weeks=clinic.horizon_weeks)
    normalised = _normalise(text)
    days, rest = _read_days(normalised, clinic, today, horizon)
    time = _read_time(rest, clinic)
    if not days and not time:
        return ParseResult(None, DateProblem.UNPARSEABLE, "no day or time found")
    if not days:
        bare = tuple((today + dt.timedelta(days=i),) for i in range(_BARE_TIME_LOOKAHEAD_DAYS))
        days = [_DayAsk(bare, "", frozenset({"past", "closed", "outside"}))]

    def evaluate(day: dt.date) -> Tuple[str, List[Span]]:
        return _day_spans(day, time, clinic, local_now, horizon)

    spans: List[Span] = []
    failures: List[Tuple[str, dt.date]] = []
    chosen_labels = []
    for ask in days:
        found, failed = _choose(ask, evaluate)
        spans.extend(found)
        failures.extend(failed)
        if all(
            len(option) == 1 for option in ask.options
        ):  # name the day actually meant ("Monday" → its date)
            chosen_labels.append(_date_label(found[0][0].date() if found else failed[0][1], today))
        else:
            chosen_labels.append(ask.label)
    label = _join_label(chosen_labels, time)
    if not spans and not failures:
        return ParseResult(None, DateProblem.UNPARSEABLE, "no day matches that description", label=label)
    if not spans:
        status, day = min(failures, key=lambda f: (_STATUS_ORDER.index(f[0]), f[1]))
        return ParseResult(None, _PROBLEMS[status], _why(status, day, clinic, today, horizon), day, label)
    spans = sorted(set(spans))
    target = None
    if time and time.target:
        target = dt.datetime.combine(spans[0][0].date(), time.target, clinic.tz)
    window = TimeWindow(spans[0][0], spans[-1][1], label, tuple(spans), bool(time and time.exact), target)
    return ParseResult(window, label=label)


_PROBLEMS = {
    "past": DateProblem.PAST,
    "closed": DateProblem.CLOSED,
    "outside": DateProblem.OUTSIDE_HOURS,
    "too_far": DateProblem.TOO_FAR,
}


def _join_label(day_labels: Iterable[str], time: Optional[_TimeAsk]) -> str:
    days = " or ".join(label for label in dict.fromkeys(day_labels) if label)
    if not time:
        return days
    if time.exact:
        return f"{days} {time.label}".strip()
    return f"{days}, {time.label}" if days else time.label


def parse_when(text: str, clinic: Clinic, now: dt.datetime) -> Optional[TimeWindow]:
    """The search window for a phrase, or None (see `interpret_when` for why)."""
    return interpret_when(text, clinic, now).window
