"""Numbers patients quote, read with their unit, then turned into findings by the bands designers edit.

"temp 39.2", "102F", "sugar is 2.8", "blood sugar 450 mg/dl", "ketones 3.4", "sats 89%", "pulse 140" each become a
`Measurement` (kind, value in one canonical unit). `data/patterns/measurements.yml` says which finding a value
makes ("temperature_c from 38: fever"), with its clinical source, so thresholds stay out of Python.
Units: temperatures in °C (°F converted; a bare number is read by its range), blood glucose in mmol/L (mg/dL
divided by 18; a bare number over 35 is taken as mg/dL), heart and breathing rate per minute, oxygen saturation %,
blood pressure as two readings ("bp 220/130": systolic_bp and diastolic_bp, mmHg).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, List, Optional, Tuple

import yaml

from carebot.lexicon.patterns import MEASUREMENTS_FILE

KINDS = (
    "temperature_c",
    "blood_sugar_mmol",
    "ketones_mmol",
    "heart_rate",
    "oxygen_saturation",
    "breathing_rate",
    "age_years",
    "systolic_bp",
    "diastolic_bp",
)
MG_PER_DL_PER_MMOL = 18.0


class MeasurementFileError(ValueError):
    """measurements.yml a designer broke; the message names the file and the entry."""


@dataclass(frozen=True)
class Measurement:
    kind: str
    value: float
    start: int
    end: int


@dataclass(frozen=True)
class Band:
    """`finding` when the value is >= `from_value` (if given) and < `below` (if given)."""

    kind: str
    finding: str
    from_value: Optional[float]
    below: Optional[float]

    def holds(self, value: float) -> bool:
        return (self.from_value is None or value >= self.from_value) and (
            self.below is None or value < self.below
        )


_NUMBER = r"(\d{1,3}(?:[.,]\d{1,2})?)"
_GAP = r"[^\d\n]{0,22}?"  # words between a label and its number ("temperature this morning was")
_TEMPERATURE_UNIT = re.compile(
    _NUMBER + r"\s*(?:°|º|degrees?|deg)?\s*(c|f|celsius|centigrade|fahrenheit)\b", re.I
)
_TEMPERATURE_LABEL = re.compile(
    r"\b(?:temp|temps|temperature|temprature|fever|thermometer|hot|feverish|burning up|running)\b"
    + _GAP
    + _NUMBER
    # …and not an age told as "33M", "33yo" or "33 years": "I've got a temp. 33M" is a 33-year-old man
    + r"(?!\s*(?:%|mmol|mg|bpm|beats|breaths|days?|weeks?|hours?|months?|years?|yrs?\b|y/?o\b|m\b|male|female))",
    re.I,
)
# "38.2 on the thermometer": the reading told first, the instrument after.
_TEMPERATURE_AFTER = re.compile(
    _NUMBER
    + r"\s*(?:°|º|degrees?)?\s*(?:on|by|with|says?|showing|according\s+to)\s+(?:the\s+|a\s+|my\s+|his\s+|her\s+)?"
    r"(?:\w+\s+)?thermometer\b",
    re.I,
)
_SUGAR_LABEL = re.compile(
    r"\b(?:sugars?|glucose|bms?|glucometer|blood levels?)\b"
    + _GAP
    + _NUMBER
    + r"\s*(mmol(?:/l)?|mg\s*/?\s*dl|mg)?",
    re.I,
)
_SUGAR_UNIT = re.compile(_NUMBER + r"\s*(mmol(?:/l)?|mg\s*/\s*dl|mgdl)\b", re.I)
_HEART_LABEL = re.compile(
    r"\b(?:heart\s*rate|heartrate|pulse|heart\s*beat|heartbeat|hr)\b" + _GAP + r"(\d{2,3})(?!\s*%)", re.I
)
_HEART_UNIT = re.compile(r"(\d{2,3})\s*(?:bpm|beats\s*(?:a|per)\s*min)", re.I)
_HEART_RACING = re.compile(
    r"\bheart(?:'s|\s+is|\s+was|\s+has)?\s+(?:been\s+)?(?:racing|pounding|beating|going|running|thumping)"
    r"\s+(?:at\s+)?(?:about\s+|around\s+|over\s+|like\s+)?(\d{2,3})(?!\s*%)",
    re.I,
)
_OXYGEN_LABEL = re.compile(
    r"\b(?:sats|saturations?|oxygen(?:\s*levels?)?|o2|spo2|oximeter|pulse\s*ox)\b" + _GAP + r"(\d{2,3})\s*%?",
    re.I,
)
_OXYGEN_UNIT = re.compile(r"(\d{2,3})\s*%\s*(?:oxygen|o2|sats|saturation)", re.I)
# "bp 220/130", "blood pressure was 185 over 95": both numbers, each a reading of its own kind.
_BLOOD_PRESSURE = re.compile(
    r"\b(?:bp|b\.p\.?|blood\s*pressure|blood\s*pressures?)\b" + _GAP + r"(\d{2,3})\s*(?:/|over)\s*(\d{2,3})",
    re.I,
)
_BREATHING = re.compile(r"(\d{2})\s*breaths", re.I)
_KETONES = re.compile(r"\bketones?\b" + _GAP + r"(\d{1,2}(?:[.,]\d{1,2})?)", re.I)


def _float(text: str) -> float:
    return float(text.replace(",", "."))


def read_measurements(doc: Any) -> List[Measurement]:
    """Every measurement in the text (a spaCy Doc or a string), at most one per number."""
    text = doc if isinstance(doc, str) else doc.text
    found: List[Measurement] = []
    taken: List[Tuple[int, int]] = []

    def add(kind: str, value: Optional[float], match: "re.Match[str]", group: int = 1) -> None:
        start, end = match.span(group)
        if value is None or any(start < t_end and t_start < end for t_start, t_end in taken):
            return
        taken.append((start, end))
        found.append(Measurement(kind, round(value, 2), match.start(), match.end()))

    for match in _TEMPERATURE_UNIT.finditer(text):
        add("temperature_c", _celsius(_float(match.group(1)), match.group(2)), match)
    for match in _KETONES.finditer(text):
        add("ketones_mmol", _float(match.group(1)) if _float(match.group(1)) <= 12 else None, match)
    for match in _SUGAR_UNIT.finditer(text):
        add("blood_sugar_mmol", _mmol(_float(match.group(1)), match.group(2)), match)
    for match in _OXYGEN_UNIT.finditer(text):
        add("oxygen_saturation", _percent(_float(match.group(1))), match)
    for match in (*_HEART_UNIT.finditer(text), *_HEART_RACING.finditer(text)):
        add("heart_rate", _rate(_float(match.group(1))), match)
    for match in _BLOOD_PRESSURE.finditer(text):
        systolic, diastolic = _float(match.group(1)), _float(match.group(2))
        if 60 <= systolic <= 300 and 30 <= diastolic <= 200 and diastolic < systolic:
            add("systolic_bp", systolic, match, 1)
            add("diastolic_bp", diastolic, match, 2)
    for match in _BREATHING.finditer(text):
        add("breathing_rate", _rate(_float(match.group(1))), match)
    for match in _OXYGEN_LABEL.finditer(text):
        add("oxygen_saturation", _percent(_float(match.group(1))), match)
    for match in _SUGAR_LABEL.finditer(text):
        add("blood_sugar_mmol", _mmol(_float(match.group(1)), match.group(2)), match)
    for match in _HEART_LABEL.finditer(text):
        add("heart_rate", _rate(_float(match.group(1))), match)
    for match in (*_TEMPERATURE_LABEL.finditer(text), *_TEMPERATURE_AFTER.finditer(text)):
        add("temperature_c", _celsius(_float(match.group(1)), None), match)
    for match in _FOLLOW_UP.finditer(
        text
    ):  # "sugar was 3.6 … it's 6.1 now": a later reading of the same kind
        earlier = [m for m in found if m.end <= match.start()]
        if earlier:
            kind = max(earlier, key=lambda m: m.end).kind
            add(kind, _READ_AGAIN.get(kind, lambda v: None)(_float(match.group(1))), match)
    return _latest_of_each_kind(found)


def _latest_of_each_kind(found: List[Measurement]) -> List[Measurement]:
    """ "sugar was 3.2, now 5.8": the last reading of a kind is the patient's state now."""
    latest = {}
    for measurement in sorted(found, key=lambda m: m.start):
        latest[measurement.kind] = measurement
    return sorted(latest.values(), key=lambda m: m.start)


_FOLLOW_UP = re.compile(
    r"\b(?:now|back to|down to|up to|it'?s|its|went to|came to|gone to)\s+(?:at\s+|about\s+)?"
    + _NUMBER
    + r"(?!\s*(?:%|hours?|hrs?|mins?|minutes?|days?|weeks?|years?|times))",
    re.I,
)


def _celsius(value: float, unit: Optional[str]) -> Optional[float]:
    unit = (unit or "").lower()
    if unit.startswith("f") or (not unit and 90 <= value <= 110):
        value = (value - 32) * 5 / 9
    return value if 30 <= value <= 45 else None


def _mmol(value: float, unit: Optional[str]) -> Optional[float]:
    unit = (unit or "").lower().replace(" ", "")
    if unit.startswith("mg") or (not unit and value > 35):
        value /= MG_PER_DL_PER_MMOL
    return value if 0.5 <= value <= 60 else None


def _percent(value: float) -> Optional[float]:
    return value if 50 <= value <= 100 else None


def _rate(value: float) -> Optional[float]:
    return value if 5 <= value <= 260 else None


_READ_AGAIN = {
    "temperature_c": lambda value: _celsius(value, None),
    "blood_sugar_mmol": lambda value: _mmol(value, None),
    "oxygen_saturation": _percent,
    "heart_rate": _rate,
}


def load_bands(patterns_dir: Path) -> Tuple[Band, ...]:
    """The bands of `measurements.yml` (none if the file is absent), checked so a typo fails at load."""
    path = Path(patterns_dir) / MEASUREMENTS_FILE
    if not path.exists():
        return ()
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise MeasurementFileError(f"{path}: not valid YAML: {error}") from None
    kinds = content.get("measurements") if isinstance(content, dict) else None
    if not isinstance(kinds, dict):
        raise MeasurementFileError(f"{path}: expected a 'measurements:' mapping of kind -> bands")
    bands: List[Band] = []
    for kind, spec in kinds.items():
        if kind not in KINDS:
            raise MeasurementFileError(f"{path}: unknown measurement {kind!r}; known: {', '.join(KINDS)}")
        entries = spec.get("bands") if isinstance(spec, dict) else None
        if not isinstance(entries, list) or not spec.get("source"):
            raise MeasurementFileError(f"{path}: {kind}: needs 'source' and a list of 'bands'")
        for entry in entries:
            bands.append(_band(path, kind, entry))
    return tuple(bands)


def _band(path: Path, kind: str, entry: Any) -> Band:
    if not isinstance(entry, dict) or not isinstance(entry.get("finding"), str):
        raise MeasurementFileError(f"{path}: {kind}: each band needs a 'finding'")
    limits = {key: entry.get(key) for key in ("from", "below")}
    if all(v is None for v in limits.values()) or not all(
        v is None or isinstance(v, (int, float)) for v in limits.values()
    ):
        raise MeasurementFileError(
            f"{path}: {kind} -> {entry['finding']}: give 'from' and/or 'below' as numbers"
        )
    return Band(kind, entry["finding"], limits["from"], limits["below"])


def band_findings(bands: Iterable[Band]) -> Tuple[str, ...]:
    """Every finding a band can make (the triage loader adds them to the vocabulary protocols may use)."""
    return tuple(dict.fromkeys(band.finding for band in bands))


def findings_for(measurement: Measurement, bands: Iterable[Band]) -> List[str]:
    return [band.finding for band in bands if band.kind == measurement.kind and band.holds(measurement.value)]
