"""The triage decision engine: pure functions from findings and answers to one safe disposition.

Safety rules the functions keep, whatever the protocol files say:
- the red-flag screen runs on every call over everything known, so a red flag wins from any point;
- levels only go up: a rule can raise the protocol's base level, never lower it;
- "I'm not sure", a question never reached, or a contradiction never lowers the level: the question's
  `if_not_sure` option (the author's safer reading) applies if given, and the case is marked for a staff
  call-back with the unresolved questions listed;
- "I'm not sure" to an emergency question is never silently "no": it is asked once more in simpler words, and
  if still unsure the outcome gives the emergency advice first and, by the question's `if_unsure`, is at least
  urgent;
- cross-cutting escalations (escalations.yml) raise any triage, whatever protocol the complaint selected;
- at most MAX_QUESTIONS questions, never one that the findings already answered, never the same one twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import FrozenSet, Iterable, List, Optional, Sequence, Tuple

from carebot.clinic import Clinic
from carebot.settings import PROJECT_ROOT
from carebot.triage.loader import load_protocols
from carebot.triage.model import (
    NOT_SURE,
    UNSURE_URGENT,
    Condition,
    Outcome,
    Profile,
    Protocol,
    ProtocolSet,
    Question,
    RedFlag,
    Rule,
    TriageState,
    level_rank,
)

MAX_QUESTIONS = 12
# In chat the patient's first message and the consent reply each take a bot turn: with at most this many questions
# (re-asks included) a triage answered "I'm not sure" throughout still ends within the contract's 12 bot turns.
CHAT_QUESTION_BUDGET = 10
UNREADABLE_REPLIES_BEFORE_NOT_SURE = 2
TRIAGE_DIR = PROJECT_ROOT / "data" / "triage"
PATTERNS_DIR = PROJECT_ROOT / "data" / "patterns"

_YES = {
    "yes",
    "y",
    "yeah",
    "yep",
    "yup",
    "ya",
    "yea",
    "yeh",
    "yh",
    "ye",
    "aye",
    "yes it is",
    "yes they are",
    "correct",
    "true",
    "i do",
    "it is",
    "it does",
    "he is",
    "she is",
    "they are",
    "he does",
    "she does",
    "he has",
    "she has",
    "i have",
    "i am",
    "im",
    "definitely",
    "absolutely",
    "sure",
    "of course",
    "i think so",
    "think so",
    "it has",
    "they do",
    "always",
    "very much",
    "yess",
    "yesss",
    "ok yes",
    "affirmative",
    "👍",
}
_NO = {
    "no",
    "n",
    "nope",
    "nah",
    "naw",
    "not really",
    "no it isnt",
    "no it is not",
    "i dont",
    "none",
    "neither",
    "false",
    "not at all",
    "i dont think so",
    "dont think so",
    "it doesnt",
    "it isnt",
    "he isnt",
    "she isnt",
    "he doesnt",
    "she doesnt",
    "they dont",
    "i havent",
    "i am not",
    "im not",
    "never",
    "no way",
    "nothing like that",
    "not that i know of",
    "not that ive noticed",
    "noo",
    "nooo",
    "no no",
}
_UNSURE = {
    "not sure",
    "im not sure",
    "i am not sure",
    "unsure",
    "dont know",
    "i dont know",
    "idk",
    "dunno",
    "no idea",
    "maybe",
    "possibly",
    "not certain",
    "cant tell",
    "i cant tell",
    "?",
    "hard to say",
    "i cant say",
    "perhaps",
    "i guess",
    "not sure really",
    "im unsure",
}
_EMOJI = {
    "👍": "yes",
    "👌": "yes",
    "✅": "yes",
    "👎": "no",
    "❌": "no",
    "🤷": NOT_SURE,
    "🤷‍♀️": NOT_SURE,
    "🤷‍♂️": NOT_SURE,
}


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
        # `applies_to: {none: [...]}`: a finding that says the complaint is something else ("hurts when I press
        # on it" is a strained muscle, not chest pain of the heart); red flags still screen every finding.
        if not protocol.applies_to.profile_fits(profile) or protocol.applies_to.excluded & set(ordered):
            continue
        hits = [ordered.index(f) for f in protocol.routes if f in ordered]
        if hits:
            chosen.append((protocol.fallback, min(hits), index, protocol.id))
    if not chosen:
        return tuple(p.id for p in ps.protocols if p.fallback)
    return tuple(choice[-1] for choice in sorted(chosen))  # the fallback's questions come last


def _decide(
    state: TriageState, ps: ProtocolSet
) -> Tuple[str, Optional[Rule], Optional[Protocol], Optional[RedFlag]]:
    """(level, deciding rule, its protocol, red flag raised); the rule is None when the red flag decides."""
    present, _ = _known(state, ps)
    return _decide_on(present, state, ps, _unsure_floor(state, present, ps))


def _decide_on(
    present: FrozenSet[str], state: TriageState, ps: ProtocolSet, extra: Tuple[Rule, ...] = ()
) -> Tuple[str, Optional[Rule], Optional[Protocol], Optional[RedFlag]]:
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
    lead = best[2]  # cross-cutting rules and the unsure floor speak through the leading protocol's advice
    for rule in ps.escalations + extra:
        if (
            lead is not None
            and rule.when.matches(present, state.profile)
            and level_rank(rule.level) > level_rank(best[0])
        ):
            best = (rule.level, rule, lead)
    if flag and level_rank(flag.level) >= level_rank(best[0]):
        return flag.level, None, best[2], flag
    return best[0], best[1], best[2], flag


def unsure_emergency_questions(
    state: TriageState, present: FrozenSet[str], ps: ProtocolSet
) -> Tuple[Question, ...]:
    """Questions answered "I'm not sure" (after the simpler re-ask) whose "yes" would have meant an emergency."""
    unsure = [
        ps.questions[q]
        for q, option in state.answers
        if option == NOT_SURE and q in ps.questions and ps.questions[q].if_unsure
    ]
    return tuple(
        q
        for q in unsure
        if q.findings
        and not q.findings <= present
        and _decide_on(present | q.findings, state, ps)[0] == "emergency"
    )


def _unsure_floor(state: TriageState, present: FrozenSet[str], ps: ProtocolSet) -> Tuple[Rule, ...]:
    """'Not sure' to an emergency question whose policy is UNSURE_URGENT: at least urgent (a rule that always fits)."""
    unsure = [q for q in unsure_emergency_questions(state, present, ps) if q.if_unsure == UNSURE_URGENT]
    if not unsure:
        return ()
    reason = ps.dispositions.get("unsure_reason", "")
    return (
        Rule(
            "unsure_emergency_question",
            "urgent",
            _ALWAYS,
            reason.format(question=unsure[0].text, emergency_number="{emergency_number}"),
            ("docs/conversation-design.md, Uncertainty policy",),
            callback=True,
        ),
    )


def _potential(
    question: Question, state: TriageState, present: FrozenSet[str], denied: FrozenSet[str], ps: ProtocolSet
) -> int:
    """The highest level an answer to `question` could still lead to (-1 when it cannot change anything)."""
    rules: List[Tuple[str, object]] = [(f.level, f.when) for f in ps.red_flags]
    for protocol_id in state.protocols:
        rules += [(r.level, r.when) for r in ps.protocol(protocol_id).rules]
    best = -1
    for level, when in rules:
        if not (when.findings & question.findings) or not when.profile_fits(state.profile):
            continue
        if any(group <= denied for group in when.groups) or when.excluded & present:
            continue
        best = max(best, level_rank(level))
    return best


_ALWAYS = Condition()


def _answered(question: Question, present: FrozenSet[str], denied: FrozenSet[str]) -> bool:
    return bool(question.answering_findings & present) or (
        question.denies is not None and question.denies in denied
    )


# --- public API -------------------------------------------------------------------------------------------------


def screen_red_flags(
    findings: Iterable[str], profile: Profile, protocols: Optional[ProtocolSet] = None
) -> Optional[RedFlag]:
    """The first red flag the findings raise: emergencies before crisis-only flags, then file order."""
    present = frozenset(findings)
    matched = [f for f in _set(protocols).red_flags if f.when.matches(present, profile)]
    if not matched:
        return None
    return max(matched, key=lambda f: level_rank(f.level))  # max keeps the first of equal levels


def screen_emergency(
    findings: Iterable[str],
    profile: Profile,
    denied: Iterable[str] = (),
    protocols: Optional[ProtocolSet] = None,
) -> Optional[RedFlag]:
    """The red flag the findings raise, or else the protocol rule that already makes them an emergency before any
    question ("black tarry poo" is an emergency in the tummy-pain protocol whatever the answers): answered at
    once, in any state, like a red flag. The rule comes back as a flag named `protocol/rule`."""
    ps = _set(protocols)
    flag = screen_red_flags(findings, profile, ps)
    if flag is not None:
        return flag
    level, rule, protocol, _ = _decide(start(findings, profile, denied, ps), ps)
    if level != "emergency" or rule is None or protocol is None:
        return None
    return RedFlag(
        f"{protocol.id}/{rule.id}",
        "emergency",
        level,
        rule.reason,
        rule.when,
        rule.source,
        rule.advice,
        rule.line,
    )


def start(
    findings: Iterable[str],
    profile: Profile,
    denied: Iterable[str] = (),
    protocols: Optional[ProtocolSet] = None,
) -> TriageState:
    """A new triage from the opening message: current affirmed findings and the ones the patient ruled out."""
    ps = _set(protocols)
    told = tuple(dict.fromkeys(findings))
    state = TriageState(profile, told, frozenset(denied) - frozenset(told), ())
    return _with_routes(state, ps)


def _with_routes(state: TriageState, ps: ProtocolSet) -> TriageState:
    present, _ = _known(state, ps)
    ordered = list(state.findings) + sorted(present - set(state.findings))
    return replace(state, protocols=_route(ordered, state.profile, ps))


def add_findings(
    state: TriageState,
    findings: Iterable[str],
    denied: Iterable[str] = (),
    profile: Optional[Profile] = None,
    protocols: Optional[ProtocolSet] = None,
) -> TriageState:
    """Merge what a later message said (any reply can carry a red flag); a denial never erases a finding."""
    ps = _set(protocols)
    present, _ = _known(state, ps)
    new = tuple(f for f in dict.fromkeys(findings) if f not in state.findings)
    denied = frozenset(denied)
    contradicted = state.contradicted | (denied & present) | (frozenset(new) & state.denied)
    merged = replace(
        state,
        profile=profile or state.profile,
        findings=state.findings + new,
        denied=(state.denied | denied) - frozenset(state.findings + new),
        contradicted=contradicted,
    )
    return _with_routes(merged, ps)


def next_question(state: TriageState, protocols: Optional[ProtocolSet] = None) -> Optional[Question]:
    """The next question that could still change the disposition, or None when triage is complete."""
    ps = _set(protocols)
    if len(state.asked) + len(state.reasked) >= MAX_QUESTIONS:
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


def _plain_text(reply: str) -> str:
    text = re.sub(r"[^a-z0-9? ]", "", reply.lower().replace("'", "").replace("_", " ")).strip()
    return re.sub(r"\s+", " ", text)


def parse_reply(question: Question, reply: str) -> str:
    """The option id a reply means: its number, id, text, or a plain yes/no/"not sure"."""
    text = _plain_text(reply)
    ids = [o.id for o in question.options]
    if text.isdigit() and 1 <= int(text) <= len(ids):
        return ids[int(text) - 1]
    for option in question.options:
        if text in (
            option.id.replace("_", " "),
            re.sub(r"[^a-z0-9 ]", "", option.text.lower().replace("'", "")),
        ):
            return option.id
    emoji = _EMOJI.get(reply.strip())
    if emoji in ids:
        return emoji
    said = _plain_answer(text)
    if said in ids:
        return said
    worded = [o.id for o in question.options if said and re.match(rf"{said}\b", o.text.lower())]
    if len(worded) == 1:  # "no" to an option written "No, the rash fades"
        return worded[0]
    choices = "; ".join(f"{i}. {o.text}" for i, o in enumerate(question.options, 1))
    raise InvalidAnswer(f"Please reply with the number of one answer: {choices}")


def _plain_answer(text: str) -> Optional[str]:
    """yes / no / not sure from the longest known phrase the reply is or starts with ("i am not" beats "i am")."""
    best: Tuple[int, Optional[str]] = (0, None)
    for words, option_id in ((_UNSURE, NOT_SURE), (_YES, "yes"), (_NO, "no")):
        for word in words:
            if (text == word or (len(word) > 2 and text.startswith(word + " "))) and len(word) > best[0]:
                best = (len(word), option_id)
    return best[1]


def read_reply(
    question: Question, reply: str, current: Iterable[str] = (), denied: Iterable[str] = ()
) -> str:
    """The option a free-text reply means: its words (parse_reply), else what it tells about the question's
    findings ("it won't stop bleeding" to a bleeding question is yes; "no temperature" to a fever question is no).
    Raises InvalidAnswer when neither settles it."""
    try:
        return parse_reply(question, reply)
    except InvalidAnswer:
        told, ruled_out = set(current), set(denied)
        chosen = [o.id for o in question.options if o.finding and o.finding in told]
        if chosen:
            return chosen[-1]  # the last (most specific) option the reply states
        if "no" in [o.id for o in question.options] and (
            (question.denies and question.denies in ruled_out) or question.findings & ruled_out
        ):
            return "no"
        raise


def answer(
    state: TriageState, question_id: str, reply: str, protocols: Optional[ProtocolSet] = None
) -> TriageState:
    """Record one answer (number, option id or words); raises InvalidAnswer for a reply that fits no option."""
    ps = _set(protocols)
    question = ps.questions.get(question_id)
    if question is None:
        raise KeyError(f"unknown question id {question_id!r}")
    if question_id in state.asked:
        raise ValueError(f"question {question_id!r} was already answered")
    option_id = parse_reply(question, reply)
    answered = replace(
        state, asked=state.asked + (question_id,), answers=state.answers + ((question_id, option_id),)
    )
    return _with_routes(answered, ps)


@dataclass(frozen=True)
class Turn:
    """What one reply did: the new state, and what the bot says before the next question (None, or
    UNREADABLE: "please answer with a number", or SIMPLER: the same question in simpler words)."""

    state: TriageState
    say: Optional[str] = None


UNREADABLE, SIMPLER = "unreadable", "simpler"


def take_reply(
    state: TriageState,
    question: Question,
    reply: str,
    current: Sequence[str] = (),
    denied: Sequence[str] = (),
    profile: Optional[Profile] = None,
    unreadable_so_far: int = 0,
    protocols: Optional[ProtocolSet] = None,
) -> Turn:
    """One reply to `question`, read the way the chat reads it: findings merged, words or findings answer it,
    an unreadable reply asked again (then "not sure"), "not sure" to an emergency question asked once more."""
    ps = _set(protocols)
    if current or denied or (profile is not None and profile != state.profile):
        state = add_findings(state, current, denied, profile, ps)
    try:
        option = read_reply(question, reply, current, denied)
    except InvalidAnswer:
        if next_question(state, ps) != question:  # the new findings answered it, or made it moot
            return Turn(state)
        if _plain_answer(_plain_text(reply)) in ("yes", "no"):
            return Turn(answer(state, question.id, NOT_SURE, ps))  # "no" to "how long?" says nothing more
        if unreadable_so_far + 1 < UNREADABLE_REPLIES_BEFORE_NOT_SURE and question.id not in state.reasked:
            return Turn(state, UNREADABLE)
        option = NOT_SURE  # asked twice without a readable answer: the safer reading applies
    if should_reask(state, question, option):
        return Turn(reask(state, question.id), SIMPLER)
    return Turn(answer(state, question.id, option, ps))


def should_reask(state: TriageState, question: Question, option_id: str) -> bool:
    """'Not sure' to an emergency question is asked once more, in simpler words, before it counts."""
    return (
        option_id == NOT_SURE
        and question.if_unsure is not None
        and question.simpler is not None
        and question.id not in state.reasked
    )


def reask(state: TriageState, question_id: str) -> TriageState:
    return replace(state, reasked=state.reasked + (question_id,))


def outcome(state: TriageState, protocols: Optional[ProtocolSet] = None) -> Outcome:
    """The disposition now: level, one-line reason, advice, the service to book and whether staff call back."""
    ps = _set(protocols)
    level, rule, protocol, flag = _decide(state, ps)
    present, denied = _known(state, ps)
    current = level_rank(level)
    answers = state.answer_map
    uncertain = tuple(
        q.id
        for q in _candidates(state, ps)
        if not _answered(q, present, denied)
        and (answers.get(q.id) == NOT_SURE or q.id not in answers)
        and (not q.ask_if or q.ask_if.matches(present, state.profile))
        and _potential(q, state, present, denied, ps) > current
    )
    disposition = ps.dispositions.get(level, "")
    flag_advice = flag.advice if flag is not None else ()  # a crisis line is named even when a rule decides
    if level != "emergency":  # the emergency advice of every unsure emergency question comes first
        flag_advice = (
            tuple(
                ps.dispositions.get("unsure_advice", "").format(
                    question=q.text, emergency_number="{emergency_number}"
                )
                for q in unsure_emergency_questions(state, present, ps)
            )
            + flag_advice
        )
    if rule is None:  # the red flag decides; an urgent (crisis) one still offers a same-day booking
        assert flag is not None and protocol is not None
        advice = flag_advice + (disposition,) + (protocol.seek_help if level != "emergency" else ())
        return Outcome(
            level,
            flag.reason,
            _unique(advice),
            None if level == "emergency" else protocol.service,
            True,
            protocol.id,
            None,
            flag.id,
            uncertain,
        )
    assert protocol is not None  # a routed protocol always has a base rule
    advice: Tuple[str, ...] = flag_advice + (disposition,) + rule.advice
    if level == "self_care":
        advice += protocol.self_care_advice
    if level != "emergency":
        advice += protocol.seek_help
    service = None if level in ("emergency", "self_care") else (rule.service or protocol.service)
    callback = rule.callback or bool(uncertain) or bool(state.contradicted) or flag is not None
    return Outcome(
        level,
        rule.reason,
        _unique(advice),
        service,
        callback,
        protocol.id,
        None if rule.id == "base" else rule.id,
        flag.id if flag else None,
        uncertain,
    )


def _unique(texts: Iterable[str]) -> Tuple[str, ...]:
    return tuple(t for t in dict.fromkeys(texts) if t)


def fill(text: str, clinic: Clinic) -> str:
    """Put the clinic's numbers (clinic.yml) into protocol text: {emergency_number}, {urgent_line}, {crisis_line}."""
    return text.format(
        emergency_number=clinic.emergency_number,
        urgent_line=clinic.urgent_advice_line,
        crisis_line=f"{clinic.crisis_line_name} on {clinic.crisis_line_number}",
    )
