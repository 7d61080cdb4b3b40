"""Load and validate `clinic.yml`, the single source of every clinic-specific fact.

Designers edit the file by hand, so every problem is reported as `file:line: message` instead of a traceback,
and all times are interpreted in the clinic's own timezone (appointments are local events, not UTC ones).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from carebot import settings
from carebot.clock import clinic_now

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
DATE_ORDERS = ("DMY", "MDY", "YMD")
# Where patients write month-first numeric dates (03/12 = 12 March); everywhere else day-first is the safer default.
_MONTH_FIRST_ZONES = (
    "US/",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "America/Detroit",
    "America/Boise",
    "America/Indiana/",
    "America/Kentucky/",
    "America/North_Dakota/",
    "Pacific/Honolulu",
)

Interval = Tuple[dt.time, dt.time]


class ClinicConfigError(ValueError):
    """A problem in the clinic file, phrased for the person who edits it."""

    def __init__(self, path: Path, line: Optional[int], message: str) -> None:
        self.path, self.line, self.message = path, line, message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class WeeklyHours:
    """Opening intervals per weekday (0 = Monday), in clinic-local wall-clock time."""

    by_weekday: Tuple[Tuple[Interval, ...], ...]

    def intervals(self, weekday: int) -> Tuple[Interval, ...]:
        return self.by_weekday[weekday]


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    duration_minutes: int
    who_for: str
    aliases: Tuple[str, ...]


@dataclass(frozen=True)
class NotOffered:
    """A service patients ask for that the clinic does not offer; `instead` says where to go (may be empty)."""

    id: str
    name: str
    aliases: Tuple[str, ...]
    instead: str = ""


@dataclass(frozen=True)
class Provider:
    id: str
    name: str
    services: Tuple[str, ...]
    hours: Optional[WeeklyHours] = None


@dataclass(frozen=True)
class Closure:
    date: dt.date
    reason: str


@dataclass(frozen=True)
class TapToAnswer:
    """How WhatsApp offers buttons (carebot/channels/content.py): as buttons at all, in which language, and the
    label of the button that opens a list picker (WhatsApp shows at most 20 characters)."""

    enabled: bool = True
    language: str = "en"
    list_button: str = "Choose"


@dataclass(frozen=True)
class Clinic:
    """The validated clinic file. Query methods answer in clinic-local time."""

    name: str
    timezone: str
    phone: str
    address: str
    emergency_number: str
    urgent_advice_line: str
    crisis_line_name: str
    crisis_line_number: str
    hours: WeeklyHours
    staff_hours: WeeklyHours
    closures: Tuple[Closure, ...]
    services: Tuple[Service, ...]
    providers: Tuple[Provider, ...]
    slot_minutes: int
    horizon_weeks: int
    offer_count: int
    on_call_whatsapp: str
    staff_reply_within_minutes: int
    appointment_reminder_hours: Tuple[int, ...]
    reminder_grace_minutes: int
    reminder_no_reply_minutes: int
    templates: Dict[str, str]
    info: Dict[str, str] = field(default_factory=dict)
    tap_to_answer: TapToAnswer = field(default_factory=TapToAnswer)
    # Meta's messaging tier: unique patients per 24 h the clinic may start a conversation with (0: no limit).
    whatsapp_daily_recipient_limit: int = 0
    # Reminders due at one moment leave within +- this many minutes of it, spread per reminder (0: exactly on time).
    reminder_spread_minutes: int = 5
    date_order: str = "DMY"
    not_offered: Tuple[NotOffered, ...] = ()
    # The waitlist (carebot.waitlist): offer a freed slot to one patient at a time, held for `hold_minutes`
    # ("hold"), or to `offer_at_once` patients together, the first "yes" booking it ("first_tap_wins").
    waitlist_mode: str = "hold"
    waitlist_hold_minutes: int = 15
    waitlist_offer_at_once: int = 3
    # The identity check (carebot.identity): a date of birth before appointments are shown or changed, again after
    # `recheck_days`; `attempts` wrong answers lock appointment access for `lock_minutes` and open a staff case.
    identity_check_enabled: bool = True
    identity_recheck_days: int = 90
    identity_attempts: int = 3
    identity_lock_minutes: int = 60
    # An appointment not confirmed (the reminder's "Confirm") this many hours before its start is shown to staff.
    confirm_cutoff_hours: int = 12

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def now(self) -> dt.datetime:
        return clinic_now(self.tz)

    def closure_on(self, day: dt.date) -> Optional[Closure]:
        return next((c for c in self.closures if c.date == day), None)

    def open_intervals(self, day: dt.date, provider: Optional[Provider] = None) -> Tuple[Interval, ...]:
        """Opening intervals on a calendar day: none on a closure, a provider's own hours where set."""
        if self.closure_on(day):
            return ()
        hours = provider.hours if provider and provider.hours else self.hours
        return hours.intervals(day.weekday())

    def open_windows(
        self, day: dt.date, provider: Optional[Provider] = None
    ) -> List[Tuple[dt.datetime, dt.datetime]]:
        """Opening intervals on a day as aware datetimes (handles the DST change days correctly)."""
        return [
            (dt.datetime.combine(day, start, self.tz), dt.datetime.combine(day, end, self.tz))
            for start, end in self.open_intervals(day, provider)
        ]

    def is_open_at(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(self.tz)
        return any(start <= local.time() < end for start, end in self.open_intervals(local.date()))

    def staff_available_at(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(self.tz)
        if self.closure_on(local.date()):
            return False
        return any(start <= local.time() < end for start, end in self.staff_hours.intervals(local.weekday()))

    def next_staff_time(self, moment: dt.datetime) -> dt.datetime:
        """When staff are next on duty at or after `moment` (for "someone will reply at …")."""
        local = moment.astimezone(self.tz)
        for offset in range(0, 15):
            day = local.date() + dt.timedelta(days=offset)
            if self.closure_on(day):
                continue
            for start, end in self.staff_hours.intervals(day.weekday()):
                opens = dt.datetime.combine(day, start, self.tz)
                closes = dt.datetime.combine(day, end, self.tz)
                if local < closes:
                    return max(opens, local)
        raise ValueError("no staff hours in the next two weeks")

    def service(self, service_id: str) -> Optional[Service]:
        return next((s for s in self.services if s.id == service_id), None)

    def unoffered(self, service_id: str) -> Optional[NotOffered]:
        return next((s for s in self.not_offered if s.id == service_id), None)

    def provider(self, provider_id: str) -> Optional[Provider]:
        return next((p for p in self.providers if p.id == provider_id), None)

    def providers_for(self, service_id: str) -> List[Provider]:
        return [p for p in self.providers if service_id in p.services]

    def match_service(self, text: str) -> Optional[Service]:
        """The service a patient's words name (id, name or alias; longest alias wins)."""
        lowered = f" {re.sub(r'[^a-z0-9 ]+', ' ', text.lower())} "
        best: Tuple[int, Optional[Service]] = (0, None)
        for service in self.services:
            for alias in (service.id, service.name, *service.aliases):
                needle = re.sub(r"[^a-z0-9 ]+", " ", alias.lower()).strip()
                if needle and f" {needle} " in lowered and len(needle) > best[0]:
                    best = (len(needle), service)
        return best[1]

    def match_provider(self, text: str) -> Optional[Provider]:
        """The provider a patient names: full name, or surname alone ("Dr Patel", "patel")."""
        lowered = f" {re.sub(r'[^a-z0-9 ]+', ' ', text.lower())} "
        for provider in self.providers:
            words = re.sub(r"[^a-z0-9 ]+", " ", provider.name.lower()).split()
            if words and f" {words[-1]} " in lowered:
                return provider
        return None


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that keeps the node tree, so errors can point at the line a designer must fix."""


def node_line(root: Optional[yaml.Node], path: Sequence[Any]) -> Optional[int]:
    """The line of the value at `path` (keys and list indexes) in a composed YAML tree; the nearest parent's line
    when the path goes further than the file does (a missing key is reported where it belongs)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for key in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


class _Reader:
    """Typed access to the raw mapping that raises ClinicConfigError with the line of the offending key."""

    def __init__(self, path: Path, data: Any, root: Optional[yaml.Node]) -> None:
        self.path, self.data, self.root = path, data, root

    def fail(self, where: Sequence[Any], message: str) -> ClinicConfigError:
        return ClinicConfigError(self.path, node_line(self.root, where), message)

    def get(self, where: Sequence[Any], kind: type, default: Any = None, required: bool = True) -> Any:
        value: Any = self.data
        for key in where:
            if isinstance(value, dict) and key in value:
                value = value[key]
            elif isinstance(value, list) and isinstance(key, int) and key < len(value):
                value = value[key]
            else:
                if required:
                    dotted = ".".join(str(k) for k in where)
                    raise self.fail(where[:-1], f"'{dotted}' is missing")
                return default
        if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            dotted = ".".join(str(k) for k in where)
            raise self.fail(where, f"'{dotted}' must be a {kind.__name__}, found {type(value).__name__}")
        return value

    def weekly_hours(self, where: Sequence[Any], required: bool = True) -> Optional[WeeklyHours]:
        raw = self.get(where, dict, required=required)
        if raw is None:
            return None
        unknown = set(raw) - set(WEEKDAYS)
        if unknown:
            raise self.fail(where, f"unknown weekday '{sorted(unknown)[0]}' (use {', '.join(WEEKDAYS)})")
        days = []
        for day in WEEKDAYS:
            spans = self.get([*where, day], list, default=[], required=False) or []
            parsed = [self._interval([*where, day, i], text) for i, text in enumerate(spans)]
            parsed.sort()
            for (_, end), (start, _) in zip(parsed, parsed[1:]):
                if start < end:
                    raise self.fail([*where, day], f"opening intervals on {day} overlap")
            days.append(tuple(parsed))
        return WeeklyHours(tuple(days))

    def _interval(self, where: Sequence[Any], text: Any) -> Interval:
        match = _INTERVAL.match(str(text))
        if not match:
            raise self.fail(where, f"'{text}' is not an interval like 08:00-12:30")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
            raise self.fail(where, f"'{text}' has an impossible time")
        start = dt.time(h1, m1)
        end = dt.time(23, 59, 59) if h2 == 24 else dt.time(h2, m2)
        if end <= start:
            raise self.fail(where, f"'{text}' ends before it starts")
        return start, end


def default_date_order(timezone: str) -> str:
    """How numeric dates are read when clinic.yml does not say: month-first in US zones, day-first elsewhere."""
    return "MDY" if timezone.startswith(_MONTH_FIRST_ZONES) else "DMY"


def _parse(path: Path) -> Tuple[Any, Optional[yaml.Node]]:
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=_LineLoader)
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise ClinicConfigError(path, mark.line + 1 if mark else None, f"not valid YAML: {problem}") from None
    return data, root


def load_clinic(path: Optional[os.PathLike] = None) -> Clinic:
    """Read and validate the clinic file (`CLINIC_FILE` env var, else ./clinic.yml of the project)."""
    file = Path(path or settings.current().clinic_file)
    if not file.exists():
        raise ClinicConfigError(file, None, "clinic file not found")
    data, root = _parse(file)
    if not isinstance(data, dict):
        raise ClinicConfigError(
            file, 1, "the clinic file must be a mapping of sections (clinic:, opening_hours:, …)"
        )
    r = _Reader(file, data, root)

    timezone = r.get(["clinic", "timezone"], str)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise r.fail(
            ["clinic", "timezone"], f"unknown timezone '{timezone}' (use an IANA name like Europe/London)"
        )

    date_order = r.get(
        ["clinic", "date_order"], str, default=default_date_order(timezone), required=False
    ).upper()
    if date_order not in DATE_ORDERS:
        raise r.fail(
            ["clinic", "date_order"],
            f"date_order must be one of {', '.join(DATE_ORDERS)} (DMY: 03/12 is 3 December)",
        )

    services = []
    for i, _ in enumerate(r.get(["services"], list)):
        sid = r.get(["services", i, "id"], str)
        services.append(
            Service(
                id=sid,
                name=r.get(["services", i, "name"], str),
                duration_minutes=r.get(["services", i, "duration_minutes"], int, default=15, required=False),
                who_for=r.get(["services", i, "who_for"], str, default="", required=False),
                aliases=tuple(
                    str(a) for a in r.get(["services", i, "aliases"], list, default=[], required=False)
                ),
            )
        )
    service_ids = [s.id for s in services]
    if len(set(service_ids)) != len(service_ids):
        raise r.fail(["services"], "two services share an id")
    if not services:
        raise r.fail(["services"], "list at least one service")

    not_offered = _not_offered(r, services)

    providers = []
    for i, _ in enumerate(r.get(["providers"], list)):
        offered = tuple(str(s) for s in r.get(["providers", i, "services"], list))
        for j, sid in enumerate(offered):
            if sid not in service_ids:
                raise r.fail(
                    ["providers", i, "services", j],
                    f"unknown service '{sid}' (known: {', '.join(service_ids)})",
                )
        providers.append(
            Provider(
                id=r.get(["providers", i, "id"], str),
                name=r.get(["providers", i, "name"], str),
                services=offered,
                hours=r.weekly_hours(["providers", i, "opening_hours"], required=False),
            )
        )
    if len({p.id for p in providers}) != len(providers):
        raise r.fail(["providers"], "two providers share an id")

    closures = []
    for i, _ in enumerate(r.get(["closures"], list, default=[], required=False) or []):
        day = r.get(["closures", i, "date"], dt.date)
        closures.append(Closure(day, r.get(["closures", i, "reason"], str, default="Closed", required=False)))

    slot_minutes = r.get(["booking", "slot_minutes"], int, default=15, required=False)
    if slot_minutes <= 0 or 60 % slot_minutes and slot_minutes % 60:
        raise r.fail(["booking", "slot_minutes"], "slot_minutes must divide an hour (5, 10, 15, 20, 30, 60)")
    for i, service in enumerate(services):
        if service.duration_minutes <= 0 or service.duration_minutes % slot_minutes:
            raise r.fail(
                ["services", i, "duration_minutes"],
                f"duration must be a multiple of slot_minutes ({slot_minutes})",
            )

    hours = r.weekly_hours(["opening_hours"])
    templates = r.get(["whatsapp", "templates"], dict, default={}, required=False) or {}
    tap = ["whatsapp", "tap_to_answer"]
    list_button = r.get([*tap, "list_button"], str, default=TapToAnswer.list_button, required=False).strip()
    if not 0 < len(list_button) <= 20:
        raise r.fail([*tap, "list_button"], "list_button must be 1 to 20 characters (WhatsApp's limit)")
    spread_minutes = r.get(["reminders", "spread_minutes"], int, default=5, required=False)
    if not 0 <= spread_minutes <= 30:
        raise r.fail(["reminders", "spread_minutes"], "spread_minutes must be from 0 to 30")
    daily_limit = r.get(["whatsapp", "daily_recipient_limit"], int, default=0, required=False)
    if daily_limit < 0:
        raise r.fail(
            ["whatsapp", "daily_recipient_limit"], "daily_recipient_limit must be 0 (no limit) or more"
        )
    tap_to_answer = TapToAnswer(
        enabled=r.get([*tap, "enabled"], bool, default=True, required=False),
        language=r.get([*tap, "language"], str, default=TapToAnswer.language, required=False),
        list_button=list_button,
    )
    info_keys = ("directions", "parking", "accessibility", "what_to_bring", "website")
    return Clinic(
        name=r.get(["clinic", "name"], str),
        timezone=timezone,
        phone=r.get(["clinic", "phone"], str),
        address=r.get(["clinic", "address"], str),
        emergency_number=r.get(["emergency", "number"], str),
        urgent_advice_line=r.get(["emergency", "urgent_advice_line"], str, default="", required=False),
        crisis_line_name=r.get(["emergency", "crisis_line", "name"], str),
        crisis_line_number=r.get(["emergency", "crisis_line", "number"], str),
        hours=hours,
        staff_hours=r.weekly_hours(["staff", "hours"], required=False) or hours,
        closures=tuple(closures),
        services=tuple(services),
        providers=tuple(providers),
        slot_minutes=slot_minutes,
        horizon_weeks=r.get(["booking", "horizon_weeks"], int, default=8, required=False),
        offer_count=r.get(["booking", "offer_count"], int, default=5, required=False),
        on_call_whatsapp=r.get(["staff", "on_call_whatsapp"], str, default="", required=False),
        staff_reply_within_minutes=r.get(["staff", "reply_within_minutes"], int, default=30, required=False),
        appointment_reminder_hours=tuple(
            int(h)
            for h in r.get(["reminders", "appointment_before_hours"], list, default=[24, 2], required=False)
        ),
        reminder_grace_minutes=r.get(["reminders", "grace_minutes"], int, default=120, required=False),
        reminder_no_reply_minutes=r.get(["reminders", "no_reply_minutes"], int, default=120, required=False),
        confirm_cutoff_hours=r.get(["reminders", "confirm_cutoff_hours"], int, default=12, required=False),
        templates={str(k): str(v) for k, v in templates.items()},
        tap_to_answer=tap_to_answer,
        whatsapp_daily_recipient_limit=daily_limit,
        reminder_spread_minutes=spread_minutes,
        info={k: str(data["clinic"][k]) for k in info_keys if data["clinic"].get(k)},
        date_order=date_order,
        not_offered=not_offered,
        **_waitlist(r),
        **_identity_check(r),
    )


WAITLIST_MODES = ("hold", "first_tap_wins")


def _identity_check(r: _Reader) -> Dict[str, Any]:
    """clinic.yml `identity_check:` (optional): enabled, recheck_days, attempts, lock_minutes, each with its line."""
    values: Dict[str, Any] = {
        "identity_check_enabled": r.get(["identity_check", "enabled"], bool, default=True, required=False)
    }
    limits = (("recheck_days", 90, 0, 3650), ("attempts", 3, 1, 10), ("lock_minutes", 60, 1, 7 * 24 * 60))
    for key, default, low, high in limits:
        number = r.get(["identity_check", key], int, default=default, required=False)
        if not low <= number <= high:
            raise r.fail(["identity_check", key], f"identity_check.{key} must be from {low} to {high}")
        values[f"identity_{key}"] = number
    return values


def _waitlist(r: _Reader) -> Dict[str, Any]:
    """clinic.yml `waitlist:` (optional): mode, hold_minutes, offer_at_once, each checked with its line."""
    mode = r.get(["waitlist", "mode"], str, default="hold", required=False)
    if mode not in WAITLIST_MODES:
        raise r.fail(["waitlist", "mode"], f"waitlist.mode must be one of {', '.join(WAITLIST_MODES)}")
    values = {"waitlist_mode": mode}
    for key, default, low, high in (("hold_minutes", 15, 1, 24 * 60), ("offer_at_once", 3, 1, 50)):
        number = r.get(["waitlist", key], int, default=default, required=False)
        if not low <= number <= high:
            raise r.fail(["waitlist", key], f"waitlist.{key} must be from {low} to {high}")
        values[f"waitlist_{key}"] = number
    return values


def _not_offered(r: _Reader, services: Sequence[Service]) -> Tuple[NotOffered, ...]:
    """The `not_offered:` section; an alias that also names an offered service would turn real requests away."""
    offered = {a.lower() for s in services for a in (s.id, s.name, *s.aliases)}
    found = []
    for i, _ in enumerate(r.get(["not_offered"], list, default=[], required=False) or []):
        aliases = tuple(str(a) for a in r.get(["not_offered", i, "aliases"], list))
        if not aliases:
            raise r.fail(["not_offered", i, "aliases"], "list the words patients use for this service")
        for j, alias in enumerate(aliases):
            if alias.lower() in offered:
                raise r.fail(
                    ["not_offered", i, "aliases", j], f"'{alias}' also names a service the clinic offers"
                )
        found.append(
            NotOffered(
                id=r.get(["not_offered", i, "id"], str),
                name=r.get(["not_offered", i, "name"], str),
                aliases=aliases,
                instead=r.get(["not_offered", i, "instead"], str, default="", required=False),
            )
        )
    if len({s.id for s in found}) != len(found):
        raise r.fail(["not_offered"], "two entries share an id")
    return tuple(found)
