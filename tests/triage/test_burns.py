"""Burns and scalds as NHS.uk "Burns and scalds" sorts them: the size and place of the burn are asked (white or
charred skin, bigger than the palm, blisters on the face, hands, arms, feet, legs or genitals mean A&E), and a burn
in a child under 5, a baby or a pregnant woman goes to hospital whatever it looks like."""

from __future__ import annotations

from typing import Dict

import pytest

from carebot.nlu.findings import current_ids, extract_findings
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
        # blistered on a hand, face or limb; deep; bigger than the hand; chemical; electrical
        "tripped at a bbq and put both hands on the grill, palms blistered",
        "hot oil tipped on my leg, the bit on my shin has gone white and i cant feel it",
        "chip pan fat went over my whole forearm, its bigger than my hand",
        "bleach splashed up in my daughters face when i was doing the loo",
        "my son stuck a key in the plug socket and got a shock",
        # a toddler is under 5; the blister joins both the arm and the tea that burnt it
        "my toddler pulled my tea over himself, his arm is blistering",
    ],
)
def test_a_burn_in_a_young_child_or_pregnancy_or_one_the_message_shows_is_serious_goes_to_hospital(nlp, text):
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


@pytest.mark.parametrize(
    "text",
    [
        "he pulled my tea over himself",
        "my lad touched the glass oven door with his palm",
        "hot oil from the pan tipped on my leg",
        "steam off the kettle went straight on my face, my cheek is blistering",
        "iron fell off the board onto his foot",
    ],
)
def test_a_burn_told_by_what_burnt_and_how_it_reached_the_skin_is_a_burn(nlp, text):
    assert "burn" in current_ids(extract_findings(nlp, text))


@pytest.mark.parametrize(
    "text",
    [
        "I had a coffee and my chest hurts",
        "i take iron tablets for my anaemia",
        "the kettle is on, my throat is sore",
        "keep seeing flashing sparkly lights",
    ],
)
def test_a_thing_that_burns_with_nothing_bringing_it_onto_the_skin_is_not_a_burn(nlp, text):
    assert "burn" not in current_ids(extract_findings(nlp, text))


def test_blisters_on_the_hands_and_feet_with_no_burn_are_not_a_burn_emergency(nlp):
    assert triage(nlp, "my son has blisters on his hands and feet").outcome.level != "emergency"


def test_a_burn_in_someone_older_or_with_diabetes_is_checked_today(nlp):
    result = triage(nlp, "type 1 diabetic, touched the hot pan, small red mark no blister", reply="no")
    assert result.outcome.level == "urgent"


def test_a_burn_with_pus_or_spreading_redness_is_checked_today(nlp):
    text = "scalded my tummy 3 days ago, now the red bits are spreading and theres yellowy gunk coming out"
    assert triage(nlp, text, reply="no").outcome.level == "urgent"


@pytest.mark.parametrize(
    "text",
    [
        "we had a house fire last night, my dad keeps coughing and his voice has gone hoarse",
        "small fire in the kitchen, my 4 year old was in there with all the smoke and now shes wheezy",
    ],
)
def test_smoke_breathed_in_with_a_cough_or_wheeze_is_an_emergency(nlp, text):
    assert triage(nlp, text).outcome.level == "emergency"


def test_smoke_breathed_in_with_no_symptom_is_not_an_emergency(nlp):
    assert (
        triage(nlp, "there was a house fire next door, we are all fine", reply="no").outcome.level
        != "emergency"
    )


def test_one_blister_is_both_a_blistered_burn_and_a_blistered_arm(nlp):
    told = current_ids(extract_findings(nlp, "I burnt my arm on the oven and it's blistering"))
    assert {"burn", "burn_blisters", "blistered_face_hands_limbs"} <= set(told)


def test_a_blistered_burn_away_from_the_face_hands_and_limbs_is_checked_today(nlp):
    result = triage(nlp, "burnt my back on the radiator and it's blistered", reply="no")
    assert result.outcome.level == "urgent"
    assert result.outcome.rule_id == "burn_with_blisters"


@pytest.mark.parametrize(
    "text",
    [
        "chickenpox blisters all over her back",
        "shingles, blisters spreading across my chest",
        "she has blisters all over her face from the chicken pox",
    ],
)
def test_blisters_of_a_rash_are_not_a_burn(nlp, text):
    told = current_ids(extract_findings(nlp, text))
    assert not {"burn", "severe_burn", "burn_blisters"} & set(told)
    assert triage(nlp, text).outcome.level != "emergency"


def test_no_blisters_after_a_burn_rules_the_blisters_out(nlp):
    findings = extract_findings(nlp, "burnt my hand on the kettle, no blisters")
    assert "burn" in current_ids(findings)
    assert not {"burn_blisters", "blistered_face_hands_limbs"} & set(current_ids(findings))


@pytest.mark.parametrize(
    "text",
    [
        "chip fat splashed on my neck and it blistered",  # what burnt, joined by a blister
        "scalded my back in the shower, it has blistered",  # a word of burning, joined by a blister
    ],
)
def test_a_blistered_burn_told_either_way_is_checked_today(nlp, text):
    assert triage(nlp, text, reply="no").outcome.level == "urgent"


def test_blistering_sunburn_is_checked_today_not_sent_to_a_and_e(nlp):
    result = triage(nlp, "i got sunburnt and now my shoulders are blistering", reply="no")
    assert (result.outcome.level, result.outcome.rule_id) == ("urgent", "bad_sunburn")
