"""The designers' pattern files are refused, with the file and the phrase, when they would work by accident."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from carebot.lexicon.patterns import OWN_ID, PatternFileError, load_implications, load_joins, load_patterns
from carebot.nlu.findings import build_findings_pipeline
from carebot.triage.engine import PATTERNS_DIR, TRIAGE_DIR
from carebot.triage.loader import ProtocolError, finding_vocabulary, load_protocols


def _write(directory: Path, name: str, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")


def test_a_phrase_written_with_two_ids_is_refused_naming_both_files(tmp_path: Path) -> None:
    _write(tmp_path, "a.yml", '- {label: SYMPTOM, id: croup, pattern: "barking cough"}\n')
    _write(tmp_path, "b.yml", '- {label: SYMPTOM, id: cough, pattern: "Barking  cough"}\n')

    with pytest.raises(PatternFileError) as refused:
        load_patterns(tmp_path)

    message = str(refused.value)
    assert "b.yml" in message and "a.yml" in message
    assert '"Barking  cough" is SYMPTOM cough here but "barking cough" is SYMPTOM croup in a.yml' in message


def test_the_same_phrase_with_the_same_meaning_in_two_files_is_allowed(tmp_path: Path) -> None:
    _write(tmp_path, "a.yml", '- {label: SYMPTOM, id: croup, pattern: "barking cough"}\n')
    _write(tmp_path, "b.yml", '- {label: SYMPTOM, id: croup, pattern: "barking cough"}\n')

    assert [p["id"] for p in load_patterns(tmp_path)] == ["croup", "croup"]


def test_two_phrases_the_text_reads_alike_with_two_ids_are_refused(tmp_path: Path) -> None:
    """ "bites" and "bite" are one lemma: written as a rash and as an injury, one of them would never be found."""
    patterns = tmp_path / "patterns"
    shutil.copytree(PATTERNS_DIR, patterns)
    _write(patterns, "zz_extra.yml", '- {label: SYMPTOM, id: rash, pattern: "bites"}\n')
    load_patterns(patterns)  # as written, no phrase repeats

    with pytest.raises(
        PatternFileError, match='"bites" is SYMPTOM rash here but "bit(e|ten)" is SYMPTOM injury'
    ):
        build_findings_pipeline(patterns)


def test_the_project_patterns_give_every_phrase_one_meaning() -> None:
    assert len(load_patterns(PATTERNS_DIR)) > 3000  # loading checks every written phrase


def test_implications_are_read_from_any_pattern_file_and_merged(tmp_path: Path) -> None:
    _write(tmp_path, "a.yml", "implies:\n  rigors: [fever]\npatterns: []\n")
    _write(tmp_path, "b.yml", "implies:\n  rigors: [chills]\n  croup: [cough]\npatterns: []\n")

    assert load_implications(tmp_path) == {"rigors": ("fever", "chills"), "croup": ("cough",)}


def test_an_implication_that_is_not_a_list_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "a.yml", "implies:\n  rigors: fever\npatterns: []\n")

    with pytest.raises(PatternFileError, match="'implies' maps a finding to a list"):
        load_implications(tmp_path)


def test_an_implication_naming_a_finding_no_pattern_makes_fails_the_protocol_check(tmp_path: Path) -> None:
    patterns = tmp_path / "patterns"
    shutil.copytree(PATTERNS_DIR, patterns)
    _write(patterns, "zz_extra.yml", "implies:\n  croup: [barking_seal_noise]\npatterns: []\n")

    with pytest.raises(ProtocolError) as refused:
        load_protocols(TRIAGE_DIR, patterns)

    assert "implies: croup -> cough, barking_seal_noise: unknown finding id(s) ['barking_seal_noise']" in str(
        refused.value
    )


def test_join_words_are_read_from_any_pattern_file_and_merged(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "a.yml",
        'joins:\n  HARM: [touch]\npatterns:\n  - {label: HARM, id: burn, pattern: "kettle"}\n',
    )
    _write(tmp_path, "b.yml", "joins:\n  HARM: [spill]\npatterns: []\n")
    assert load_joins(tmp_path) == {"HARM": {OWN_ID: ("touch", "spill")}}


def test_join_words_may_name_the_finding_each_kind_of_word_makes(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "a.yml",
        "joins:\n  BLISTER:\n    itself: [foot]\n    blistered_face_hands_limbs: [hand]\n    burn_blisters: [burnt]\n"
        'patterns:\n  - {label: BLISTER, id: blistered_face_hands_limbs, pattern: "blister"}\n',
    )
    assert load_joins(tmp_path) == {
        "BLISTER": {OWN_ID: ("foot",), "blistered_face_hands_limbs": ("hand",), "burn_blisters": ("burnt",)}
    }
    assert {"blistered_face_hands_limbs", "burn_blisters"} <= finding_vocabulary(tmp_path)


def test_join_words_that_are_neither_a_list_nor_findings_mapped_to_lists_are_refused(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "a.yml",
        'joins:\n  BLISTER:\n    burn_blisters: burnt\npatterns:\n  - {label: BLISTER, id: b, pattern: "blister"}\n',
    )
    with pytest.raises(
        PatternFileError, match="'joins' BLISTER: a list of words, or finding ids each mapped"
    ):
        load_joins(tmp_path)


def test_join_words_for_a_label_no_pattern_has_are_refused(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "a.yml",
        'joins:\n  HRAM: [touch]\npatterns:\n  - {label: HARM, id: burn, pattern: "kettle"}\n',
    )
    with pytest.raises(PatternFileError, match=r"'joins' names label\(s\) \['HRAM'\] that no pattern has"):
        load_joins(tmp_path)
