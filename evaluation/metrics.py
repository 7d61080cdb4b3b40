"""Shares, targets, confusion matrices and their Markdown rendering (pure, so the arithmetic is unit-tested)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class Rate:
    """`hits` of `total`, with an optional target share (at least) or ceiling count (at most)."""

    name: str
    hits: int
    total: int
    target: Optional[float] = None  # minimum share, e.g. 0.9
    max_count: Optional[int] = None  # maximum number of hits, e.g. 0 benign cases escalated

    @property
    def share(self) -> Optional[float]:
        return self.hits / self.total if self.total else None

    @property
    def met(self) -> Optional[bool]:
        """None when there is no target, or nothing to measure (an empty set proves nothing either way)."""
        if self.max_count is not None:
            return self.hits <= self.max_count
        if self.target is None or self.share is None:
            return None
        return self.share >= self.target

    def figure(self) -> str:
        if self.max_count is not None:
            return f"{self.hits} of {self.total}"
        return "n/a (none)" if self.share is None else f"{100 * self.share:.1f}% ({self.hits}/{self.total})"

    def target_text(self) -> str:
        if self.max_count is not None:
            return f"≤ {self.max_count}"
        return "—" if self.target is None else f"≥ {100 * self.target:.0f}%"

    def verdict(self) -> str:
        return {True: "met", False: "**missed**", None: "—"}[self.met]


def rate(name: str, outcomes: Iterable[bool], target: Optional[float] = None) -> Rate:
    values = list(outcomes)
    return Rate(name, sum(values), len(values), target)


def missed(rates: Iterable[Rate]) -> List[Rate]:
    return [r for r in rates if r.met is False]


def rates_table(rates: Sequence[Rate]) -> str:
    lines = ["| measure | result | target | |", "|---|---|---|---|"]
    lines += [f"| {r.name} | {r.figure()} | {r.target_text()} | {r.verdict()} |" for r in rates]
    return "\n".join(lines)


def counts_table(counts: Dict[str, int], key: str, limit: int = 10) -> str:
    """The commonest values first, e.g. which intents the failures went to."""
    lines = [f"| {key} | count |", "|---|---|"]
    lines += [f"| {name} | {count} |" for name, count in Counter(counts).most_common(limit)]
    return "\n".join(lines)


def confusion(pairs: Iterable[Tuple[str, str]]) -> Dict[Tuple[str, str], int]:
    """(expected, got) -> count."""
    return dict(Counter(pairs))


def confusion_table(matrix: Dict[Tuple[str, str], int], labels: Sequence[str]) -> str:
    """Rows: expected; columns: what the bot gave, plus any label outside `labels` (e.g. `none`)."""
    extra = sorted({got for _, got in matrix} - set(labels))
    columns = list(labels) + extra
    lines = ["| expected \\ got | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for expected in labels:
        cells = [str(matrix.get((expected, got), 0)) for got in columns]
        lines.append(f"| {expected} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def console_table(rates: Sequence[Rate]) -> str:
    width = max((len(r.name) for r in rates), default=10)
    return "\n".join(
        f"  {r.name:<{width}}  {r.figure():>22}  target {r.target_text():<6} {r.verdict().strip('*')}"
        for r in rates
    )
