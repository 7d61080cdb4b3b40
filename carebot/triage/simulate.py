"""Run a whole triage without a chat: every question answered from a script, "I'm not sure" by default.

Used by the case-file evaluation, the benchmarks and the tests; the bot itself calls the engine step by step.
"""
from __future__ import annotations

from typing import Iterable, List, Mapping, Optional, Tuple

from carebot.triage.engine import MAX_QUESTIONS, answer, next_question, outcome, start
from carebot.triage.model import NOT_SURE, Outcome, Profile, ProtocolSet


def simulate(findings: Iterable[str], profile: Profile, denied: Iterable[str] = (),
             answers: Optional[Mapping[str, str]] = None,
             protocols: Optional[ProtocolSet] = None) -> Tuple[Outcome, List[str]]:
    """The outcome and the question ids asked, answering from `answers` (question id -> option) or not sure."""
    state = start(findings, profile, denied, protocols)
    asked: List[str] = []
    for _ in range(MAX_QUESTIONS + 1):  # the engine stops itself; the bound only guards against a bug
        question = next_question(state, protocols)
        if question is None:
            break
        asked.append(question.id)
        state = answer(state, question.id, (answers or {}).get(question.id, NOT_SURE), protocols)
    return outcome(state, protocols), asked
