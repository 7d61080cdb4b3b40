"""Burns and scalds as NHS.uk "Burns and scalds" sorts them: the size and place of the burn are asked (white or
charred skin, bigger than the palm, blisters on the face, hands, arms, feet, legs or genitals mean A&E), and a burn
in a child under 5, a baby or a pregnant woman goes to hospital whatever it looks like."""

from __future__ import annotations

from typing import Dict

import pytest

from carebot.triage.model import NOT_SURE
from evaluation.cases import Case, run_case


def triage(nlp, text: str, answers: Dict[str, str] | None = None, reply: str = NOT_SURE):
    return run_case(nlp, Case(0, text, "self_care", "", answers or {}), reply)


@pytest.mark.parametrize(
    "text",
    [
        "my 3 year old burnt her hand on the oven door",
        "boiling water went all down my 2yo's arm",
        "my baby grabbed my coffee and scalded his hand",
        "I'm 30 weeks pregnant and burnt my arm on the kettle",
    ],
)
def test_a_burn_in_a_child_under_5_a_baby_or_a_pregnant_woman_goes_to_hospital(nlp, text):
    result = triage(nlp, text)
    assert result.outcome.level == "emergency"
    assert result.asked == ()  # decided on what the message told


def test_a_burn_is_asked_about_its_size_and_place_not_about_bleeding_or_bones(nlp):
    result = triage(nlp, "I burnt my hand on the oven")
    assert result.asked[0] == "injury_burn"
    assert not {"injury_bleeding", "injury_weight", "injury_shape", "injury_wound"} & set(result.asked)
    assert result.outcome.level == "self_care"


def test_a_burn_bigger_than_the_palm_or_blistered_on_the_hand_is_an_emergency(nlp):
    result = triage(nlp, "scalded my hand with hot tea", {"injury_burn": "yes"})
    assert result.outcome.level == "emergency"


def test_a_burn_in_an_older_child_is_not_sent_to_hospital_for_age_alone(nlp):
    assert (
        triage(nlp, "my 10 year old scalded his hand with hot tea", reply="no").outcome.level == "self_care"
    )
