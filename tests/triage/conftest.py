"""Shared fixtures: the project's protocols (validated once) and the findings pipeline (built once)."""

from __future__ import annotations

import pytest

from carebot.nlu.findings import build_findings_pipeline
from carebot.triage.engine import PATTERNS_DIR, default_protocols
from carebot.triage.model import ProtocolSet


@pytest.fixture(scope="session")
def protocols() -> ProtocolSet:
    return default_protocols()


@pytest.fixture(scope="session")
def nlp():
    return build_findings_pipeline(PATTERNS_DIR)
