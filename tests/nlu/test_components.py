"""The Rasa NLU components: findings as entities with roles, and the red-flag screen deciding the red_flag intent."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

import pytest
import yaml
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from carebot.nlu.components import DECLINED_BY_GUARD, PatternEntityExtractor, RedFlagClassifier

ROOT = Path(__file__).resolve().parents[2]
# The screen as config.yml sets it (the designers' word lists), pointed at this checkout's protocol files.
DESIGNED = next(
    c
    for c in yaml.safe_load((ROOT / "config.yml").read_text())["pipeline"]
    if c["name"].endswith("RedFlagClassifier")
)
CONFIG = {
    **{k: v for k, v in DESIGNED.items() if k != "name"},
    "patterns_dir": str(ROOT / "data" / "patterns"),
    "triage_dir": str(ROOT / "data" / "triage"),
}


@pytest.fixture(scope="module")
def components(storage, context):
    """Both components trained (files copied into the model), then loaded back from it as a server would."""
    extractor_resource, screen_resource = Resource("entities"), Resource("red_flags")
    extractor_config = {**PatternEntityExtractor.get_default_config(), "patterns_dir": CONFIG["patterns_dir"]}
    screen_config = {**RedFlagClassifier.get_default_config(), **CONFIG}
    PatternEntityExtractor.create(extractor_config, storage, extractor_resource, context).train(
        TrainingData()
    )
    RedFlagClassifier.create(screen_config, storage, screen_resource, context).train(TrainingData())
    return (
        PatternEntityExtractor.load(extractor_config, storage, extractor_resource, context),
        RedFlagClassifier.load(screen_config, storage, screen_resource, context),
    )


def parse(
    components,
    text: str,
    intent: str = "describe_symptoms",
    confidence: float = 0.8,
    declined_by_guard: bool = False,
    answer: Optional[str] = None,
) -> Message:
    extractor, screen = components
    message = Message(data={"text": text})
    if answer is not None:  # what the ResponseSelector picked for a retrieval intent ("faq/cost")
        message.set("response_selector", {intent: {"response": {"intent_response_key": answer}}})
    if declined_by_guard:
        message.set(DECLINED_BY_GUARD, True)
    message.set("intent", {"name": intent, "confidence": confidence})
    message.set(
        "intent_ranking",
        [{"name": intent, "confidence": confidence}, {"name": "greet", "confidence": 1 - confidence}],
    )
    extractor.process([message])
    screen.process([message])
    return message


def entity(message: Message, name: str, value: Optional[str] = None):
    return [
        e for e in message.get("entities") if e["entity"] == name and (value is None or e["value"] == value)
    ]


def test_symptoms_come_with_roles_and_without_duplicates(components):
    message = parse(components, "no fever, my dad had a stroke, but I've had a headache for 2 days")
    symptoms = {(e["value"], e.get("role")) for e in entity(message, "symptom")}
    assert ("fever", "negated") in symptoms and ("headache", None) in symptoms
    assert ("stroke", "family") in symptoms
    spans = [(e["start"], e["end"], e["value"]) for e in message.get("entities")]
    assert len(spans) == len(set(spans))
    assert not entity(message, "pain") and not entity(message, "body_site")  # folded into findings
    assert all(e["extractor"] == "PatternEntityExtractor" for e in entity(message, "symptom"))


def test_age_and_pregnancy_are_entities(components):
    message = parse(components, "I'm 30 weeks pregnant and my 6 week old has a cough")
    assert entity(message, "pregnant", "true") and entity(message, "age_group", "infant")


def test_other_labels_stay_plain_entities(components):
    message = parse(components, "remind me to take my metformin", intent="set_reminder")
    [medicine] = entity(message, "medicine")
    assert medicine["value"] == "metformin" and "role" not in medicine


def test_hidden_red_flag_sets_the_red_flag_intent_and_names_the_flag(components):
    message = parse(
        components,
        "can I book for Friday, also my husband's face has dropped on one side",
        intent="book_appointment",
        confidence=0.9,
    )
    assert message.get("intent") == {"name": "red_flag", "confidence": 1.0}
    assert message.get("intent_ranking")[0] == {"name": "red_flag", "confidence": 1.0}
    assert [r["name"] for r in message.get("intent_ranking")] == ["red_flag", "book_appointment", "greet"]
    assert [e["value"] for e in entity(message, "red_flag")] == ["stroke_signs"]


def test_a_negated_red_flag_is_not_one(components):
    message = parse(components, "no chest pain and I can breathe fine, just a runny nose", intent="red_flag")
    assert message.get("intent")["name"] == "describe_symptoms"
    assert not entity(message, "red_flag")


def test_a_past_or_family_red_flag_is_not_one(components):
    for text in (
        "I had a seizure years ago, now I have a sore throat",
        "my mum had a stroke, I have a cough",
    ):
        message = parse(components, text)
        assert message.get("intent")["name"] == "describe_symptoms", text


def test_findings_a_protocol_calls_an_emergency_are_a_red_flag_named_after_the_rule(components):
    message = parse(
        components,
        "can I book for Friday, I'm pregnant and have severe stomach pain",
        intent="book_appointment",
    )
    assert message.get("intent") == {"name": "red_flag", "confidence": 1.0}
    assert [e["value"] for e in entity(message, "red_flag")] == ["pregnancy/severe_pain_in_pregnancy"]
    assert parse(components, "I have severe stomach pain").get("intent")["name"] == "describe_symptoms"


def test_red_flag_depends_on_the_age_the_message_states(components):
    assert parse(components, "my 5 week old is not feeding").get("intent")["name"] == "red_flag"
    assert parse(components, "my 5 year old is not feeding").get("intent")["name"] == "describe_symptoms"


def test_a_symptom_the_classifier_could_not_place_starts_triage(components):
    assert parse(components, "hi, my ear hurts", intent="greet").get("intent")["name"] == "describe_symptoms"
    # someone's own body part, told with words the patterns do not know, is not out of scope: it starts triage
    # (the part picks the protocol), but it does not overrule a request the classifier placed
    own_ear = parse(
        components, "there's a strange crackle in my left ear", intent="out_of_scope", confidence=0.7
    )
    assert own_ear.get("intent") == {"name": "describe_symptoms", "confidence": 1.0}
    assert [e["value"] for e in own_ear.get("entities") if e["entity"] == "symptom"] == ["earache"]
    assert (
        parse(components, "qwerty my ear", intent="nlu_fallback").get("intent")["name"] == "describe_symptoms"
    )
    not_owned = parse(components, "how do I open a joint account", intent="out_of_scope", confidence=0.9)
    assert not_owned.get("intent")["name"] == "out_of_scope"
    asked_elsewhere = parse(
        components, "where do I park for my knee clinic", intent="ask_parking", confidence=0.9
    )
    assert asked_elsewhere.get("intent")["name"] == "ask_parking"
    booking = parse(components, "book a physio for my back pain", intent="book_appointment", confidence=0.4)
    assert booking.get("intent")["name"] == "book_appointment"


def test_a_question_about_ones_baby_or_child_is_a_health_question_not_out_of_scope(components):
    talking = parse(
        components, "my 2 year old only says a couple of words, is that normal?", intent="out_of_scope"
    )
    assert talking.get("intent") == {"name": "describe_symptoms", "confidence": 1.0}
    clicky_hip = parse(components, "baby 10 weeks, her hip is clicky", intent="nlu_fallback", confidence=0.5)
    assert clicky_hip.get("intent")["name"] == "describe_symptoms"
    no_age = parse(
        components, "what time did my daughter get home last night", intent="out_of_scope", confidence=0.9
    )
    assert (
        no_age.get("intent")["name"] == "out_of_scope"
    )  # a son or daughter, no age told: not a health question
    grown_up = parse(
        components, "my 40 year old brother wants a new car", intent="out_of_scope", confidence=0.9
    )
    assert grown_up.get("intent")["name"] == "out_of_scope"  # an adult is not a reason of itself
    asked = parse(components, "can my 5 year old get the flu jab here", intent="ask_services", confidence=0.9)
    assert asked.get("intent")["name"] == "ask_services"  # a request the classifier placed stays


def test_a_complaint_told_where_a_clinic_answer_or_a_place_was_guessed_starts_triage(components):
    def faq(text: str, answer: str) -> str:
        return parse(components, text, intent="faq", confidence=0.9, answer=answer).get("intent")["name"]

    assert faq("I've got an itchy rash on both hands since the weekend", "faq/cost") == "describe_symptoms"
    assert faq("rash on my hands and a sore throat, what would it cost", "faq/cost") == "describe_symptoms"
    # a question that names one complaint asks about it; an answer about one's care keeps its complaint
    assert faq("how much is a hay fever prescription", "faq/cost") == "faq"
    assert faq("I need a sick note, my back pain has kept me off work", "faq/sick_note") == "faq"
    assert faq("how much is a private appointment", "faq/cost") == "faq"
    pinned = parse(
        components,
        "my feet have a fungal infection between the toes",
        intent="share_location",
        confidence=0.96,
    )
    assert pinned.get("intent")["name"] == "describe_symptoms"


def test_a_complaint_the_classifier_only_guessed_at_starts_triage(components):
    guessed = parse(components, "earache for 10 days", intent="reminder_taken", confidence=0.45)
    assert guessed.get("intent") == {"name": "describe_symptoms", "confidence": 1.0}
    sure = parse(components, "taken, thanks, my headache is better", intent="reminder_taken", confidence=0.9)
    assert sure.get("intent")["name"] == "reminder_taken"
    duration_only = parse(components, "can I come in a few days", intent="faq", confidence=0.3)
    assert duration_only.get("intent")["name"] == "faq"


def test_a_complaint_told_with_how_it_has_gone_is_a_symptom_story_whatever_question_was_guessed(components):
    for text in (
        "hay fever meds from the pharmacy aren't doing anything",  # treatment not working
        "my headaches keep coming back",  # back again
        "my cough is getting worse",  # worsening
    ):
        message = parse(components, text, intent="faq/cost", confidence=0.9)
        assert message.get("intent") == {"name": "describe_symptoms", "confidence": 1.0}, text
    asked = parse(components, "how much is a hay fever prescription", intent="faq/cost", confidence=0.9)
    assert asked.get("intent")["name"] == "faq/cost"


def test_a_modifier_alone_is_no_complaint_but_still_modifies_one(components):
    # "in a" / "suddenly" qualify a complaint; without one, the classifier's answer stands
    for text in ("what spices go in a curry", "how many grams are in a kilo", "the lights went off suddenly"):
        message = parse(components, text, intent="out_of_scope", confidence=0.7)
        assert message.get("intent")["name"] == "out_of_scope", text
    # how something has gone, with nothing that went: "keep getting", "isn't helping" are no complaint alone
    for text in ("why does my git push keep getting rejected", "this isn't helping, get me a human"):
        message = parse(components, text, intent="out_of_scope", confidence=0.7)
        assert message.get("intent")["name"] == "out_of_scope", text
    told = parse(components, "a headache came on suddenly", intent="out_of_scope", confidence=0.7)
    assert told.get("intent")["name"] in {"describe_symptoms", "red_flag"}


def test_a_message_the_domain_guard_declined_stays_declined_unless_it_holds_a_red_flag(components):
    text = "what temperature should the bath be"
    assert parse(components, text, intent="out_of_scope").get("intent")["name"] == "describe_symptoms"
    declined = parse(components, text, intent="out_of_scope", declined_by_guard=True)
    assert declined.get("intent")["name"] == "out_of_scope"
    red = parse(
        components, "the oven temperature, and I can't breathe", intent="out_of_scope", declined_by_guard=True
    )
    assert red.get("intent")["name"] == "red_flag"


def test_a_message_naming_no_patient_is_not_a_symptom_story(components):
    def intent(text: str, guessed: str = "out_of_scope") -> str:
        return parse(components, text, intent=guessed, confidence=0.7).get("intent")["name"]

    # knowledge questions about nobody, and an animal's or a plant's trouble: declined, even when guessed a story
    for text in (
        "why do onions make your eyes water",
        "how do you spell diarrhoea",
        "tell me about gout",
        "is it true that famous actor has dementia",
        "my cat keeps sneezing, should i take her to the vet",
        "why are my tomato plants going yellow with brown spots",
    ):
        assert intent(text) == "out_of_scope", text
        assert intent(text, guessed="describe_symptoms") == "out_of_scope", text
    # the same words about a person stay a symptom story
    for text in (
        "why do my eyes water all the time",
        "my son keeps sneezing and his eyes are streaming",
        "the dog bit my hand and it's swollen",
        "been sick as a dog all night",
        "why does my knee click and hurt on the stairs",
        "why does it burn when you pee",
    ):
        assert intent(text) in {"describe_symptoms", "red_flag"}, text
    # a red flag is answered whoever it seems to be about
    assert intent("was walking the dog and got crushing chest pain and sweating") == "red_flag"


def test_protocol_changes_change_the_fingerprint(tmp_path):
    triage_dir, patterns_dir = tmp_path / "triage", tmp_path / "patterns"
    shutil.copytree(CONFIG["triage_dir"], triage_dir)
    shutil.copytree(CONFIG["patterns_dir"], patterns_dir)
    config = {"triage_dir": str(triage_dir), "patterns_dir": str(patterns_dir)}
    before = RedFlagClassifier.fingerprint_addon(config)
    flags = triage_dir / "red_flags.yml"
    flags.write_text(flags.read_text() + "\n# edited\n")
    assert RedFlagClassifier.fingerprint_addon(config) != before
    assert PatternEntityExtractor.fingerprint_addon({}) == PatternEntityExtractor.fingerprint_addon(
        {"patterns_dir": "data/patterns"}
    )


def test_clinic_services_are_entities_matched_apart_from_the_findings(tmp_path, nlp):
    from carebot.nlu.components import service_entities, service_matcher, write_service_patterns

    write_service_patterns(ROOT / "clinic.yml", tmp_path)
    matcher = service_matcher(nlp, tmp_path)
    named = lambda text: [(e["entity"], e["value"]) for e in service_entities(matcher, nlp(text))]  # noqa: E731
    assert named("do you do jabs") == [("clinic_service", "nurse")]  # an inflection of an alias
    assert named("can I see the practice nurse") == [("clinic_service", "nurse")]  # the longest match, once
    assert named("have you got dentists") == [("unoffered_service", "dental")]
    assert named("my head hurts") == []
    assert not list(tmp_path.glob("*.yml"))  # nothing the findings pipeline would read as its own patterns
