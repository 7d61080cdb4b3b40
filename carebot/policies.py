"""The red-flag policy: an emergency in a patient's message is answered first, whatever the dialogue was doing.

Rasa's RulePolicy lets an active form run before any rule ("loop happy path"), so a red flag typed mid-booking
("tomorrow at 10, and I've got crushing chest pain") would be taken as a date. This policy predicts the red-flag
action as a no-user-input prediction with a higher priority than RulePolicy, which is the one kind of prediction
Rasa's ensemble ranks above an active form. The NLU pipeline marks such a message with the `red_flag` intent.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

RED_FLAG_PRIORITY = 7  # RulePolicy is 6


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class RedFlagPolicy(Policy):
    """After a `red_flag` message: run the red-flag action, then listen. Otherwise it predicts nothing."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": RED_FLAG_PRIORITY, "intent": "red_flag", "action": "action_red_flag"}

    def train(
        self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        latest = self._latest_relevant_event(tracker)
        if isinstance(latest, UserUttered) and latest.intent_name == self.config["intent"]:
            probabilities[domain.index_for_action(self.config["action"])] = 1.0
        elif isinstance(latest, ActionExecuted) and latest.action_name == self.config["action"]:
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
        else:
            return self._prediction(probabilities)
        return self._prediction(probabilities, is_no_user_prediction=True)

    @staticmethod
    def _latest_relevant_event(tracker: DialogueStateTracker) -> Optional[Any]:
        """The last user message or action (slot and other events in between do not matter)."""
        return next(
            (e for e in reversed(tracker.events) if isinstance(e, (UserUttered, ActionExecuted))), None
        )
