"""The designers' simulator in a real browser: the whole stack on free ports (launcher → backend, actions, Rasa with
the trained model, dispatcher), its WhatsApp channel pointed at the Twilio stand-in, the simulator page served from
this process, and headless Chromium (tests/browser/simulator.mjs) booking an appointment and checking a symptom
on the phone. The chat must show exactly the messages the stand-in accepted for the simulated number, in order — the
symptom check's answer, and the appointment's reminder as its template once "jump 25 hours" closed the window and
"set clock" made it due — and the side panel the intents Rasa's tracker holds.

Needs `scripts/install_browser.sh` and a trained model (`make train`, or RASA_MODEL). With UPDATE_SCREENSHOTS=1 the
screenshot replaces docs/simulator.png.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from aiohttp import web

from bench.stack import carebot_stack, free_port, start
from carebot.backend.db import make_engine
from carebot.channels.contacts import ContactStore
from carebot.clinic import load_clinic
from carebot.simulator.service import Simulator, flow_index, simulator_env
from carebot.simulator.twilio_standin import TwilioStandIn
from carebot.simulator.web import simulator_app
from tests.browser_harness import keep_screenshots, require_browser, run_script
from tests.e2e.test_reminders_e2e import model

pytestmark = pytest.mark.slow


def phone_shows(twilio: TwilioStandIn, accepted) -> str:
    """The text the patient's phone shows for one accepted message, read from the stand-in's own record."""
    if accepted.content_sid in twilio.contents:
        return str(twilio.shown(accepted).get("body", ""))
    return accepted.body


async def test_a_booking_in_the_simulator_shows_what_twilio_received(tmp_path) -> None:
    require_browser()
    if not model().exists():
        pytest.fail(f"no trained model at {model()}: run `make train` (or set RASA_MODEL)")
    auth_token = uuid.uuid4().hex
    twilio = TwilioStandIn(auth_token=auth_token)
    await twilio.start()
    var = tmp_path / "var"
    stack = carebot_stack(var, model=model())
    state_database = var / "whatsapp.db"
    stack.env.update(simulator_env(twilio.url, auth_token, stack.rasa_url, state_database))
    twilio.callbacks_to = stack.rasa_url  # delivery statuses reach the channel, as Twilio's would
    runner = None
    try:
        await asyncio.to_thread(lambda: start(stack, tmp_path / "stack.log").wait_ready())
        clinic = load_clinic()
        simulator = Simulator(
            twilio=twilio,
            rasa_url=stack.rasa_url,
            rasa_token=stack.rasa_token,
            auth_token=auth_token,
            contacts=ContactStore(f"sqlite:///{state_database}"),
            backend=make_engine(stack.env["CAREBOT_DATABASE_URL"]),
            templates=clinic.templates,
            flows=flow_index(),
        )
        token = uuid.uuid4().hex
        runner = web.AppRunner(simulator_app(simulator, token, clinic.name, environ={}), access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            printed = await run_script(
                "simulator.mjs", tmp_path, BASE_URL=f"http://127.0.0.1:{port}", TOKEN=token
            )
        except AssertionError as failed:
            raise AssertionError(f"{failed}\n--- the stack's log:\n{stack.running.log_tail(3000)}") from None
        steps = {entry.pop("step"): entry for entry in map(json.loads, printed.splitlines())}
        assert list(steps) == [
            "no_token_refused",
            "opened",
            "booked",
            "triaged",
            "reminded",
            "shown",
            "flow_linked",
            "reset",
        ]

        # The chat's bot messages are exactly what the stand-in accepted for the number, in order.
        phone = steps["shown"]["phone"]
        received = [a for a in twilio.accepted if a.to == f"whatsapp:{phone}"]
        shown = [m for m in steps["shown"]["chat"] if m["from"] == "bot"]
        assert [m["sid"] for m in shown] == [a.sid for a in received]
        assert [m["body"] for m in shown] == [phone_shows(twilio, a) for a in received]
        offer = next(a for a in received if a.content_sid in twilio.contents)  # the times as tap-to-answer
        options = twilio.shown(offer).get("actions") or twilio.shown(offer).get("items")
        [offer_shown] = [m for m in shown if m["sid"] == offer.sid]
        assert offer_shown["options"] == [o.get("title") or o.get("item") for o in options]
        # Outside the 24-hour window the appointment's reminder came as the clinic's approved template.
        assert steps["reminded"]["count"] in (
            1,
            2,
        )  # the appointment's reminders (24 h and 2 h before) by then
        reminder_sid = clinic.templates["appointment_reminder"]
        templates = [m for m in shown if m["template"]]
        assert len(templates) == steps["reminded"]["count"] and all(
            m["template"] == "Template: appointment_reminder" for m in templates
        )
        assert [a.content_sid for a in received if a.sid in {m["sid"] for m in templates}] == [
            reminder_sid
        ] * len(templates)
        # The patient's side: every message typed or tapped, in order.
        said = [m["body"] for m in steps["shown"]["chat"] if m["from"] == "patient"]
        assert said[:2] == ["I'd like to book a GP appointment", "next Tuesday morning"]
        assert said[3:5] == ["Sam Taylor", "21/07/1980"]
        assert "I have had a headache since this morning" in said
        # The symptom check's answer reached the phone as Twilio received it (compared above with the rest).
        assert any("This is not a diagnosis" in m["body"] for m in shown)

        # The panel shows the intents of Rasa's tracker, newest first, and links the flows that ran.
        simulator.phone = phone  # the browser's reset moved on to a new patient
        events = await simulator.tracker_events()
        intents = [e["parse_data"]["intent"]["name"] for e in events if e["event"] == "user"]
        panels = steps["shown"]["panels"]
        shown_intents = [p["intent"].split(" (")[0] for p in reversed(panels)]
        # The reminders' dispatcher runs on its own clock: one it fired after the page was read may follow in the
        # tracker (its message still in the outbox, so not on the page either), and nothing else may.
        assert intents[: len(shown_intents)] == shown_intents
        assert set(intents[len(shown_intents) :]) <= {"appointment_reminder"}
        assert panels[-1]["intent"].startswith("book_appointment (")
        assert any(p["intent"].startswith("describe_symptoms (") for p in panels)
        assert "appointment_form" in " ".join(p["actions"] for p in panels)
        assert steps["flow_linked"]["link"].startswith("/simulator/flows/")
        assert steps["reset"]["phone"] != phone
        assert (tmp_path / "simulator.png").stat().st_size > 10_000
        keep_screenshots(tmp_path, "simulator.png")
    finally:
        if runner is not None:
            await runner.cleanup()
        await asyncio.to_thread(stack.stop)
        await twilio.stop()
