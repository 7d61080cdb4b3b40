"""The red-flag policy outranks an active form, and stays silent otherwise."""

from __future__ import annotations

import pytest
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from carebot.policies import RedFlagPolicy

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [red_flag, inform, greet]
slots:
  when:
    type: text
    mappings: [{type: from_text}]
forms:
  booking_form:
    required_slots: [when]
actions: [action_red_flag]
responses:
  utter_greet: [{text: hi}]
"""
)


@pytest.fixture
def policy(tmp_path) -> RedFlagPolicy:
    context = ExecutionContext(GraphSchema({}), "test")
    return RedFlagPolicy.create(
        RedFlagPolicy.get_default_config(), LocalModelStorage(tmp_path), Resource("rf"), context
    )


def tracker_with(*events) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("patient", [ActionExecuted("action_listen"), *events])


def predicted(policy: RedFlagPolicy, tracker: DialogueStateTracker):
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    best = max(range(len(prediction.probabilities)), key=prediction.probabilities.__getitem__)
    return prediction, DOMAIN.action_names_or_texts[best] if prediction.max_confidence else None


def test_red_flag_message_runs_the_red_flag_action_even_inside_a_form(policy, tmp_path):
    tracker = tracker_with(
        UserUttered("book", {"name": "greet"}),
        ActionExecuted("booking_form"),
        ActiveLoop("booking_form"),
        SlotSet("requested_slot", "when"),
        ActionExecuted("action_listen"),
        UserUttered("tomorrow but I have crushing chest pain", {"name": "red_flag"}),
    )
    ours, action = predicted(policy, tracker)
    assert action == "action_red_flag" and ours.is_no_user_prediction

    rule_policy = RulePolicy.create(
        RulePolicy.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("rules"),
        ExecutionContext(GraphSchema({}), "test"),
    )
    rule_policy.train([], DOMAIN)
    form_prediction = rule_policy.predict_action_probabilities(tracker, DOMAIN)
    assert DOMAIN.action_names_or_texts[form_prediction.probabilities.index(1.0)] == "booking_form"
    winner = DefaultPolicyPredictionEnsemble._pick_best_policy([form_prediction, ours])
    assert winner.policy_name == "RedFlagPolicy"


def test_after_the_red_flag_action_the_bot_listens(policy):
    tracker = tracker_with(
        UserUttered("I can't breathe", {"name": "red_flag"}),
        ActionExecuted("action_red_flag"),
        SlotSet("triage_level", "emergency"),
    )
    prediction, action = predicted(policy, tracker)
    assert action == "action_listen" and prediction.is_no_user_prediction


@pytest.mark.parametrize(
    "events",
    [
        [UserUttered("hello", {"name": "greet"})],
        [
            UserUttered("I can't breathe", {"name": "red_flag"}),
            ActionExecuted("action_red_flag"),
            ActionExecuted("action_listen"),
            UserUttered("thanks, they're coming", {"name": "inform"}),
        ],
    ],
)
def test_otherwise_it_predicts_nothing(policy, events):
    prediction, action = predicted(policy, tracker_with(*events))
    assert action is None and not prediction.is_no_user_prediction
