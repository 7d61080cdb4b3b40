"""The Rasa speed fixes keep Rasa's behaviour: same validation verdicts, same event classes."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

from carebot import rasa_server


@pytest.fixture(scope="module", autouse=True)
def patched():
    original_validate, original_resolve = RemoteAction._validate_action_result, Event.resolve_by_type
    rasa_server.apply()
    yield
    RemoteAction._validate_action_result, Event.resolve_by_type = (
        original_validate,
        staticmethod(original_resolve),
    )


def test_valid_action_results_pass_and_invalid_ones_raise_rasas_error():
    action = RemoteAction("action_x", None)
    assert action._validate_action_result(
        {"events": [{"event": "slot", "name": "a", "value": 1}], "responses": []}
    )
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": [{"event": 42}], "responses": "not a list"})


@pytest.mark.parametrize("name, cls", [("slot", SlotSet), ("user", UserUttered), ("action", ActionExecuted)])
def test_event_types_resolve_to_the_same_classes_twice(name, cls):
    assert Event.resolve_by_type(name) is cls
    assert Event.resolve_by_type(name) is cls


def test_unknown_event_types_still_fail_or_use_the_default():
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")
    assert Event.resolve_by_type("no_such_event", SlotSet) is SlotSet
