"""The launcher's supervision (`make run`, `make run-production`): a replica that dies is started again while the
stack carries on; one that dies as it starts, or any other service that exits, stops the whole stack."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from carebot import launcher

pytestmark = pytest.mark.asyncio

# First run: exit 3 (a crash). Second run: say so, then wait for the test's stack to stop it.
REPLICA = """
import pathlib, sys, time
marker = pathlib.Path(sys.argv[1])
if not marker.exists():
    marker.write_text("crashed once")
    sys.exit(3)
pathlib.Path(sys.argv[2]).write_text("running again")
time.sleep(120)
"""
# A service that may not be restarted: it ends (exit 0) once the replica runs again, which stops the stack.
WATCHER = """
import pathlib, sys, time
while not pathlib.Path(sys.argv[1]).exists():
    time.sleep(0.05)
"""


async def test_a_replica_that_dies_is_started_again(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(launcher, "RESTART_AFTER_SECONDS", 0.0)
    crashed, again = tmp_path / "crashed", tmp_path / "again"
    stack = [
        launcher.Service("replica", [sys.executable, "-c", REPLICA, str(crashed), str(again)], restart=True),
        launcher.Service("watcher", [sys.executable, "-c", WATCHER, str(again)]),
    ]
    assert await asyncio.wait_for(launcher.run_all(stack, {}), 60) == 1  # the watcher's exit ends the stack
    out = capsys.readouterr().out
    assert "carebot: replica exited with code 3; starting it again" in out
    assert "carebot: watcher exited with code 0; stopping the others" in out
    assert again.read_text() == "running again"


async def test_a_replica_that_dies_as_it_starts_stops_the_stack(capsys) -> None:
    stack = [
        launcher.Service("replica", [sys.executable, "-c", "import sys; sys.exit(4)"], restart=True),
        launcher.Service("other", [sys.executable, "-c", "import time; time.sleep(120)"]),
    ]
    assert await asyncio.wait_for(launcher.run_all(stack, {}), 60) == 1
    assert "carebot: replica exited with code 4; stopping the others" in capsys.readouterr().out
