"""The designer's YAML as Graphviz DOT text: one diagram per triage protocol, one for the red-flag screen and the
escalations, one per rules file and one for the forms. Pure: DOT text in, nothing drawn here (`__main__` renders).

Each diagram reads as the bot works: a protocol from the findings that route to it, through its questions in the
order asked, to the rules and the level each gives; a rule from its condition through its steps. Node ids are
derived from the YAML ids, so a changed file changes only its own diagram."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, FrozenSet, Iterable, List, Mapping, Sequence

from carebot.triage.model import Condition, Protocol, ProtocolSet, Rule

LEVEL_COLOURS = {"emergency": "#f4a5a5", "urgent": "#f7d08a", "routine": "#a9cdf0", "self_care": "#b7e1b0"}
WRAP = 34  # characters per line in a node


@dataclass(frozen=True)
class Diagram:
    """One diagram: its file stem (docs/flows/<name>.dot), a title for the index and the DOT text."""

    name: str
    title: str
    dot: str


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(*lines: str) -> str:
    """A quoted DOT label, each line wrapped to WRAP characters (DOT's own line break between them)."""
    wrapped = [
        part for line in lines if line for part in textwrap.wrap(line, WRAP, break_long_words=False) or [""]
    ]
    return '"' + "\\n".join(w.replace("\\", "\\\\").replace('"', '\\"') for w in wrapped) + '"'


def _node_id(*parts: str) -> str:
    return _quote("_".join(re.sub(r"[^A-Za-z0-9_]+", "_", part) for part in parts))


class _Graph:
    """Collects nodes and edges once each, in the order added, and prints a `digraph`."""

    def __init__(self, name: str, title: str) -> None:
        self.name, self.title = name, title
        self.lines: List[str] = []
        self._seen: set = set()

    def node(self, ident: str, label: str, **style: str) -> str:
        if ident not in self._seen:
            self._seen.add(ident)
            attributes = "".join(f", {key}={_quote(value)}" for key, value in sorted(style.items()))
            self.lines.append(f"  {ident} [label={label}{attributes}];")
        return ident

    def edge(self, source: str, target: str, label: str = "", **style: str) -> None:
        attributes = [f"label={_quote(label)}"] if label else []
        attributes += [f"{key}={_quote(value)}" for key, value in sorted(style.items())]
        key = (source, target, label)
        if key not in self._seen:
            self._seen.add(key)
            self.lines.append(
                f"  {source} -> {target}" + (f" [{', '.join(attributes)}]" if attributes else "") + ";"
            )

    def diagram(self) -> Diagram:
        head = [
            f"digraph {_quote(self.name)} {{",
            f"  label={_label(self.title)}; labelloc=t; rankdir=LR;",
            '  node [fontname="DejaVu Sans", fontsize=10, shape=box, style="rounded"];',
            '  edge [fontname="DejaVu Sans", fontsize=9];',
        ]
        return Diagram(self.name, self.title, "\n".join(head + self.lines + ["}"]) + "\n")


def _condition_text(condition: Condition) -> str:
    parts = [" or ".join(sorted(group)) for group in condition.groups]
    if condition.age_groups is not None:
        parts.append("age: " + ", ".join(sorted(condition.age_groups)))
    if condition.pregnant is not None:
        parts.append("pregnant" if condition.pregnant else "not pregnant")
    if condition.excluded:
        parts.append("not " + ", ".join(sorted(condition.excluded)))
    return " and ".join(f"({part})" if " or " in part else part for part in parts) or "always"


def _outcome(graph: _Graph, rule: Rule, scope: str) -> str:
    return graph.node(
        _node_id(scope, "rule", rule.id),
        _label(f"{rule.level.replace('_', ' ').upper()}: {rule.id}", _condition_text(rule.when)),
        style="filled,rounded",
        fillcolor=LEVEL_COLOURS.get(rule.level, "white"),
    )


def protocol_diagram(protocol: Protocol, red_flag_findings: FrozenSet[str] = frozenset()) -> Diagram:
    """Routes → the questions in the order asked (a yes adds its finding) → the rules each finding feeds; a
    finding that raises a red flag on its own points there (it ends triage at once, whatever the protocol)."""
    graph = _Graph(
        f"triage-{protocol.id}", f"Triage protocol: {protocol.title} (data/triage/{Path(protocol.file).name})"
    )
    start = graph.node(
        _node_id("start"),
        _label(protocol.title, "routed by: " + ", ".join(sorted(protocol.routes))),
        shape="oval",
    )
    previous = start
    for question in protocol.questions:
        asked = graph.node(_node_id("question", question.id), _label(question.text), shape="box")
        graph.edge(previous, asked, "then" if previous != start else "asks")
        previous = asked
        for option in question.options:
            if option.finding:
                found = graph.node(_node_id("finding", option.finding), _label(option.finding), shape="note")
                graph.edge(asked, found, option.text)
                if option.finding in red_flag_findings:
                    screen = graph.node(
                        _node_id("red_flags"),
                        _label("RED FLAG: answered at once (see triage-red-flags)"),
                        style="filled,rounded",
                        fillcolor=LEVEL_COLOURS["emergency"],
                    )
                    graph.edge(found, screen)
    for rule in protocol.rules:
        outcome = _outcome(graph, rule, protocol.id)
        for finding in sorted(rule.when.findings):
            graph.edge(graph.node(_node_id("finding", finding), _label(finding), shape="note"), outcome)
        if not rule.when.findings:
            graph.edge(start, outcome, _condition_text(rule.when))
    graph.edge(previous, _outcome(graph, protocol.base, protocol.id), "none of the rules")
    return graph.diagram()


def screen_diagram(protocols: ProtocolSet) -> Diagram:
    """The red flags checked on every message, in every state, and the escalations that apply to any complaint."""
    graph = _Graph("triage-red-flags", "Red flags (any message, any state) and escalations (any complaint)")
    message = graph.node(_node_id("message"), _label("any patient message"), shape="oval")
    for flag in protocols.red_flags:
        flagged = graph.node(
            _node_id("flag", flag.id),
            _label(
                f"{flag.level.replace('_', ' ').upper()} ({flag.kind}): {flag.id}", _condition_text(flag.when)
            ),
            style="filled,rounded",
            fillcolor=LEVEL_COLOURS.get(flag.level, "white"),
        )
        graph.edge(message, flagged)
    triage = graph.node(_node_id("triage"), _label("any protocol's outcome"), shape="oval")
    for rule in protocols.escalations:
        graph.edge(triage, _outcome(graph, rule, "escalation"), "raised to")
    return graph.diagram()


def _step_text(step: Mapping[str, Any]) -> str:
    (kind, value), *_ = step.items()
    if kind == "or":  # any of several steps: "intent: a | b"
        return " | ".join(_step_text(choice) for choice in value)
    if kind == "slot_was_set":
        values = value if isinstance(value, list) else [value]
        return "slot set: " + ", ".join(
            f"{k}={v}"
            for item in values
            for k, v in (item.items() if isinstance(item, dict) else [(item, "any")])
        )
    return f"{kind}: {value}"


def rules_diagram(name: str, rules: Sequence[Mapping[str, Any]]) -> Diagram:
    """A rules file: each rule a row, from its condition (dashed) through its steps."""
    graph = _Graph(f"rules-{name}", f"Rules: data/rules/{name}.yml")
    for number, rule in enumerate(rules):
        title = graph.node(
            _node_id("rule", str(number)), _label(str(rule.get("rule", ""))), shape="plaintext"
        )
        previous = title
        for index, step in enumerate(rule.get("condition") or []):
            current = graph.node(
                _node_id("rule", str(number), "if", str(index)), _label(_step_text(step)), style="dashed"
            )
            graph.edge(previous, current, "if")
            previous = current
        for index, step in enumerate(rule.get("steps") or []):
            kind = next(iter(step))
            shape = {"intent": "oval", "action": "box", "active_loop": "hexagon"}.get(kind, "note")
            current = graph.node(
                _node_id("rule", str(number), "step", str(index)), _label(_step_text(step)), shape=shape
            )
            graph.edge(previous, current)
            previous = current
    return graph.diagram()


def forms_diagram(forms: Mapping[str, Mapping[str, Any]]) -> Diagram:
    """Each form and the slots it may ask, in order (its validator skips those its task does not need)."""
    graph = _Graph("forms", "Forms (domain.yml): the slots each may ask, in order")
    for form, spec in forms.items():
        previous = graph.node(_node_id("form", form), _label(form), shape="hexagon")
        for slot in (spec or {}).get("required_slots") or []:
            current = graph.node(_node_id("form", form, "slot", str(slot)), _label(str(slot)), shape="box")
            graph.edge(previous, current)
            previous = current
    return graph.diagram()


def all_diagrams(
    protocols: ProtocolSet, rule_files: Mapping[str, Sequence[Mapping[str, Any]]], forms: Mapping[str, Any]
) -> List[Diagram]:
    """Every diagram of the project, in a stable order (protocols, screen, rules files, forms)."""
    flagged = frozenset().union(  # findings that raise a red flag on their own (others need company)
        *(flag.when.groups[0] for flag in protocols.red_flags if len(flag.when.groups) == 1)
    )
    diagrams = [protocol_diagram(p, flagged) for p in sorted(protocols.protocols, key=lambda p: p.id)]
    diagrams.append(screen_diagram(protocols))
    diagrams += [rules_diagram(name, rule_files[name]) for name in sorted(rule_files)]
    diagrams.append(forms_diagram(forms))
    return diagrams


def index_markdown(diagrams: Iterable[Diagram], rendered: bool) -> str:
    """docs/flows/README.md: one line per diagram, linking the SVG (or the DOT text when not rendered)."""
    lines = [
        "# Flow diagrams",
        "",
        "Generated by `make flows` from data/triage, data/rules and domain.yml: do not edit; change the YAML and run",
        "`make flows` again (`make test` fails when these are out of date). Boxes coloured by triage level:",
        "emergency red, urgent amber, routine blue, self-care green.",
        "",
    ]
    suffix = "svg" if rendered else "dot"
    lines += [f"- [{d.title}]({d.name}.{suffix})" for d in diagrams]
    return "\n".join(lines) + "\n"
