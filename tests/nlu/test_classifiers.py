"""The cheaper stock classifiers predict exactly what Rasa's own would, and skip only what nobody reads."""

from __future__ import annotations

from typing import List

import pytest
from rasa.engine.storage.resource import Resource
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from carebot.nlu.classifiers import ColumnMajorLogisticRegressionClassifier, RetrievalOnlyResponseSelector

EXAMPLES = {
    "greet": ["hi there", "hello", "good morning", "hey"],
    "book_appointment": ["book an appointment", "can I see a doctor", "I need an appointment tomorrow"],
    "faq/cost": ["how much does it cost", "is it free", "what are your prices"],
    "faq/sick_note": ["I need a sick note", "can I get a fit note for work", "sick note please"],
}


@pytest.fixture(scope="module")
def featurise(storage, context):
    """Whitespace tokens and word counts, trained on the examples, as the real pipeline's first steps."""
    tokenizer = WhitespaceTokenizer.create(
        WhitespaceTokenizer.get_default_config(), storage, Resource("tok"), context
    )
    featurizer = CountVectorsFeaturizer.create(
        CountVectorsFeaturizer.get_default_config(), storage, Resource("cv"), context
    )
    training = TrainingData(
        [
            Message(
                data={
                    "text": text,
                    "intent": name.split("/")[0],
                    **({"intent_response_key": name} if "/" in name else {}),
                }
            )
            for name, texts in EXAMPLES.items()
            for text in texts
        ],
        responses={
            f"utter_{name}": [{"text": f"the answer about {name}"}] for name in EXAMPLES if "/" in name
        },
    )
    tokenizer.process_training_data(training)
    featurizer.train(training)
    featurizer.process_training_data(training)

    def messages(*texts_and_intents: tuple) -> List[Message]:
        built = [Message(data={"text": text}) for text, _ in texts_and_intents]
        tokenizer.process(built)
        featurizer.process(built)
        for message, (_, intent) in zip(built, texts_and_intents):
            if intent:
                message.set("intent", {"name": intent, "confidence": 0.9})
        return built

    return training, messages


def test_column_major_weights_give_rasas_exact_intent_ranking(storage, context, featurise):
    training, messages = featurise
    config = LogisticRegressionClassifier.get_default_config()
    resource = Resource("logreg")
    LogisticRegressionClassifier.create(config, storage, resource, context).train(training)
    stock = LogisticRegressionClassifier.load(config, storage, resource, context)
    fast = ColumnMajorLogisticRegressionClassifier.load(config, storage, resource, context)

    assert fast.clf.coef_.flags.f_contiguous and not stock.clf.coef_.flags.f_contiguous
    texts = [
        ("hello there", None),
        ("how much is a sick note", None),
        ("an appointment tomorrow please", None),
    ]
    ours, theirs = messages(*texts), messages(*texts)
    fast.process(ours)
    stock.process(theirs)
    assert [m.get("intent_ranking") for m in ours] == [m.get("intent_ranking") for m in theirs]
    assert [m.get("intent")["name"] for m in ours] == ["greet", "faq", "book_appointment"]


def test_response_selector_answers_faq_messages_only(storage, context, featurise):
    training, messages = featurise
    config = {**ResponseSelector.get_default_config(), "retrieval_intent": "faq", "epochs": 30}
    resource = Resource("selector")
    RetrievalOnlyResponseSelector.create(config, storage, resource, context).train(training)
    fast = RetrievalOnlyResponseSelector.load(config, storage, resource, context)

    asked = (("is it free", "faq"), ("hello", "greet"), ("I need a sick note", "faq"))
    ours, theirs = messages(*asked), messages(*asked)
    fast.process(ours)
    ResponseSelector.process(fast, theirs)  # Rasa's own, with the same weights
    assert ours[1].get("response_selector") is None  # a greeting: nobody reads an faq answer for it
    assert theirs[1].get("response_selector") is not None  # Rasa's own spent a TensorFlow pass on it
    for index in (0, 2):
        assert ours[index].get("response_selector") == theirs[index].get("response_selector")
    assert ours[2].get("response_selector")["faq"]["response"]["intent_response_key"] == "faq/sick_note"
