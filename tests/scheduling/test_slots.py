"""Slot generation from the clinic file: hours, provider hours, closures, timezone, idempotence, restarts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from scheduling_harness import CLINIC_YAML, row_counts, start_backend
from sqlalchemy import func, select, update

from carebot.backend.db import create_tables, make_engine
from carebot.clinic import load_clinic
from carebot.scheduling import tables as t
from carebot.scheduling.resources import local_iso
from carebot.scheduling.slots import regenerate_slots, utcnow


def local_slots(engine, clinic, practitioner_id: str):
    with engine.connect() as conn:
        rows = conn.execute(select(t.slot).where(t.slot.c.practitioner_id == practitioner_id)).all()
    return [(r.start.replace(tzinfo=dt.timezone.utc).astimezone(clinic.tz), r.status) for r in rows]


def test_slots_follow_opening_hours_lunch_break_and_closures(engine, sched_clinic, closed_day):
    create_tables(engine)
    regenerate_slots(engine, sched_clinic)
    starts = [start for start, _ in local_slots(engine, sched_clinic, "dr-b")]
    assert starts and all(
        dt.time(8) <= s.time() < dt.time(12) or dt.time(13) <= s.time() < dt.time(18) for s in starts
    )
    assert not any(s.date() == closed_day for s in starts)
    assert all(s.minute % 15 == 0 for s in starts)
    far_day = dt.date.today() + dt.timedelta(days=5)
    assert len([s for s in starts if s.date() == far_day]) == 36  # 4 h + 5 h of 15-minute slots
    assert max(starts).date() < dt.date.today() + dt.timedelta(weeks=2)


def test_provider_specific_hours_replace_clinic_hours(engine, sched_clinic):
    create_tables(engine)
    regenerate_slots(engine, sched_clinic)
    starts = [start for start, _ in local_slots(engine, sched_clinic, "physio-c")]
    assert starts and {s.weekday() for s in starts} == {2}  # Wednesdays only
    assert all(dt.time(9) <= s.time() < dt.time(12) for s in starts)


def test_regeneration_is_idempotent_and_keeps_booked_slots_when_hours_shrink(
    engine, sched_clinic, tmp_path: Path, closed_day
):
    create_tables(engine)
    first = regenerate_slots(engine, sched_clinic)
    assert first.added > 0
    again = regenerate_slots(engine, sched_clinic)
    assert (again.added, again.removed) == (0, 0)
    with engine.connect() as conn:
        duplicates = conn.execute(
            select(t.slot.c.practitioner_id, t.slot.c.start, func.count())
            .group_by(t.slot.c.practitioner_id, t.slot.c.start)
            .having(func.count() > 1)
        ).all()
    assert duplicates == []
    # Book an afternoon slot, then close every afternoon: free afternoon slots go, the booked one stays.
    afternoon = next(
        s
        for s, status in local_slots(engine, sched_clinic, "dr-b")
        if s.time() >= dt.time(13) and s.date() > dt.date.today()
    )
    start_utc = afternoon.astimezone(dt.timezone.utc).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(
            update(t.slot)
            .where((t.slot.c.practitioner_id == "dr-b") & (t.slot.c.start == start_utc))
            .values(status="busy")
        )
    mornings = CLINIC_YAML.replace('"13:00-18:00"', '"13:00-13:00"').replace(', "13:00-13:00"', "")
    path = tmp_path / "mornings.yml"
    path.write_text(mornings.format(closed_day=closed_day.isoformat()))
    shrunk = load_clinic(path)
    report = regenerate_slots(engine, shrunk)
    assert report.removed > 0 and report.added == 0
    remaining = local_slots(engine, shrunk, "dr-b")
    afternoon_left = [(s, status) for s, status in remaining if s.time() >= dt.time(13)]
    assert afternoon_left == [(afternoon, "busy")]


def test_a_provider_removed_from_the_clinic_file_loses_free_slots_only(
    engine, sched_clinic, tmp_path, closed_day
):
    create_tables(engine)
    regenerate_slots(engine, sched_clinic)
    without_b = CLINIC_YAML.replace("  - {{id: dr-b, name: Dr Ben Baker, services: [gp]}}\n", "")
    path = tmp_path / "without_b.yml"
    path.write_text(without_b.format(closed_day=closed_day.isoformat()))
    regenerate_slots(engine, load_clinic(path))
    assert local_slots(engine, sched_clinic, "dr-b") == []
    with engine.connect() as conn:
        assert (
            conn.execute(select(t.practitioner.c.active).where(t.practitioner.c.id == "dr-b")).scalar_one()
            is False
        )


async def test_restart_loses_nothing_and_does_not_duplicate_slots(api, backend, db_url, sched_clinic):
    patient = await api.new_patient()
    slot = await api.free_slot("gp")
    _, appointment = await api.book(patient["id"], slot["id"])
    before = row_counts(backend.engine)
    await backend.server.close()
    backend.engine.dispose()
    engine = make_engine(db_url)
    restarted = await start_backend(
        engine, sched_clinic
    )  # regenerates slots, as `python -m carebot.server` does
    try:
        assert row_counts(engine) == before
        api.base_url = restarted.url
        status, again = await api.call("GET", f"/Appointment/{appointment['id']}")
        assert status == 200 and again == appointment
        status, stored = await api.call("GET", f"/Slot/{slot['id']}")
        assert stored["status"] == "busy"
        status, found = await api.call("GET", "/Patient", params={"telecom": "+447700900001"})
        assert [e["resource"]["id"] for e in found["entry"]] == [patient["id"]]
    finally:
        await restarted.server.close()
        engine.dispose()


def test_times_render_with_the_clinic_offset(sched_clinic):
    assert local_iso(sched_clinic, dt.datetime(2026, 7, 1, 8, 0)) == "2026-07-01T09:00:00+01:00"  # BST
    assert local_iso(sched_clinic, dt.datetime(2026, 12, 1, 9, 0)) == "2026-12-01T09:00:00+00:00"  # GMT


def test_past_free_slots_are_removed_on_regeneration(engine, sched_clinic):
    create_tables(engine)
    regenerate_slots(engine, sched_clinic)
    later = utcnow() + dt.timedelta(days=1)
    regenerate_slots(engine, sched_clinic, now=later)
    with engine.connect() as conn:
        stale = conn.execute(
            select(func.count())
            .select_from(t.slot)
            .where((t.slot.c.start < later) & (t.slot.c.status == "free"))
        ).scalar_one()
    assert stale == 0


def test_slots_keep_local_opening_times_across_the_clocks_changing(engine, sched_clinic):
    """UK clocks go forward on 28 March 2027: 08:00 opening is 08:00 UTC before and 07:00 UTC after."""
    create_tables(engine)
    regenerate_slots(engine, sched_clinic, now=dt.datetime(2027, 3, 22, 0, 0))
    with engine.connect() as conn:

        def first_start(day: dt.date) -> dt.datetime:
            return conn.execute(
                select(func.min(t.slot.c.start)).where(
                    (t.slot.c.practitioner_id == "dr-b")
                    & (t.slot.c.start >= dt.datetime.combine(day, dt.time()))
                    & (t.slot.c.start < dt.datetime.combine(day + dt.timedelta(days=1), dt.time()))
                )
            ).scalar_one()

        assert first_start(dt.date(2027, 3, 26)) == dt.datetime(2027, 3, 26, 8, 0)
        assert first_start(dt.date(2027, 3, 29)) == dt.datetime(2027, 3, 29, 7, 0)
    assert local_iso(sched_clinic, dt.datetime(2027, 3, 29, 7, 0)) == "2027-03-29T08:00:00+01:00"
