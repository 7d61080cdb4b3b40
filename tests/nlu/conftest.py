from __future__ import annotations

import pytest

from carebot.nlu.findings import build_findings_pipeline
from carebot.triage.engine import PATTERNS_DIR


@pytest.fixture(scope="session")
def nlp():
    return build_findings_pipeline(PATTERNS_DIR)
