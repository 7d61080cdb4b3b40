"""The triage vocabulary: protocols, questions, rules and the values the engine hands back.

Everything here is immutable so a `TriageState` can live in a Rasa slot (via `to_dict`) and be replayed safely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Mapping, Optional, Tuple

LEVELS: Tuple[str, ...] = ("self_care", "routine", "urgent", "emergency")
AGE_GROUPS: Tuple[str, ...] = ("infant", "child", "adult")
NOT_SURE = "not_sure"
# What "I'm not sure" (asked twice) does to a question whose "yes" could mean an emergency (docs/conversation-design.md):
# UNSURE_URGENT makes the outcome at least urgent with the emergency advice first; UNSURE_ADVICE only puts the
# emergency advice first (a safety-net question whose answer the patient can check, e.g. "can you swallow?").
UNSURE_URGENT, UNSURE_ADVICE = "urgent", "advice"
UNSURE_POLICIES = (UNSURE_URGENT, UNSURE_ADVICE)
UNSURE_NOTHING = "nothing"  # written in a protocol to turn the policy off for a question


def level_rank(level: str) -> int:
    """Position on the safety scale; a higher rank is the safer (more cautious) disposition."""
    return LEVELS.index(level)


def safer(a: str, b: str) -> str:
    return a if level_rank(a) >= level_rank(b) else b


INFANT_MAX_DAYS = 90  # under 3 months
YOUNG_BABY_MAX_DAYS = 183  # under 6 months: 3 to 6 months is a finding of its own (NICE NG143)
CHILD_MAX_YEARS = 16
YOUNG_BABY = "age_3_to_6_months"  # the finding a baby of 3 to 6 months adds


def age_group_for_days(days: float) -> str:
    """infant / child / adult for an age in days: one definition for a stated age and a date of birth."""
    if days < INFANT_MAX_DAYS:
        return "infant"
    return "child" if days < CHILD_MAX_YEARS * 365 else "adult"


@dataclass(frozen=True)
class Profile:
    """Who the patient is, as far as triage cares: infant means under 3 months."""

    age_group: str = "adult"
    pregnant: bool = False


@dataclass(frozen=True)
class Condition:
    """Matches when every group has one of its findings present, none of `excluded` is, and the profile fits.

    In YAML `any: [a, b]` is one group; `all: [c, [d, e]]` adds the groups {c} and {d, e}; `none: [f]` names
    a finding that explains the others away (blisters from sunburn are not a scald), as the source says.
    """

    groups: Tuple[FrozenSet[str], ...] = ()
    age_groups: Optional[FrozenSet[str]] = None
    pregnant: Optional[bool] = None
    excluded: FrozenSet[str] = frozenset()

    def profile_fits(self, profile: Profile) -> bool:
        if self.age_groups is not None and profile.age_group not in self.age_groups:
            return False
        return self.pregnant is None or self.pregnant == profile.pregnant

    def matches(self, findings: FrozenSet[str], profile: Profile) -> bool:
        return (
            self.profile_fits(profile)
            and all(group & findings for group in self.groups)
            and not self.excluded & findings
        )

    @property
    def findings(self) -> FrozenSet[str]:
        return frozenset().union(*self.groups)

    @property
    def named(self) -> FrozenSet[str]:
        """Every finding id the condition mentions, the excluded ones too (for checking they exist)."""
        return self.findings | self.excluded


@dataclass(frozen=True)
class Option:
    id: str
    text: str
    finding: Optional[str] = None


@dataclass(frozen=True)
class Question:
    """A numbered-choice question; a chosen option may add a finding ("yes" to "spreading to arm?")."""

    id: str
    text: str
    options: Tuple[Option, ...]
    protocol_id: str
    denies: Optional[str] = None  # the finding a "no" rules out (yes/no questions)
    if_not_sure: Optional[str] = (
        None  # option id that "I'm not sure" counts as, chosen by the author as safer
    )
    ask_if: Optional[Condition] = None
    answered_by: FrozenSet[str] = (
        frozenset()
    )  # findings that already answer it ("for 3 days" answers "how long?")
    line: int = 0
    if_unsure: Optional[str] = None  # UNSURE_URGENT / UNSURE_ADVICE / None (not sure changes nothing)
    simpler: Optional[str] = None  # the question again in simpler words, asked once after "I'm not sure"

    @property
    def yes_option(self) -> Optional[Option]:
        return next((o for o in self.options if o.id == "yes"), None)

    def option(self, option_id: str) -> Option:
        return next(o for o in self.options if o.id == option_id)

    @property
    def findings(self) -> FrozenSet[str]:
        return frozenset(o.finding for o in self.options if o.finding)

    @property
    def answering_findings(self) -> FrozenSet[str]:
        return self.findings | self.answered_by


@dataclass(frozen=True)
class Rule:
    id: str
    level: str
    when: Condition
    reason: str
    source: Tuple[str, ...]
    advice: Tuple[str, ...] = ()
    callback: bool = False
    service: Optional[str] = None
    line: int = 0


@dataclass(frozen=True)
class Protocol:
    id: str
    title: str
    routes: FrozenSet[str]
    applies_to: Condition
    base: Rule
    questions: Tuple[Question, ...]
    rules: Tuple[Rule, ...]
    service: str
    self_care_advice: Tuple[str, ...]
    seek_help: Tuple[str, ...]
    fallback: bool = False
    file: str = ""


@dataclass(frozen=True)
class RedFlag:
    """A finding combination that needs help now; `kind` crisis means a crisis line is named as well."""

    id: str
    kind: str  # emergency | crisis
    level: str
    reason: str
    when: Condition
    source: Tuple[str, ...]
    advice: Tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class ProtocolSet:
    protocols: Tuple[Protocol, ...]
    red_flags: Tuple[RedFlag, ...]
    dispositions: Mapping[str, str]  # level -> what to do, in plain words, with {placeholders}
    questions: Mapping[str, Question] = field(default_factory=dict)
    escalations: Tuple[
        Rule, ...
    ] = ()  # cross-cutting rules that apply whatever the complaint (escalations.yml)

    def protocol(self, protocol_id: str) -> Protocol:
        return next(p for p in self.protocols if p.id == protocol_id)


@dataclass(frozen=True)
class TriageState:
    """Where a triage conversation stands; pure data, replaced (never mutated) by every answer."""

    profile: Profile
    findings: Tuple[str, ...]  # affirmed, current findings in the order they were told
    denied: FrozenSet[str]
    protocols: Tuple[str, ...]
    asked: Tuple[str, ...] = ()
    answers: Tuple[Tuple[str, str], ...] = ()  # (question id, option id)
    contradicted: FrozenSet[str] = frozenset()
    reasked: Tuple[str, ...] = ()  # questions asked again in simpler words after "I'm not sure"

    @property
    def answer_map(self) -> Dict[str, str]:
        return dict(self.answers)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready form for a Rasa slot."""
        return {
            "age_group": self.profile.age_group,
            "pregnant": self.profile.pregnant,
            "findings": list(self.findings),
            "denied": sorted(self.denied),
            "protocols": list(self.protocols),
            "asked": list(self.asked),
            "answers": [list(pair) for pair in self.answers],
            "contradicted": sorted(self.contradicted),
            "reasked": list(self.reasked),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TriageState":
        return cls(
            profile=Profile(data.get("age_group", "adult"), bool(data.get("pregnant", False))),
            findings=tuple(data.get("findings", ())),
            denied=frozenset(data.get("denied", ())),
            protocols=tuple(data.get("protocols", ())),
            asked=tuple(data.get("asked", ())),
            answers=tuple((q, a) for q, a in data.get("answers", ())),
            contradicted=frozenset(data.get("contradicted", ())),
            reasked=tuple(data.get("reasked", ())),
        )


@dataclass(frozen=True)
class Outcome:
    level: str
    reason: str
    advice: Tuple[str, ...]
    service_id: Optional[str]
    callback: bool
    protocol_id: Optional[str] = None
    rule_id: Optional[str] = None
    red_flag: Optional[str] = None
    uncertain: Tuple[str, ...] = ()
