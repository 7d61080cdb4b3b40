"""Guards after the intent classifier that overrule a confident guess the message gives no ground for.

`VocabularyGuard`: a message with no word the bot was trained on goes to the fallback, whatever its confidence.
`DomainGuard`: a message classified as a clinic intent but with no health entity and none of that intent's
distinctive words is out of scope ("how do I register my car" is not `faq`, "my boiler is leaking" is not a symptom).
Both sit after FallbackClassifier and before the red-flag check, which outranks everything.
"""
from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from carebot.nlu.components import NOT_A_COMPLAINT
from carebot.nlu.vocabulary import Vocabulary, distinctive_words, words

VOCABULARY_FILE = "vocabulary.json"
DISTINCTIVE_FILE = "distinctive_words.json"


def _overrule(message: Message, intent_name: Text) -> None:
    """Sets `intent_name` with full confidence, keeping the classifier's ranking below it for inspection."""
    intent = {"name": intent_name, "confidence": 1.0}
    message.set(INTENT, intent, add_to_output=True)
    ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != intent_name]
    message.set(INTENT_RANKING_KEY, [intent, *ranking], add_to_output=True)


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
            _overrule(message, DEFAULT_NLU_FALLBACK_INTENT_NAME)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class DomainGuard(GraphComponent):
    """Demotes a clinic intent to `decline_intent` when the message shows no sign of the clinic's domain.

    A linear classifier matches on everyday words a clinic intent shares with anything else ("how do I", "cancel
    my", "where is"), so it sends "how do I register my car" to `faq`. What counts is learned from the training
    data, not listed here (see `distinctive_words`), per checked intent:
    - evidence: a health entity from the patterns, or one of the intent's distinctive words (frequent in its
      examples, rare in the `decline_intent` examples);
    - counter-evidence: words distinctive of the `decline_intent` examples that the intent's own examples never use
      ("car", "flight", "recipe").
    A message with no evidence, or with more counter-evidence than evidence, is demoted. `lenient_intents` (made of
    everyday words, like help's "what can you do") are demoted on counter-evidence only. Intents not listed are
    never checked, so answers inside a form ("tuesday", "yes", "the second one") keep their intent. Demotion gives
    `out_of_scope` (the polite "can't help with that"), not `nlu_fallback`: declined requests do not count towards
    the two-fallbacks handoff.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Clinic intents a message must show evidence for; the rest are left as classified.
            "intents": [],
            # Intents demoted on counter-evidence only, never for lacking distinctive words.
            "lenient_intents": [],
            # The intent a demoted message gets, and whose examples are the "anything else" background.
            "decline_intent": "out_of_scope",
            # How many times more often (share of examples) a word must occur in an intent than in the background.
            "min_ratio": 8.0,
            # The same for counter-evidence: the decline intent's words against all checked intents' examples.
            "counter_min_ratio": 3.0,
            # Typos are forgiven in distinctive words this long or longer (short words would match too much).
            "min_fuzzy_length": 5,
            # Entities that qualify a request without making it a health one ("my son", "today").
            "qualifier_entities": ["age_group"],
        }

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 learned: Optional[Dict[Text, Dict[Text, List[Text]]]] = None) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._set_learned(learned or {})

    def _set_learned(self, learned: Dict[Text, Dict[Text, List[Text]]]) -> None:
        self._evidence = {intent: Vocabulary(words_of["for"], self._config["min_fuzzy_length"])
                          for intent, words_of in learned.items()}
        self._counter = {intent: frozenset(words_of["against"]) for intent, words_of in learned.items()}

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "DomainGuard":
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "DomainGuard":
        with model_storage.read_from(resource) as directory:
            learned = json.loads((directory / DISTINCTIVE_FILE).read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, learned)

    def train(self, training_data: TrainingData) -> Resource:
        by_intent: Dict[Text, List[Text]] = defaultdict(list)
        for example in training_data.intent_examples:
            by_intent[example.get(INTENT)].append(example.get(TEXT) or "")
        decline = self._config["decline_intent"]
        checked = {intent: by_intent[intent] for intent in [*self._config["intents"], *self._config["lenient_intents"]]}
        evidence = distinctive_words(checked, by_intent[decline], self._config["min_ratio"])
        everything_checked = [text for texts in checked.values() for text in texts]
        declined_words = distinctive_words({decline: by_intent[decline]}, everything_checked,
                                           self._config["counter_min_ratio"])[decline]
        learned = {}
        for intent, texts in checked.items():
            used = {w for text in texts for w in words(text)}
            learned[intent] = {"for": evidence[intent], "against": [w for w in declined_words if w not in used]}
        with self._model_storage.write_to(self._resource) as directory:
            (directory / DISTINCTIVE_FILE).write_text(json.dumps(learned, indent=1), encoding="utf-8")
        self._set_learned(learned)
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = (message.get(INTENT) or {}).get("name")
            if intent not in self._evidence or self._names_health_term(message):
                continue
            if self._outweighed(intent, [w for w in words(message.get(TEXT) or "") if not w.isdigit()]):
                _overrule(message, self._config["decline_intent"])
        return messages

    def _outweighed(self, intent: Text, found: List[Text]) -> bool:
        """No evidence (unless lenient), or at least as much counter-evidence as evidence."""
        evidence = sum(self._evidence[intent].knows(w) for w in found)
        against = sum(w in self._counter[intent] for w in found)
        if evidence == 0 and intent not in self._config["lenient_intents"]:
            return True
        return against > 0 and against >= evidence

    def _names_health_term(self, message: Message) -> bool:
        """An entity from the patterns other than a qualifier: a duration ("today") or an age ("my son") alone is not."""
        return any(e.get("entity") not in self._config["qualifier_entities"] and e.get("value") not in NOT_A_COMPLAINT
                   for e in message.get(ENTITIES) or [])
