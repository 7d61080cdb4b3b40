"""DomainGuard: a clinic intent needs evidence in the message (a health entity or one of its distinctive words)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

import pytest
import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from carebot.nlu.components import DECLINED_BY_GUARD
from carebot.nlu.guard import DomainGuard
from carebot.nlu.tokenizer import EmojiWordTokenizer
from carebot.nlu.vocabulary import distinctive_words, words

# The guard reads the tokenizer's words, as in the pipeline ("clinic's" → "clinic", "whats" → "what is").
TOKENIZER = EmojiWordTokenizer(
    {**EmojiWordTokenizer.get_default_config(), "word_forms": {"whats": "what is"}}
)


def tokenized(text: str, **data) -> Message:
    message = Message(data={"text": text, **data})
    TOKENIZER.process([message])
    return message


HELP = ["what can you do", "help", "what can I ask"]
FAQ = [
    "how do I order a repeat prescription",
    "how do I get a sick note",
    "how do I register with the practice",
    "can I see my medical records",
    "how do I get my test results",
]
SYMPTOMS = ["my head hurts", "I have a sore throat", "my back hurts when I bend", "I feel sick and dizzy"]
OUT_OF_SCOPE = [
    "how do I cook rice",
    "how do I change a tyre",
    "my car is broken",
    "how do I reset my router",
    "what's the weather",
    "my boiler is broken",
    "how do I get to the station",
    "I feel like pizza",
    "how long do I boil an egg",
    "set the oven to 200",
    "where can I get a taxi",
]
# Retrieval answers: `faq/cost` is weighed on its own examples too.
FAQ_ANSWERS = [
    ("faq/cost", "how much does it cost to see the doctor"),
    ("faq/cost", "do you charge money to print letters"),
    ("faq/records", "can I see my medical records"),
]


def training_data() -> TrainingData:
    examples = [
        tokenized(text, intent=intent)
        for intent, texts in (
            ("faq", FAQ),
            ("describe_symptoms", SYMPTOMS),
            ("help", HELP),
            ("out_of_scope", OUT_OF_SCOPE),
        )
        for text in texts
    ]
    examples += [tokenized(text, intent="faq", intent_response_key=key) for key, text in FAQ_ANSWERS]
    return TrainingData(training_examples=examples)


ROOT = Path(__file__).resolve().parents[2]
# The ways of asking about a service, as the designers set them in config.yml.
OFFERED_QUESTIONS = next(
    c
    for c in yaml.safe_load((ROOT / "config.yml").read_text())["pipeline"]
    if c["name"].endswith("DomainGuard")
)["offered_questions"]


def trained_guard(folder, **config_overrides) -> DomainGuard:
    """Trained, then loaded back from the model storage as the server would."""
    storage = LocalModelStorage(folder)
    context = ExecutionContext(GraphSchema({}), "test")
    config = {
        **DomainGuard.get_default_config(),
        "intents": ["faq", "describe_symptoms"],
        "lenient_intents": ["help"],
        "min_ratio": 3.0,
        "answer_max_share": 0.1,
        "offered_questions": OFFERED_QUESTIONS,
        **config_overrides,
    }
    resource = Resource("domain_guard")
    DomainGuard.create(config, storage, resource, context).train(training_data())
    return DomainGuard.load(config, storage, resource, context)


@pytest.fixture(scope="module")
def guard(tmp_path_factory) -> DomainGuard:
    return trained_guard(tmp_path_factory.mktemp("model"))


def judged_message(
    guard: DomainGuard,
    text: str,
    intent: str,
    entities: Optional[List[Dict]] = None,
    answer: Optional[str] = None,
) -> Message:
    message = tokenized(text)
    message.set("intent", {"name": intent, "confidence": 0.9})
    message.set("intent_ranking", [{"name": intent, "confidence": 0.9}])
    message.set("entities", entities or [])
    if answer:  # what the ResponseSelector would have set
        message.set("response_selector", {intent: {"response": {"intent_response_key": answer}}})
    guard.process([message])
    return message


def judged(
    guard: DomainGuard,
    text: str,
    intent: str,
    entities: Optional[List[Dict]] = None,
    answer: Optional[str] = None,
) -> str:
    return judged_message(guard, text, intent, entities, answer).get("intent")["name"]


def symptom(text: str, term: str, value: str) -> List[Dict]:
    start = text.index(term)
    return [{"entity": "symptom", "value": value, "start": start, "end": start + len(term)}]


def test_distinctive_words_drop_words_the_background_uses_as_often():
    found = distinctive_words(
        {"faq": [words(t) for t in FAQ]}, [words(t) for t in OUT_OF_SCOPE], min_ratio=3.0
    )["faq"]
    assert {"prescription", "sick", "register", "results"} <= set(found)
    assert not {"how", "do", "i", "get"} & set(found)


@pytest.mark.parametrize(
    "text, intent",
    [
        ("how do I register as a new patient", "faq"),
        ("I have a pounding head", "describe_symptoms"),
    ],
)
def test_a_distinctive_word_is_evidence(guard, text, intent):
    assert judged(guard, text, intent) == intent


@pytest.mark.parametrize(
    "text, intent",
    [
        ("how do I get a new passport", "faq"),
        ("my bike is broken", "describe_symptoms"),
        ("how do I renew my insurance 2024", "faq"),  # numbers are no evidence
    ],
)
def test_a_clinic_intent_without_evidence_is_declined(guard, text, intent):
    assert judged(guard, text, intent) == "out_of_scope"


def test_typos_of_long_distinctive_words_are_forgiven(guard):
    assert judged(guard, "how do I get a repeat perscription", "faq") == "faq"


def test_a_health_entity_is_evidence_but_a_duration_or_age_alone_is_not(guard):
    rash = [{"entity": "symptom", "value": "rash", "start": 0, "end": 4}]
    assert judged(guard, "what about this rash", "describe_symptoms", rash) == "describe_symptoms"
    today = [{"entity": "symptom", "value": "duration_under_3d", "start": 14, "end": 19}]
    assert judged(guard, "how are you doing today", "describe_symptoms", today) == "out_of_scope"
    son = [{"entity": "age_group", "value": "child", "start": 25, "end": 28}]
    assert judged(guard, "buy a birthday present for my son", "faq", son) == "out_of_scope"


def test_intents_not_listed_are_left_alone(guard):
    assert judged(guard, "tuesday", "inform") == "inform"
    assert judged(guard, "yes", "affirm") == "affirm"


def test_the_demoted_intent_leads_the_ranking_and_keeps_the_guess_below(guard):
    message = tokenized("my bike is broken")
    message.set("intent", {"name": "describe_symptoms", "confidence": 0.9})
    message.set("intent_ranking", [{"name": "describe_symptoms", "confidence": 0.9}])
    guard.process([message])
    assert [r["name"] for r in message.get("intent_ranking")] == ["out_of_scope", "describe_symptoms"]


def test_counter_evidence_outweighing_evidence_declines(guard):
    assert judged(guard, "how do I get my test results", "faq") == "faq"
    assert (
        judged(guard, "how do I get my car results", "faq") == "out_of_scope"
    )  # "car": as much against as for


def test_a_lenient_intent_needs_no_evidence_but_yields_to_counter_evidence(guard):
    assert judged(guard, "what are you", "help") == "help"
    assert judged(guard, "help me with the weather", "help") == "out_of_scope"


def test_a_health_word_the_declined_examples_use_is_evidence_not_proof(guard):
    text = "how long do I boil eggs for"
    assert judged(guard, text, "describe_symptoms", symptom(text, "boil", "cellulitis")) == "out_of_scope"
    text = "I have a boil on my neck"  # "boil" counts as evidence and nothing speaks against it
    assert (
        judged(guard, text, "describe_symptoms", symptom(text, "boil", "cellulitis")) == "describe_symptoms"
    )
    text = "a rash on my car seat"  # "rash" is no everyday word here: proof, whatever else the message says
    assert judged(guard, text, "describe_symptoms", symptom(text, "rash", "rash")) == "describe_symptoms"


def test_an_everyday_health_word_outside_a_checked_intent_is_weighed_for_the_symptom_intent(guard):
    """RedFlagClassifier reads a complaint into any intent with a finding; the guard tells it when not to."""
    text = "how long do I boil eggs for"
    declined = judged_message(guard, text, "out_of_scope", symptom(text, "boil", "cellulitis"))
    assert declined.get("intent")["name"] == "out_of_scope" and declined.get(DECLINED_BY_GUARD)
    text = "hello, I have a boil"
    kept = judged_message(guard, text, "greet", symptom(text, "boil", "cellulitis"))
    assert kept.get("intent")["name"] == "greet" and not kept.get(DECLINED_BY_GUARD)


def test_a_retrieval_answer_needs_evidence_of_its_own(guard):
    assert judged(guard, "do you charge anything to write a sick note", "faq", answer="faq/cost") == "faq"
    # clinic words ("register", "practice") but none for the answer picked: a price was not asked for
    assert judged(guard, "how do I register with the practice", "faq", answer="faq/cost") == "out_of_scope"
    assert judged(guard, "how do I register with the practice", "faq") == "faq"


def test_words_no_example_uses_count_against_the_listed_intents_only(tmp_path):
    guard = trained_guard(tmp_path, unknown_words_against=["faq"])
    assert judged(guard, "how do I register with the practice", "faq") == "faq"
    assert (
        judged(guard, "how do I register my narwhal", "faq") == "faq"
    )  # one unknown word weighs half a known one
    assert (
        judged(guard, "how do I register my narwhal zebra", "faq") == "out_of_scope"
    )  # two: as much against
    assert (
        judged(guard, "how do I register with the practice in Zanzibar", "faq") == "faq"
    )  # more for than against
    # symptoms are not listed: names and places the examples never saw say nothing against them
    assert judged(guard, "I have a pounding head since Zanzibar", "describe_symptoms") == "describe_symptoms"


def test_a_possessive_or_text_speak_is_read_as_the_known_word_it_stands_for(tmp_path):
    guard = trained_guard(tmp_path, unknown_words_against=["faq"])
    assert judged(guard, "how do I register with the practice's nurse", "faq") == "faq"
    assert judged(guard, "whats the way to register with the practice", "faq") == "faq"


def test_a_service_the_clinic_does_not_offer_is_a_question_about_its_services(guard):
    text = "do you have a dentist"
    dentist = [{"entity": "unoffered_service", "value": "dental", "start": 14, "end": 21}]
    assert judged(guard, text, "out_of_scope", dentist) == "ask_services"
    assert judged(guard, "book me in with a dentist", "book_appointment", dentist) == "book_appointment"


def test_a_question_naming_a_service_the_clinic_offers_is_a_question_about_its_services(guard):
    jabs = [{"entity": "clinic_service", "value": "nurse", "start": 9, "end": 13}]
    assert judged(guard, "do you do jabs", "affirm", jabs) == "ask_services"
    assert judged(guard, "is physio available?", "inform", jabs) == "ask_services"
    # an answer in a form, or a question that is not about what the clinic offers, keeps its intent
    assert judged(guard, "the jabs one", "choose_option", jabs) == "choose_option"
    assert judged(guard, "who plays the doctor in doctor who?", "inform", jabs) == "inform"


def elsewhere_guard(folder) -> DomainGuard:
    return trained_guard(
        folder,
        elsewhere_intents=["faq", "book_appointment", "choose_option", "ask_services"],
        elsewhere_phrases=["barbers", "post office"],
        elsewhere_patterns=[r"\d\s*(?:times|plus|[*+=])\s*\d"],
    )


@pytest.mark.parametrize(
    "text, intent",
    [
        ("cancel my appointment at the barbers", "book_appointment"),
        ("how do I get a parcel from the post office", "faq"),
        ("what's 17 times 23", "choose_option"),
        ("12+30", "choose_option"),
    ],
)
def test_a_request_about_another_place_or_a_sum_is_declined(tmp_path_factory, text, intent):
    message = judged_message(elsewhere_guard(tmp_path_factory.mktemp("model")), text, intent)
    assert message.get("intent")["name"] == "out_of_scope"
    assert message.get(DECLINED_BY_GUARD) is True


def test_another_place_does_not_decline_a_health_request_or_an_unlisted_intent(tmp_path):
    guard = elsewhere_guard(tmp_path)
    text = "my head hurts since the barbers"
    assert (
        judged(guard, text, "book_appointment", symptom(text, "head hurts", "headache")) == "book_appointment"
    )
    assert judged(guard, "2", "choose_option") == "choose_option"  # a number is an option, not a sum
    assert judged(guard, "what can you do at the post office", "help") == "help"  # not an elsewhere intent


def guesses(message: Message) -> List[str]:
    return [e["value"] for e in message.get("entities") if e["entity"] == "clinic_guess"]


def test_an_unsure_decline_names_what_the_message_might_mean(tmp_path):
    guard = trained_guard(
        tmp_path, unknown_words_against=["faq"], clarify_intents=["faq", "describe_symptoms"]
    )
    unsure = judged_message(guard, "how do I register my narwhal zebra", "faq")  # as much against as for
    assert unsure.get("intent")["name"] == "nlu_fallback" and guesses(unsure) == ["faq"]  # the repair asks
    plain = judged_message(
        guard, "how do I register my narwhal zebra giraffe", "faq"
    )  # more against: no question
    assert plain.get("intent")["name"] == "out_of_scope" and guesses(plain) == []
    elsewhere = judged_message(guard, "how do I get a new passport", "faq")  # no words for it at all
    assert guesses(elsewhere) == []


def test_an_unsure_decline_of_an_intent_not_to_ask_about_asks_nothing(tmp_path):
    guard = trained_guard(tmp_path, unknown_words_against=["faq"], clarify_intents=["describe_symptoms"])
    assert guesses(judged_message(guard, "how do I register my narwhal zebra", "faq")) == []


def test_a_service_not_offered_is_named_after_the_guard_declined_the_intent_it_was_given(guard):
    text = "can I get my kettle fixed by a dentist"  # faq without evidence: declined, then the service named
    dentist = [
        {"entity": "unoffered_service", "value": "dental", "start": text.index("dentist"), "end": len(text)}
    ]
    assert judged(guard, text, "faq", dentist) == "ask_services"
    assert judged(guard, "hi, do you do dentist", "greet", dentist) == "ask_services"


def test_a_risk_factor_is_no_complaint_that_keeps_a_service_not_offered_from_its_answer(guard):
    text = "do you do hair transplants"
    entities = [
        {"entity": "symptom", "value": "risk_immunosuppressed", "start": 15, "end": 26},
        {"entity": "unoffered_service", "value": "cosmetic", "start": 10, "end": 26},
    ]
    assert judged(guard, text, "out_of_scope", entities) == "ask_services"


def test_a_declined_message_naming_a_clinic_topic_gets_the_topic_back(tmp_path):
    guard = trained_guard(
        tmp_path, unknown_words_against=["faq"], topic_phrases={"faq": ["sick note", "prescription"]}
    )
    named = judged_message(guard, "sick note?", "nlu_fallback")
    assert named.get("intent")["name"] == "faq" and not named.get("carebot_declined_by_guard")
    assert judged(guard, "can I get a prescription", "out_of_scope") == "faq"
    # the longest phrase picks the topic; words no clinic example uses keep the decline
    assert judged(guard, "a sick note for my narwhal", "out_of_scope") == "out_of_scope"
    assert judged(guard, "how do I cook rice", "out_of_scope") == "out_of_scope"  # no topic named
    assert judged(guard, "what can you do", "help") == "help"  # only declines are revisited


def selected(text: str, intent: str, ranking: List[str], answers: List[str]) -> Message:
    """A message as the classifier and the ResponseSelector left it: the intents ranked, the answers ranked."""
    message = tokenized(text)
    message.set("intent", {"name": ranking[0], "confidence": 0.5})
    message.set("intent_ranking", [{"name": name, "confidence": 0.5} for name in ranking])
    message.set("entities", [])
    message.set(
        "response_selector",
        {
            intent: {
                "response": {"intent_response_key": answers[0], "utter_action": f"utter_{answers[0]}"},
                "ranking": [{"intent_response_key": key, "confidence": 0.5} for key in answers],
            }
        },
    )
    return message


def test_a_declined_answer_comes_back_only_where_the_selector_picked_it(tmp_path):
    guard = trained_guard(tmp_path, topic_phrases={"faq/cost": ["how much", "charge"]})
    picked_cost = selected(
        "how much does it cost", "faq", ["out_of_scope", "faq"], ["faq/cost", "faq/records"]
    )
    guard.process([picked_cost])
    assert picked_cost.get("intent")["name"] == "faq"
    picked_records = selected(
        "how much does it cost", "faq", ["out_of_scope", "faq"], ["faq/records", "faq/cost"]
    )
    guard.process([picked_records])
    assert picked_records.get("intent")["name"] == "out_of_scope"
    # a word no clinic example uses keeps the decline: the price of something else
    elsewhere = selected("how much does a zebra cost", "faq", ["out_of_scope", "faq"], ["faq/cost"])
    guard.process([elsewhere])
    assert elsewhere.get("intent")["name"] == "out_of_scope"


def test_between_topic_phrases_as_long_the_classifier_ranking_decides(tmp_path):
    guard = trained_guard(tmp_path, topic_phrases={"faq": ["the practice"], "help": ["the practice"]})
    for ranking in (["out_of_scope", "help", "faq"], ["out_of_scope", "faq", "help"]):
        message = tokenized("the practice?")
        message.set("intent", {"name": "out_of_scope", "confidence": 1.0})
        message.set("intent_ranking", [{"name": name, "confidence": 0.3} for name in ranking])
        guard.process([message])
        assert message.get("intent")["name"] == ranking[1]


def test_an_answer_without_its_words_gives_way_to_a_ranked_one_the_message_names(tmp_path):
    guard = trained_guard(tmp_path, topic_phrases={"faq/records": ["medical records"]})
    message = selected("can I see my medical records", "faq", ["faq"], ["faq/cost", "faq/records"])
    guard.process([message])
    answer = message.get("response_selector")["faq"]["response"]
    assert message.get("intent")["name"] == "faq"
    assert (answer["intent_response_key"], answer["utter_action"]) == ("faq/records", "utter_faq/records")
    # no ranked answer named: the wrong answer is declined, as before
    unnamed = selected("how do I register with the practice", "faq", ["faq"], ["faq/cost", "faq/records"])
    guard.process([unnamed])
    assert unnamed.get("intent")["name"] == "out_of_scope"


def test_greetings_and_politeness_never_speak_against_a_clinic_intent(tmp_path_factory):
    against = trained_guard(tmp_path_factory.mktemp("plain"))
    polite = trained_guard(tmp_path_factory.mktemp("polite"), courtesy_words=["router"])
    text = "router charge?"  # "router" is a decline example's word, standing in for "hello"
    assert judged(against, text, "faq", answer="faq/cost") == "out_of_scope"
    assert judged(polite, text, "faq", answer="faq/cost") == "faq"


def test_the_menu_question_asked_about_the_clinic_is_the_services_question(tmp_path):
    guard = trained_guard(tmp_path, clinic_place_phrases=["come to you", "at the practice"])
    assert judged(guard, "what can I come to you for", "help") == "ask_services"
    assert judged(guard, "what help is there at the practice", "help") == "ask_services"
    assert judged(guard, "what can you do", "help") == "help"
    assert judged(guard, "can I come to you on monday", "book_appointment") == "book_appointment"
