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
from carebot.review.model import nlu_yaml
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
