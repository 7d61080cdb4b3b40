from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage

from carebot.nlu.findings import build_findings_pipeline
from carebot.triage.engine import PATTERNS_DIR

ROOT = Path(__file__).resolve().parents[2]
MODEL = Path(os.environ.get("RASA_MODEL") or ROOT / "models" / "carebot.tar.gz")


@pytest.fixture(scope="session")
def nlp():
    return build_findings_pipeline(PATTERNS_DIR)


@pytest.fixture(scope="session")
def parse_all() -> Callable[[Sequence[str]], List[Dict]]:
    """Parses texts with the trained model (`RASA_MODEL`, else models/carebot.tar.gz from `make train`) through
    Rasa's own NLU path; loaded once for every test that needs it."""
    if not MODEL.exists():
        pytest.skip(f"no trained model at {MODEL}: run `make train` (or set RASA_MODEL)")
    from rasa.core.agent import Agent

    agent = Agent.load(str(MODEL))

    def parse(texts: Sequence[str]) -> List[Dict]:
        async def each() -> List[Dict]:
            return [await agent.parse_message(text) for text in texts]

        return asyncio.run(each())

    return parse


@pytest.fixture(scope="module")
def storage(tmp_path_factory) -> LocalModelStorage:
    """A model storage per test module, for Rasa components trained and loaded back as a server would."""
    return LocalModelStorage(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")
