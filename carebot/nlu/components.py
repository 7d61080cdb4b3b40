"""Rasa NLU components backed by a blank spaCy pipeline (no model download is possible, nor needed).

`PatternEntityExtractor` turns the designers' pattern files into Rasa entities. The patterns are copied into the
trained model at training time, so a model is self-contained and a running server never reads `data/` again.
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import spacy
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from carebot.nlu.patterns import load_patterns


def build_ruler_pipeline(patterns_dir: Path) -> spacy.language.Language:
    """A blank English pipeline whose only job is matching the designers' patterns, case-insensitively."""
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns(load_patterns(patterns_dir))
    return nlp


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class PatternEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Entities from `data/patterns/*.yml`: entity = the pattern's label in lower case, value = its `id`."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"patterns_dir": "data/patterns"}

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Pattern files are not Rasa training data: hashing them makes `rasa train` retrain when they change."""
        digest = hashlib.sha256()
        for file in sorted(Path(config["patterns_dir"]).glob("*.yml")):
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
        return digest.hexdigest()

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 nlp: Optional[spacy.language.Language] = None) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._nlp = nlp

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "PatternEntityExtractor":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Copies the pattern files into the model so serving never depends on the working tree."""
        source = Path(self._config["patterns_dir"])
        with self._model_storage.write_to(self._resource) as directory:
            for file in sorted(source.glob("*.yml")):
                shutil.copy(file, directory / file.name)
            self._nlp = build_ruler_pipeline(directory)
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "PatternEntityExtractor":
        with model_storage.read_from(resource) as directory:
            return cls(config, model_storage, resource, build_ruler_pipeline(directory))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            found = [
                {
                    "entity": ent.label_.lower(),
                    "value": ent.ent_id_ or ent.text.lower(),
                    "start": ent.start_char,
                    "end": ent.end_char,
                    "confidence": 1.0,
                }
                for ent in self._nlp(text).ents
            ] if text else []
            message.set(ENTITIES, message.get(ENTITIES, []) + self.add_extractor_name(found), add_to_output=True)
        return messages
