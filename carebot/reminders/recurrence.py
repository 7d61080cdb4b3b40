"""Turn a patient's reminder phrasing into an iCalendar RRULE, and expand RRULEs in the clinic timezone.

Recurrence itself is python-dateutil's `rrule` (RFC 5545); this module only maps words onto rule parts and back
into plain words, so the stored rule can be read by any iCalendar tool and the bot can confirm it to the patient.

Times are wall-clock times in the clinic timezone: "8am every day" stays 08:00 local across DST changes, so daily
and weekly rules are expanded on floating local times and then placed in the zone. Sub-daily rules ("every 8 hours")
are about elapsed time (an antibiotic every 8 hours needs 8 real hours between doses), so those are expanded in UTC.
A rule may hold several RRULE lines, because one RRULE cannot say "08:30 and 20:00" without also producing
08:00 and 20:30 (BYHOUR x BYMINUTE); times are grouped by minute, one line per group.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

import yaml
from dateutil.rrule import rrulestr

from carebot.settings import PROJECT_ROOT

UTC = dt.timezone.utc
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DEFAULT_MEDICINES_FILE = PROJECT_ROOT / "data" / "patterns" / "medicines.yml"

# Words for parts of the day, as clock times. Patients can always say an exact time instead.
DAY_PARTS: Dict[str, Tuple[int, int]] = {
    "morning": (8, 0),
    "breakfast": (8, 0),
    "noon": (12, 0),
    "midday": (12, 0),
    "lunchtime": (12, 0),
    "lunch": (12, 0),
    "afternoon": (14, 0),
    "evening": (18, 0),
    "dinner": (18, 0),
    "supper": (18, 0),
    "night": (21, 0),
    "tonight": (21, 0),
    "bedtime": (22, 0),
    "midnight": (0, 0),
}
# "twice a day" and friends: conventional dosing times, said back to the patient so they can change them.
TIMES_PER_DAY: Dict[int, Tuple[Tuple[int, int], ...]] = {
    1: ((8, 0),),
    2: ((8, 0), (20, 0)),
    3: ((8, 0), (14, 0), (20, 0)),
    4: ((8, 0), (12, 0), (16, 0), (20, 0)),
}
DEFAULT_TIME = DAY_PARTS["morning"]
NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "once": 1,
    "two": 2,
    "twice": 2,
    "three": 3,
    "thrice": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fourteen": 14,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty-five": 45,
    "sixty": 60,
    "ninety": 90,
    "other": 2,
    "second": 2,
    "third": 3,
}
_NUM = r"(?:\d+|" + "|".join(sorted(map(re.escape, NUMBER_WORDS), key=len, reverse=True)) + r")"
_DAYS = r"(?:monday|tuesday|tues|wednesday|thursday|thurs|friday|saturday|sunday)"
_DAY_INDEX = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_CLOCK = r"(?:\d{1,2}(?:[:.]\d{2})?\s*(?:a\.?m\.?|p\.?m\.?|o'?clock|h)?|noon|midday|midnight)"
_STRICT_CLOCK = r"(?:\d{1,2}[:.]\d{2}\s*(?:a\.?m\.?|p\.?m\.?)?|\d{1,2}\s*(?:a\.?m\.?|p\.?m\.?|o'?clock)|noon|midday|midnight)"
_LIST = r"(?:\s*(?:,|and|&|or)\s*(?:at\s+)?" + _CLOCK + r")*"
_DOSE = re.compile(
    r"\b(\d+(?:[.,]\d+)?\s*(?:mg|mcg|µg|ug|micrograms?|milligrams?|g|grams?|ml|millilitres?|units?|iu|%)"
    r"|(?:\d+|one|two|three|half an?|a|an)\s+(?:tablets?|pills?|puffs?|drops?|capsules?|caps|sachets?|spoonfuls?|"
    r"teaspoons?|injections?|patch(?:es)?))(?=\W|$)",
    re.I,
)


class ReminderParseError(ValueError):
    """The phrasing did not say what or when; `missing` tells the bot which question to ask next."""

    def __init__(
        self, message: str, missing: str, medication: Optional[str] = None, dose: Optional[str] = None
    ):
        super().__init__(message)
        self.missing, self.medication, self.dose = missing, medication, dose


@dataclass(frozen=True)
class Schedule:
    """The structured form of a rule, in floating clinic-local time (the RRULE string is derived from it)."""

    freq: str  # DAILY | WEEKLY | MONTHLY | HOURLY | MINUTELY
    dtstart: dt.datetime  # naive, local wall clock: the first occurrence
    interval: int = 1
    byday: Tuple[str, ...] = ()
    times: Tuple[Tuple[int, int], ...] = ()
    until: Optional[dt.datetime] = None  # naive local
    count: Optional[int] = None

    @property
    def one_off(self) -> bool:
        return self.count == 1

    @property
    def sub_daily(self) -> bool:
        return self.freq in ("HOURLY", "MINUTELY")

    def to_rrule(self) -> str:
        """RRULE content lines; one line per distinct minute so BYHOUR x BYMINUTE adds no stray times."""
        base = [f"FREQ={self.freq}"]
        if self.interval != 1:
            base.append(f"INTERVAL={self.interval}")
        if self.until is not None:
            base.append(f"UNTIL={self.until:%Y%m%dT%H%M%S}")
        if self.count is not None:
            base.append(f"COUNT={self.count}")
        if self.byday:
            base.append("BYDAY=" + ",".join(self.byday))
        if self.one_off or self.sub_daily or not self.times:
            return "RRULE:" + ";".join(base)
        by_minute: Dict[int, List[int]] = {}
        for hour, minute in sorted(self.times):
            by_minute.setdefault(minute, []).append(hour)
        return "\n".join(
            "RRULE:"
            + ";".join(base + [f"BYHOUR={','.join(map(str, hours))}", f"BYMINUTE={minute}", "BYSECOND=0"])
            for minute, hours in sorted(by_minute.items(), key=lambda item: min(item[1]))
        )

    @classmethod
    def from_rrule(cls, rrule: str, dtstart: dt.datetime) -> "Schedule":
        """Read back a rule written by `to_rrule` (or any single-frequency RRULE set) for editing and wording."""
        lines = [line.strip() for line in rrule.strip().splitlines() if line.strip()]
        if not lines:
            raise ValueError("empty RRULE")
        parts_per_line = []
        for line in lines:
            body = line.split(":", 1)[1] if line.upper().startswith("RRULE:") else line
            parts_per_line.append(dict(p.split("=", 1) for p in body.upper().split(";") if "=" in p))
        first = parts_per_line[0]
        times = set()
        for parts in parts_per_line:
            for hour in filter(None, parts.get("BYHOUR", "").split(",")):
                for minute in (parts.get("BYMINUTE") or "0").split(","):
                    times.add((int(hour), int(minute)))
        until = (
            dt.datetime.strptime(first["UNTIL"].rstrip("Z")[:15], "%Y%m%dT%H%M%S")
            if "UNTIL" in first
            else None
        )
        return cls(
            freq=first["FREQ"],
            dtstart=dtstart.replace(tzinfo=None),
            interval=int(first.get("INTERVAL", 1)),
            byday=tuple(d for d in first.get("BYDAY", "").split(",") if d),
            times=tuple(sorted(times)),
            until=until,
            count=int(first["COUNT"]) if "COUNT" in first else None,
        )


@dataclass(frozen=True)
class ReminderSpec:
    """What the patient asked for: the medicine (any name), dose, and when, as RRULE + aware dtstart."""

    medication: str
    dose: Optional[str]
    rrule: str
    dtstart: dt.datetime  # aware, clinic timezone
    timezone: str
    until: Optional[dt.datetime] = None  # aware, clinic timezone
    count: Optional[int] = None
    one_off: bool = False
    description: str = ""

    @property
    def schedule(self) -> Schedule:
        return Schedule.from_rrule(self.rrule, self.dtstart.astimezone(ZoneInfo(self.timezone)))

    def to_dict(self) -> Dict[str, object]:
        return {
            "medication": self.medication,
            "dose": self.dose,
            "rrule": self.rrule,
            "dtstart": self.dtstart.isoformat(),
            "timezone": self.timezone,
            "until": self.until.isoformat() if self.until else None,
            "count": self.count,
            "one_off": self.one_off,
            "description": self.description,
        }


def spec_from_schedule(
    medication: str, dose: Optional[str], schedule: Schedule, timezone: str
) -> ReminderSpec:
    tz = ZoneInfo(timezone)
    return ReminderSpec(
        medication=medication,
        dose=dose,
        rrule=schedule.to_rrule(),
        dtstart=_place(schedule.dtstart, tz),
        timezone=timezone,
        until=_place(schedule.until, tz) if schedule.until else None,
        count=schedule.count,
        one_off=schedule.one_off,
        description=describe(schedule),
    )


# --------------------------------------------------------------------------------------------------- expansion
def _place(local: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """A floating local time placed in the zone; a time inside the spring-forward gap moves forward by the gap."""
    return local.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


def normalise_rrule(rrule: str) -> str:
    """One RRULE per line, each prefixed "RRULE:" (accepts bare "FREQ=…" lines too)."""
    lines = [line.strip() for line in rrule.strip().splitlines() if line.strip()]
    if not lines:
        raise ValueError("empty RRULE")
    return "\n".join(line if line.upper().startswith("RRULE:") else f"RRULE:{line}" for line in lines)


def iter_occurrences(
    rrule: str, dtstart: dt.datetime, timezone: str, after: dt.datetime, inclusive: bool = False
) -> Iterator[dt.datetime]:
    """Occurrences strictly after `after` (or at it, if inclusive), aware in the clinic zone, in order."""
    tz = ZoneInfo(timezone)
    after = after.astimezone(tz)
    schedule = Schedule.from_rrule(rrule, dtstart.astimezone(tz))
    lines = normalise_rrule(rrule)
    if schedule.sub_daily:
        start_utc = dtstart.astimezone(UTC).replace(tzinfo=None)
        until_utc = (
            _place(schedule.until, tz).astimezone(UTC).replace(tzinfo=None) if schedule.until else None
        )
        if until_utc is not None:
            lines = re.sub(r"UNTIL=[0-9T]+Z?", f"UNTIL={until_utc:%Y%m%dT%H%M%S}", lines)
        rule = rrulestr(lines, dtstart=start_utc, forceset=True)
        cursor = after.astimezone(UTC).replace(tzinfo=None)
        for naive in rule.xafter(cursor, inc=inclusive):
            yield naive.replace(tzinfo=UTC).astimezone(tz)
        return
    rule = rrulestr(lines, dtstart=schedule.dtstart, forceset=True)
    # Start a little early in wall-clock terms: around a DST change local and absolute order can differ by an hour.
    cursor = after.replace(tzinfo=None) - dt.timedelta(hours=3)
    previous: Optional[dt.datetime] = None
    for naive in rule.xafter(cursor, inc=True):
        moment = _place(naive, tz)
        if moment == previous:  # two wall times collapsing onto one instant in a spring-forward gap
            continue
        previous = moment
        if moment > after or (inclusive and moment == after):
            yield moment


def next_occurrences(spec: ReminderSpec, after: dt.datetime, n: int) -> List[dt.datetime]:
    """The next `n` due times after `after`, aware in the clinic timezone (wall clock kept across DST)."""
    result: List[dt.datetime] = []
    for moment in iter_occurrences(spec.rrule, spec.dtstart, spec.timezone, after):
        if len(result) >= n:
            break
        result.append(moment)
    return result


# ----------------------------------------------------------------------------------------------------- wording
def _clock(hour: int, minute: int) -> str:
    return f"{hour:02d}:{minute:02d}"


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _day(moment: dt.datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b}"


def describe(schedule: Schedule) -> str:
    """Plain words for a rule, e.g. "every day at 08:00 and 20:00" or "once, on Sat 28 Nov at 07:10"."""
    if schedule.one_off:
        return (
            f"once, on {_day(schedule.dtstart)} at {_clock(schedule.dtstart.hour, schedule.dtstart.minute)}"
        )
    at = " at " + _join([_clock(h, m) for h, m in schedule.times]) if schedule.times else ""
    if schedule.freq in ("HOURLY", "MINUTELY"):
        unit = "hour" if schedule.freq == "HOURLY" else "minute"
        every = f"every {unit}" if schedule.interval == 1 else f"every {schedule.interval} {unit}s"
        text = f"{every} from {_clock(schedule.dtstart.hour, schedule.dtstart.minute)}"
    elif schedule.freq == "WEEKLY":
        days = [WEEKDAY_CODES.index(code) for code in schedule.byday] or [schedule.dtstart.weekday()]
        if sorted(days) == [0, 1, 2, 3, 4]:
            text = "on weekdays"
        elif sorted(days) == [5, 6]:
            text = "at weekends"
        else:
            names = _join([WEEKDAY_NAMES[d] for d in sorted(days)])
            text = (
                f"every {names}" if schedule.interval == 1 else f"every {schedule.interval} weeks on {names}"
            )
        text += at
    elif schedule.freq == "MONTHLY":
        text = f"every month on day {schedule.dtstart.day}{at}"
    else:
        if schedule.interval == 1:
            text = "every day"
        elif schedule.interval == 2:
            text = "every other day"
        else:
            text = f"every {schedule.interval} days"
        text += at
    if schedule.until is not None:
        text += f", until {_day(schedule.until)}"
    elif schedule.count is not None:
        text += f", {schedule.count} times"
    return text


# ----------------------------------------------------------------------------------------------------- parsing
@dataclass(frozen=True)
class MedicinePattern:
    name: str  # canonical (the pattern's id, else the pattern itself)
    phrase: str  # lower-case words the patient may type


def load_medicines(path: Optional[Path] = None) -> List[MedicinePattern]:
    """Read the EntityRuler pattern file (label MEDICINE); plain-string patterns or token lists of LOWER/ORTH/TEXT."""
    file = Path(path or DEFAULT_MEDICINES_FILE)
    content = yaml.safe_load(file.read_text(encoding="utf-8")) or []
    entries = (
        content.get("patterns") if isinstance(content, dict) else content
    )  # same shapes as carebot.lexicon.patterns
    if not isinstance(entries, list):
        raise ValueError(
            f"{file}: expected a list of patterns like '- {{label: MEDICINE, pattern: metformin}}'"
        )
    patterns = []
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or entry.get("label") != "MEDICINE" or "pattern" not in entry:
            raise ValueError(f"{file}: entry {index} needs 'label: MEDICINE' and a 'pattern'")
        pattern = entry["pattern"]
        if isinstance(pattern, list):
            words = []
            for token in pattern:
                value = next(
                    (token[k] for k in ("LOWER", "ORTH", "TEXT") if isinstance(token, dict) and k in token),
                    None,
                )
                if not isinstance(value, str):
                    raise ValueError(
                        f"{file}: entry {index}: token patterns may only use LOWER, ORTH or TEXT strings"
                    )
                words.append(value)
            pattern = " ".join(words)
        phrase = str(pattern).lower().strip()
        patterns.append(MedicinePattern(name=str(entry.get("id") or pattern), phrase=phrase))
    return patterns


@functools.lru_cache(maxsize=1)
def _default_medicines() -> Tuple[MedicinePattern, ...]:
    """The project's medicine list, read once: `parse_reminder` runs on every reminder message."""
    return tuple(load_medicines())


def find_medicine(
    text: str, medicines: Sequence[MedicinePattern]
) -> Optional[Tuple[int, int, MedicinePattern]]:
    """The longest known medicine named in the text (case-insensitive, whole words)."""
    lowered = text.lower()
    best: Optional[Tuple[int, int, MedicinePattern]] = None
    for medicine in medicines:
        match = re.search(r"(?<![\w-])" + re.escape(medicine.phrase) + r"(?![\w-])", lowered)
        if match and (best is None or match.end() - match.start() > best[1] - best[0]):
            best = (match.start(), match.end(), medicine)
    return best


def _number(word: str) -> int:
    word = word.lower().strip()
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


def _parse_clock(token: str, evening: bool = False) -> Tuple[int, int]:
    token = token.lower().strip().replace(" ", "")
    if token in DAY_PARTS:
        return DAY_PARTS[token]
    match = re.match(r"^(\d{1,2})(?:[:.](\d{2}))?(a\.?m\.?|p\.?m\.?|o'?clock|h)?$", token)
    if not match:
        raise ValueError(token)
    hour, minute, suffix = (
        int(match.group(1)),
        int(match.group(2) or 0),
        (match.group(3) or "").replace(".", ""),
    )
    if hour > 23 or minute > 59 or (suffix in ("am", "pm") and not 1 <= hour <= 12):
        raise ValueError(token)
    if suffix == "pm" and hour != 12:
        hour += 12
    elif suffix == "am" and hour == 12:
        hour = 0
    elif suffix not in ("am", "pm") and 1 <= hour <= 12 and match.group(2) is None:
        # A bare "at 2" means the afternoon; "at 9" the morning; "at 8" in the evening context means 20:00.
        if evening or 1 <= hour <= 6:
            hour = hour + 12 if hour != 12 else 12
    return hour, minute


class _Phrase:
    """The patient's words with the recognised schedule parts masked out, so what is left names the medicine."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lower = text.lower()
        self.mask = [False] * len(text)

    def take(self, pattern: str) -> List[re.Match[str]]:
        found = []
        for match in re.finditer(pattern, self.lower):
            if any(self.mask[match.start() : match.end()]):
                continue
            found.append(match)
            for i in range(match.start(), match.end()):
                self.mask[i] = True
        return found

    def leftover(self) -> str:
        return "".join(" " if masked else ch for ch, masked in zip(self.text, self.mask))


_LEAD = re.compile(
    r"^\s*(?:(?:hi|hello|hey|ok|okay|please|pls|can you|could you|would you|will you|i need you to|i want you to|"
    r"i'd like you to|set (?:up )?an? reminder|set (?:up )?reminders?|add an? reminder|new reminder)[\s,:]*)*"
    r"(?:remind(?:er)?s?\b\s*(?:me\b\s*)?)?(?:(?:to|about|for|of)\s+)?(?:(?:take|taking|use|using|have|having|give|"
    r"giving|inject|apply|do|get)\s+)?(?:(?:my|the|a|an|some|of)\s+)*",
    re.I,
)
_TRAIL = re.compile(
    r"(?:\b(?:please|pls|thanks|thank you|tablets?|pills?|medicines?|medication|meds|dose|"
    r"reminder|and|then|each|every|on|at|for|from|starting|to|a|the|of|time|times)\b|[\s,.;:!?-])+$",
    re.I,
)


def _medication(leftover: str, medicines: Sequence[MedicinePattern]) -> Optional[str]:
    """Text between "take"/"for" and the schedule; a known medicine's own words if the phrasing has no cue."""
    text = re.sub(r"\s+", " ", leftover).strip()
    text = _LEAD.sub("", text)
    cue = re.search(r"\b(?:take|taking|use|using|about|for)\s+(.+)$", text, re.I)
    if cue and not find_medicine(text[: cue.start()], medicines):
        text = cue.group(1)
    # Cut at the first connective that starts a new clause ("... and check my sugar" stays in).
    text = re.split(r"\s+(?:at|every|each|on|from|starting|until|till|in|with|when)\s*$", text, flags=re.I)[0]
    trimmed = _TRAIL.sub("", text).strip(" ,.;:-")
    text = (
        trimmed
        or re.sub(r"\b(?:and|then|each|every|on|at|for|from|to|a|the|of)\s*$", "", text, flags=re.I).strip()
    )
    text = re.sub(r"^(?:(?:my|the|a|an|some|of|to|take)\s+)+", "", text, flags=re.I).strip()
    if not text:
        known = find_medicine(leftover, medicines)
        return known[2].name if known else None
    if len(text.split()) > 6:
        known = find_medicine(text, medicines)
        return leftover[known[0] : known[1]] if known else None
    return text


def _next_at(
    now: dt.datetime, times: Sequence[Tuple[int, int]], day: Optional[dt.date] = None
) -> dt.datetime:
    """The first of `times` after now (today, else tomorrow), or on a given day; naive local."""
    local = now.replace(tzinfo=None)
    days = [day] if day else [local.date(), local.date() + dt.timedelta(days=1)]
    for candidate_day in days:
        for hour, minute in sorted(times):
            moment = dt.datetime.combine(candidate_day, dt.time(hour, minute))
            if moment > local or day is not None:
                return moment
    raise AssertionError("unreachable: tomorrow always has the time")


def parse_reminder(
    text: str, now: dt.datetime, timezone: str, medicines: Optional[Sequence[MedicinePattern]] = None
) -> ReminderSpec:
    """Parse "remind me to take metformin 500mg at 8am and 8pm every day" into a ReminderSpec.

    Raises ReminderParseError(missing="medication"|"time") with a sentence the bot can say when the phrasing
    lacks what to take or when; nothing is guessed silently except conventional times for "twice a day".
    """
    tz = ZoneInfo(timezone)
    now_local = now.astimezone(tz).replace(second=0, microsecond=0)
    medicines = _default_medicines() if medicines is None else medicines
    phrase = _Phrase(text)

    delay = phrase.take(
        rf"\bin\s+(?:(?P<half>half an? hour)|(?P<n>{_NUM})\s*(?:and a half\s*)?"
        r"(?P<unit>minutes?|mins?|hours?|hrs?|h|days?)(?P<plushalf> and a half)?)\b"
    )
    every_n = phrase.take(
        rf"\bevery\s+(?:(?P<n>{_NUM})\s*)?(?P<unit>minutes?|mins?|hours?|hrs?|days?|weeks?|months?)\b"
    )
    per_day = phrase.take(
        rf"\b(?:(?P<n>{_NUM})\s+times|(?P<n2>once|twice|thrice)|(?P<n3>\d)\s*x)\s+"
        r"(?:(?:a|per|each|every)\s+day|daily)\b"
    )
    counted = phrase.take(r"\b(?:for\s+)?(?P<n>\d+)\s+(?:doses|times)\b")
    duration = phrase.take(
        rf"\bfor\s+(?:the\s+)?(?:next\s+)?(?P<n>{_NUM})?\s*(?P<unit>days?|weeks?|months?)\b"
    )
    until = phrase.take(
        r"\b(?:until|till|til|up to)\s+(?P<when>(?:the\s+)?(?:end of the (?:week|month)|tomorrow|"
        + _DAYS
        + r"|\d{1,2}(?:st|nd|rd|th)?\s+[a-z]{3,9}|[a-z]{3,9}\s+\d{1,2}(?:st|nd|rd|th)?|"
        r"\d{1,2}/\d{1,2}(?:/\d{2,4})?))"
    )
    weekdays = phrase.take(r"\b(?:on\s+|every\s+|each\s+)?(?:week\s?days?|monday to friday|mon-fri)\b")
    weekends = phrase.take(r"\b(?:on\s+|at\s+|every\s+)?(?:the\s+)?weekends?\b")
    days = phrase.take(
        rf"\b(?P<prefix>(?:on|every|each)\s+)?(?P<day>{_DAYS})(?P<plural>s)?\b"
        rf"(?:\s*(?:,|and|&)\s*(?:on\s+)?(?P<more>{_DAYS}s?(?:\s*(?:,|and|&)\s*{_DAYS}s?)*))?"
    )
    start_day = phrase.take(r"\b(?:starting|from|beginning)?\s*(?P<word>tomorrow|today|tonight)\b")
    parts = phrase.take(
        r"\b(?:(?P<every>every|each)\s+|(?:in the|at|before|after|with)\s+)?(?P<part>"
        + "|".join(sorted(DAY_PARTS, key=len, reverse=True))
        + r")s?\b"
        r"(?:\s*(?:,|and|&)\s*(?:in the\s+|at\s+)?(?P<part2>morning|afternoon|evening|night|bedtime)s?)?"
    )
    clock_lists = phrase.take(r"\bat\s+" + _CLOCK + _LIST + r"|\b" + _STRICT_CLOCK + _LIST)
    daily = phrase.take(
        r"\b(?:every\s*day|everyday|each day|daily|every single day|day by day|a day|per day)\b"
    )
    weekly = phrase.take(r"\b(?:every|each|once a)\s+week\b|\bweekly\b")
    monthly = phrase.take(r"\b(?:every|each|once a)\s+month\b|\bmonthly\b")

    evening_context = bool(re.search(r"\b(?:pm|evening|night|tonight|bedtime)\b", phrase.lower))
    times: List[Tuple[int, int]] = []
    for match in clock_lists:
        for token in re.findall(_CLOCK, match.group(0)):
            try:
                times.append(_parse_clock(token, evening=evening_context and not re.search(r"am\b", token)))
            except ValueError:
                raise ReminderParseError(
                    f"I couldn't read the time '{token.strip()}'. Try something like 8am or 20:00.",
                    missing="time",
                ) from None
    recurring_parts = False
    every_part_times: List[Tuple[int, int]] = []
    for match in parts:
        named = [DAY_PARTS[match.group("part")]] + (
            [DAY_PARTS[match.group("part2")]] if match.group("part2") else []
        )
        every = bool(match.group("every")) or bool(re.search(r"(?:ing|ght|ime)s\b", match.group(0)))
        # "every night" says how often; it names the time only when no other time was given ("at bedtime every night").
        (every_part_times if every else times).extend(named)
        recurring_parts = recurring_parts or every
    if not times:
        times.extend(every_part_times)
    for match in per_day:
        count = _number(match.group("n") or match.group("n2") or match.group("n3"))
        if count not in TIMES_PER_DAY:
            raise ReminderParseError(
                f"I can set up to {max(TIMES_PER_DAY)} times a day with words; for more, "
                "tell me the times (e.g. at 6am, 10am, 2pm, 6pm and 10pm).",
                missing="time",
            )
        if not times:
            times.extend(TIMES_PER_DAY[count])
    times = sorted(set(times))

    medication = _medication(phrase.leftover(), medicines)
    dose_match = _DOSE.search(medication or "") or _DOSE.search(phrase.leftover())
    dose = dose_match.group(1).strip() if dose_match else None
    if medication and dose_match and _DOSE.search(medication):
        medication = re.sub(r"\s+", " ", _DOSE.sub(" ", medication)).strip(" ,.")
        medication = re.sub(r"^(?:of|my|the)\s+", "", medication, flags=re.I) or None
    if not medication:
        raise ReminderParseError(
            "What would you like me to remind you to take?", missing="medication", dose=dose
        )

    # ---- when
    start_date: Optional[dt.date] = None
    for match in start_day:
        start_date = now_local.date() + dt.timedelta(days=1 if match.group("word") == "tomorrow" else 0)
        if match.group("word") == "tonight" and not times:
            times = [DAY_PARTS["tonight"]]
    day_list: List[int] = []
    plural_days = False
    for match in days:
        words = [match.group("day")] + re.findall(_DAYS, match.group("more") or "")
        day_list.extend(_DAY_INDEX[w[:3]] for w in words)
        plural_days = (
            plural_days
            or bool(match.group("prefix") and match.group("prefix").strip() in ("every", "each"))
            or bool(match.group("plural"))
            or bool(re.search(_DAYS + "s", match.group(0)))
        )
    if weekdays:
        day_list.extend(range(5))
        plural_days = True
    if weekends:
        day_list.extend((5, 6))
        plural_days = True
    day_list = sorted(set(day_list))

    def fail(message: str) -> ReminderParseError:
        return ReminderParseError(message, missing="time", medication=medication, dose=dose)

    if delay:
        match = delay[0]
        if match.group("half"):
            delta = dt.timedelta(minutes=30)
        else:
            amount = float(_number(match.group("n"))) + (0.5 if "half" in match.group(0) else 0)
            unit = match.group("unit")[0]
            delta = (
                dt.timedelta(minutes=amount)
                if unit == "m"
                else (dt.timedelta(hours=amount) if unit == "h" else dt.timedelta(days=amount))
            )
        if delta < dt.timedelta(minutes=1) or delta > dt.timedelta(days=365):
            raise fail("I can set a reminder from 1 minute to a year ahead.")
        moment = (now.astimezone(UTC) + delta).astimezone(tz).replace(second=0, microsecond=0, tzinfo=None)
        if times or every_n or per_day or day_list:
            raise fail(
                "Do you want a single reminder or a repeating one? Say for example "
                "'in 20 minutes' or 'every day at 8am'."
            )
        return spec_from_schedule(medication, dose, Schedule(freq="DAILY", dtstart=moment, count=1), timezone)

    freq, interval = "DAILY", 1
    byday: Tuple[str, ...] = ()
    if every_n:
        match = every_n[0]
        unit = match.group("unit")[0]
        interval = _number(match.group("n")) if match.group("n") else 1
        freq = (
            {"m": "MINUTELY", "h": "HOURLY", "d": "DAILY", "w": "WEEKLY"}[unit]
            if not match.group("unit").startswith("mo")
            else "MONTHLY"
        )
        if freq == "MINUTELY" and interval < 15:
            raise fail("The shortest repeat I can set is every 15 minutes.")
        if interval < 1:
            raise fail("How often should I remind you? For example every 8 hours.")
        if freq == "HOURLY" and interval % 24 == 0:
            freq, interval = "DAILY", interval // 24
    elif weekly:
        freq = "WEEKLY"
    elif monthly:
        freq = "MONTHLY"
    if day_list:
        if freq in ("HOURLY", "MINUTELY"):
            raise fail(
                "I can repeat every few hours, or on some days of the week, but not both in one reminder."
            )
        freq, byday = "WEEKLY", tuple(WEEKDAY_CODES[d] for d in day_list)

    recurring = bool(
        every_n
        or per_day
        or daily
        or weekly
        or monthly
        or duration
        or until
        or counted
        or recurring_parts
        or (day_list and plural_days)
    )
    if not recurring:
        if not times and not day_list:
            raise fail(
                "When should I remind you? For example 'every day at 8am', 'every 8 hours' or 'in 20 minutes'."
            )
        day = start_date
        if day_list:  # "on Monday at 9": the next such day
            ahead = (day_list[0] - now_local.weekday()) % 7
            day = now_local.date() + dt.timedelta(days=ahead or 7)
        moment = _next_at(now_local, times or [DEFAULT_TIME], day)
        if moment <= now_local.replace(tzinfo=None):
            raise fail("That time has already passed today. When should I remind you?")
        return spec_from_schedule(medication, dose, Schedule(freq="DAILY", dtstart=moment, count=1), timezone)

    first_day = start_date or now_local.date()
    if freq in ("HOURLY", "MINUTELY"):
        if times:
            anchor = dt.datetime.combine(first_day, dt.time(*times[0]))
        elif first_day > now_local.date():
            anchor = dt.datetime.combine(first_day, dt.time(*DEFAULT_TIME))
        else:  # the first dose now-ish: the next 5-minute mark
            base = now_local.replace(tzinfo=None)
            anchor = base + dt.timedelta(minutes=(5 - base.minute % 5) % 5 or 5)
        times = []
    else:
        times = times or [DEFAULT_TIME]
        anchor = dt.datetime.combine(first_day, dt.time())
        if freq == "WEEKLY" and not byday:
            byday = (WEEKDAY_CODES[first_day.weekday()],)

    end: Optional[dt.datetime] = None
    for match in duration:
        amount = _number(match.group("n")) if match.group("n") else 1
        days_total = amount * {"d": 1, "w": 7, "m": 30}[match.group("unit")[0]]
        end = dt.datetime.combine(first_day + dt.timedelta(days=days_total - 1), dt.time(23, 59, 59))
    for match in until:
        end = dt.datetime.combine(_until_day(match.group("when"), now_local.date()), dt.time(23, 59, 59))

    schedule = Schedule(
        freq=freq, dtstart=anchor, interval=interval, byday=byday, times=tuple(times), until=end
    )
    if not schedule.sub_daily or anchor <= now_local.replace(tzinfo=None):
        # DTSTART becomes the first real occurrence (RFC 5545 counts DTSTART as one), keeping the rule's phase.
        after = max(now_local, _place(anchor, tz) - dt.timedelta(seconds=1))
        first = _take(replace(schedule, dtstart=anchor), tz, 1, after)
        if not first:
            raise fail("That end date is before the first reminder would go out.")
        schedule = replace(schedule, dtstart=first[0].replace(tzinfo=None))
    if counted:
        count = int(counted[0].group("n"))
        if (
            len(schedule.to_rrule().splitlines()) > 1
        ):  # COUNT is per RRULE line: turn it into an end time instead
            last = _take(schedule, tz, count, _place(schedule.dtstart, tz) - dt.timedelta(seconds=1))[-1]
            schedule = replace(schedule, until=last.replace(tzinfo=None))
        else:
            schedule = replace(schedule, count=count)
    return spec_from_schedule(medication, dose, schedule, timezone)


def _take(schedule: Schedule, tz: ZoneInfo, count: int, after: dt.datetime) -> List[dt.datetime]:
    found: List[dt.datetime] = []
    for moment in iter_occurrences(schedule.to_rrule(), _place(schedule.dtstart, tz), tz.key, after):
        found.append(moment)
        if len(found) == count:
            break
    return found


def _until_day(words: str, today: dt.date) -> dt.date:
    """'until Friday' / 'until 5 December' / 'until the end of the month', as a local date (never in the past)."""
    words = words.lower().replace("the ", "").strip()
    if words == "tomorrow":
        return today + dt.timedelta(days=1)
    if words == "end of week":
        return today + dt.timedelta(days=6 - today.weekday())
    if words == "end of month":
        following = (today.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return following - dt.timedelta(days=1)
    if re.fullmatch(_DAYS, words):
        return today + dt.timedelta(days=(_DAY_INDEX[words[:3]] - today.weekday()) % 7 or 7)
    from dateutil import parser  # only here: free-form dates are rare in reminder phrasings

    try:
        day = parser.parse(
            re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", words),
            dayfirst=True,
            default=dt.datetime.combine(today, dt.time()),
        ).date()
    except (ValueError, OverflowError):
        raise ReminderParseError(f"I couldn't read the end date '{words}'.", missing="time") from None
    return day if day >= today else day.replace(year=day.year + 1)


def parse_times(text: str) -> List[Tuple[int, int]]:
    """The clock times a message names ("move it to 9am", "8am and 8pm", "at 9", "at bedtime"), sorted.

    For changing an existing reminder's time, where the rest of the sentence names the reminder, not a schedule.
    Bare hours follow `parse_reminder`'s reading (1-6 → afternoon, 8 in an evening context → 20:00).
    Raises ValueError for a time that is not one (e.g. "25:00").
    """
    lowered = text.lower()
    evening = bool(re.search(r"\b(?:pm|evening|night|tonight|bedtime)\b", lowered))
    times: List[Tuple[int, int]] = []
    for match in re.finditer(
        r"\b(?:at|to|for)\s+" + _CLOCK + _LIST + r"|\b" + _STRICT_CLOCK + _LIST, lowered
    ):
        for token in re.findall(_CLOCK, match.group(0)):
            times.append(_parse_clock(token, evening=evening and not re.search(r"am\b", token)))
    if not times:
        parts = "|".join(sorted(DAY_PARTS, key=len, reverse=True))
        times.extend(DAY_PARTS[word] for word in re.findall(rf"\b({parts})s?\b", lowered))
    return sorted(set(times))
