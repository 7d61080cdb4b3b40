"""A staff case opens only when the patient asked for a person, or a rule or protocol sends one (issue 13), or the
identity check locked the number (issue 18).

Sweeps every rule and story (data/ and tests/stories/) and every action that can open a case: a misunderstanding,
a "yes" after a finished flow or a photo in the middle of a form must never reach the staff inbox.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import yaml

ROOT = Path(__file__).resolve().parents[2]
HANDOFF_ACTION = "action_hand_off_to_staff"
# The patient asks for a person; a photo or document outside a form goes to a person (data/rules/handoff.yml).
SENT_TO_A_PERSON_BY = {"ask_human", "send_media"}
# Who may call open_handoff, and with which reason: the rule-driven action, triage's call-back protocol, and the
# identity check once a number gave a wrong date of birth too often (issue 18: staff contact the patient).
CASE_OPENERS = {
    "actions/handoff.py": "reason_for(latest_intent(tracker))",
    "actions/identity.py": "Reason.IDENTITY_LOCKED",
    "actions/triage.py": "Reason.TRIAGE_CALLBACK",
}


def conversations() -> Iterator[Tuple[str, Dict[str, Any]]]:
    files = [
        *(ROOT / "data" / "rules").glob("*.yml"),
        *(ROOT / "data" / "stories").glob("*.yml"),
        *(ROOT / "tests" / "stories").glob("*.yml"),
    ]
    for file in sorted(files):
        content = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        for conversation in (content.get("rules") or []) + (content.get("stories") or []):
            yield (
                f"{file.relative_to(ROOT)}: {conversation.get('rule') or conversation.get('story')}",
                conversation,
            )


def intents_of(step: Dict[str, Any]) -> List[str]:
    if "intent" in step:
        return [step["intent"]]
    return [option["intent"] for option in step.get("or") or [] if "intent" in option]


def handoffs(conversation: Dict[str, Any]) -> Iterator[Tuple[List[str], Optional[str]]]:
    """For each handoff step: the intents of the patient message it answers, and the form active at that moment."""
    active = next((c["active_loop"] for c in conversation.get("condition") or [] if "active_loop" in c), None)
    last_intents: List[str] = []
    form_at_message: Optional[str] = active
    for step in conversation.get("steps") or []:
        if intents_of(step):
            last_intents, form_at_message = intents_of(step), active
        if "active_loop" in step:
            active = step["active_loop"]
        if step.get("action") == HANDOFF_ACTION:
            yield last_intents, form_at_message


def test_the_sweep_sees_the_rules_that_hand_over():
    swept = {name for name, conversation in conversations() if list(handoffs(conversation))}
    assert "data/rules/handoff.yml: The patient asks for a person" in swept
    assert "data/rules/handoff.yml: A photo or document goes to a person (the bot cannot look at it)" in swept
    assert len(swept) >= 6  # rules plus test stories; a broken sweep would find none


def test_every_rule_and_story_hands_over_only_when_the_patient_asked_or_sent_a_photo():
    for name, conversation in conversations():
        for intents, form in handoffs(conversation):
            assert intents and set(intents) <= SENT_TO_A_PERSON_BY, f"{name}: hands over after {intents}"
            if "send_media" in intents:
                assert form is None, f"{name}: a photo in {form} must not end it in a handoff"


def test_only_a_request_for_a_person_a_photo_a_triage_call_back_or_a_lock_opens_a_case():
    callers = {}
    for file in sorted((ROOT / "actions").glob("*.py")):
        for call in re.findall(r"await open_handoff\(\s*tracker, (\S+?), dispatcher", file.read_text()):
            callers.setdefault(str(file.relative_to(ROOT)), set()).add(call)
    assert callers == {path: {reason} for path, reason in CASE_OPENERS.items()}
    assert "open_handoff" not in (ROOT / "actions" / "fallback.py").read_text()
