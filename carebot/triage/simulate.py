"""Run a whole triage without a chat, reading replies the way the chat does (engine.take_reply).

Every question is answered from a script (`answers`: question id -> option), else with `default_reply` ("I'm not
sure" or "no", the contract's two runs); `first_reply`, when given, is the patient's own sentence in answer to the
first question, read for its (current, ruled-out) findings with `read_findings`. Used by the case files, the
benchmarks and the tests.
"""

from __future__ import annotations

from typing import Callable, Iterable, List, Mapping, Optional, Sequence, Tuple

from carebot.triage.engine import CHAT_QUESTION_BUDGET, UNREADABLE, next_question, outcome, start, take_reply
from carebot.triage.model import NOT_SURE, Outcome, Profile, ProtocolSet


def simulate(
    findings: Iterable[str],
    profile: Profile,
    denied: Iterable[str] = (),
    answers: Optional[Mapping[str, str]] = None,
    protocols: Optional[ProtocolSet] = None,
    default_reply: str = NOT_SURE,
    first_reply: str = "",
    read_findings: Optional[Callable[[str], Tuple[Sequence[str], Sequence[str]]]] = None,
    budget: int = CHAT_QUESTION_BUDGET,
) -> Tuple[Outcome, List[str]]:
    """The outcome and the question ids asked (a re-asked question appears twice)."""
    state = start(findings, profile, denied, protocols)
    asked: List[str] = []
    unreadable = 0
    pending_sentence = first_reply
    while len(asked) < budget:
        question = next_question(state, protocols)
        if question is None:
            break
        asked.append(question.id)
        reply = (answers or {}).get(question.id, default_reply)
        current: Sequence[str] = ()
        denied_now: Sequence[str] = ()
        if pending_sentence and read_findings is not None:
            (current, denied_now), reply, pending_sentence = (
                read_findings(pending_sentence),
                pending_sentence,
                "",
            )
        turn = take_reply(state, question, reply, current, denied_now, None, unreadable, protocols)
        unreadable = unreadable + 1 if turn.say == UNREADABLE else 0
        state = turn.state
    return outcome(state, protocols), asked
