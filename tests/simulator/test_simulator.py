"""The designers' simulator without Rasa: what the phone shows of each message the Twilio stand-in accepted, the
side panel from tracker events, the page's token and its absence in production, and a turn through the real
WhatsApp channel (tests/channels/whatsapp_harness.py: the channel in a Sanic server with a scripted bot, replies to
the stand-in) — signed like Twilio, waited for, shown, tapped, and the 24-hour window closed."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import aiohttp
import pytest
from sqlalchemy import select

from carebot import migrations, mode, production, settings
from carebot.backend.db import make_engine
from carebot.clock import utc_now
from carebot.reminders.store import reminder_occurrences, reminders
from carebot.server.app import create_app
from carebot.simulator import model
from carebot.simulator.service import Simulator, flow_index
from carebot.simulator.web import COOKIE, simulator_app
from tests.channels.whatsapp_harness import (  # noqa: F401 - fixtures
    AUTH_TOKEN,
    PUBLIC_URL,
    TEMPLATES,
    clock,
    contacts,
    make_harness,
    sender_factory,
    twilio,
)
from tests.loopback import start

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "simulator-token-for-the-tests"


# ---------------------------------------------------------------------------------------------- the pure part
def test_a_tap_a_pick_a_photo_and_a_location_are_posted_as_twilio_posts_them() -> None:
    tapped = model.inbound_form("+447700900999", button={"id": "opt-1", "title": "Yes, I agree"})
    assert (tapped["Body"], tapped["ButtonText"], tapped["ButtonPayload"]) == ("Yes, I agree",) * 2 + (
        "opt-1",
    )
    assert (tapped["From"], tapped["WaId"]) == ("whatsapp:+447700900999", "447700900999")
    picked = model.inbound_form("+447700900999", list_item={"id": "slot-3", "title": "Tue 09:30"})
    assert (picked["Body"], picked["ListId"], picked["ListTitle"]) == ("Tue 09:30", "slot-3", "Tue 09:30")
    photo = model.inbound_form(
        "+447700900999", media={"url": "https://x/p.jpg", "content_type": "image/jpeg"}
    )
    assert (photo["NumMedia"], photo["MediaUrl0"], photo["MediaContentType0"]) == (
        "1",
        "https://x/p.jpg",
        "image/jpeg",
    )
    assert model.patient_bubble(photo)["kind"] == "media"
    place = model.inbound_form(
        "+447700900999", location={"latitude": 51.5, "longitude": -0.14, "label": "Home"}
    )
    assert (place["Latitude"], place["Longitude"], place["Label"]) == ("51.5", "-0.14", "Home")
    assert model.patient_bubble(place) == {
        "from": "patient",
        "kind": "location",
        "body": "Home",
        "latitude": "51.5",
        "longitude": "-0.14",
    }
    assert (
        model.inbound_form("+447700900999", body="hi")["MessageSid"]
        != model.inbound_form("+447700900999", body="hi")["MessageSid"]
    )


def test_the_phone_shows_buttons_lists_templates_media_and_text_as_twilio_received_them() -> None:
    quick = {"type": model.QUICK_REPLY, "body": "Agree?", "actions": [{"id": "a", "title": "Yes"}]}
    assert model.bot_bubble("SM1", "", "", "HXq", "{}", quick, {}) == {
        "from": "bot",
        "sid": "SM1",
        "kind": "buttons",
        "body": "Agree?",
        "buttons": [{"id": "a", "title": "Yes"}],
    }
    listed = {
        "type": model.LIST_PICKER,
        "body": "Times",
        "button": "Choose",
        "items": [{"id": "t1", "item": "9:00"}],
    }
    shown = model.bot_bubble("SM2", "", "", "HXl", "{}", listed, {})
    assert (shown["kind"], shown["button"], shown["items"]) == (
        "list",
        "Choose",
        [{"id": "t1", "title": "9:00"}],
    )
    template = model.bot_bubble(
        "SM3", "", "", "HX01", json.dumps({"1": "ibuprofen"}), None, {"medication_reminder": "HX01"}
    )
    assert (template["kind"], template["template"], template["variables"]) == (
        "template",
        "medication_reminder",
        {"1": "ibuprofen"},
    )
    media = model.bot_bubble("SM4", "A map", "https://x/map.png", "", "", None, {})
    assert (media["kind"], media["media_url"], media["body"]) == ("media", "https://x/map.png", "A map")
    assert model.bot_bubble("SM5", "Hello", "", "", "", None, {})["kind"] == "text"


def test_a_panel_per_message_with_intent_entities_actions_slots_and_triage() -> None:
    events: List[Dict[str, Any]] = [
        {"event": "action", "name": "action_session_start"},
        {
            "event": "user",
            "text": "I have had a headache for 3 days",
            "parse_data": {
                "intent": {"name": "describe_symptom", "confidence": 0.91234},
                "intent_ranking": [
                    {"name": "describe_symptom", "confidence": 0.91},
                    {"name": "out_of_scope", "confidence": 0.05},
                ],
                "entities": [{"entity": "symptom", "value": "headache", "extractor": "FindingsExtractor"}],
            },
        },
        {"event": "action", "name": "action_triage_start", "policy": "RulePolicy", "confidence": 1.0},
        {
            "event": "slot",
            "name": "triage_state",
            "value": {"findings": ["headache"], "protocols": ["headache"]},
        },
        {"event": "active_loop", "name": "triage_form"},
        {"event": "slot", "name": "requested_slot", "value": "triage_answer"},
        {"event": "slot", "name": "booking_slot", "value": None},
        {"event": "action", "name": "action_listen"},
        {
            "event": "user",
            "text": "/deny",
            "parse_data": {"intent": {"name": "deny", "confidence": 0.8}},
            "metadata": {"button_reply": {"text": "No", "payload": "/deny"}},
        },
        {"event": "slot", "name": "triage_level", "value": "routine"},
    ]
    first, second = model.panels(events, {"action_triage_start": ["rules-triage"]})
    assert (first["intent"], first["confidence"]) == ("describe_symptom", 0.912)
    assert first["ranking"] == [{"name": "out_of_scope", "confidence": 0.05}]
    assert first["entities"][0]["entity"] == "symptom" and first["entities"][0]["value"] == "headache"
    assert [a["name"] for a in first["actions"]] == ["action_triage_start", "form triage_form active"]
    assert first["actions"][0]["policy"] == "RulePolicy"
    assert (first["slots"], first["cleared"]) == ({"requested_slot": "triage_answer"}, ["booking_slot"])
    assert (first["triage"]["findings"], first["triage"]["protocols"]) == (["headache"], ["headache"])
    assert first["flows"] == ["rules-triage", "triage-headache"]
    assert (second["intent"], second["tapped"], second["triage"]) == ("deny", "No", {"level": "routine"})


def test_a_conversation_is_with_staff_from_its_pause_until_its_resume() -> None:
    assert not model.with_staff([{"event": "user"}])
    assert model.with_staff([{"event": "pause"}, {"event": "user"}])
    assert not model.with_staff([{"event": "pause"}, {"event": "resume"}, {"event": "user"}])


def test_every_rule_action_links_to_a_diagram_that_exists() -> None:
    index = flow_index()
    assert "rules-booking" in index["appointment_form"] and index["action_red_flag"][0] == "triage-red-flags"
    diagrams = {name for names in index.values() for name in names}
    assert all((ROOT / "docs" / "flows" / f"{name}.svg").is_file() for name in diagrams)


# ---------------------------------------------------------------------------------------------- development only
def test_the_simulator_does_not_exist_in_production_mode(tmp_path: Path) -> None:
    with pytest.raises(mode.ModeError, match="development mode only"):
        simulator_app(object(), TOKEN, environ={"CAREBOT_MODE": "production"})  # type: ignore[arg-type]
    refused = subprocess.run(
        [sys.executable, "-m", "carebot.simulator", "--port", "1"],
        env={"CAREBOT_MODE": "production", "PATH": "/usr/bin:/bin", "CAREBOT_VAR_DIR": str(tmp_path)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2 and "development mode only" in refused.stderr
    # The production topology starts no simulator, and neither its nginx nor the backend has the route.
    config = settings.load({"CAREBOT_VAR_DIR": str(tmp_path), "CAREBOT_MODE": "production"})
    assert not any("carebot.simulator" in " ".join(s.argv) for s in production.stack(sys.executable, config))
    nginx = production.nginx_config(config, tmp_path).read_text().splitlines()
    assert not [line for line in nginx if "location" in line and "simulator" in line]
    from carebot.clinic import load_clinic

    backend = create_app(
        make_engine(f"sqlite:///{tmp_path / 'backend.db'}"), load_clinic(), "a-backend-token-x"
    )
    assert not [r for r in backend.router.resources() if "simulator" in r.canonical]
    for place in (
        "Dockerfile",
        "deploy/compose.yaml",
        *map(str, (ROOT / "deploy" / "kubernetes").glob("*.y*ml")),
    ):
        assert "simulator" not in (ROOT / place).read_text()
    assert "carebot/simulator" in (ROOT / ".dockerignore").read_text().splitlines()  # not even in the image


async def test_the_page_and_its_calls_need_the_token(tmp_path: Path) -> None:
    app = simulator_app(
        Simulator(twilio=None, rasa_url="", rasa_token="", auth_token="", contacts=None), TOKEN, environ={}
    )  # type: ignore[arg-type]
    runner, url = await start(app)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        for path in ("/simulator", "/simulator/api/state", "/simulator/static/simulator.js"):
            async with session.get(url + path) as refused:
                assert refused.status == 401
        async with session.get(url + "/simulator?token=wrong-token-wrong") as wrong:
            assert wrong.status == 401
        async with session.post(url + "/simulator/api/reset", json={}) as refused:
            assert refused.status == 401
        async with session.get(url + f"/simulator?token={TOKEN}", allow_redirects=False) as given:
            assert given.status == 303 and given.headers["Location"] == "/simulator"
            cookie = given.cookies[COOKIE]
            assert cookie.value == TOKEN and cookie["httponly"] and cookie["samesite"] == "Strict"
        async with session.get(url + "/simulator") as opened:
            assert opened.status == 200 and "default-src 'self'" in opened.headers["Content-Security-Policy"]
            assert 'src="/simulator/static/simulator.js"' in await opened.text()
        async with session.get(url + "/simulator/static/simulator.js") as script:
            assert script.status == 200 and "textContent" in await script.text()
        async with session.post(url + "/simulator/api/reset", data="{}") as not_json:
            assert not_json.status == 415  # a form post from another site's page is refused
        async with session.get(url + "/simulator/flows/..%2F..%2Fpyproject.svg") as escaped:
            assert escaped.status == 404
    await runner.cleanup()


# ---------------------------------------------------------------------------------------------- through the channel
LONG = " ".join(f"Sentence number {n} of a long answer." for n in range(80))  # ~2,900 characters
TIMES = [{"title": f"Tue {9 + n}:00", "payload": f'/choose_option{{"option": "{n + 1}"}}'} for n in range(5)]


def scripted(message: Any) -> List[Dict[str, Any]]:
    """The bot's answers in the channel test: buttons, a list, a long text, a photo, else an echo."""
    if message.text == "hello":
        return [
            {
                "text": "Would you like a reminder?",
                "buttons": [
                    {"title": "Yes please", "payload": "/affirm"},
                    {"title": "No thanks", "payload": "/deny"},
                ],
            }
        ]
    if message.text == "times":
        return [{"text": "Which time suits you?", "buttons": TIMES}]
    if message.text == "long":
        return [{"text": LONG}]
    if message.text == "map":
        return [{"custom": {"media_url": "https://clinic.example/map.png", "text": "How to find us"}}]
    return [{"text": f"You said {message.text}"}]


async def test_turns_go_through_the_real_channel_and_the_phone_shows_what_twilio_received(
    make_harness,
    twilio,
    contacts,  # noqa: F811
) -> None:
    harness = await make_harness()
    harness.bot.respond = scripted
    simulator = Simulator(
        twilio=twilio,
        rasa_url=harness.base_url,
        rasa_token="t",
        auth_token=AUTH_TOKEN,
        contacts=harness.channel.sender.contacts,
        public_url=PUBLIC_URL,
        templates=TEMPLATES,
    )
    try:
        assert await simulator.tracker_events() == []  # no Rasa here: no conversation to read (404)
        state = await simulator.send({"text": "hello"})
        [said, offer] = state["messages"]
        assert said == {"from": "patient", "kind": "text", "body": "hello", "sid": said["sid"]}
        assert offer["kind"] == "buttons" and [b["title"] for b in offer["buttons"]] == [
            "Yes please",
            "No thanks",
        ]
        [accepted] = twilio.accepted
        assert offer["sid"] == accepted.sid and offer["body"] == twilio.shown(accepted)["body"]

        state = await simulator.send({"button": offer["buttons"][0]})
        assert harness.bot.messages[-1].text == "/affirm"  # the tap reached Rasa as the offered payload
        assert state["messages"][-1]["body"] == "You said /affirm"

        listed = (await simulator.send({"text": "times"}))["messages"][-1]
        assert (listed["kind"], [i["title"] for i in listed["items"]]) == (
            "list",
            [t["title"] for t in TIMES],
        )
        await simulator.send({"list_item": listed["items"][2]})
        assert harness.bot.messages[-1].text == TIMES[2]["payload"]  # the pick, as the payload offered

        before = len(twilio.accepted)
        parts = (await simulator.send({"text": "long"}))["messages"][-(len(twilio.accepted) - before) :]
        assert len(parts) > 1 and [p["body"] for p in parts] == [a.body for a in twilio.accepted[before:]]
        assert " ".join(p["body"] for p in parts).split() == LONG.split()  # split on sentences, nothing lost

        photo = (await simulator.send({"text": "map"}))["messages"][-1]
        assert (photo["kind"], photo["media_url"], photo["body"]) == (
            "media",
            "https://clinic.example/map.png",
            "How to find us",
        )
        sent = await simulator.send({"media": {"url": "https://x/p.jpg", "content_type": "image/jpeg"}})
        assert harness.bot.messages[-1].text == '/send_media{"media_type": "image"}'
        assert sent["messages"][-2]["kind"] == "media"
        await simulator.send({"location": {"latitude": 51.5, "longitude": -0.14, "label": "Home"}})
        assert harness.bot.messages[-1].metadata["location"]["label"] == "Home"
        assert state["window"]["open"]

        # Jump 25 hours: the window closes, and what the bot starts now goes as its template.
        last = contacts.last_inbound(simulator.phone)
        assert await simulator.close_window() == last - dt.timedelta(hours=25)
        assert not (await simulator.state())["window"]["open"]
        await harness.channel.output.send_custom_json(
            f"whatsapp:{simulator.phone}",
            {
                "template": "medication_reminder",
                "variables": {"1": "ibuprofen"},
                "text": "Time for ibuprofen",
            },
        )
        template = (await simulator.state())["messages"][-1]
        assert (template["kind"], template["template"], template["variables"]) == (
            "template",
            "medication_reminder",
            {"1": "ibuprofen"},
        )

        old = simulator.phone
        assert simulator.reset() != old and (await simulator.state())["messages"] == []
    finally:
        await simulator.close()


def test_set_clock_makes_the_patients_reminders_due_within_the_hours_due_now(tmp_path: Path) -> None:
    import asyncio

    engine = make_engine(f"sqlite:///{tmp_path / 'backend.db'}")
    migrations.upgrade(engine, migrations.BACKEND)
    simulator = Simulator(
        twilio=None,
        rasa_url="",
        rasa_token="",
        auth_token="",
        contacts=None,
        backend=engine,  # type: ignore[arg-type]
    )
    now = utc_now().replace(tzinfo=None, microsecond=0)
    with engine.begin() as connection:
        for conversation in (f"whatsapp:{simulator.phone}", "whatsapp:+447700900001"):
            reminder_id = connection.execute(
                reminders.insert().values(
                    conversation_id=conversation,
                    kind="medication",
                    label="ibuprofen",
                    rrule="FREQ=DAILY",
                    dtstart=now,
                    tz="Europe/London",
                    created_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key[0]
            for hours in (3, 30):
                connection.execute(
                    reminder_occurrences.insert().values(
                        reminder_id=reminder_id,
                        due_at=now + dt.timedelta(hours=hours),
                        idempotency_key=f"{conversation}-{hours}",
                    )
                )
    assert asyncio.run(simulator.advance_reminders(24)) == 1
    with engine.connect() as connection:
        due = dict(
            connection.execute(
                select(reminder_occurrences.c.idempotency_key, reminder_occurrences.c.due_at)
            ).all()
        )
    assert due[f"whatsapp:{simulator.phone}-3"] <= utc_now().replace(tzinfo=None)
    assert due[f"whatsapp:{simulator.phone}-30"] == now + dt.timedelta(hours=30)
    assert due["whatsapp:+447700900001-3"] == now + dt.timedelta(hours=3)  # another patient's: untouched
