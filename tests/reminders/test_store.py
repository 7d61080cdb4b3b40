"""The reminder store on SQLite and PostgreSQL: lifecycle, materialisation, replies, adherence, appointments."""

from __future__ import annotations

import datetime as dt

import pytest

from carebot.reminders.model import (
    AmbiguousReminder,
    InvalidReminderState,
    NothingToAnswer,
    ReminderError,
    ReminderNotFound,
)
from carebot.reminders.recurrence import parse_reminder
from carebot.reminders.store import ReminderStore

from .conftest import LONDON, PATIENT, UTC

NOW = dt.datetime(2026, 11, 28, 7, 10, tzinfo=UTC)  # London is on GMT: local == UTC


def create(store: ReminderStore, text: str, now: dt.datetime = NOW, patient: str = PATIENT):
    spec = parse_reminder(text, now, LONDON)
    return store.create(
        patient,
        spec.medication,
        spec.rrule,
        spec.dtstart,
        spec.timezone,
        dose=spec.dose,
        description=spec.description,
        now=now,
    )


def send_all_due(store: ReminderStore, now: dt.datetime) -> list:
    """What the dispatcher does, synchronously: claim, mark sending, mark sent."""
    claimed = store.claim("test", now, 1000, dt.timedelta(minutes=1))
    store.mark_sending([o.id for o in claimed], now, dt.timedelta(minutes=1))
    store.mark_sent([o.id for o in claimed], now)
    return claimed


def test_create_materialises_the_window_and_lists_with_next_due(store):
    reminder = create(store, "remind me to take metformin 500mg at 8am and 8pm every day")
    assert (reminder.label, reminder.dose, reminder.description) == (
        "metformin",
        "500mg",
        "every day at 08:00 and 20:00",
    )
    assert reminder.next_due == dt.datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    occurrences = store.occurrences(reminder.id)
    assert [o.due_at.hour for o in occurrences] == [8, 20, 8, 20]  # 48 hours ahead
    assert len({o.idempotency_key for o in occurrences}) == 4
    assert [r.id for r in store.list(PATIENT, NOW)] == [reminder.id]
    assert store.list("+447700900999", NOW) == []


def test_materialising_again_is_idempotent_and_rolls_forward(store):
    reminder = create(store, "remind me to take metformin at 8am every day")
    assert store.materialise(NOW) == 0
    assert store.materialise(NOW + dt.timedelta(hours=12)) == 0  # the window is still more than half full
    assert store.materialise(NOW + dt.timedelta(hours=30)) == 2  # now up to Tue 1 Dec 13:10
    assert store.materialise(NOW + dt.timedelta(hours=30)) == 0
    due = [o.due_at.day for o in store.occurrences(reminder.id)]
    assert due == [28, 29, 30, 1]


def test_change_time_cancels_the_old_schedule(store):
    reminder = create(store, "remind me to take metformin at 8am every day")
    changed = store.change_times(reminder.id, [(9, 30)], NOW)
    assert changed.description == "every day at 09:30"
    assert changed.next_due == dt.datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    statuses = {(o.due_at.hour, o.due_at.minute): o.status for o in store.occurrences(reminder.id)}
    assert statuses[(8, 0)] == "cancelled" and statuses[(9, 30)] == "pending"
    claimed = store.claim("test", dt.datetime(2026, 11, 28, 10, 0, tzinfo=UTC), 10, dt.timedelta(minutes=1))
    assert [(o.due_at.hour, o.due_at.minute) for o in claimed] == [(9, 30)]


def test_change_time_of_a_one_off_moves_it(store):
    reminder = create(store, "remind me to take ibuprofen in 20 minutes")
    changed = store.change_times(reminder.id, [(18, 0)], NOW)
    assert changed.description == "once, on Sat 28 Nov at 18:00"
    assert [o.status for o in store.occurrences(reminder.id)] == ["cancelled", "pending"]


def test_pause_resume_stop(store):
    reminder = create(store, "remind me to take metformin at 8am every day")
    paused = store.pause(reminder.id, NOW)
    assert paused.status == "paused" and paused.next_due is None
    assert all(o.status == "cancelled" for o in store.occurrences(reminder.id))
    later = NOW + dt.timedelta(days=2)
    assert store.materialise(later) == 0  # nothing generated while paused
    resumed = store.resume(reminder.id, later)
    assert resumed.status == "active" and resumed.next_due == dt.datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    with pytest.raises(InvalidReminderState):
        store.resume(reminder.id, later)
    stopped = store.stop(reminder.id, later)
    assert stopped.status == "stopped"
    assert store.list(PATIENT, later) == []
    assert [r.status for r in store.list(PATIENT, later, include_stopped=True)] == ["stopped"]
    with pytest.raises(InvalidReminderState):
        store.change_times(reminder.id, [(9, 0)], later)


def test_fuzzy_match_by_label(store):
    vitamin = create(store, "remind me to take vitamin D every morning")
    metformin = create(store, "remind me to take metformin at 8pm every day")
    assert store.match(PATIENT, "stop my vitamin D reminder", NOW).id == vitamin.id
    assert store.match(PATIENT, "pause the metfromin", NOW).id == metformin.id  # a typo still matches
    with pytest.raises(ReminderNotFound, match="vitamin D, metformin"):
        store.match(PATIENT, "stop my warfarin reminder", NOW)
    with pytest.raises(AmbiguousReminder):
        store.match(PATIENT, "stop my reminder", NOW)


def test_same_label_twice_is_asked_back_with_times(store):
    create(store, "remind me to take metformin at 8am every day")
    create(store, "remind me to take metformin at 8pm every day")
    with pytest.raises(AmbiguousReminder) as caught:
        store.match(PATIENT, "stop metformin", NOW)
    assert "every day at 08:00" in str(caught.value) and "every day at 20:00" in str(caught.value)


def test_only_reminder_matches_without_a_name(store):
    only = create(store, "remind me to take vitamin D every morning")
    assert store.match(PATIENT, "stop my reminder", NOW).id == only.id


def test_bad_input_is_refused_clearly(store):
    with pytest.raises(ReminderError, match="not a valid RRULE"):
        store.create(PATIENT, "x", "FREQ=SOMETIMES", NOW, LONDON, now=NOW)
    with pytest.raises(ReminderError, match="unknown timezone"):
        store.create(PATIENT, "x", "FREQ=DAILY", NOW, "Mars/Olympus", now=NOW)
    with pytest.raises(ReminderError, match="label"):
        store.create(PATIENT, "  ", "FREQ=DAILY", NOW, LONDON, now=NOW)
    with pytest.raises(ReminderNotFound):
        store.get(999)


def test_responses_adherence_and_no_reply(store):
    create(store, "remind me to take metformin at 8am and 8pm every day")
    create(store, "remind me to take vitamin D at 9am every day")
    day = dt.timedelta(days=1)
    # Day 1: metformin 08:00 taken, vitamin D skipped, metformin 20:00 never answered.
    send_all_due(store, dt.datetime(2026, 11, 28, 8, 0, 30, tzinfo=UTC))
    answered, _ = store.record_response(PATIENT, "taken", dt.datetime(2026, 11, 28, 8, 5, tzinfo=UTC))
    assert answered.label == "metformin" and answered.response == "taken"
    send_all_due(store, dt.datetime(2026, 11, 28, 9, 0, 30, tzinfo=UTC))
    answered, _ = store.record_response(PATIENT, "skipped", dt.datetime(2026, 11, 28, 9, 1, tzinfo=UTC))
    assert answered.label == "vitamin D"
    send_all_due(store, dt.datetime(2026, 11, 28, 20, 0, 30, tzinfo=UTC))
    assert store.mark_no_reply(dt.datetime(2026, 11, 28, 21, 0, tzinfo=UTC), dt.timedelta(hours=2)) == 0
    assert store.mark_no_reply(dt.datetime(2026, 11, 28, 22, 1, tzinfo=UTC), dt.timedelta(hours=2)) == 1
    # Day 2: metformin 08:00 snoozed then taken.
    send_all_due(store, dt.datetime(2026, 11, 29, 8, 0, 30, tzinfo=UTC))
    _, follow_up = store.record_response(
        PATIENT, "snoozed", dt.datetime(2026, 11, 29, 8, 2, tzinfo=UTC), snooze_minutes=30
    )
    assert follow_up.due_at == dt.datetime(2026, 11, 29, 8, 32, tzinfo=UTC) and follow_up.status == "pending"
    sent = send_all_due(store, dt.datetime(2026, 11, 29, 8, 32, 30, tzinfo=UTC))
    assert [o.id for o in sent] == [follow_up.id]
    answered, _ = store.record_response(PATIENT, "taken", dt.datetime(2026, 11, 29, 8, 40, tzinfo=UTC))
    assert answered.id == follow_up.id

    summary = store.adherence(PATIENT, dt.datetime(2026, 11, 29, 8, 45, tzinfo=UTC))
    assert (summary.doses, summary.taken, summary.skipped, summary.no_reply, summary.awaiting) == (
        4,
        2,
        1,
        1,
        0,
    )
    assert summary.percent_taken == 50
    assert summary.by_label["metformin"]["taken"] == 2 and summary.by_label["vitamin D"]["skipped"] == 1
    assert summary.describe().startswith("In the last 7 days you took 2 of 4 reminded doses (50%).")
    # A week later those doses have left the window.
    assert store.adherence(PATIENT, dt.datetime(2026, 11, 29, 8, 45, tzinfo=UTC) + 8 * day).doses == 0


def test_late_taken_overrides_no_reply(store):
    create(store, "remind me to take metformin at 8am every day")
    send_all_due(store, dt.datetime(2026, 11, 28, 8, 0, 30, tzinfo=UTC))
    store.mark_no_reply(dt.datetime(2026, 11, 28, 10, 30, tzinfo=UTC), dt.timedelta(hours=2))
    answered, _ = store.record_response(PATIENT, "taken", dt.datetime(2026, 11, 28, 11, 0, tzinfo=UTC))
    assert answered.response == "taken"


def test_answer_without_a_recent_reminder(store):
    create(store, "remind me to take metformin at 8am every day")
    with pytest.raises(NothingToAnswer):
        store.record_response(PATIENT, "taken", NOW)
    with pytest.raises(ReminderError):
        store.record_response(PATIENT, "maybe", NOW)


def test_appointment_reminders_24h_and_2h_before(store):
    start = dt.datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    reminder = store.create_appointment_reminders(
        PATIENT, "appt-1", start, "GP appointment with Dr Patel", (24, 2), LONDON, now=NOW
    )
    assert reminder.kind == "appointment" and reminder.appointment_id == "appt-1"
    assert reminder.description == "24 hours and 2 hours before Tue 1 Dec at 10:00"
    assert [o.due_at for o in store.occurrences(reminder.id)] == [
        start - dt.timedelta(hours=24),
        start - dt.timedelta(hours=2),
    ]
    # Booking flow retries: same appointment and time → same reminder, no extra occurrences.
    again = store.create_appointment_reminders(
        PATIENT, "appt-1", start, "GP appointment with Dr Patel", (24, 2), LONDON, now=NOW
    )
    assert again.id == reminder.id and len(store.occurrences(reminder.id)) == 2
    # Rescheduled: old reminders stopped, new ones made; a reminder time already past is skipped.
    moved = store.create_appointment_reminders(
        PATIENT, "appt-1", NOW + dt.timedelta(hours=5), "GP appointment", (24, 2), LONDON, now=NOW
    )
    assert store.get(reminder.id).status == "stopped"
    assert [o.due_at for o in store.occurrences(moved.id)] == [NOW + dt.timedelta(hours=3)]
    assert store.cancel_appointment_reminders("appt-1", NOW) == 1
    assert store.claim("t", NOW + dt.timedelta(days=5), 10, dt.timedelta(minutes=1)) == []


def test_appointment_reminders_are_not_adherence(store):
    store.create_appointment_reminders(
        PATIENT, "appt-2", NOW + dt.timedelta(hours=3), "Nurse", (2,), LONDON, now=NOW
    )
    send_all_due(store, NOW + dt.timedelta(hours=1, minutes=1))
    assert store.adherence(PATIENT, NOW + dt.timedelta(hours=2)).doses == 0
    with pytest.raises(NothingToAnswer):
        store.record_response(PATIENT, "taken", NOW + dt.timedelta(hours=2))


def test_sent_log_acknowledges_a_key_once_and_only_for_its_own_conversation(store):
    reminder = create(store, "remind me to take metformin at 8am every day")
    key = store.occurrences(reminder.id)[0].idempotency_key
    with pytest.raises(ReminderNotFound):  # another sender's conversation cannot silence this dose
        store.acknowledge_delivery(key, "+447700900999", NOW)
    assert store.delivered_keys([key]) == set()
    assert store.acknowledge_delivery(key, PATIENT, NOW) is True
    assert store.acknowledge_delivery(key, PATIENT, NOW) is False
    assert store.delivered_keys([key, "other"]) == {key}
