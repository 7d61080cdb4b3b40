"""Answers to practical clinic questions, computed from `clinic.yml` (the one source of truth for clinic facts).

Nothing here is written into `domain.yml`: a clinic that changes its hours or parking edits `clinic.yml` and every
answer follows; the words around the facts are in `data/messages/faq.yml`. Times are computed in the clinic's timezone
from an aware `now`, so a server running in UTC, a
weekend, a bank holiday or a daylight-saving change never shifts an opening time. Texts stay short for WhatsApp.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import Enum
from typing import Callable, Dict, Optional, Tuple

from carebot.clinic import WEEKDAYS, Clinic, Interval, NotOffered
from carebot.messages import render

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


def _say(key: str, **values: object) -> str:
    return render(key, values).text


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
        return _say("faq_day_today", day=name)
    if day == today + dt.timedelta(days=1):
        return _say("faq_day_tomorrow", day=name)
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
    return label if day in (today, today + dt.timedelta(days=1)) else _say("faq_on_day", day=label)


def _next_opening_sentence(clinic: Clinic, after: dt.datetime, today: dt.date) -> str:
    opens = next_opening(clinic, after)
    if opens is None:
        return _say("faq_reopen_unknown", clinic_phone=clinic.phone)
    return _say("faq_reopen", day=_on_day(opens.date(), today), time=f"{opens:%H:%M}")


def _day_sentence(clinic: Clinic, day: dt.date, today: dt.date) -> str:
    """One day's hours, naming the closure reason on a holiday."""
    label = _on_day(day, today)
    closure = clinic.closure_on(day)
    if closure:
        return _say("faq_closed_on_day_for", day=label, reason=closure.reason)
    intervals = clinic.open_intervals(day)
    if not intervals:
        return _say("faq_closed_on_day", day=label)
    return _say("faq_open_on_day", day=_capitalised(label), hours=format_intervals(intervals))


def _hours_on(clinic: Clinic, now: dt.datetime, day: dt.date) -> str:
    today = now.astimezone(clinic.tz).date()
    sentence = _day_sentence(clinic, day, today)
    windows = clinic.open_windows(day)
    if windows and day == today and now >= windows[-1][1]:
        return f"{sentence} {_say('faq_closed_for_today')} {_next_opening_sentence(clinic, now, today)}"
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
    lines = [_say("faq_week_title")]
    for offset in range(7):
        date = first + dt.timedelta(days=offset)
        closure = clinic.closure_on(date)
        intervals = clinic.open_intervals(date)
        if closure:
            hours = _say("faq_week_closed_for", reason=closure.reason)
        else:
            hours = format_intervals(intervals) if intervals else _say("faq_week_closed")
        lines.append(_say("faq_week_line", day=f"{date:%a} {date.day} {date:%b}", hours=hours))
    return "\n".join(lines)


def _open_now(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
    window = current_window(clinic, now)
    if window:
        return _say("faq_open_now", time=f"{window[1]:%H:%M}")
    closure = clinic.closure_on(now.astimezone(clinic.tz).date())
    closed = _say("faq_closed_today_for", reason=closure.reason) if closure else _say("faq_closed_now")
    return f"{closed} {_next_opening_sentence(clinic, now, now.astimezone(clinic.tz).date())}"


def _next_opening(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
    window = current_window(clinic, now)
    if window:
        return _say("faq_open_until", time=f"{window[1]:%H:%M}")
    return _next_opening_sentence(clinic, now, now.astimezone(clinic.tz).date())


def _closures(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
    today = now.astimezone(clinic.tz).date()
    upcoming = sorted((c for c in clinic.closures if c.date >= today), key=lambda c: c.date)
    if not upcoming:
        return _say("faq_no_closures")
    lines = [_say("faq_closures_title")]
    lines += [
        _say("faq_closure_line", day=_capitalised(format_day(c.date, today)), reason=c.reason)
        for c in upcoming
    ]
    return "\n".join(lines)


def _address(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
    text = _say("faq_address", clinic_name=clinic.name, address=clinic.address)
    if clinic.info.get("directions"):
        text += f"\n{clinic.info['directions']}"
    return text


def _phone(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
    sentences = [_say("faq_phone", clinic_name=clinic.name, clinic_phone=clinic.phone)]
    if clinic.urgent_advice_line:
        sentences.append(_say("faq_phone_when_closed", urgent_line=clinic.urgent_advice_line))
    sentences.append(_say("faq_phone_emergency", emergency_number=clinic.emergency_number))
    return " ".join(sentences)


def _emergency(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
    sentences = [_say("faq_emergency", emergency_number=clinic.emergency_number)]
    if clinic.urgent_advice_line:
        sentences.append(_say("faq_emergency_urgent_line", urgent_line=clinic.urgent_advice_line))
    sentences.append(
        _say(
            "faq_emergency_crisis_line",
            crisis_line_name=clinic.crisis_line_name,
            crisis_line_number=clinic.crisis_line_number,
        )
    )
    return " ".join(sentences)


def _services(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
    lines = [_say("faq_services_title")]
    for service in clinic.services:
        lines.append(
            _say("faq_service_for", service=service.name, who_for=service.who_for)
            if service.who_for
            else _say("faq_service", service=service.name)
        )
    return "\n".join(lines)


def not_offered(item: NotOffered) -> str:
    """ "We don't offer dental care" with where to go instead (clinic.yml `not_offered`)."""
    return _say("faq_not_offered", service=item.name, instead=item.instead).strip()


def not_offered_answer(clinic: Clinic, item: NotOffered, now: dt.datetime) -> str:
    """The answer to a question about a service the clinic does not offer: that, then what it does offer."""
    return f"{not_offered(item)}\n{_services(clinic, now, None)}"


def _info(key: str, message: str) -> Callable[[Clinic, dt.datetime, Optional[dt.date]], str]:
    """An answer read from clinic.yml's `clinic:` section, or a pointer to the phone if the clinic left it out."""

    def answer_info(clinic: Clinic, now: dt.datetime, day: Optional[dt.date]) -> str:
        value = clinic.info.get(key)
        if not value:
            return _say("faq_info_missing", clinic_phone=clinic.phone)
        return _say(message, value=value)

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
    Topic.WHAT_TO_BRING: _info("what_to_bring", "faq_what_to_bring"),
    Topic.PARKING: _info("parking", "faq_parking"),
    Topic.ACCESSIBILITY: _info("accessibility", "faq_accessibility"),
    Topic.WEBSITE: _info("website", "faq_website"),
}


def answer(topic: str, clinic: Clinic, now: dt.datetime, day: Optional[dt.date] = None) -> str:
    """The answer to a fixed-fact question. `now` must be timezone-aware; `day` picks the day for HOURS_DAY/WEEK."""
    if now.tzinfo is None:
        raise ValueError(
            "now must be timezone-aware (a naive time cannot be placed in the clinic's timezone)"
        )
    try:
        key = Topic(topic)
    except ValueError:
        raise ValueError(
            f"unknown FAQ topic '{topic}' (known: {', '.join(t.value for t in Topic)})"
        ) from None
    return _ANSWERS[key](clinic, now, day)
