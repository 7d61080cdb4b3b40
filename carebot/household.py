"""Who an appointment or a symptom check is for, when one phone books for several patients (issue 18).

Pure: the household the backend keeps for the phone (`carebot.scheduling.model.Household`) and the patient's words
go in, a decision comes out: a registered patient, a new one to register (and what the phone's owner is to them),
or "ask". The words that name people live in `data/people/relations.yml`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from carebot.scheduling.model import RELATIONSHIPS, Household
from carebot.settings import PROJECT_ROOT

RELATIONS_FILE = PROJECT_ROOT / "data" / "people" / "relations.yml"
GENDERS = ("male", "female")
_BETWEEN = r"(?:[\w'-]+\s+){0,3}?"  # up to three words between "my" and the relation: "my little boy", "my 3 month old"


@dataclass(frozen=True)
class Relation:
    """A kind of person the patient may book for: "my son" is the owner's child (PRN: the owner is the parent)."""

    key: str
    words: Tuple[str, ...]
    relationship: str  # what the phone's owner is to them (v3 RoleCode)
    gender: Optional[str]
    noun: str


# "Someone else": registered as a family member (FAMMEMB), the broadest v3 RoleCode the backend takes.
SOMEONE_ELSE = Relation("someone_else", (), "FAMMEMB", None, "")


@dataclass(frozen=True)
class People:
    self_answers: Tuple[str, ...]
    self_in_requests: Tuple[str, ...]
    someone_else: Tuple[str, ...]
    relations: Tuple[Relation, ...]


@lru_cache(maxsize=4)
def load_people(path: Path = RELATIONS_FILE) -> People:
    """The words of relations.yml, checked: a relationship outside RELATIONSHIPS or an empty list is an error."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    relations = []
    for key, body in (data.get("relations") or {}).items():
        words = tuple(str(w).lower() for w in body.get("words") or [])
        if not words or body.get("relationship") not in RELATIONSHIPS:
            raise ValueError(
                f"{path}: relation '{key}' needs words and a relationship of {sorted(RELATIONSHIPS)}"
            )
        if body.get("gender") not in (None, *GENDERS):
            raise ValueError(f"{path}: relation '{key}': gender must be one of {GENDERS}")
        relations.append(
            Relation(key, words, body["relationship"], body.get("gender"), body.get("noun") or key)
        )
    lists = {
        name: tuple(str(w).lower() for w in data.get(name) or [])
        for name in ("self_answers", "self_in_requests", "someone_else")
    }
    if not all(lists.values()) or not relations:
        raise ValueError(f"{path}: self_answers, self_in_requests, someone_else and relations are all needed")
    return People(relations=tuple(relations), **lists)


@dataclass(frozen=True)
class Member:
    """One patient of the household as the chat keeps it (in a slot): no date of birth."""

    id: str
    name: str
    relationship: Optional[str]  # None: the phone's owner (or a patient registered before dependants existed)
    gender: Optional[str]

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name

    def to_slot(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_slot(cls, value: Dict[str, Any]) -> "Member":
        return cls(**value)


def members(household: Household) -> List[Member]:
    return [Member(p.id, p.name, household.relationship(p.id), p.gender) for p in household.patients]


def members_from_slot(value: Any) -> List[Member]:
    return [Member.from_slot(item) for item in value or []]


@dataclass(frozen=True)
class Said:
    """Whom the words name: a registered `member`, a `relation` ("my son"), the patient themself, or someone else."""

    member: Optional[Member] = None
    relation: Optional[Relation] = None
    myself: bool = False
    someone_else: bool = False


def _clean(text: str) -> str:
    text = text.lower().replace("’", "'")
    return " ".join(re.sub(r"[^\w'\s-]", " ", text).split())


def _phrase(words: str) -> str:
    return r"\s+".join(re.escape(w) for w in words.split())


def _has(text: str, phrases: Sequence[str]) -> bool:
    return any(re.search(rf"(?<![\w']){_phrase(p)}(?![\w])", text) for p in phrases)


def named_member(text: str, household: Sequence[Member]) -> Optional[Member]:
    """The one member whose full or first name the words hold ("Emma", "Emma's", "emma jones"), else None."""
    cleaned = _clean(text)
    full = [m for m in household if _has(cleaned, [_clean(m.name)])]
    if len(full) == 1:
        return full[0]
    first = [m for m in household if _has(cleaned, [_clean(m.first_name)])]
    return first[0] if len(first) == 1 else None


def named_relation(text: str, people: People, answer: bool = False) -> Optional[Relation]:
    """The relation after "my"/"our" (or alone, in an answer); the earliest, then the longest, wins."""
    cleaned = _clean(text)
    found: List[Tuple[int, int, Relation]] = []
    for relation in people.relations:
        for word in relation.words:
            lead = rf"(?:\b(?:my|our)\s+{_BETWEEN})" if not answer else r"(?:\b(?:my|our|the|a)\s+)?"
            match = re.search(rf"{lead}\b({_phrase(word)})(?:'s|s)?(?![\w])", cleaned)
            if match:
                found.append((match.start(1), -len(word), relation))
    return min(found, key=lambda item: item[:2])[2] if found else None


def who_said(text: str, household: Sequence[Member], people: People, answer: bool = False) -> Optional[Said]:
    """Whom a request (or, with `answer`, a reply to "who is it for?") names; None when it names nobody."""
    member = named_member(text, household)
    if member is not None:
        return Said(member=member)
    relation = named_relation(text, people, answer)
    if relation is not None:
        return Said(relation=relation)
    cleaned = _clean(text)
    if (cleaned in people.self_answers) if answer else _has(cleaned, people.self_in_requests):
        return Said(myself=True)
    if answer and _has(cleaned, people.someone_else):
        return Said(someone_else=True)
    return None


@dataclass(frozen=True)
class Decision:
    """Whom the chat goes on with: a registered `member`; a new patient (`new`, with `relation`: None for the
    owner themself, else what they are to the owner); or `ask`, when the words fit several members or none."""

    member: Optional[Member] = None
    new: bool = False
    relation: Optional[Relation] = None
    ask: bool = False


def owner_of(household: Sequence[Member]) -> Optional[Member]:
    return next((m for m in household if m.relationship is None), None)


def asks_who(household: Sequence[Member]) -> bool:
    """Whether "who is it for?" must be asked when the words name nobody: the phone books for more than one patient
    (its only patient being a dependant counts: the owner may be booking for themself)."""
    return len(household) > 1 or (len(household) == 1 and owner_of(household) is None)


def who_options(household: Sequence[Member]) -> List[Said]:
    """The numbered answers to "who is it for?": every member, "me" while the owner is not registered, someone else."""
    options = [Said(member=m) for m in household]
    if owner_of(household) is None:
        options.append(Said(myself=True))
    return options + [Said(someone_else=True)]


def decide(said: Optional[Said], household: Sequence[Member]) -> Decision:
    """From the words to a patient: with no words, the only patient (or on a first visit the owner, new); several
    and no words: ask. "My son" with one son registered is him; with none, a new son; with two, ask."""
    if said is None:
        if asks_who(household):
            return Decision(ask=True)
        return Decision(member=household[0]) if household else Decision(new=True)
    if said.member is not None:
        return Decision(member=said.member)
    if said.myself:
        owner = owner_of(household)
        return Decision(member=owner) if owner else Decision(new=True)
    if said.someone_else:
        return Decision(new=True, relation=SOMEONE_ELSE)
    relation = said.relation
    assert relation is not None
    fits = fitting(relation, household)
    if len(fits) == 1:
        return Decision(member=fits[0])
    return Decision(ask=True) if fits else Decision(new=True, relation=relation)


def fitting(relation: Relation, household: Sequence[Member]) -> List[Member]:
    """The members the relation may mean: what the owner is to them matches, and the gender when both are known."""
    return [
        m
        for m in household
        if m.relationship == relation.relationship and relation.gender in (None, m.gender or relation.gender)
    ]
