"""Answers to practical clinic questions, computed from `clinic.yml` (the one source of truth for clinic facts).

Nothing here is written into `domain.yml`: a clinic that changes its hours or parking edits `clinic.yml` and every
answer follows. Times are computed in the clinic's timezone from an aware `now`, so a server running in UTC, a
weekend, a bank holiday or a daylight-saving change never shifts an opening time. Texts stay short for WhatsApp.
"""
from __future__ import annotations

import datetime as dt
import re
from enum import Enum
from typing import Callable, Dict, Optional, Tuple

from carebot.clinic import WEEKDAYS, Clinic, Interval

# A long closure (refurbishment, holidays back to back) can hide the next opening; beyond this we send people to the phone.
SEARCH_DAYS = 60


class Topic(str, Enum):
    """The fixed-fact questions; the value is what the custom action passes (see data/nlu/faq.yml)."""

    HOURS_TODAY = "hours_today"
    HOURS_DAY = "hours_day"
    HOURS_WEEK = "hours_week"
    OPEN_NOW = "open_now"
    NEXT_OPENING = "next_opening"
    CLOSURES = "closures"
    ADDRESS = "address"
    PHONE = "phone"
    SERVICES = "services"
    WHAT_TO_BRING = "what_to_bring"
    PARKING = "parking"
    ACCESSIBILITY = "accessibility"
    WEBSITE = "website"
    EMERGENCY = "emergency"


def _clock(value: dt.time) -> str:
    return "24:00" if value == dt.time(23, 59, 59) else value.strftime("%H:%M")


def format_intervals(intervals: Tuple[Interval, ...]) -> str:
    """'08:00–12:30 and 13:30–18:30' — the way a receptionist would say it."""
    spans = [f"{_clock(start)}–{_clock(end)}" for start, end in intervals]
    return spans[0] if len(spans) == 1 else ", ".join(spans[:-1]) + " and " + spans[-1]


def format_day(day: dt.date, today: dt.date) -> str:
    """'today (Friday 27 November)', 'tomorrow (…)' or 'Monday 30 November'."""
    name = f"{day:%A} {day.day} {day:%B}"
    if day.year != today.year:
        name += f" {day.year}"
    if day == today:
        return f"today ({name})"
    if day == today + dt.timedelta(days=1):
        return f"tomorrow ({name})"
    return name


def next_opening(clinic: Clinic, now: dt.datetime) -> Optional[dt.datetime]:
    """The first opening time strictly after `now` (clinic-local, aware), or None if none within SEARCH_DAYS."""
    local = now.astimezone(clinic.tz)
    for offset in range(SEARCH_DAYS):
        day = local.date() + dt.timedelta(days=offset)
        for opens, _ in clinic.open_windows(day):
            if opens > local:
                return opens
    return None


def current_window(clinic: Clinic, now: dt.datetime) -> Optional[Tuple[dt.datetime, dt.datetime]]:
    """The opening window `now` falls in, if the clinic is open."""
    local = now.astimezone(clinic.tz)
    return next(((o, c) for o, c in clinic.open_windows(local.date()) if o <= local < c), None)


def resolve_day(text: str, clinic: Clinic, now: dt.datetime) -> Optional[dt.date]:
    """The date a patient means by 'today', 'tomorrow' or a weekday name ('sat', 'on Saturday' = the next one)."""
    today = now.astimezone(clinic.tz).date()
    words = re.findall(r"[a-z]+", text.lower())
    if "today" in words or "tonight" in words:
        return today
    if "tomorrow" in words:
        return today + dt.timedelta(days=1)
    for word in words:
        for index, name in enumerate(WEEKDAYS):
            if len(word) >= 3 and name.startswith(word):
                return today + dt.timedelta(days=(index - today.weekday()) % 7)
    return None


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _on_day(day: dt.date, today: dt.date) -> str:
    """'today (…)', 'tomorrow (…)' or 'on Monday 30 November', to follow a verb."""
    label = format_day(day, today)
    return label if day in (today, today + dt.timedelta(days=1)) else f"on {label}"


def _next_opening_sentence(clinic: Clinic, after: dt.datetime, today: dt.date) -> str:
    opens = next_opening(clinic, after)
    if opens is None:
        return f"Please call us on {clinic.phone} to check when we reopen."
    return f"We open again {_on_day(opens.date(), today)} at {opens:%H:%M}."


def _day_sentence(clinic: Clinic, day: dt.date, today: dt.date) -> str:
    """One day's hours, naming the closure reason on a holiday."""
    label = _on_day(day, today)
    closure = clinic.closure_on(day)
    if closure:
        return f"We're closed {label} for {closure.reason}."
    intervals = clinic.open_intervals(day)
    if not intervals:
        return f"We're closed {label}."
    return f"{_capitalised(label)} we're open {format_intervals(intervals)}."


def _hours_on(clinic: Clinic, now: dt.datetime, day: dt.date) -> str:
    today = now.astimezone(clinic.tz).date()
    sentence = _day_sentence(clinic, day, today)
    windows = clinic.open_windows(day)
    if windows and day == today and now >= windows[-1][1]:
        return f"{sentence} We've closed for today. {_next_opening_sentence(clinic, now, today)}"
    if windows:
        return sentence
    start_of_day = dt.datetime.combine(day, dt.time(0, 0), clinic.tz)
    return f"{sentence} {_next_opening_sentence(clinic, max(start_of_day, now), today)}"


def _hours_today(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
    return _hours_on(clinic, now, now.astimezone(clinic.tz).date())


def _hours_day(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
    return _hours_on(clinic, now, day or now.astimezone(clinic.tz).date())


def _hours_week(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
    """Seven days from `day` (default today): what a patient planning a visit needs, closures included."""
    today = now.astimezone(clinic.tz).date()
    first = day or today
    lines = ["Our opening hours for the next 7 days:"]
    for offset in range(7):
        date = first + dt.timedelta(days=offset)
        closure = clinic.closure_on(date)
        intervals = clinic.open_intervals(date)
        if closure:
            hours = f"closed ({closure.reason})"
        else:
            hours = format_intervals(intervals) if intervals else "closed"
        lines.append(f"{date:%a} {date.day} {date:%b}: {hours}")
    return "\n".join(lines)


def _open_now(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
    window = current_window(clinic, now)
    if window:
        return f"Yes, we're open now until {window[1]:%H:%M}."
    closure = clinic.closure_on(now.astimezone(clinic.tz).date())
    reason = f" today for {closure.reason}" if closure else " right now"
    return f"No, we're closed{reason}. {_next_opening_sentence(clinic, now, now.astimezone(clinic.tz).date())}"


def _next_opening(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
    window = current_window(clinic, now)
    if window:
        return f"We're open now until {window[1]:%H:%M}."
    return _next_opening_sentence(clinic, now, now.astimezone(clinic.tz).date())


def _closures(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
    today = now.astimezone(clinic.tz).date()
    upcoming = sorted((c for c in clinic.closures if c.date >= today), key=lambda c: c.date)
    if not upcoming:
        return "We have no holiday closures planned, so our usual weekly hours apply."
    lines = ["We're closed on these days:"]
    lines += [f"• {_capitalised(format_day(c.date, today))}: {c.reason}" for c in upcoming]
    return "\n".join(lines)


def _address(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
    text = f"{clinic.name}, {clinic.address}."
    if clinic.info.get("directions"):
        text += f"\n{clinic.info['directions']}"
    return text


def _phone(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
    text = f"You can call {clinic.name} on {clinic.phone}."
    if clinic.urgent_advice_line:
        text += f" When we're closed, call {clinic.urgent_advice_line} for urgent medical advice."
    return text + f" In an emergency call {clinic.emergency_number}."


def _emergency(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
    text = f"In an emergency call {clinic.emergency_number} now."
    if clinic.urgent_advice_line:
        text += f" For urgent advice that is not an emergency, call {clinic.urgent_advice_line}."
    return text + f" If you are struggling to cope, {clinic.crisis_line_name} listen any time on {clinic.crisis_line_number}."


def _services(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
    lines = ["We offer:"]
    for service in clinic.services:
        lines.append(f"• {service.name}" + (f" — {service.who_for}" if service.who_for else ""))
    return "\n".join(lines)


def _info(key: str, lead: str) -> Callable[[Clinic, dt.datetime, Optional[dt.date]], str]:
    """An answer read from clinic.yml's `clinic:` section, or a pointer to the phone if the clinic left it out."""

    def answer_info(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
        value = clinic.info.get(key)
        if not value:
            return f"I don't have that information. Please call us on {clinic.phone}."
        return f"{lead}{value}"

    return answer_info


_ANSWERS: Dict[Topic, Callable[[Clinic, dt.datetime, Optional[dt.date]], str]] = {
    Topic.HOURS_TODAY: _hours_today,
    Topic.HOURS_DAY: _hours_day,
    Topic.HOURS_WEEK: _hours_week,
    Topic.OPEN_NOW: _open_now,
    Topic.NEXT_OPENING: _next_opening,
    Topic.CLOSURES: _closures,
    Topic.ADDRESS: _address,
    Topic.PHONE: _phone,
    Topic.EMERGENCY: _emergency,
    Topic.SERVICES: _services,
    Topic.WHAT_TO_BRING: _info("what_to_bring", "Please bring: "),
    Topic.PARKING: _info("parking", "Parking: "),
    Topic.ACCESSIBILITY: _info("accessibility", "Access: "),
    Topic.WEBSITE: _info("website", "Our website: "),
}


def answer(topic: str, clinic: Clinic, now: dt.datetime, day: Optional[dt.date] = None) -> str:
    """The answer to a fixed-fact question. `now` must be timezone-aware; `day` picks the day for HOURS_DAY/WEEK."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (a naive time cannot be placed in the clinic's timezone)")
    try:
        key = Topic(topic)
    except ValueError:
        raise ValueError(f"unknown FAQ topic '{topic}' (known: {', '.join(t.value for t in Topic)})") from None
    return _ANSWERS[key](clinic, now, day)
