"""A swallowed object as NHS.uk "Swallowed objects" sorts it: a coin or a bead usually passes; something sharp, or
coughing, choking or drooling after it, goes to A&E; tummy pain or being sick after it is checked today."""

from __future__ import annotations

import pytest

from carebot.nlu.findings import current_ids, extract_findings
from evaluation.cases import Case, run_case


def triage(nlp, text: str, reply: str = "no"):
    return run_case(nlp, Case(0, text, "self_care", "", {}), reply)


@pytest.mark.parametrize(
    "text",
    [
        "found my toddler with an open safety pin and i think he swallowed one",
        "my little one swallowed a marble and now hes coughing non stop",
        "she swallowed a bead and keeps gagging and drooling",
    ],
)
def test_something_sharp_or_a_swallowed_object_with_coughing_or_drooling_goes_to_a_and_e(nlp, text):
    result = triage(nlp, text, reply="I'm not sure")
    assert result.outcome.level == "emergency"
    assert result.asked == ()


def test_a_coin_swallowed_by_a_child_who_is_fine_is_looked_after_at_home(nlp):
    result = triage(nlp, "my son swallowed a 5p, breathing fine eating fine running round the house")
    assert result.outcome.level == "self_care"
    assert result.asked[0] == "swallowed_object_airway"


def test_tummy_ache_after_swallowing_a_marble_is_checked_today(nlp):
    text = "my 5 yr old swallowed a marble yesterday, a bit of tummy ache today, eating ok"
    assert triage(nlp, text).outcome.level == "urgent"


@pytest.mark.parametrize(
    "text",
    [
        "goes white when i press a glass on it, hes playing and eating fine",
        "food feels like its sticking when i swallow, lost half a stone",
        "i can't swallow my tablets without a glass of water",
        "found a coin in his pocket",
        "i'm scared of needles, can i swallow a tablet instead of the jab",
    ],
)
def test_an_object_with_no_word_of_swallowing_it_or_another_meaning_is_not_a_swallowed_object(nlp, text):
    told = set(current_ids(extract_findings(nlp, text)))
    assert not told & {"swallowed_object", "swallowed_sharp_object"}
