"""The import contracts of pyproject.toml hold on this tree, and they fail when someone breaks a boundary.

Each test copies the code and the contracts to a temporary directory, adds one forbidden import to the copy and runs
`lint-imports` there: a contract that cannot fail would pass these tests' first check and fail the second.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("tree")
    for package in ("carebot", "actions"):
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tree)},
        timeout=300,
    )


def with_line(tree: Path, module: str, line: str) -> Path:
    """A copy of `tree` whose `module` file ends with `line`."""
    changed = tree.parent / f"{tree.name}-{module.replace('/', '-')}"
    shutil.copytree(tree, changed)
    with open(changed / module, "a", encoding="utf-8") as file:
        file.write(f"\n{line}\n")
    return changed


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_action_importing_a_store_breaks_the_rasa_side_contract(tree: Path) -> None:
    result = lint_imports(
        with_line(tree, "actions/reminders.py", "from carebot.reminders.store import ReminderStore  # noqa")
    )
    assert result.returncode == 1
    assert "The Rasa side (actions, channels, NLU) reaches the backend only through clients" in result.stdout
    assert "actions.reminders -> carebot.reminders.store" in result.stdout


def test_a_client_importing_its_store_breaks_the_client_contract(tree: Path) -> None:
    result = lint_imports(
        with_line(tree, "carebot/handoff/client.py", "import carebot.handoff.store  # noqa")
    )
    assert result.returncode == 1
    assert "Clients import only their model and the shared HTTP base BROKEN" in result.stdout


def test_triage_importing_the_nlu_makes_a_package_loop(tree: Path) -> None:
    result = lint_imports(with_line(tree, "carebot/triage/model.py", "import carebot.nlu.findings  # noqa"))
    assert result.returncode == 1
    assert "No package loops inside carebot BROKEN" in result.stdout


def test_the_loop_contract_ignores_no_edge() -> None:
    """ "No package loops" means none: an ignored edge would hide a real loop (the dispatcher once had one)."""
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    [loops] = [c for c in contracts if c["type"] == "acyclic_siblings"]
    assert not loops.get("ignore_imports")
