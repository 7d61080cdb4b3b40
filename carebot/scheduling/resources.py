"""FHIR R4 JSON shapes: rendering table rows as resources, and parsing the search parameters we accept.

Times leave the service in the clinic's timezone (with its UTC offset), because appointments are local events.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from carebot.backend.errors import ApiError
from carebot.clinic import Clinic
from carebot.scheduling.model import ATTENDANCE_URL, RELATIONSHIPS, ROLE_CODE_SYSTEM, SERVICE_TYPE_SYSTEM

UTC = dt.timezone.utc
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_DATE_PARAM = re.compile(
    r"^(?P<prefix>eq|ne|gt|lt|ge|le|sa|eb|ap)?"
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d{1,6})?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
_SUPPORTED_PREFIXES = ("eq", "gt", "lt", "ge", "le")
DateRange = Tuple[str, dt.datetime, dt.datetime]  # (prefix, lo, hi): naive-UTC period [lo, hi) a value names


def local_iso(clinic: Clinic, naive_utc: dt.datetime) -> str:
    return naive_utc.replace(tzinfo=UTC).astimezone(clinic.tz).isoformat()


def instant(naive_utc: dt.datetime) -> str:
    return naive_utc.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def meta(row: Any) -> Dict[str, Any]:
    return {"versionId": str(row.version), "lastUpdated": instant(row.last_updated)}


def service_concepts(clinic: Clinic, service_ids: Sequence[str]) -> List[Dict[str, Any]]:
    concepts = []
    for sid in service_ids:
        service = clinic.service(sid)
        coding = {"system": SERVICE_TYPE_SYSTEM, "code": sid}
        if service:
            coding["display"] = service.name
        concepts.append({"coding": [coding], "text": service.name if service else sid})
    return concepts


def practitioner_resource(row: Any) -> Dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": row.id,
        "meta": meta(row),
        "active": bool(row.active),
        "name": [{"text": row.name}],
    }


def schedule_resource(clinic: Clinic, row: Any, practitioner_name: Optional[str]) -> Dict[str, Any]:
    actor = {"reference": f"Practitioner/{row.practitioner_id}"}
    if practitioner_name:
        actor["display"] = practitioner_name
    return {
        "resourceType": "Schedule",
        "id": row.id,
        "meta": meta(row),
        "active": bool(row.active),
        "serviceType": service_concepts(clinic, row.service_ids.split()),
        "actor": [actor],
    }


def slot_resource(clinic: Clinic, row: Any, service_ids: Sequence[str]) -> Dict[str, Any]:
    return {
        "resourceType": "Slot",
        "id": row.id,
        "meta": meta(row),
        "serviceType": service_concepts(clinic, service_ids),
        "schedule": {"reference": f"Schedule/{row.schedule_id}"},
        "status": row.status,
        "start": local_iso(clinic, row.start),
        "end": local_iso(clinic, row.end),
    }


def patient_resource(row: Any) -> Dict[str, Any]:
    name: Dict[str, Any] = {"family": row.family} if row.family else {}
    if row.given:
        name["given"] = row.given.split(" ")
    resource = {
        "resourceType": "Patient",
        "id": row.id,
        "meta": meta(row),
        "name": [name],
        "telecom": [{"system": "phone", "value": row.phone, "use": "mobile"}],
    }
    if row.birth_date:
        resource["birthDate"] = row.birth_date.isoformat()
    if row.gender:
        resource["gender"] = row.gender
    return resource


def related_person_resource(row: Any) -> Dict[str, Any]:
    coding = {"system": ROLE_CODE_SYSTEM, "code": row.relationship}
    if row.relationship in RELATIONSHIPS:
        coding["display"] = RELATIONSHIPS[row.relationship]
    return {
        "resourceType": "RelatedPerson",
        "id": row.id,
        "meta": meta(row),
        "active": True,
        "patient": {"reference": f"Patient/{row.patient_id}"},
        "relationship": [{"coding": [coding]}],
        "telecom": [{"system": "phone", "value": row.phone, "use": "mobile"}],
    }


def appointment_resource(clinic: Clinic, row: Any, practitioner_name: Optional[str]) -> Dict[str, Any]:
    practitioner = {"reference": f"Practitioner/{row.practitioner_id}"}
    if practitioner_name:
        practitioner["display"] = practitioner_name
    resource = {
        "resourceType": "Appointment",
        "id": row.id,
        "meta": meta(row),
        "status": row.status,
        "serviceType": service_concepts(clinic, [row.service_id]),
        "start": local_iso(clinic, row.start),
        "end": local_iso(clinic, row.end),
        "minutesDuration": int((row.end - row.start).total_seconds() // 60),
        "slot": [{"reference": f"Slot/{sid}"} for sid in row.slot_ids.split()],
        "created": local_iso(clinic, row.created),
        "participant": [
            {
                "actor": {"reference": f"Patient/{row.patient_id}"},
                "required": "required",
                "status": "accepted",
            },
            {"actor": practitioner, "required": "required", "status": "accepted"},
        ],
    }
    if row.attendance_confirmed:
        resource["extension"] = [
            {"url": ATTENDANCE_URL, "valueDateTime": local_iso(clinic, row.attendance_confirmed)}
        ]
    if row.cancellation_reason:
        resource["cancelationReason"] = {"text": row.cancellation_reason}
    if row.replaces_id:
        resource["comment"] = f"Rescheduled from Appointment/{row.replaces_id}"
    return resource


def bundle(
    entries: List[Dict[str, Any]],
    total: int,
    base_url: str,
    links: Dict[str, str],
    included: Sequence[Dict[str, Any]] = (),
) -> Dict[str, Any]:
    def entry(resource: Dict[str, Any], mode: str) -> Dict[str, Any]:
        return {
            "fullUrl": f"{base_url}/{resource['resourceType']}/{resource['id']}",
            "resource": resource,
            "search": {"mode": mode},
        }

    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": [{"relation": relation, "url": url} for relation, url in links.items()],
        "entry": [entry(r, "match") for r in entries] + [entry(r, "include") for r in included],
    }


# ---- search parameters -------------------------------------------------------------------------------------------


def reference_id(value: str, resource_type: str) -> str:
    """`Patient/abc` or `abc` -> `abc`; anything else is a 400."""
    value = value.strip()
    if "/" in value:
        kind, _, ident = value.rpartition("/")
        if kind.split("/")[-1] != resource_type:
            raise ApiError(400, f"expected a {resource_type} reference, got '{value[:80]}'")
        value = ident
    if not FHIR_ID.match(value):
        raise ApiError(
            400, f"'{value[:80]}' is not a valid {resource_type} id (letters, digits, '-' and '.')"
        )
    return value


def date_range(clinic: Clinic, raw: str) -> DateRange:
    """Parse a FHIR date search value into (prefix, lo, hi): the naive-UTC period [lo, hi) it names.

    Dates without a time (or times without an offset) are read in the clinic's timezone.
    """
    value = raw.strip().replace(" ", "+")  # an unencoded '+' in a query string arrives as a space
    match = _DATE_PARAM.match(value)
    if not match:
        raise ApiError(400, f"'{raw[:60]}' is not a FHIR date (e.g. ge2026-12-01 or lt2026-12-01T09:00:00Z)")
    prefix = match["prefix"] or "eq"
    if prefix not in _SUPPORTED_PREFIXES:
        raise ApiError(400, f"date prefix '{prefix}' is not supported (use {', '.join(_SUPPORTED_PREFIXES)})")
    try:
        year, month, day = int(match["year"]), int(match["month"] or 1), int(match["day"] or 1)
        hour, minute, second = int(match["hour"] or 0), int(match["minute"] or 0), int(match["second"] or 0)
        if match["tz"] == "Z":
            tzinfo: dt.tzinfo = UTC
        elif match["tz"]:
            sign = 1 if match["tz"][0] == "+" else -1
            hours, minutes = int(match["tz"][1:3]), int(match["tz"][4:6])
            tzinfo = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
        else:
            tzinfo = clinic.tz
        lo = dt.datetime(year, month, day, hour, minute, second, tzinfo=tzinfo)
    except (ValueError, OverflowError):
        raise ApiError(400, f"'{raw[:60]}' is not a real date or time") from None
    if match["hour"]:
        hi = lo + dt.timedelta(seconds=1 if match["second"] else 60)
    elif match["day"]:
        hi = dt.datetime.combine(lo.date() + dt.timedelta(days=1), dt.time(), tzinfo)
    elif match["month"]:
        hi = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tzinfo)
    else:
        hi = dt.datetime(year + 1, 1, 1, tzinfo=tzinfo)
    as_utc = lambda moment: moment.astimezone(UTC).replace(tzinfo=None)  # noqa: E731
    return prefix, as_utc(lo), as_utc(hi)


def date_condition(column: Any, date_range_: DateRange) -> Any:
    """The SQL condition on `column` for one parsed FHIR date search value."""
    prefix, lo, hi = date_range_
    return {
        "eq": (column >= lo) & (column < hi),
        "ge": column >= lo,
        "gt": column >= hi,
        "lt": column < lo,
        "le": column < hi,
    }[prefix]


def paging(query: Dict[str, List[str]], default_count: int = 20, max_count: int = 100) -> Tuple[int, int]:
    """(_count, _offset) from the query, validated."""

    def number(name: str, default: int, low: int, high: int) -> int:
        values = query.get(name)
        if not values:
            return default
        text = values[0]
        if len(values) > 1 or not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
            raise ApiError(400, f"{name} must be a whole number from {low} to {high}")
        return int(values[0])

    return number("_count", default_count, 0, max_count), number("_offset", 0, 0, 10_000_000)


def comma_values(values: Sequence[str]) -> List[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]
