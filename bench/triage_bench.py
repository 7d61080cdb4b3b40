"""Triage without Rasa: findings-pipeline build time, extraction time per message, engine time per triage, and
the case-file figures (tests/triage_cases.csv, every unscripted question answered "I'm not sure").

The pipeline is built once per process, so the per-message figure is what a patient waits for. Run alone with
`python -m bench.triage_bench`, or as the `triage` section of `make bench`.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import List

from carebot.nlu.findings import (
    build_findings_pipeline,
    current_ids,
    denied_ids,
    extract_findings,
    profile_from,
)
from carebot.triage.engine import PATTERNS_DIR, default_protocols
from carebot.triage.simulate import simulate
from evaluation.cases import load_cases, run_case, score

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 5


def _percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run() -> str:
    started = time.perf_counter()
    nlp = build_findings_pipeline(PATTERNS_DIR)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    default_protocols()
    load_s = time.perf_counter() - started
    cases = load_cases(ROOT / "tests" / "triage_cases.csv")
    texts = [case.text for case in cases]
    extract_ms: List[float] = []
    engine_ms: List[float] = []
    for _ in range(ROUNDS):
        for text in texts:
            start = time.perf_counter()
            findings = extract_findings(nlp, text)
            extract_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            simulate(current_ids(findings), profile_from(findings), denied_ids(findings))
            engine_ms.append((time.perf_counter() - start) * 1000)
    figures = score([run_case(nlp, case) for case in cases])
    words = statistics.mean(len(t.split()) for t in texts)
    return "\n".join(
        [
            f"- Findings pipeline built once in {build_s:.2f} s; protocols loaded and validated in {load_s:.2f} s.",
            f"- Extraction over the {len(texts)} case messages (mean {words:.0f} words), {ROUNDS} rounds: median "
            f"{statistics.median(extract_ms):.2f} ms, p95 {_percentile(extract_ms, 0.95):.2f} ms, "
            f"max {max(extract_ms):.2f} ms per message.",
            f'- Engine, a whole triage with every question answered "I\'m not sure": median '
            f"{statistics.median(engine_ms):.2f} ms, p95 {_percentile(engine_ms, 0.95):.2f} ms.",
            f"- Case file, findings + engine without Rasa: {figures.total} cases, agreement "
            f"{figures.agreement:.1%}, emergency recall {figures.emergency_recall:.1%}, "
            f"non-emergencies escalated to emergency: {figures.over_escalated}.",
        ]
    )


if __name__ == "__main__":
    print(run())
