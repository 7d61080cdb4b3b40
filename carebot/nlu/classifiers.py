"""Rasa's intent classifier and response selector, made cheaper per message without changing what they predict.

Profiled on every message's NLU (docs/architecture.md, "Conversation cost and sessions"): the response selector's
TensorFlow pass and the logistic regression's weight copy were two thirds of the stock components' time.
"""

from __future__ import annotations

from typing import Any, List

import numpy as np
import scipy.sparse
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class ColumnMajorLogisticRegressionClassifier(LogisticRegressionClassifier):
    """Rasa's LogisticRegressionClassifier with its weights kept column-major once loaded.

    scikit-learn multiplies the message by the transposed weights; scipy needs that transpose contiguous and
    copied the whole vocabulary × intents matrix on every message to get it (about a millisecond). Stored the
    other way round the transpose is contiguous already: the same sums in the same order, the same predictions.
    Without dense features (this pipeline has none) the sentence's sparse counts are the row as they are, not
    stacked beside an empty dense matrix first.
    """

    @classmethod
    def load(cls, *args: Any, **kwargs: Any) -> "ColumnMajorLogisticRegressionClassifier":
        component = super().load(*args, **kwargs)
        if hasattr(component.clf, "coef_"):  # an untrained classifier (no examples) has none
            component.clf.coef_ = np.asfortranarray(component.clf.coef_)
        return component

    def _create_X(self, messages: List[Message]) -> scipy.sparse.csr_matrix:
        sentences = [message.get_sparse_features(TEXT)[1] for message in messages]
        if any(s is None for s in sentences) or any(m.get_dense_features(TEXT)[1] for m in messages):
            return super()._create_X(messages)
        return scipy.sparse.vstack([s.features for s in sentences], format="csr")


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class RetrievalOnlyResponseSelector(ResponseSelector):
    """Rasa's ResponseSelector, run only on messages classified as one of its retrieval intents.

    The answer it picks is read for that intent alone (`utter_faq`, DomainGuard, RedFlagClassifier), and its
    TensorFlow pass was the costliest step of every other message's NLU too. Nothing later in the pipeline turns a
    message into a retrieval intent, so the ones it now skips are exactly the ones whose answer nobody reads.
    """

    def process(self, messages: List[Message]) -> List[Message]:
        wanted = {self.retrieval_intent} if self.retrieval_intent else set(self.all_retrieval_intents)
        retrieval = [m for m in messages if (m.get(INTENT) or {}).get("name") in wanted]
        if retrieval:
            super().process(retrieval)
        return messages
