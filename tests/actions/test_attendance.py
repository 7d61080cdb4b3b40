"""The reminder's "Confirm" records the patient's confirmation on the appointment (staff see unconfirmed ones near
their start); a backend that cannot record it still gets the patient a clear answer."""

from __future__ import annotations

import datetime as dt

from actions import reminders
from actions.reminders import ActionConfirmAppointment
from carebot.messages import render
from tests.actions.fake_backends import FakeScheduling

SENDER = "whatsapp:+447700900001"


async def test_confirm_from_the_reminder_records_the_confirmation(
    make_tracker, dispatcher, domain, clinic, monkeypatch
):
    scheduling = FakeScheduling(clinic, clinic.now())
    monkeypatch.setattr(reminders, "scheduling_client", lambda: scheduling)
    patient = scheduling.add_patient("Sam Taylor", "+447700900001")
    soon = clinic.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    booked = await scheduling.book(patient.id, scheduling.add_slot(soon, clinic.providers[0].id), "gp")
    tracker = make_tracker(
        f'/confirm_appointment{{"appointment_id": "{booked.id}"}}',
        "confirm_appointment",
        entities=[{"entity": "appointment_id", "value": booked.id}],
        sender_id=SENDER,
    )
    await ActionConfirmAppointment().run(dispatcher, tracker, domain)
    assert scheduling.confirmed == {booked.id}
    assert [m["text"] for m in dispatcher.messages] == [render("reminder_appointment_confirmed").text]

    scheduling.down = True  # not recorded: the patient is still answered, staff will see it unconfirmed
    await ActionConfirmAppointment().run(dispatcher, tracker, domain)
    assert [m["text"] for m in dispatcher.messages][-1] == render("reminder_appointment_confirmed").text
