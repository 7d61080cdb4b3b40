"""Every emergency of the frozen triage holdout, sent in every state of a conversation, over the real stack.

A red flag must be answered at once wherever the patient is: a fresh chat, the consent question, the middle of a
booking, of a reminder, or of a triage. No state may lose a red flag, so every holdout emergency the bot answers at
once in a fresh chat must be answered at once in each other state too (mid-triage may catch more: the message is
also read as an answer); their number is held to a floor (the triage issue's target is all of them). Failures
report counts only: printing held-out texts would invite tuning on them.
"""

from __future__ import annotations

import itertools
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, FrozenSet, Tuple

import pytest

from evaluation.cases import load_cases
from tests.e2e.conftest import ROOT

HOLDOUT = ROOT / "tests" / "triage_holdout.csv"
EMERGENCIES = tuple(case.text for case in load_cases(HOLDOUT) if case.expected == "emergency")
# Measured when set (docs/benchmarks.md, issue 12 note); raise it as the red-flag screen improves.
ANSWERED_AT_ONCE_FLOOR = 77  # every holdout emergency
# One new patient per conversation: numbers drawn at random collided (77 emergencies x 5 states from 100,000
# numbers), and two threads writing as one patient put one's booking request into the other's date question.
_SENDERS = itertools.count(uuid.uuid4().int % 50_000)

# (state, messages that lead there, what the bot's last reply must contain to prove it is in that state)
STATES: Tuple[Tuple[str, Tuple[str, ...], str], ...] = (
    ("fresh", (), ""),
    ("before consent", ("I have a headache",), "Before I ask about your health"),
    ("mid-booking", ("I'd like to book a GP appointment",), "When would you like to come in?"),
    (
        "mid-reminder",
        ("remind me to take my tablets", "yes"),
        "When should I remind you?",
    ),  # yes: medicine consent
    ("mid-triage", ("I have a sore throat", "yes"), "Are you short of breath"),
)


def answered_at_once(stack, emergency_number: str, prefix: Tuple[str, ...], proof: str) -> FrozenSet[int]:
    """Indexes of the holdout emergencies whose first reply, in this state, sends the patient to emergency care."""

    def answered(text: str) -> bool:
        sender = f"whatsapp:+4477008{next(_SENDERS):05d}"
        last = ""
        for message in prefix:
            last = stack.texts(sender, message)
        assert proof in last, f"state not reached: {last[:120]!r}"
        reply = stack.texts(sender, text)
        return emergency_number in reply and stack.tracker(sender)["slots"]["triage_level"] == "emergency"

    with ThreadPoolExecutor(max_workers=4) as pool:  # separate senders: the conversations never share state
        return frozenset(index for index, hit in enumerate(pool.map(answered, EMERGENCIES)) if hit)


@pytest.mark.slow
def test_holdout_emergencies_are_answered_at_once_in_every_state(stack, clinic):
    caught: Dict[str, FrozenSet[int]] = {
        state: answered_at_once(stack, clinic.emergency_number, prefix, proof)
        for state, prefix, proof in STATES
    }
    counts = {state: len(indexes) for state, indexes in caught.items()}
    lost = {
        state: len(caught["fresh"] - indexes)
        for state, indexes in caught.items()
        if caught["fresh"] - indexes
    }
    assert not lost, f"red flags answered in a fresh chat but not in these states: {lost} ({counts})"
    assert counts["fresh"] >= ANSWERED_AT_ONCE_FLOOR, (
        f"{counts['fresh']} of {len(EMERGENCIES)} answered at once"
    )
