"""The protocol files load, and the validator names file and line for every kind of mistake."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from carebot.clinic import load_clinic
from carebot.triage.engine import PATTERNS_DIR, TRIAGE_DIR
from carebot.triage.loader import ProtocolError, finding_vocabulary, load_protocols

REQUIRED = {
    "chest_pain",
    "breathing_difficulty",
    "abdominal_pain",
    "headache",
    "fever_adult",
    "fever_child",
    "fever_infant",
    "rash",
    "injury",
    "back_pain",
    "urinary",
    "cough_cold_sore_throat",
    "vomiting_diarrhoea",
    "dizziness_fainting",
    "pregnancy",
    "mental_health",
    "allergic_reaction",
    "overdose_poisoning",
}


def test_every_protocol_file_loads_with_services_from_clinic_yml(protocols):
    services = [service.id for service in load_clinic().services]
    loaded = load_protocols(TRIAGE_DIR, PATTERNS_DIR, services)
    files = {p.stem for p in TRIAGE_DIR.glob("*.yml")} - {"red_flags", "dispositions", "escalations"}
    assert {p.id for p in loaded.protocols} == files
    assert REQUIRED <= files
    assert loaded.red_flags and loaded.escalations
    assert set(loaded.dispositions) == {
        "emergency",
        "urgent",
        "routine",
        "self_care",
        "unsure_reason",
        "unsure_advice",
    }


def test_every_red_flag_and_rule_cites_a_source(protocols):
    for flag in protocols.red_flags:
        assert flag.source and all("http" in s for s in flag.source), flag.id
    for protocol in protocols.protocols:
        for rule in (protocol.base,) + protocol.rules:
            assert rule.source and all("http" in s for s in rule.source), (protocol.id, rule.id)


def test_every_question_offers_not_sure(protocols):
    for question in protocols.questions.values():
        assert "not_sure" in [o.id for o in question.options]
        assert all(o.text for o in question.options)


@pytest.fixture()
def broken_dir(tmp_path: Path) -> Path:
    """A private copy of the protocols to break one way per test."""
    target = tmp_path / "triage"
    shutil.copytree(TRIAGE_DIR, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"test setup: {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def _problems(directory: Path) -> str:
    with pytest.raises(ProtocolError) as error:
        load_protocols(directory, PATTERNS_DIR)
    return str(error.value)


def test_broken_yaml_is_reported_with_file_and_line(broken_dir):
    path = broken_dir / "headache.yml"
    _edit(path, "title: Headache", "title: [Headache")
    assert f"{path}:" in _problems(broken_dir)
    assert "not valid YAML" in _problems(broken_dir)


def test_unknown_finding_is_reported_at_its_rule(broken_dir):
    path = broken_dir / "rash.yml"
    _edit(path, "when: {any: [cellulitis]}", "when: {any: [cellulitiss]}")
    line = _line_of(path, "id: skin_infection")
    message = _problems(broken_dir)
    assert f"{path}:{line}: rule 'skin_infection': unknown finding id(s) ['cellulitiss']" in message


def test_unknown_finding_in_red_flags_is_reported(broken_dir):
    path = broken_dir / "red_flags.yml"
    _edit(path, "when: {any: [seizure]}", "when: {any: [siezure]}")
    assert f"{path}:{_line_of(path, 'id: seizure')}: red flag 'seizure': unknown finding" in _problems(
        broken_dir
    )


def test_rule_that_can_never_decide_is_unreachable(broken_dir):
    path = broken_dir / "rash.yml"
    _edit(path, "  - id: rash_lasting\n    level: routine", "  - id: rash_lasting\n    level: self_care")
    line = _line_of(path, "id: rash_lasting")
    assert f"{path}:{line}: rule 'rash_lasting' is unreachable" in _problems(broken_dir)


def test_rule_for_a_profile_the_protocol_never_sees_is_unreachable(broken_dir):
    path = broken_dir / "fever_infant.yml"
    _edit(
        path,
        "when: {all: [[fever, high_fever], [rash, seizure]]}",
        "when: {all: [[fever, high_fever], [rash, seizure]], age_group: [adult]}",
    )
    assert "rule 'infant_fever_with_rash' is unreachable: its age group" in _problems(broken_dir)


def test_if_not_sure_naming_an_unknown_option_is_rejected(broken_dir):
    path = broken_dir / "fever_child.yml"
    _edit(path, "if_not_sure: under_3m", "if_not_sure: under_three_months")
    line = _line_of(path, "id: fever_child_baby_age")
    assert (
        f"{path}:{line}: question 'fever_child_baby_age': 'if_not_sure' refers to unknown option"
        in _problems(broken_dir)
    )


def test_question_without_not_sure_is_rejected(broken_dir):
    path = broken_dir / "rash.yml"
    stays = """      - {id: stays, text: "Yes, it does not fade", finding: non_blanching_rash}"""
    _edit(path, stays + """\n      - {id: not_sure, text: "I'm not sure"}""", stays)
    assert "question 'rash_glass': every question needs a 'not_sure' option" in _problems(broken_dir)


def test_unknown_level_and_service_are_rejected(broken_dir):
    path = broken_dir / "urinary.yml"
    _edit(
        path,
        "  - id: kidney_infection_signs\n    level: urgent",
        "  - id: kidney_infection_signs\n    level: soon",
    )
    line = _line_of(path, "id: kidney_infection_signs")
    assert f"{path}:{line}: rule 'kidney_infection_signs': level must be one of" in _problems(broken_dir)
    _edit(broken_dir / "back_pain.yml", "service: physio", "service: chiropractor")
    with pytest.raises(ProtocolError) as error:
        load_protocols(broken_dir, PATTERNS_DIR, ["gp", "physio"])
    assert "service 'chiropractor' is not a service in clinic.yml" in str(error.value)


def test_a_rule_id_defined_twice_is_rejected_wherever_the_copies_are(broken_dir):
    path = broken_dir / "urinary.yml"
    _edit(path, "  - id: uti_needs_a_gp\n", "  - id: kidney_infection_signs\n")
    assert "rule 'kidney_infection_signs': id already defined at" in _problems(broken_dir)
    _edit(broken_dir / "injury.yml", "  - id: suspected_fracture\n", "  - id: severe_burn\n")
    assert "rule 'severe_burn': id already defined at " + str(broken_dir / "red_flags.yml") in _problems(
        broken_dir
    )


def test_unknown_finding_in_none_is_reported(broken_dir):
    path = broken_dir / "red_flags.yml"
    _edit(path, "none: [sunburn]", "none: [sunburnt]")
    line = _line_of(path, "id: severe_burn")
    assert f"{path}:{line}: red flag 'severe_burn': unknown finding id(s) ['sunburnt']" in _problems(
        broken_dir
    )


def test_duplicate_question_ids_across_files_are_rejected(broken_dir):
    _edit(broken_dir / "back_pain.yml", "id: back_fever", "id: urinary_fever")
    assert "question id 'urinary_fever' is also used in" in _problems(broken_dir)


def test_every_problem_is_reported_at_once(broken_dir):
    _edit(broken_dir / "rash.yml", "when: {any: [cellulitis]}", "when: {any: [nope_one]}")
    _edit(broken_dir / "headache.yml", "yes_finding: head_injury", "yes_finding: nope_two")
    message = _problems(broken_dir)
    assert "nope_one" in message and "nope_two" in message


def test_vocabulary_comes_from_pattern_files_and_body_sites():
    vocabulary = finding_vocabulary(PATTERNS_DIR)
    assert {
        "chest_pain",
        "cant_breathe",
        "severity_severe",
        "abdominal_pain",
        "duration_3w_to_6w",
    } <= vocabulary
    assert "chest" not in vocabulary  # a body site alone is not a finding
