"""The whole stack as `make run` starts it (launcher → backend, action server, Rasa, dispatcher), on free ports.

End-to-end tests talk to it over real HTTP exactly as a channel would. It is started once per test session
because Rasa takes seconds to load a model; each test uses its own sender id, so conversations never mix.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "carebot.tar.gz"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    rasa_url: str
    backend_url: str
    rasa_token: str
    backend_token: str
    env: Dict[str, str]
    log: Path

    def say(self, sender: str, text: str, metadata: Dict[str, Any] | None = None) -> List[Dict[str, Any]]:
        """One patient message through the REST channel; the bot's replies."""
        reply = httpx.post(f"{self.rasa_url}/webhooks/rest/webhook",
                           json={"sender": sender, "message": text, "metadata": metadata or {}}, timeout=30)
        reply.raise_for_status()
        return reply.json()

    def texts(self, sender: str, text: str) -> str:
        return "\n".join(m.get("text", "") for m in self.say(sender, text))

    def tracker(self, sender: str) -> Dict[str, Any]:
        reply = httpx.get(f"{self.rasa_url}/conversations/{sender}/tracker",
                          params={"token": self.rasa_token}, timeout=10)
        reply.raise_for_status()
        return reply.json()

    def backend(self, path: str, **params: Any) -> Dict[str, Any]:
        reply = httpx.get(f"{self.backend_url}{path}", params=params,
                          headers={"Authorization": f"Bearer {self.backend_token}"}, timeout=10)
        reply.raise_for_status()
        return reply.json()


def _wait_ready(stack: Stack, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the stack exited early:\n{stack.log.read_text()[-4000:]}")
        try:
            status = httpx.get(f"{stack.rasa_url}/status", params={"token": stack.rasa_token}, timeout=2)
            actions = httpx.get(f"http://127.0.0.1:{stack.env['ACTION_SERVER_PORT']}/health", timeout=2)
            backend = httpx.get(f"{stack.backend_url}/health", timeout=2)
            if status.status_code == 200 and status.json().get("model_id") and actions.status_code == 200 \
                    and backend.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the stack was not ready in {timeout:.0f}s:\n{stack.log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` (make test does it first)")
    var = tmp_path_factory.mktemp("stack-var")
    ports = {name: free_port() for name in ("RASA_PORT", "ACTION_SERVER_PORT", "BACKEND_PORT")}
    endpoints = var / "endpoints.yml"
    endpoints.write_text(
        "action_endpoint:\n"
        f"  url: http://127.0.0.1:{ports['ACTION_SERVER_PORT']}/webhook\n"
        "  token: ${ACTION_SERVER_TOKEN}\n"
        f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {var / 'tracker.db'}\n"
        "lock_store:\n  type: in_memory\n"
    )
    env = {
        **os.environ,
        **{k: str(v) for k, v in ports.items()},
        "CAREBOT_VAR_DIR": str(var),
        "RASA_API_TOKEN": uuid.uuid4().hex,
        "ACTION_SERVER_TOKEN": uuid.uuid4().hex,
        "SCHEDULING_TOKEN": uuid.uuid4().hex,
        "RASA_ENDPOINTS": str(endpoints),
        "SCHEDULING_DATABASE_URL": f"sqlite:///{var / 'carebot.db'}",
        "SCHEDULING_URL": f"http://127.0.0.1:{ports['BACKEND_PORT']}/fhir",
        "BACKEND_URL": f"http://127.0.0.1:{ports['BACKEND_PORT']}",
        "RASA_URL": f"http://127.0.0.1:{ports['RASA_PORT']}",
        "LOG_LEVEL": "INFO",
    }
    log = var / "stack.log"
    stack = Stack(
        rasa_url=env["RASA_URL"], backend_url=env["BACKEND_URL"], rasa_token=env["RASA_API_TOKEN"],
        backend_token=env["SCHEDULING_TOKEN"], env=env, log=log,
    )
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "carebot.launcher"], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_ready(stack, process)
        yield stack
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def sender() -> str:
    """A fresh WhatsApp-style sender id per test, so conversations never share state."""
    return f"whatsapp:+4477009{uuid.uuid4().int % 100000:05d}"
