"""`python -m carebot.server` as a real process: serves with the token, generates slots, restarts without loss."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "main-test-token"
_TOMORROW = dt.date.today() + dt.timedelta(days=1)
# A fixed window from tomorrow, so a slot passing into the past between the two runs cannot change the count.
WINDOW = f"/fhir/Slot?_count=0&start=ge{_TOMORROW}&start=lt{_TOMORROW + dt.timedelta(days=14)}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str, token: str = TOKEN):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def start(env: dict, port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "carebot.server"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90  # a readiness wait, not a speed assertion
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"backend exited early:\n{log.read_text()[-2000:]}")
        try:
            get(port, "/fhir/metadata")
            return process
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    process.kill()
    pytest.fail("backend did not start listening")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.mark.slow
def test_the_backend_process_serves_and_restarts_without_duplicating_slots(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "SCHEDULING_TOKEN": TOKEN,
        "BACKEND_PORT": str(port),
        "BACKEND_HOST": "127.0.0.1",
        "SCHEDULING_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'carebot.db'}",
    }
    log = tmp_path / "backend.log"
    process = start(env, port, log)
    try:
        assert get(port, "/fhir/Slot?_count=0", token="wrong")[0] == 401
        status, first = get(port, WINDOW)
        assert status == 200 and first["total"] > 0
    finally:
        stop(process)
    process = start(env, port, log)
    try:
        status, second = get(port, WINDOW)
        assert status == 200 and second["total"] == first["total"]
    finally:
        stop(process)
    assert "Traceback" not in log.read_text()
