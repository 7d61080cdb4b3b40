"""The clinic file loader: what designers write is read right, and what they break is reported with a line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from carebot.clinic import ClinicConfigError, load_clinic

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clinic.yml"
    path.write_text(text)
    return path


def broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    original = (ROOT / "clinic.yml").read_text()
    assert old in original
    return write(tmp_path, original.replace(old, new, 1))


def test_opening_windows_follow_the_clinic_timezone_across_the_dst_change(clinic):
    # 2027-03-29 is the Monday after the clocks go forward: 08:00 local is 07:00 UTC.
    windows = clinic.open_windows(dt.date(2027, 3, 29))
    assert [w[0].astimezone(dt.timezone.utc).hour for w in windows] == [7, 12]
    winter = clinic.open_windows(dt.date(2027, 3, 22))
    assert [w[0].astimezone(dt.timezone.utc).hour for w in winter] == [8, 13]


def test_closures_and_provider_hours(clinic):
    assert clinic.open_intervals(dt.date(2026, 12, 25)) == ()
    assert clinic.closure_on(dt.date(2026, 12, 25)).reason == "Christmas Day"
    physio = clinic.provider("physio-novak")
    assert clinic.open_intervals(dt.date(2026, 12, 1), physio)[0][0] == dt.time(9, 0)  # a Tuesday
    assert clinic.open_intervals(dt.date(2026, 12, 2), physio) == ()  # Wednesday: not in his hours


def test_matching_services_and_providers_from_patient_words(clinic):
    assert clinic.match_service("can I see the physio").id == "physio"
    assert clinic.match_service("my baby needs the child health clinic").id == "child"
    assert clinic.match_service("a table for two") is None
    assert clinic.match_provider("with Dr. Okafor please").id == "dr-okafor"
    assert clinic.match_provider("anyone") is None


def test_next_staff_time_out_of_hours_is_the_next_opening(clinic):
    saturday_evening = dt.datetime(2026, 11, 28, 19, 0, tzinfo=clinic.tz)
    assert clinic.next_staff_time(saturday_evening) == dt.datetime(2026, 11, 30, 8, 0, tzinfo=clinic.tz)
    assert clinic.staff_available_at(dt.datetime(2026, 11, 30, 9, 0, tzinfo=clinic.tz))


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("timezone: Europe/London", "timezone: Europe/Londn", "unknown timezone 'Europe/Londn'"),
        ('monday: ["08:00-12:30", "13:30-18:30"]', 'monday: ["08:00-12:30", "12:00-18:30"]', "overlap"),
        ('saturday: ["09:00-12:00"]', 'saturday: ["9 till 12"]', "'9 till 12' is not an interval"),
        ("services: [gp, child]", "services: [gp, dentist]", "unknown service 'dentist'"),
        (
            "aliases: [dentist, dentists,",
            "aliases: [dentist, doctor,",
            "'doctor' also names a service the clinic offers",
        ),
        ("  - id: eyes\n", "  - id: dental\n", "two entries share an id"),
        ("slot_minutes: 15", "slot_minutes: 7", "slot_minutes must divide an hour"),
        ('  number: "999"\n', "", "'emergency.number' is missing"),
        ("daily_recipient_limit: 2000", "daily_recipient_limit: -1", "must be 0 (no limit) or more"),
        ("list_button: Choose", "list_button: Choose one of these times", "1 to 20 characters"),
        ("    enabled: true", "    enabled: sometimes", "'whatsapp.tap_to_answer.enabled' must be a bool"),
    ],
)
def test_broken_clinic_files_are_reported_with_the_line_to_fix(tmp_path, old, new, expected):
    path = broken_copy(tmp_path, old, new)
    with pytest.raises(ClinicConfigError) as caught:
        load_clinic(path)
    assert expected in str(caught.value)
    assert caught.value.line is not None
    lines = path.read_text().splitlines()
    assert 1 <= caught.value.line <= len(lines)


def test_the_reported_line_points_at_the_bad_value(tmp_path):
    path = broken_copy(tmp_path, "timezone: Europe/London", "timezone: Mars/Olympus")
    with pytest.raises(ClinicConfigError) as caught:
        load_clinic(path)
    assert "Mars/Olympus" in path.read_text().splitlines()[caught.value.line - 1]


def test_invalid_yaml_is_reported_not_raised_as_a_traceback(tmp_path):
    path = write(tmp_path, "clinic:\n  name: [unclosed\n")
    with pytest.raises(ClinicConfigError, match="not valid YAML"):
        load_clinic(path)
