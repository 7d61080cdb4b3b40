"""What the bot tells the patient after a handoff, in and out of staff hours (clinic time, closures included)."""

import datetime as dt
from zoneinfo import ZoneInfo

from carebot.handoff.service import patient_notice

LONDON = ZoneInfo("Europe/London")


def test_in_staff_hours_promises_a_reply_within_the_clinic_target(clinic):
    assert patient_notice(clinic, dt.datetime(2026, 11, 27, 10, 0, tzinfo=LONDON)) == (
        "I've passed this to our team. Someone will reply here within 30 minutes. "
        "Please keep this chat open. In an emergency call 999."
    )


def test_out_of_hours_names_when_and_the_emergency_numbers(clinic):
    assert patient_notice(clinic, dt.datetime(2026, 11, 28, 13, 0, tzinfo=LONDON)) == (
        "I've passed this to our team. We're closed now, so someone will reply here on Monday 30 November from 08:00. "
        "If it's an emergency call 999; for urgent medical advice call 111."
    )


def test_early_morning_says_today_and_holidays_are_skipped(clinic):
    assert "reply here today (Friday 27 November) from 08:00" in patient_notice(
        clinic, dt.datetime(2026, 11, 27, 6, 30, tzinfo=LONDON)
    )
    assert "reply here on Monday 28 December from 08:00" in patient_notice(
        clinic, dt.datetime(2026, 12, 24, 21, 0, tzinfo=LONDON)
    )
