"""Conversation review on the real backend over the demo seed: search, read a conversation turn by turn, mark a
message "wrong intent → X", export the queue as data/nlu YAML that `rasa data validate` accepts."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from carebot.review.__main__ import main as review_main
from carebot.review.model import FLOWS, OUTCOMES, StoryError, nlu_yaml, story_steps, story_yaml
from tests.dashboard.test_pages import site  # noqa: F401
from tests.handoff.handoff_harness import csrf_of

ROOT = Path(__file__).resolve().parents[2]
RASA_DATA = ["data/nlu", "data/rules", "data/stories", "data/responses"]
TURN = re.compile(r'<li class="event turn-user" id="turn-(\d+)">.*?<span class="text">([^<]*)</span>', re.S)


def test_marked_messages_become_nlu_examples_without_phone_numbers():
    text = nlu_yaml(
        [
            ("can you fix my bike", "out_of_scope"),
            ("Can  you fix my [bike]", "out_of_scope"),
            ("call me on +44 7700 900123", "ask_human"),
            ("when do you open", "ask_opening_hours"),
            ("can you fix my bike", "out_of_scope"),
        ]
    )
    assert yaml.safe_load(text) == {
        "version": "3.1",
        "nlu": [
            {"intent": "ask_opening_hours", "examples": "- when do you open\n"},
            {"intent": "out_of_scope", "examples": "- can you fix my bike\n- Can you fix my (bike)\n"},
        ],
    }


async def test_staff_search_read_mark_and_export(site, tmp_path, monkeypatch):  # noqa: F811
    query = site.seeded.period.query
    stranger = await site.browser()
    status, _ = await site.get(stranger, f"/staff/conversations?{query}")
    assert status == 401

    alice = await site.browser("alice")
    status, everything = await site.get(alice, f"/staff/conversations?{query}")
    assert status == 200 and "+44770090" not in everything
    status, lost = await site.get(alice, f"/staff/conversations?{query}&fallback=1")
    links = re.findall(r'href="/staff/conversations/(\d+)"', lost)
    assert links and len(links) < len(re.findall(r'href="/staff/conversations/\d+"', everything))
    # Classified as fallback or out of scope: the messages the bot failed on, and the names forms took as answers.
    assert len(links) >= len(site.seeded.ledger.identities("not_understood"))

    status, page = await site.get(alice, f"/staff/conversations/{links[0]}")
    assert status == 200 and "+44770090" not in page
    turns = {html.unescape(said): event for event, said in TURN.findall(page)}
    said = next(text for text in turns if "bike" in text or "weather" in text or "blorp" in text)
    assert "action_fallback" in page or "utter_out_of_scope" in page

    form = {"intent": "out_of_scope", "csrf": csrf_of(page)}
    path = f"/staff/conversations/{links[0]}/turns/{turns[said]}/intent"
    async with alice.post(site.url + path, data=form, allow_redirects=False) as response:
        assert response.status == 303 and "done=marked" in response.headers["Location"]
    async with alice.post(
        site.url + path, data={**form, "intent": "no_such_intent"}, allow_redirects=False
    ) as response:
        assert "done=refused" in response.headers["Location"]
    async with alice.post(
        site.url + path, data={"intent": "out_of_scope"}, allow_redirects=False
    ) as response:
        assert response.status == 403  # no CSRF token

    monkeypatch.setenv("CAREBOT_DATABASE_URL", str(site.seeded.backend.url))
    out = tmp_path / "review.yml"
    assert review_main(["export", "--out", str(out)]) == 0
    exported = yaml.safe_load(out.read_text())
    assert exported["nlu"] == [{"intent": "out_of_scope", "examples": f"- {said}\n"}]
    assert review_main(["export", "--out", str(tmp_path / "again.yml")]) == 0
    assert yaml.safe_load((tmp_path / "again.yml").read_text())["nlu"] is None  # nothing marked since


@pytest.mark.slow
def test_rasa_data_validate_accepts_an_export(tmp_path):
    exported = tmp_path / "review.yml"
    exported.write_text(nlu_yaml([("could you repair my bicycle tyre", "out_of_scope")]))
    env = {**os.environ, "ACTION_SERVER_TOKEN": "validate-only"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rasa",
            "data",
            "validate",
            "--data",
            *RASA_DATA,
            str(exported),
            "--fail-on-warnings",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


def _user(text, intent, *entities):
    return {
        "event": "user",
        "text": text,
        "parse_data": {"intent": {"name": intent}, "entities": list(entities)},
    }


def test_a_conversation_becomes_a_masked_test_story():
    events = [
        {"event": "action", "name": "action_session_start"},
        {"event": "session_started"},
        {"event": "slot", "name": "consent_given", "value": True},  # carried over: not a step
        {"event": "action", "name": "action_listen"},
        _user(
            "book physio please",
            "book_appointment",
            {"entity": "clinic_service", "start": 5, "end": 11, "value": "physiotherapy"},
        ),
        {"event": "action", "name": "appointment_form"},
        {"event": "active_loop", "name": "appointment_form"},
        {"event": "slot", "name": "requested_slot", "value": "patient_name"},
        {"event": "bot", "text": "What is your full name?"},
        {"event": "action", "name": "action_listen"},
        _user("sam taylor, call me on 07700 900123", "inform"),
        {"event": "action", "name": "appointment_form"},
        {"event": "slot", "name": "patient_name", "value": "Sam Taylor"},
        {"event": "slot", "name": "booking_result", "value": {"kind": "booked", "who": "Sam Taylor"}},
        {"event": "active_loop", "name": None},
        {"event": "action", "name": "action_appointment_done"},
        {"event": "action", "name": "action_listen"},
        _user('/choose_option{"option": "2"}', "choose_option", {"entity": "option", "value": "2"}),
    ]
    steps, whole = story_steps(events)
    assert whole and steps == [
        {
            "user": 'book [physio]{"entity": "clinic_service", "value": "physiotherapy"} please',
            "intent": "book_appointment",
        },
        {"action": "appointment_form"},
        {"active_loop": "appointment_form"},
        {"slot_was_set": [{"requested_slot": "patient_name"}]},
        {"user": "Alex Example, call me on +44 7700 900000", "intent": "inform"},
        {"action": "appointment_form"},
        {"slot_was_set": [{"patient_name": "Alex Example"}]},
        {"slot_was_set": [{"booking_result": {"kind": "booked", "who": "Alex Example"}}]},
        {"active_loop": None},
        {"action": "action_appointment_done"},
        {"intent": "choose_option", "entities": [{"option": "2"}]},
    ]
    story = story_yaml("a title", steps)
    assert "Sam" not in story and "Taylor" not in story and "900123" not in story
    assert yaml.safe_load(story)["stories"][0]["steps"] == steps
    # The core fallback's forced listen has no story step: the story stops before that turn.
    fallback = [
        _user("the 3rd one", "choose_option"),
        {"event": "action", "name": "action_fallback"},
        {"event": "followup", "name": "action_listen"},
        _user("hello", "greet"),
    ]
    assert story_steps([*events, *fallback]) == (steps, False)
    with pytest.raises(StoryError, match="'restart'"):
        story_steps([*events, {"event": "restart"}])
    with pytest.raises(StoryError, match="no patient message"):
        story_steps(fallback)
    with pytest.raises(StoryError, match="no patient message"):
        story_steps(events[:4])


async def test_staff_save_a_conversation_as_a_masked_test_story(site, tmp_path):  # noqa: F811
    alice = await site.browser("alice")
    status, page = await site.get(alice, f"/staff/conversations?{site.seeded.period.query}")
    first = re.findall(r'href="/staff/conversations/(\d+)"', page)[0]
    status, page = await site.get(alice, f"/staff/conversations/{first}")
    path = f"/staff/conversations/{first}/story"
    async with alice.post(site.url + path, data={}, allow_redirects=False) as response:
        assert response.status == 403  # no CSRF token
    stranger = await site.browser()
    async with stranger.post(
        site.url + path, data={"csrf": csrf_of(page)}, allow_redirects=False
    ) as response:
        assert response.status == 303 and "/staff/login" in response.headers["Location"]
    assert not (tmp_path / "stories").exists()

    async with alice.post(site.url + path, data={"csrf": csrf_of(page)}, allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"].endswith("done=story")
    saved = (tmp_path / "stories" / f"review_{first}.yml").read_text()
    story = yaml.safe_load(saved)["stories"][0]
    assert story["steps"] and "+44770090" not in saved
    status, page = await site.get(alice, f"/staff/conversations/{first}?done=story")
    assert f"review_{first}.yml" in page


async def test_search_by_flow_outcome_and_confidence_finds_the_seeds_conversations(site):  # noqa: F811
    query, ledger = site.seeded.period.query, site.seeded.ledger
    alice = await site.browser("alice")

    async def found(search: str) -> set:
        status, page = await site.get(alice, f"/staff/conversations?{query}&{search}")
        assert status == 200 and "+44770090" not in page
        return set(re.findall(r'href="/staff/conversations/(\d+)"', page))

    everyone = await found("")
    for flow, key in FLOWS.items():
        expected = ledger.identities(key)
        assert expected, flow  # the seed has every flow
        assert len(await found(f"flow={flow}")) == len(expected), flow
    for outcome, key in OUTCOMES.items():
        assert len(await found(f"outcome={outcome}")) == len(ledger.identities(key)), outcome
    both = await found("flow=booking&outcome=handed off")
    assert len(both) == len(ledger.identities("funnel:booking:0") & ledger.identities("paused"))
    # The seed scores the fallback 0.3 (its threshold) and every other message 0.9.
    unsure, lost = await found("below=0.5"), await found("fallback=1")
    assert unsure and unsure < lost  # out_of_scope messages are confident
    for conversation in lost:
        status, page = await site.get(alice, f"/staff/conversations/{conversation}")
        assert ("nlu_fallback</strong> 0.3" in page) == (conversation in unsure), conversation
    assert await found("below=0.95") == everyone
    assert await found("below=0.3") == set()
    status, page = await site.get(alice, f"/staff/conversations?{query}&below=2")
    assert status == 400 and "between 0 and 1" in page
    assert await found("flow=no_such_flow") == everyone  # an unknown choice is no filter, as for intents
