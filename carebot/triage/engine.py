"""The triage decision engine: pure functions from findings and answers to one safe disposition.

Safety rules the functions keep, whatever the protocol files say:
- the red-flag screen runs on every call over everything known, so a red flag wins from any point;
- levels only go up: a rule can raise the protocol's base level, never lower it;
- "I'm not sure", a question never reached, or a contradiction never lowers the level: the question's
  `if_not_sure` option (the author's safer reading) applies if given, and the case is marked for a staff
  call-back with the unresolved questions listed;
- at most MAX_QUESTIONS questions, never one that the findings already answered, never the same one twice.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import FrozenSet, Iterable, List, Optional, Tuple

from carebot.clinic import Clinic
from carebot.triage.loader import load_protocols
from carebot.triage.model import (
    NOT_SURE, Outcome, Profile, Protocol, ProtocolSet, Question, RedFlag, Rule, TriageState, level_rank,
)

MAX_QUESTIONS = 12
PROJECT_ROOT = Path(__file__).resolve().parents[2]
TRIAGE_DIR = PROJECT_ROOT / "data" / "triage"
PATTERNS_DIR = PROJECT_ROOT / "data" / "patterns"

_YES = {"yes", "y", "yeah", "yep", "yup", "ya", "yes it is", "yes they are", "correct", "true", "i do", "it is"}
_NO = {"no", "n", "nope", "nah", "not really", "no it isnt", "no it is not", "i dont", "none", "neither", "false"}
_UNSURE = {"not sure", "im not sure", "i am not sure", "unsure", "dont know", "i dont know", "idk", "dunno",
           "no idea", "maybe", "possibly", "not certain", "cant tell", "i cant tell", "?"}


class InvalidAnswer(ValueError):
    """The reply matches none of the options; the message lists them so the bot can ask again plainly."""


@lru_cache(maxsize=1)
def default_protocols() -> ProtocolSet:
    """The project's protocols, loaded and fully validated once per process."""
    return load_protocols(TRIAGE_DIR, PATTERNS_DIR)


def _set(protocols: Optional[ProtocolSet]) -> ProtocolSet:
    return protocols or default_protocols()


# --- what is known ---------------------------------------------------------------------------------------------

def _known(state: TriageState, ps: ProtocolSet) -> Tuple[FrozenSet[str], FrozenSet[str]]:
    """(present, ruled out) findings from the text and the answers; present wins over ruled out (safer)."""
    present = set(state.findings)
    denied = set(state.denied)
    for question_id, option_id in state.answers:
        question = ps.questions.get(question_id)
        if question is None:
            continue
        if option_id == NOT_SURE and question.if_not_sure:
            option_id = question.if_not_sure
        finding = question.option(option_id).finding
        if finding:
            present.add(finding)
        elif option_id == "no" and question.denies:
            denied.add(question.denies)
    return frozenset(present), frozenset(denied - present)


def _route(findings: Iterable[str], profile: Profile, ps: ProtocolSet) -> Tuple[str, ...]:
    """Protocols selected by the findings, the complaint told first leading; the fallback if none fits.

    The fallback protocol is also selected by its own routes ("feeling unwell", "blood sugar is high")."""
    ordered = list(dict.fromkeys(findings))
    chosen: List[Tuple[bool, int, int, str]] = []
    for index, protocol in enumerate(ps.protocols):
        if not protocol.applies_to.profile_fits(profile):
            continue
        hits = [ordered.index(f) for f in protocol.routes if f in ordered]
        if hits:
            chosen.append((protocol.fallback, min(hits), index, protocol.id))
    if not chosen:
        return tuple(p.id for p in ps.protocols if p.fallback)
    return tuple(choice[-1] for choice in sorted(chosen))  # the fallback's questions come last


def _decide(state: TriageState, ps: ProtocolSet) -> Tuple[str, Optional[Rule], Optional[Protocol], Optional[RedFlag]]:
    """(level, deciding rule, its protocol, red flag raised); the rule is None when the red flag decides."""
    present, _ = _known(state, ps)
    flag = screen_red_flags(present, state.profile, ps)
    best: Tuple[str, Optional[Rule], Optional[Protocol]] = ("self_care", None, None)
    for protocol_id in state.protocols:
        protocol = ps.protocol(protocol_id)
        # The fallback's base ("we could not match your symptoms") only speaks when nothing else fits.
        base = [] if protocol.fallback and len(state.protocols) > 1 else [protocol.base]
        candidates = base + [r for r in protocol.rules if r.when.matches(present, state.profile)]
        for rule in candidates:
            if best[1] is None or level_rank(rule.level) > level_rank(best[0]):
                best = (rule.level, rule, protocol)
    if flag and level_rank(flag.level) >= level_rank(best[0]):
        return flag.level, None, best[2], flag
    return best[0], best[1], best[2], flag


def _potential(question: Question, state: TriageState, present: FrozenSet[str], denied: FrozenSet[str],
               ps: ProtocolSet) -> int:
    """The highest level an answer to `question` could still lead to (-1 when it cannot change anything)."""
    rules: List[Tuple[str, object]] = [(f.level, f.when) for f in ps.red_flags]
    for protocol_id in state.protocols:
        rules += [(r.level, r.when) for r in ps.protocol(protocol_id).rules]
    best = -1
    for level, when in rules:
        if not (when.findings & question.findings) or not when.profile_fits(state.profile):
            continue
        if any(group <= denied for group in when.groups):
            continue
        best = max(best, level_rank(level))
    return best


def _answered(question: Question, present: FrozenSet[str], denied: FrozenSet[str]) -> bool:
    return bool(question.answering_findings & present) or (question.denies is not None and question.denies in denied)


# --- public API -------------------------------------------------------------------------------------------------

def screen_red_flags(findings: Iterable[str], profile: Profile,
                     protocols: Optional[ProtocolSet] = None) -> Optional[RedFlag]:
    """The first red flag the findings raise: emergencies before crisis-only flags, then file order."""
    present = frozenset(findings)
    matched = [f for f in _set(protocols).red_flags if f.when.matches(present, profile)]
    if not matched:
        return None
    return max(matched, key=lambda f: level_rank(f.level))  # max keeps the first of equal levels


def start(findings: Iterable[str], profile: Profile, denied: Iterable[str] = (),
          protocols: Optional[ProtocolSet] = None) -> TriageState:
    """A new triage from the opening message: current affirmed findings and the ones the patient ruled out."""
    ps = _set(protocols)
    told = tuple(dict.fromkeys(findings))
    state = TriageState(profile, told, frozenset(denied) - frozenset(told), ())
    return _with_routes(state, ps)


def _with_routes(state: TriageState, ps: ProtocolSet) -> TriageState:
    present, _ = _known(state, ps)
    ordered = list(state.findings) + sorted(present - set(state.findings))
    return TriageState(state.profile, state.findings, state.denied, _route(ordered, state.profile, ps),
                       state.asked, state.answers, state.contradicted)


def add_findings(state: TriageState, findings: Iterable[str], denied: Iterable[str] = (),
                 profile: Optional[Profile] = None, protocols: Optional[ProtocolSet] = None) -> TriageState:
    """Merge what a later message said (any reply can carry a red flag); a denial never erases a finding."""
    ps = _set(protocols)
    present, _ = _known(state, ps)
    new = tuple(f for f in dict.fromkeys(findings) if f not in state.findings)
    denied = frozenset(denied)
    contradicted = state.contradicted | (denied & present) | (frozenset(new) & state.denied)
    merged = TriageState(profile or state.profile, state.findings + new,
                         (state.denied | denied) - frozenset(state.findings + new), state.protocols,
                         state.asked, state.answers, contradicted)
    return _with_routes(merged, ps)


def next_question(state: TriageState, protocols: Optional[ProtocolSet] = None) -> Optional[Question]:
    """The next question that could still change the disposition, or None when triage is complete."""
    ps = _set(protocols)
    if len(state.asked) >= MAX_QUESTIONS:
        return None
    level, _, _, _ = _decide(state, ps)
    if level == "emergency":
        return None
    present, denied = _known(state, ps)
    current = level_rank(level)
    for question in _candidates(state, ps):
        if question.id in state.asked or _answered(question, present, denied):
            continue
        if question.ask_if and not question.ask_if.matches(present, state.profile):
            continue
        if _potential(question, state, present, denied, ps) > current:
            return question
    return None


def _candidates(state: TriageState, ps: ProtocolSet) -> List[Question]:
    return [q for pid in state.protocols for q in ps.protocol(pid).questions]


def parse_reply(question: Question, reply: str) -> str:
    """The option id a reply means: its number, id, text, or a plain yes/no/"not sure"."""
    text = re.sub(r"[^a-z0-9? ]", "", reply.lower().replace("'", "").replace("_", " ")).strip()
    text = re.sub(r"\s+", " ", text)
    ids = [o.id for o in question.options]
    if text.isdigit() and 1 <= int(text) <= len(ids):
        return ids[int(text) - 1]
    for option in question.options:
        if text in (option.id.replace("_", " "), re.sub(r"[^a-z0-9 ]", "", option.text.lower().replace("'", ""))):
            return option.id
    for words, option_id in ((_UNSURE, NOT_SURE), (_YES, "yes"), (_NO, "no")):
        if option_id in ids and (text in words or any(text.startswith(w + " ") for w in words if len(w) > 2)):
            return option_id
    choices = "; ".join(f"{i}. {o.text}" for i, o in enumerate(question.options, 1))
    raise InvalidAnswer(f"Please reply with the number of one answer: {choices}")


def answer(state: TriageState, question_id: str, reply: str,
           protocols: Optional[ProtocolSet] = None) -> TriageState:
    """Record one answer (number, option id or words); raises InvalidAnswer for a reply that fits no option."""
    ps = _set(protocols)
    question = ps.questions.get(question_id)
    if question is None:
        raise KeyError(f"unknown question id {question_id!r}")
    if question_id in state.asked:
        raise ValueError(f"question {question_id!r} was already answered")
    option_id = parse_reply(question, reply)
    answered = TriageState(state.profile, state.findings, state.denied, state.protocols,
                           state.asked + (question_id,), state.answers + ((question_id, option_id),),
                           state.contradicted)
    return _with_routes(answered, ps)


def outcome(state: TriageState, protocols: Optional[ProtocolSet] = None) -> Outcome:
    """The disposition now: level, one-line reason, advice, the service to book and whether staff call back."""
    ps = _set(protocols)
    level, rule, protocol, flag = _decide(state, ps)
    present, denied = _known(state, ps)
    current = level_rank(level)
    answers = state.answer_map
    uncertain = tuple(
        q.id for q in _candidates(state, ps)
        if not _answered(q, present, denied) and (answers.get(q.id) == NOT_SURE or q.id not in answers)
        and (not q.ask_if or q.ask_if.matches(present, state.profile))
        and _potential(q, state, present, denied, ps) > current
    )
    disposition = ps.dispositions.get(level, "")
    flag_advice = flag.advice if flag is not None else ()  # a crisis line is named even when a rule decides
    if rule is None:  # the red flag decides; an urgent (crisis) one still offers a same-day booking
        assert flag is not None and protocol is not None
        advice = flag_advice + (disposition,) + (protocol.seek_help if level != "emergency" else ())
        return Outcome(level, flag.reason, _unique(advice), None if level == "emergency" else protocol.service,
                       True, protocol.id, None, flag.id, uncertain)
    assert protocol is not None  # a routed protocol always has a base rule
    advice: Tuple[str, ...] = flag_advice + (disposition,) + rule.advice
    if level == "self_care":
        advice += protocol.self_care_advice
    if level != "emergency":
        advice += protocol.seek_help
    service = None if level in ("emergency", "self_care") else (rule.service or protocol.service)
    callback = rule.callback or bool(uncertain) or bool(state.contradicted) or flag is not None
    return Outcome(level, rule.reason, _unique(advice), service, callback, protocol.id,
                   None if rule.id == "base" else rule.id, flag.id if flag else None, uncertain)


def _unique(texts: Iterable[str]) -> Tuple[str, ...]:
    return tuple(t for t in dict.fromkeys(texts) if t)


def fill(text: str, clinic: Clinic) -> str:
    """Put the clinic's numbers (clinic.yml) into protocol text: {emergency_number}, {urgent_line}, {crisis_line}."""
    return text.format(
        emergency_number=clinic.emergency_number,
        urgent_line=clinic.urgent_advice_line,
        crisis_line=f"{clinic.crisis_line_name} on {clinic.crisis_line_number}",
    )
