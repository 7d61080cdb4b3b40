"""The indexed entity ruler finds what spaCy's EntityRuler finds, in the same order, over the designers' patterns."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy
from spacy.pipeline import EntityRuler

from carebot.nlu.ruler import IndexedEntityRuler, anchor_words
from evaluation.cases import load_cases

ROOT = Path(__file__).resolve().parents[2]


def test_the_anchor_is_the_smallest_set_of_words_a_required_token_takes():
    pattern = [
        {"NORM": {"IN": ["swollen", "puffy", "big"]}, "OP": "?"},
        {"NORM": {"IN": ["leg", "legs"]}},
        {"NORM": "ankle"},
    ]
    assert anchor_words(pattern) == {"ankle"}
    assert anchor_words([{"NORM": {"IN": ["leg", "legs"]}, "OP": "+"}, {"IS_PUNCT": True}]) == {"leg", "legs"}


def test_a_pattern_without_a_required_word_has_no_anchor():
    assert anchor_words([{"LIKE_NUM": True}, {"NORM": "kg", "OP": "?"}]) is None
    assert anchor_words([{"NORM": {"REGEX": "^fe+ver$"}}, {"NORM": {"NOT_IN": ["no"]}}]) is None
    assert anchor_words([{"NORM": "not", "OP": "!"}, {"LOWER": "sure"}]) is None


PATTERNS = [
    {
        "label": "SYMPTOM",
        "id": "leg_swelling",
        "pattern": [{"NORM": {"IN": ["swollen", "puffy"]}}, {"OP": "?"}, {"NORM": "leg"}],
    },
    {
        "label": "SYMPTOM",
        "id": "limb_pain",
        "pattern": [{"NORM": {"IN": ["swollen", "sore"]}}, {"OP": "?"}, {"NORM": "leg"}],
    },
    {"label": "SYMPTOM", "id": "fever", "pattern": "high temperature"},
    {"label": "NUMBER", "pattern": [{"LIKE_NUM": True}, {"NORM": {"IN": ["c", "f"]}, "OP": "?"}]},
    {
        "label": "SYMPTOM",
        "id": "chest_pain",
        "pattern": [{"NORM": "chest"}, {"NORM": {"IN": ["pain", "hurt"]}, "OP": "+"}],
    },
]
TEXTS = [
    "my swollen left leg and a high temperature of 39 c",
    "sore leg",
    "chest pain pain since 3",
    "nothing here",
    "puffy leg, swollen leg",
]


def _rulers(nlp: spacy.language.Language):
    plain = EntityRuler(nlp, "plain", phrase_matcher_attr="NORM")
    indexed = IndexedEntityRuler(nlp, "indexed", phrase_matcher_attr="NORM")
    for ruler in (plain, indexed):
        ruler.add_patterns(PATTERNS)
    return plain, indexed


@pytest.mark.parametrize("text", TEXTS)
def test_same_matches_as_spacys_entity_ruler(text):
    nlp = spacy.blank("en")
    plain, indexed = _rulers(nlp)
    doc = nlp(text)
    assert indexed.match(doc) == plain.match(doc)
    assert [(e.text, e.label_, e.ent_id_) for e in indexed(nlp(text)).ents] == [
        (e.text, e.label_, e.ent_id_) for e in plain(nlp(text)).ents
    ]


def test_the_index_follows_patterns_added_and_removed_after_use():
    nlp = spacy.blank("en")
    _, indexed = _rulers(nlp)
    assert [e.ent_id_ for e in indexed(nlp("a stiff neck")).ents] == []
    indexed.add_patterns(
        [{"label": "SYMPTOM", "id": "stiff_neck", "pattern": [{"NORM": "stiff"}, {"NORM": "neck"}]}]
    )
    assert [e.ent_id_ for e in indexed(nlp("a stiff neck")).ents] == ["stiff_neck"]
    indexed.remove("stiff_neck")
    assert [e.ent_id_ for e in indexed(nlp("a stiff neck")).ents] == []


def test_designers_patterns_match_as_with_spacys_entity_ruler_on_the_case_file(nlp):
    """Every match, and the order that picks between two patterns over the same words, over 470 messages."""
    indexed = nlp.get_pipe("entity_ruler")
    assert isinstance(indexed, IndexedEntityRuler)
    plain = EntityRuler(nlp, "plain", phrase_matcher_attr="NORM")
    plain.add_patterns(indexed.patterns)
    cases = load_cases(ROOT / "tests" / "triage_cases.csv")
    differing = [case.line for case in cases if indexed.match(nlp(case.text)) != plain.match(nlp(case.text))]
    assert differing == []
