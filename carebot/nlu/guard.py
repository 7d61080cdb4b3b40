"""`VocabularyGuard`: a message with no word the bot was trained on goes to the fallback, whatever its confidence.

Placed after FallbackClassifier (and before the red-flag check, which outranks everything).
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from carebot.nlu.vocabulary import Vocabulary, words

VOCABULARY_FILE = "vocabulary.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class VocabularyGuard(GraphComponent):
    """Learns the words of the training examples; sends messages with none of them to `nlu_fallback`."""

    def __init__(self, model_storage: ModelStorage, resource: Resource,
                 vocabulary: Optional[Vocabulary] = None) -> None:
        self._model_storage = model_storage
        self._resource = resource
        self._vocabulary = vocabulary or Vocabulary(())

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "VocabularyGuard":
        return cls(model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "VocabularyGuard":
        with model_storage.read_from(resource) as directory:
            known = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
        return cls(model_storage, resource, Vocabulary(known))

    def train(self, training_data: TrainingData) -> Resource:
        known = sorted({w for example in training_data.intent_examples for w in words(example.get(TEXT) or "")})
        with self._model_storage.write_to(self._resource) as directory:
            (directory / VOCABULARY_FILE).write_text(json.dumps(known), encoding="utf-8")
        self._vocabulary = Vocabulary(known)
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if message.get(ENTITIES) or self._vocabulary.knows_any(text):
                continue
            fallback = {"name": DEFAULT_NLU_FALLBACK_INTENT_NAME, "confidence": 1.0}
            message.set(INTENT, fallback, add_to_output=True)
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != fallback["name"]]
            message.set(INTENT_RANKING_KEY, [fallback, *ranking], add_to_output=True)
        return messages
