"""Load and validate the triage protocols clinicians edit (`data/triage/*.yml`).

Every mistake is reported as `file:line: message` and all of them at once, so a broken edit is fixed in one pass
and never reaches a patient. Finding ids are checked against the NLU vocabulary (`data/patterns/*.yml`) so a
rule can never wait for a finding that the text understanding cannot produce and no question can ask for.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Set, Tuple

import yaml

from carebot.lexicon.measurements import band_findings, load_bands
from carebot.lexicon.patterns import OWN_ID, load_implications, load_joins, load_medicine_risks, load_patterns
from carebot.triage.model import (
    AGE_GROUPS,
    LEVELS,
    NOT_SURE,
    UNSURE_NOTHING,
    UNSURE_POLICIES,
    UNSURE_URGENT,
    Condition,
    Option,
    Protocol,
    ProtocolSet,
    Question,
    RedFlag,
    Rule,
    level_rank,
)

RED_FLAGS_FILE = "red_flags.yml"
DISPOSITIONS_FILE = "dispositions.yml"
ESCALATIONS_FILE = "escalations.yml"  # cross-cutting rules: any complaint, any protocol
# dispositions.yml: one text per level, and the two texts of the uncertainty policy ({question}, {emergency_number}).
UNSURE_TEXTS: Tuple[str, ...] = ("unsure_reason", "unsure_advice")
DISPOSITION_KEYS: Tuple[str, ...] = LEVELS + UNSURE_TEXTS
# Duration findings the NLU derives from "for 3 days", "since last week" … (see carebot/nlu/findings.py).
DURATION_FINDINGS: Tuple[str, ...] = (
    "duration_under_3d",
    "duration_3d_to_5d",
    "duration_5d_to_1w",
    "duration_1w_to_3w",
    "duration_3w_to_6w",
    "duration_6w_plus",
)
# Findings the NLU derives in code rather than from one pattern: durations, a baby whose age was not given, and
# a baby aged 3 to 6 months (a NICE fever threshold).
DERIVED_FINDINGS: Tuple[str, ...] = DURATION_FINDINGS + ("baby_age_unknown", "age_3_to_6_months")
FINDING_LABELS = ("SYMPTOM", "SEVERITY", "RISK")  # pattern labels whose ids are findings as they stand
SITE_LABEL = "BODY_SITE"  # a body site plus a pain word becomes the finding named by the site's id


class ProtocolError(ValueError):
    """One or more `file:line: message` problems, one per line."""

    def __init__(self, problems: List[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Mapping(dict):
    line = 0


class _Sequence(list):
    line = 0


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping and list, for error messages."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Mapping:
    mapping = _Mapping(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> _Sequence:
    sequence = _Sequence(loader.construct_sequence(node, deep=True))
    sequence.line = node.start_mark.line + 1
    return sequence


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def read_yaml(path: Path) -> Any:
    """Parsed YAML with line numbers on mappings/lists; a syntax error becomes a `file:line` ProtocolError."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise ProtocolError(
            [f"{path}:{line}: not valid YAML: {getattr(error, 'problem', None) or error}"]
        ) from None


def finding_vocabulary(patterns_dir: Path) -> FrozenSet[str]:
    """Every finding id the text understanding can produce, read from the pattern files (no spaCy needed)."""
    ids: Set[str] = set(DERIVED_FINDINGS) | set(band_findings(load_bands(Path(patterns_dir))))
    ids |= set(load_medicine_risks(Path(patterns_dir)).values())
    joins = load_joins(Path(patterns_dir))  # labels that become findings beside their `joins:` words
    joined = tuple(joins)
    ids |= {finding for targets in joins.values() for finding in targets if finding != OWN_ID}
    for entry in load_patterns(Path(patterns_dir)):
        if entry.get("label") in FINDING_LABELS + (SITE_LABEL,) + joined and entry.get("id"):
            ids.add(entry["id"])
    return frozenset(ids)


class _Reader:
    """Turns one parsed file into model objects, collecting problems instead of stopping at the first."""

    def __init__(self, path: Path, problems: List[str]) -> None:
        self.path = path
        self.problems = problems

    def problem(self, node: Any, message: str) -> None:
        self.problems.append(f"{self.path}:{getattr(node, 'line', 1) or 1}: {message}")

    def text(self, node: Dict, key: str, where: str, required: bool = True) -> str:
        value = node.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if required or value is not None:
            self.problem(node, f"{where}: '{key}' must be non-empty text")
        return ""

    def texts(self, node: Dict, key: str, where: str, required: bool = False) -> Tuple[str, ...]:
        value = node.get(key)
        if value is None:
            if required:
                self.problem(node, f"{where}: '{key}' is required (a list of texts)")
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.problem(node, f"{where}: '{key}' must be a list of texts")
            return ()
        return tuple(v.strip() for v in value)

    def level(self, node: Dict, where: str) -> str:
        level = node.get("level")
        if level not in LEVELS:
            self.problem(node, f"{where}: level must be one of {', '.join(LEVELS)}, not {level!r}")
            return "urgent"
        return level

    def finding_list(self, node: Dict, key: str, where: str) -> FrozenSet[str]:
        value = node.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(node, f"{where}: '{key}' must be a list of finding ids")
            return frozenset()
        return frozenset(value)

    def groups(self, node: Dict, where: str) -> Tuple[FrozenSet[str], ...]:
        """`any: [a, b]` is one group; each entry of `all:` is a group (a finding or a list of findings)."""
        groups: List[FrozenSet[str]] = []
        if "any" in node:
            groups.append(self.finding_list(node, "any", where))
        entries = node.get("all", [])
        if not isinstance(entries, list):
            self.problem(node, f"{where}: 'all' must be a list of finding ids or lists of finding ids")
            return tuple(groups)
        for entry in entries:
            entry = [entry] if isinstance(entry, str) else entry
            if not isinstance(entry, list) or not entry or not all(isinstance(v, str) for v in entry):
                self.problem(node, f"{where}: each 'all' entry must be a finding id or a list of finding ids")
                continue
            groups.append(frozenset(entry))
        return tuple(g for g in groups if g)

    def condition(self, node: Any, where: str) -> Condition:
        if not isinstance(node, dict):
            self.problem(node, f"{where}: a condition must be a mapping with any/all/none/age_group/pregnant")
            return Condition()
        unknown = set(node) - {"any", "all", "none", "age_group", "pregnant"}
        if unknown:
            self.problem(
                node,
                f"{where}: unknown condition key(s) {sorted(unknown)}; use any, all, none, age_group, pregnant",
            )
        ages = node.get("age_group")
        age_groups = None
        if ages is not None:
            ages = [ages] if isinstance(ages, str) else ages
            bad = [a for a in ages if a not in AGE_GROUPS]
            if bad:
                self.problem(node, f"{where}: unknown age group(s) {bad}; use {', '.join(AGE_GROUPS)}")
            age_groups = frozenset(ages)
        pregnant = node.get("pregnant")
        if pregnant is not None and not isinstance(pregnant, bool):
            self.problem(node, f"{where}: 'pregnant' must be true or false")
            pregnant = None
        return Condition(
            self.groups(node, where), age_groups, pregnant, self.finding_list(node, "none", where)
        )

    def rule(self, node: Any, where: str, need_when: bool = True) -> Optional[Rule]:
        if not isinstance(node, dict):
            self.problem(node, f"{where}: expected a mapping")
            return None
        rule_id = self.text(node, "id", where) if need_when else "base"
        where = f"{where} '{rule_id}'" if need_when else where
        when = self.condition(node.get("when"), where) if need_when else Condition()
        if need_when and not when.findings and when.age_groups is None and when.pregnant is None:
            self.problem(node, f"{where}: 'when' names no finding or profile, so it would match everyone")
        callback = node.get("callback", False)
        if not isinstance(callback, bool):
            self.problem(node, f"{where}: 'callback' must be true or false")
            callback = False
        return Rule(
            rule_id,
            self.level(node, where),
            when,
            self.text(node, "reason", where),
            self.texts(node, "source", where, required=True),
            self.texts(node, "advice", where),
            callback,
            node.get("service"),
            node.line,
        )

    def question(self, node: Any, protocol_id: str) -> Optional[Question]:
        if not isinstance(node, dict):
            self.problem(node, "question: expected a mapping")
            return None
        qid = self.text(node, "id", "question")
        where = f"question '{qid}'"
        yes_finding = node.get("yes_finding")
        if yes_finding is not None:
            if "options" in node:
                self.problem(node, f"{where}: give either 'yes_finding' or 'options', not both")
            options = (
                Option("yes", "Yes", yes_finding),
                Option("no", "No"),
                Option(NOT_SURE, "I'm not sure"),
            )
        else:
            raw = node.get("options")
            if not isinstance(raw, list) or len(raw) < 2:
                self.problem(
                    node, f"{where}: needs 'yes_finding' or an 'options' list of at least two answers"
                )
                return None
            options = tuple(
                Option(str(o.get("id")), self.text(o, "text", f"{where} option"), o.get("finding"))
                for o in raw
                if isinstance(o, dict)
            )
            ids = [o.id for o in options]
            if len(set(ids)) != len(ids):
                self.problem(raw, f"{where}: option ids must be unique, got {ids}")
            if NOT_SURE not in ids:
                self.problem(raw, f"{where}: every question needs a '{NOT_SURE}' option (\"I'm not sure\")")
        if_not_sure = node.get("if_not_sure")
        if if_not_sure is not None and if_not_sure not in {o.id for o in options}:
            self.problem(node, f"{where}: 'if_not_sure' refers to unknown option {if_not_sure!r}")
        ask_if = self.condition(node["ask_if"], f"{where} ask_if") if "ask_if" in node else None
        answered_by = self.finding_list(node, "answered_by", where)
        if_unsure = node.get("if_unsure")
        if if_unsure is not None and if_unsure not in UNSURE_POLICIES + (UNSURE_NOTHING,):
            self.problem(
                node, f"{where}: 'if_unsure' must be one of {', '.join(UNSURE_POLICIES)}, {UNSURE_NOTHING}"
            )
        simpler = self.text(node, "simpler", where, required=False) or None
        return Question(
            qid,
            self.text(node, "text", where),
            options,
            protocol_id,
            yes_finding,
            if_not_sure,
            ask_if,
            answered_by,
            node.line,
            if_unsure,
            simpler,
        )


def _load_protocol(path: Path, data: Any, problems: List[str]) -> Optional[Protocol]:
    reader = _Reader(path, problems)
    if not isinstance(data, dict):
        reader.problem(
            data, "a protocol file must be a mapping (id, title, routes, base, questions, escalations)"
        )
        return None
    known = {
        "id",
        "title",
        "routes",
        "applies_to",
        "base",
        "questions",
        "escalations",
        "service",
        "self_care_advice",
        "seek_help",
        "fallback",
        "source",
        "if_unsure",
    }
    for key in sorted(set(data) - known):
        reader.problem(data, f"unknown key '{key}'")
    pid = reader.text(data, "id", "protocol")
    if pid and pid != path.stem:
        reader.problem(data, f"protocol id '{pid}' must match the file name '{path.stem}'")
    routes = reader.finding_list(data, "routes", "protocol")
    fallback = data.get("fallback", False) is True
    if not routes and not fallback:
        reader.problem(data, "'routes' must list the findings that select this protocol")
    applies = reader.condition(data["applies_to"], "applies_to") if "applies_to" in data else Condition()
    base = reader.rule(data.get("base"), "base", need_when=False)
    questions = [q for q in (reader.question(n, pid) for n in data.get("questions") or []) if q]
    default_unsure = data.get(
        "if_unsure", UNSURE_URGENT
    )  # a question's own policy, else the protocol's, else urgent
    if default_unsure not in UNSURE_POLICIES + (UNSURE_NOTHING,):
        reader.problem(data, f"'if_unsure' must be one of {', '.join(UNSURE_POLICIES)}, {UNSURE_NOTHING}")
        default_unsure = UNSURE_URGENT
    questions = [replace(q, if_unsure=_unsure_policy(q.if_unsure or default_unsure)) for q in questions]
    rules = [r for r in (reader.rule(n, "rule") for n in data.get("escalations") or []) if r]
    if base is None:
        return None
    return Protocol(
        pid,
        reader.text(data, "title", "protocol"),
        routes,
        applies,
        base,
        tuple(questions),
        tuple(rules),
        str(data.get("service", "gp")),
        reader.texts(data, "self_care_advice", "protocol", required=base.level == "self_care"),
        reader.texts(data, "seek_help", "protocol", required=True),
        fallback,
        str(path),
    )


def _top_level_list(reader: "_Reader", data: Any, key: str) -> List[Any]:
    """The file's one top-level list (`red_flags:`, `escalations:`), or a problem and nothing."""
    entries = data.get(key) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        reader.problem(data, f"expected a top-level '{key}:' list")
        return []
    return entries


def _load_red_flags(path: Path, data: Any, problems: List[str]) -> List[RedFlag]:
    reader = _Reader(path, problems)
    entries = _top_level_list(reader, data, "red_flags")
    flags = []
    for node in entries:
        rule = reader.rule(node, "red flag")
        if rule is None:
            continue
        kind = node.get("kind")
        if kind not in ("emergency", "crisis"):
            reader.problem(node, f"red flag '{rule.id}': kind must be emergency or crisis, not {kind!r}")
        if kind == "emergency" and rule.level != "emergency":
            reader.problem(node, f"red flag '{rule.id}': an emergency red flag must have level emergency")
        if rule.level not in ("emergency", "urgent"):
            reader.problem(node, f"red flag '{rule.id}': a red flag must be emergency or urgent")
        flags.append(
            RedFlag(
                rule.id, str(kind), rule.level, rule.reason, rule.when, rule.source, rule.advice, rule.line
            )
        )
    return flags


def _load_escalations(path: Path, data: Any, problems: List[str]) -> List[Rule]:
    """Cross-cutting rules (sudden severe pain, worse despite treatment, risk factors) that raise any triage."""
    reader = _Reader(path, problems)
    entries = _top_level_list(reader, data, "escalations")
    rules = [r for r in (reader.rule(node, "escalation") for node in entries) if r]
    for rule in rules:
        if rule.level == "emergency":
            reader.problem(
                entries,
                f"escalation '{rule.id}': an emergency belongs in {RED_FLAGS_FILE}, where it "
                f"is answered at once from any state",
            )
    return rules


def _unsure_policy(policy: str) -> Optional[str]:
    """'nothing' turns the policy off; it only ever acts when "yes" would have meant an emergency
    (engine.unsure_emergency_questions)."""
    return None if policy == UNSURE_NOTHING else policy


def _check(
    protocol_set: ProtocolSet,
    vocabulary: Optional[FrozenSet[str]],
    services: Optional[Set[str]],
    problems: List[str],
) -> None:
    """Cross-file checks: unknown findings, unreachable rules, unknown services, duplicate ids."""
    asked_findings: Set[str] = set()
    for protocol in protocol_set.protocols:
        for question in protocol.questions:
            asked_findings |= question.findings
    producible = (vocabulary or frozenset()) | asked_findings
    decisive: Set[str] = set().union(*(f.when.findings for f in protocol_set.red_flags))
    decisive |= set().union(*(r.when.findings for r in protocol_set.escalations))
    for protocol in protocol_set.protocols:
        decisive |= set().union(*(r.when.findings for r in protocol.rules))
    seen_questions: Dict[str, str] = {}

    def unknown(findings: Iterable[str], file: str, line: int, where: str) -> None:
        if vocabulary is None:
            return
        missing = sorted(set(findings) - producible)
        if missing:
            problems.append(
                f"{file}:{line}: {where}: unknown finding id(s) {missing} (not in data/patterns and "
                f"not produced by any question)"
            )

    # A red flag, escalation or protocol rule id names one decision: the same id twice is two definitions of it
    # that can drift apart (and an outcome that names it no longer says which one decided).
    defined: Dict[str, str] = {}

    def once(rule_id: str, file: str, line: int, where: str) -> None:
        if rule_id in defined:
            problems.append(f"{file}:{line}: {where}: id already defined at {defined[rule_id]}")
        else:
            defined[rule_id] = f"{file}:{line}"

    for flag in protocol_set.red_flags:
        once(flag.id, _red_flags_path(protocol_set), flag.line, f"red flag '{flag.id}'")
        unknown(flag.when.named, _red_flags_path(protocol_set), flag.line, f"red flag '{flag.id}'")
    escalations_file = str(Path(_triage_dir(protocol_set)) / ESCALATIONS_FILE)
    for rule in protocol_set.escalations:
        once(rule.id, escalations_file, rule.line, f"escalation '{rule.id}'")
        unknown(rule.when.named, escalations_file, rule.line, f"escalation '{rule.id}'")
    fallbacks = [p for p in protocol_set.protocols if p.fallback]
    if len(fallbacks) != 1:
        problems.append(
            f"{_triage_dir(protocol_set)}: exactly one protocol must say 'fallback: true' "
            f"(used when no other protocol fits), found {len(fallbacks)}"
        )
    for protocol in protocol_set.protocols:
        file = protocol.file
        unknown(protocol.routes, file, 1, "routes")
        if services is not None and protocol.service not in services:
            problems.append(f"{file}:1: service '{protocol.service}' is not a service in clinic.yml")
        own_findings = protocol.routes | set().union(*(q.findings for q in protocol.questions))
        for question in protocol.questions:
            if question.id in seen_questions:
                problems.append(
                    f"{file}:{question.line}: question id '{question.id}' is also used in "
                    f"{seen_questions[question.id]}; question ids must be unique"
                )
            seen_questions[question.id] = file
            unknown(question.answering_findings, file, question.line, f"question '{question.id}'")
            idle = sorted(question.findings - decisive)
            if idle:
                problems.append(
                    f"{file}:{question.line}: question '{question.id}' can never change the outcome: "
                    f"no rule or red flag uses {idle}"
                )
            if question.ask_if:
                unknown(question.ask_if.named, file, question.line, f"question '{question.id}' ask_if")
        for rule in protocol.rules:
            where = f"rule '{rule.id}'"
            once(rule.id, file, rule.line, where)
            unknown(rule.when.named, file, rule.line, where)
            if rule.service is not None and services is not None and rule.service not in services:
                problems.append(f"{file}:{rule.line}: {where}: service '{rule.service}' is not in clinic.yml")
            if level_rank(rule.level) <= level_rank(protocol.base.level):
                problems.append(
                    f"{file}:{rule.line}: {where} is unreachable: its level {rule.level} is not above "
                    f"the protocol's base level {protocol.base.level}, so it can never decide"
                )
            if not _profiles_overlap(protocol.applies_to, rule.when):
                problems.append(
                    f"{file}:{rule.line}: {where} is unreachable: its age group/pregnancy never "
                    f"fits the protocol's 'applies_to'"
                )
            stuck = [
                sorted(g) for g in rule.when.groups if not g & (own_findings | (vocabulary or frozenset()))
            ]
            if vocabulary is not None and stuck:
                problems.append(
                    f"{file}:{rule.line}: {where} is unreachable: nothing in this protocol asks "
                    f"about {stuck} and the text cannot say it"
                )


def _profiles_overlap(applies: Condition, when: Condition) -> bool:
    if (
        applies.age_groups is not None
        and when.age_groups is not None
        and not (applies.age_groups & when.age_groups)
    ):
        return False
    return applies.pregnant is None or when.pregnant is None or applies.pregnant == when.pregnant


def _red_flags_path(protocol_set: ProtocolSet) -> str:
    return str(Path(_triage_dir(protocol_set)) / RED_FLAGS_FILE)


def _triage_dir(protocol_set: ProtocolSet) -> str:
    return str(Path(protocol_set.protocols[0].file).parent) if protocol_set.protocols else "data/triage"


def _unknown_implications(
    implications: Dict[str, Tuple[str, ...]], vocabulary: FrozenSet[str], patterns_dir: Path
) -> List[str]:
    """An `implies:` line naming a finding no pattern makes would silently do nothing."""
    return [
        f"{patterns_dir}: implies: {finding} -> {', '.join(others)}: unknown finding id(s) {missing}"
        for finding, others in sorted(implications.items())
        for missing in [sorted({finding, *others} - vocabulary)]
        if missing
    ]


def load_protocols(
    triage_dir: Path, patterns_dir: Optional[Path] = None, services: Optional[Iterable[str]] = None
) -> ProtocolSet:
    """Every protocol, the red-flag screen and the disposition texts; raises ProtocolError listing all problems.

    `patterns_dir` enables the unknown-finding and reachability checks against the NLU vocabulary; `services`
    (the clinic's service ids) checks that every booking hand-off names a real service.
    """
    triage_dir = Path(triage_dir)
    problems: List[str] = []
    protocols: List[Protocol] = []
    red_flags: List[RedFlag] = []
    dispositions: Dict[str, str] = {}
    escalations: List[Rule] = []
    files = sorted(triage_dir.glob("*.yml"))
    if not files:
        raise ProtocolError([f"{triage_dir}: no protocol files (*.yml) found"])
    for path in files:
        try:
            data = read_yaml(path)
        except ProtocolError as error:
            problems.extend(error.problems)
            continue
        if path.name == RED_FLAGS_FILE:
            red_flags = _load_red_flags(path, data, problems)
        elif path.name == ESCALATIONS_FILE:
            escalations = _load_escalations(path, data, problems)
        elif path.name == DISPOSITIONS_FILE:
            reader = _Reader(path, problems)
            if not isinstance(data, dict) or not set(LEVELS) <= set(data) <= set(DISPOSITION_KEYS):
                reader.problem(
                    data,
                    f"must give the text for each level: {', '.join(LEVELS)} "
                    f"(and may give {', '.join(UNSURE_TEXTS)})",
                )
            else:
                dispositions = {
                    key: reader.text(data, key, "dispositions") for key in DISPOSITION_KEYS if key in data
                }
        else:
            protocol = _load_protocol(path, data, problems)
            if protocol:
                protocols.append(protocol)
    if not red_flags and not any(p.endswith("red_flags.yml") for p in problems):
        problems.append(f"{triage_dir / RED_FLAGS_FILE}:1: the global red-flag screen is missing or empty")
    if not dispositions and not any(DISPOSITIONS_FILE in p for p in problems):
        problems.append(f"{triage_dir / DISPOSITIONS_FILE}:1: the disposition texts are missing")
    questions = {q.id: q for p in protocols for q in p.questions}
    protocol_set = ProtocolSet(
        tuple(protocols), tuple(red_flags), dispositions, questions, tuple(escalations)
    )
    vocabulary = finding_vocabulary(patterns_dir) if patterns_dir is not None else None
    _check(protocol_set, vocabulary, set(services) if services is not None else None, problems)
    if patterns_dir is not None and vocabulary is not None:
        problems += _unknown_implications(
            load_implications(Path(patterns_dir)), vocabulary, Path(patterns_dir)
        )
    if problems:
        raise ProtocolError(problems)
    return protocol_set
