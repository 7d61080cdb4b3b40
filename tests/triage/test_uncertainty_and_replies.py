"""The uncertainty policy and free-text replies, on the project's protocols (docs/conversation-design.md)."""

from __future__ import annotations

import pytest

from carebot.triage.engine import (
    SIMPLER,
    InvalidAnswer,
    add_findings,
    answer,
    next_question,
    outcome,
    read_reply,
    start,
    take_reply,
)
from carebot.triage.model import NOT_SURE, Profile


def test_not_sure_to_an_emergency_question_raises_the_outcome_to_urgent_with_the_emergency_advice_first(
    protocols,
):
    state = start(
        ["chest_pain"], Profile(), protocols=protocols
    )  # chest pain protocol: if_unsure urgent (default)
    state = answer(state, "chest_pain_spreading", NOT_SURE, protocols)
    result = outcome(state, protocols)
    assert result.level == "urgent"
    assert result.advice[0].startswith('You were not sure about this: "Does the pain spread')


def test_not_sure_to_a_question_the_patient_can_check_keeps_the_level_but_says_the_advice_first(protocols):
    state = start(["sore_throat"], Profile(), protocols=protocols)  # cough/cold protocol: if_unsure advice
    state = answer(state, "throat_swallow", NOT_SURE, protocols)
    result = outcome(state, protocols)
    assert result.level == "self_care"
    assert result.advice[0].startswith('You were not sure about this: "Are you unable to swallow')


def test_not_sure_to_a_question_whose_yes_is_no_emergency_changes_nothing(protocols):
    state = answer(start(["cough"], Profile(), protocols=protocols), "cough_breathless", NOT_SURE, protocols)
    assert outcome(state, protocols).advice[0].startswith("You can probably look after this at home")


def test_a_question_with_simpler_words_is_asked_again_once_before_not_sure_counts(protocols):
    state = start(["rash", "fever"], Profile("child"), protocols=protocols)
    question = protocols.questions["rash_glass"]
    first = take_reply(state, question, "I'm not sure", protocols=protocols)
    assert first.say == SIMPLER and first.state.reasked == ("rash_glass",) and not first.state.answers
    second = take_reply(first.state, question, "I'm not sure", protocols=protocols)
    assert second.say is None and second.state.answers == (("rash_glass", NOT_SURE),)


def test_a_sentence_answers_the_question_through_its_findings(protocols):
    question = protocols.questions["injury_bleeding"]
    assert read_reply(question, "it won't stop, it's pouring", current=["heavy_bleeding"]) == "yes"
    assert read_reply(question, "no the bleeding has stopped", denied=["heavy_bleeding"]) == "no"


def test_yes_and_no_in_everyday_words(protocols):
    question = protocols.questions["chest_pain_sweating"]
    assert read_reply(question, "yeah he is") == "yes"
    assert read_reply(question, "i am not") == "no"  # the longer phrase wins over "i am"
    assert read_reply(question, "👍") == "yes"
    glass = protocols.questions["rash_glass"]
    assert read_reply(glass, "no") == "fades"  # the option written "No, the rash fades"


def test_a_reply_that_fits_nothing_is_refused_with_the_options(protocols):
    with pytest.raises(InvalidAnswer, match="1. Yes"):
        read_reply(protocols.questions["chest_pain_sweating"], "purple")


def test_a_plain_no_to_a_question_with_set_answers_counts_as_not_sure(protocols):
    state = start(["cough"], Profile(), protocols=protocols)
    while (question := next_question(state, protocols)).id != "cough_duration":  # the yes/no ones come first
        state = answer(state, question.id, "no", protocols)
    turn = take_reply(state, question, "no", protocols=protocols)
    assert turn.say is None and turn.state.answers[-1] == ("cough_duration", NOT_SURE)


def test_findings_in_a_reply_are_merged_and_screened(protocols):
    state = start(["chest_pain"], Profile(), protocols=protocols)
    state = add_findings(state, ["sweating"], protocols=protocols)
    assert outcome(state, protocols).level == "emergency"
