"""Rendering measured sections to the console and to this tool's own block of docs/benchmarks.md.

docs/benchmarks.md is shared (benchmarks write other blocks), so a run replaces only the block between its own
markers, read-modify-write, using the `<!-- section:NAME -->` … `<!-- /section:NAME -->` convention of bench/.
The doc gets figures and failure counts only, never a corpus utterance; examples go to the console when asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from bench.stack import DEFAULT_MODEL as MODEL
from evaluation.metrics import Rate, console_table, counts_table, rates_table

DOC_HEADER = "# Benchmarks\n\n"


@dataclass
class Section:
    """One measured area: its rates, failure breakdowns for the doc (counts only), examples for the console
    (printed when asked)."""

    title: str
    rates: List[Rate] = field(default_factory=list)
    breakdowns: List[Tuple[str, str, Dict[str, int]]] = field(default_factory=list)  # (caption, key, counts)
    tables: List[Tuple[str, str]] = field(
        default_factory=list
    )  # (caption, ready Markdown) e.g. a confusion matrix
    examples: List[Tuple[str, List[str]]] = field(default_factory=list)  # console only
    notes: List[str] = field(default_factory=list)


def markdown(sections: Sequence[Section]) -> str:
    parts = []
    for section in sections:
        parts.append(f"### {section.title}\n\n{rates_table(section.rates)}\n")
        parts += [f"{note}\n" for note in section.notes]
        parts += [f"{caption}:\n\n{table}\n" for caption, table in section.tables]
        parts += [
            f"{caption}:\n\n{counts_table(counts, key)}\n"
            for caption, key, counts in section.breakdowns
            if counts
        ]
    return "\n".join(parts)


def console(sections: Sequence[Section], examples: bool = False) -> str:
    """The figures for the terminal; failing texts only when asked (`examples`), since they are evaluation
    corpora and holdouts: read to debug, never to tune on."""
    lines = []
    for section in sections:
        lines += ["", f"== {section.title}", console_table(section.rates)]
        for caption, table in section.tables:
            lines += [f"  {caption}:", *("    " + row for row in table.splitlines())]
        for caption, key, counts in section.breakdowns:
            if counts:
                lines += [f"  {caption}:"] + [
                    f"    {count:5d}  {name}"
                    for name, count in sorted(counts.items(), key=lambda item: -item[1])[:10]
                ]
        for caption, texts in section.examples if examples else ():
            if texts:
                lines += [f"  e.g. {caption}:"] + [f"      {text}" for text in texts]
    return "\n".join(lines)


def block(
    name: str, title: str, command: str, body: str, model: Path = MODEL, now: datetime | None = None
) -> str:
    """The doc block; it names the model's training time, since every figure belongs to one model."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    trained = (
        datetime.fromtimestamp(model.stat().st_mtime, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        if model.exists()
        else "unknown"
    )
    return (
        f"<!-- section:{name} -->\n## {title}\n\n_Measured {stamp} with `{command}` against "
        f"models/{model.name} (trained {trained})._\n\n{body.strip()}\n<!-- /section:{name} -->\n"
    )


def replace_block(document: str, name: str, new_block: str) -> str:
    """The document with block `name` replaced, or appended when it has none; everything else untouched."""
    pattern = re.compile(
        rf"<!-- section:{re.escape(name)} -->\n.*?<!-- /section:{re.escape(name)} -->\n?", re.S
    )
    if pattern.search(document):
        return pattern.sub(lambda _: new_block, document, count=1)
    if not document.strip():
        document = DOC_HEADER
    return document.rstrip("\n") + "\n\n" + new_block


def write_block(path: Path, name: str, new_block: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(replace_block(path.read_text() if path.exists() else "", name, new_block))
