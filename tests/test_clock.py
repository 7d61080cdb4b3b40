"""The one clock: aware UTC inside, the clinic's zone at the edges, and one place to inject a time."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from carebot import clock
from carebot.clinic import Clinic

LONDON = ZoneInfo("Europe/London")
SUMMER_MORNING = dt.datetime(2026, 7, 1, 7, 30, tzinfo=dt.timezone.utc)  # 08:30 in London (BST)


def test_now_is_aware_and_in_utc():
    now = clock.utc_now()
    assert now.tzinfo is dt.timezone.utc


def test_an_injected_time_is_what_every_reader_sees_until_the_block_ends(clinic: Clinic):
    assert clinic.timezone == "Europe/London"
    with clock.use(lambda: SUMMER_MORNING.astimezone(ZoneInfo("Asia/Tokyo"))):
        assert clock.utc_now() == SUMMER_MORNING and clock.utc_now().tzinfo is dt.timezone.utc
        assert clinic.now() == SUMMER_MORNING
        assert (clinic.now().tzinfo, clinic.now().hour, clinic.now().minute) == (clinic.tz, 8, 30)
        assert clock.clinic_now(LONDON).isoformat() == "2026-07-01T08:30:00+01:00"


def test_a_block_restores_the_time_that_was_injected_before_it():
    later = SUMMER_MORNING + dt.timedelta(hours=2)
    with clock.use(lambda: SUMMER_MORNING):
        with clock.use(lambda: later):
            assert clock.utc_now() == later
        assert clock.utc_now() == SUMMER_MORNING
