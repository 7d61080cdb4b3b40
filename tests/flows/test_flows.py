"""`make flows` (issue 19): every protocol, rules file and the forms drawn from the YAML as it is, the committed
diagrams kept in step with it (`make validate` runs the same check), and Graphviz drawing them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from carebot.flows.__main__ import FLOWS_DIR, RULES_DIR, project_diagrams, stale, write
from carebot.triage.engine import default_protocols


@pytest.fixture(scope="module")
def diagrams():
    return {d.name: d for d in project_diagrams()}


def test_each_protocol_shows_its_questions_in_order_and_the_level_of_each_rule(diagrams) -> None:
    for protocol in default_protocols().protocols:
        dot = diagrams[f"triage-{protocol.id}"].dot
        positions = [dot.index(f'"question_{q.id}"') for q in protocol.questions]
        assert positions == sorted(positions), protocol.id  # asked in this order
        for rule in (*protocol.rules, protocol.base):
            assert f"{rule.level.replace('_', ' ').upper()}: {rule.id}" in dot.replace("\\n", " ")


def test_the_screen_shows_every_red_flag_and_escalation(diagrams) -> None:
    dot = diagrams["triage-red-flags"].dot.replace("\\n", " ")
    protocols = default_protocols()
    assert all(f"): {flag.id}" in dot for flag in protocols.red_flags)
    assert all(f": {rule.id}" in dot for rule in protocols.escalations)


def test_every_rules_file_and_form_is_drawn(diagrams) -> None:
    assert {f"rules-{path.stem}" for path in RULES_DIR.glob("*.yml")} <= set(diagrams)
    forms = diagrams["forms"].dot
    assert '"form_appointment_form_slot_booking_slot"' in forms and '"form_identity_form"' in forms


def test_the_committed_diagrams_match_the_yaml_and_a_changed_rule_is_caught(tmp_path: Path) -> None:
    assert stale(project_diagrams(), FLOWS_DIR) == []
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    faq = yaml.safe_load((rules / "faq.yml").read_text(encoding="utf-8"))
    faq["rules"][0]["rule"] = "A designer renamed this rule"
    (rules / "faq.yml").write_text(yaml.safe_dump(faq), encoding="utf-8")
    assert stale(project_diagrams(rules_dir=rules), FLOWS_DIR) == ["rules-faq"]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is installed by `make tools`")
def test_graphviz_draws_each_diagram_with_its_words(tmp_path: Path) -> None:
    chest = [d for d in project_diagrams() if d.name == "triage-chest_pain"]
    write(chest, tmp_path, render=True)
    svg = (tmp_path / "triage-chest_pain.svg").read_text(encoding="utf-8")
    first_question = default_protocols().protocol("chest_pain").questions[0].text
    assert svg.startswith("<?xml") and first_question.split()[0] in svg and "EMERGENCY" in svg
    assert "triage-chest_pain.svg" in (tmp_path / "README.md").read_text(encoding="utf-8")
