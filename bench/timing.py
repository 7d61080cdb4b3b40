"""Per-call timings for in-process benchmark sections (dates, NLU components)."""

from __future__ import annotations

import time
from typing import Callable, List, Sequence


def timings_ms(call: Callable[[str], object], texts: Sequence[str], rounds: int) -> List[float]:
    """Milliseconds of each `call(text)`, every text `rounds` times in a row (warm caches, one process)."""
    timings = []
    for _ in range(rounds):
        for text in texts:
            start = time.perf_counter()
            call(text)
            timings.append((time.perf_counter() - start) * 1000)
    return timings
