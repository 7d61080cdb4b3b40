"""DomainGuard: a clinic intent needs evidence in the message (a health entity or one of its distinctive words)."""
from __future__ import annotations

from typing import Dict, List, Optional

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from carebot.nlu.guard import DomainGuard
from carebot.nlu.vocabulary import distinctive_words

HELP = ["what can you do", "help", "what can I ask"]
FAQ = ["how do I order a repeat prescription", "how do I get a sick note", "how do I register with the practice",
       "can I see my medical records", "how do I get my test results"]
SYMPTOMS = ["my head hurts", "I have a sore throat", "my back hurts when I bend", "I feel sick and dizzy"]
OUT_OF_SCOPE = ["how do I cook rice", "how do I change a tyre", "my car is broken", "how do I reset my router",
                "what's the weather", "my boiler is broken", "how do I get to the station", "I feel like pizza"]


def training_data() -> TrainingData:
    examples = [Message(data={"text": text, "intent": intent})
                for intent, texts in (("faq", FAQ), ("describe_symptoms", SYMPTOMS), ("help", HELP),
                                      ("out_of_scope", OUT_OF_SCOPE))
                for text in texts]
    return TrainingData(training_examples=examples)


@pytest.fixture(scope="module")
def guard(tmp_path_factory) -> DomainGuard:
    """Trained, then loaded back from the model storage as the server would."""
    storage = LocalModelStorage(tmp_path_factory.mktemp("model"))
    context = ExecutionContext(GraphSchema({}), "test")
    config = {**DomainGuard.get_default_config(), "intents": ["faq", "describe_symptoms"],
              "lenient_intents": ["help"], "min_ratio": 3.0}
    resource = Resource("domain_guard")
    DomainGuard.create(config, storage, resource, context).train(training_data())
    return DomainGuard.load(config, storage, resource, context)


def judged(guard: DomainGuard, text: str, intent: str, entities: Optional[List[Dict]] = None) -> str:
    message = Message(data={"text": text})
    message.set("intent", {"name": intent, "confidence": 0.9})
    message.set("intent_ranking", [{"name": intent, "confidence": 0.9}])
    message.set("entities", entities or [])
    guard.process([message])
    return message.get("intent")["name"]


def test_distinctive_words_drop_words_the_background_uses_as_often():
    found = distinctive_words({"faq": FAQ}, OUT_OF_SCOPE, min_ratio=3.0)["faq"]
    assert {"prescription", "sick", "register", "results"} <= set(found)
    assert not {"how", "do", "i", "get"} & set(found)


@pytest.mark.parametrize("text, intent", [
    ("how do I register as a new patient", "faq"),
    ("I have a pounding head", "describe_symptoms"),
])
def test_a_distinctive_word_is_evidence(guard, text, intent):
    assert judged(guard, text, intent) == intent


@pytest.mark.parametrize("text, intent", [
    ("how do I get a new passport", "faq"),
    ("my bike is broken", "describe_symptoms"),
    ("how do I renew my insurance 2024", "faq"),  # numbers are no evidence
])
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
    message = Message(data={"text": "my bike is broken"})
    message.set("intent", {"name": "describe_symptoms", "confidence": 0.9})
    message.set("intent_ranking", [{"name": "describe_symptoms", "confidence": 0.9}])
    guard.process([message])
    assert [r["name"] for r in message.get("intent_ranking")] == ["out_of_scope", "describe_symptoms"]


def test_counter_evidence_outweighing_evidence_declines(guard):
    assert judged(guard, "how do I get my test results", "faq") == "faq"
    assert judged(guard, "how do I get my car results", "faq") == "out_of_scope"  # "car": as much against as for


def test_a_lenient_intent_needs_no_evidence_but_yields_to_counter_evidence(guard):
    assert judged(guard, "what are you", "help") == "help"
    assert judged(guard, "help me with the weather", "help") == "out_of_scope"
