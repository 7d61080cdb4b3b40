"""Carebot's stack (or only part of it) on free loopback ports, for end-to-end tests and benchmarks alike.

Both need the same thing: the processes `make run` starts, but on ports no other developer or helper is using,
with throwaway tokens, databases and an endpoints file pointing at those ports, and a reliable "ready" signal.
Keeping it in one place means the tests and the figures in docs/benchmarks.md run exactly the same stack.

`python -m bench.stack SERVICE...` runs a subset of the launcher's services (e.g. `actions rasa`) with the
launcher's own process-group handling; it is how a partial stack starts while a service is still being written.
"""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "models" / "carebot.tar.gz"
# Launcher service name -> the module `python -m` runs; a service counts as available once its module exists.
SERVICE_MODULES = {
    "backend": "carebot.server",
    "actions": "actions",
    "rasa": "rasa",
    "reminders": "carebot.dispatcher",
}
ALL_SERVICES = tuple(SERVICE_MODULES)


def free_port(count: int = 1) -> int:
    """The first of `count` consecutive loopback ports free right now (never the fixed 5005/5055/8080).

    Chosen below the kernel's ephemeral range: a port the kernel hands out (bind to 0) is one it may hand out
    again at once as the local end of any outgoing connection, and `make run-production` puts replica N on
    RASA_PORT + N, which nothing else checked. A replica lost its port so to its sibling's PostgreSQL connection.
    """
    low, _ = _ephemeral_range()
    rng = random.SystemRandom()
    for _ in range(200):
        first = rng.randrange(max(1025, low - 12000), low - count)
        if all(_bindable(port) for port in range(first, first + count)):
            return first
    raise RuntimeError(f"no {count} consecutive free loopback ports below {low}")


def _ephemeral_range() -> Tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return port not in (5005, 5055, 8080)


def available_services() -> List[str]:
    """The launcher's services whose `python -m` module exists in this tree (others may still be in progress)."""
    return [name for name, module in SERVICE_MODULES.items() if name == "rasa" or _runnable(module)]


def _runnable(module: str) -> bool:
    try:
        return importlib.util.find_spec(f"{module}.__main__") is not None
    except ImportError:
        return False


@dataclass
class ManagedProcess:
    """A server process started in its own session, so stopping it also stops everything it started."""

    process: subprocess.Popen
    log: Path
    started: float  # time.monotonic() just before the process was spawned

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def wait_until(self, is_ready: Callable[[], bool], timeout: float, what: str) -> float:
        """Polls `is_ready` every 0.1 s; returns the seconds from process start until it first held."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{what} exited early with code {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                if is_ready():
                    return time.monotonic() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{what} was not ready in {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (the launcher then stops its children), and SIGKILL to the whole group if that hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # stragglers of the group, if any
        except ProcessLookupError:
            pass
        self.process.wait()


def spawn(argv: Sequence[str], *, env: Dict[str, str], log: Path, cwd: Path = ROOT) -> ManagedProcess:
    """Starts `argv` in a new session with output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        started = time.monotonic()
        process = subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return ManagedProcess(process, log, started)


def rasa_is_ready(rasa_url: str, token: str) -> bool:
    """Rasa answers /status with a loaded model (the HTTP port opens before the model is loaded)."""
    status = httpx.get(f"{rasa_url}/status", params={"token": token}, timeout=2)
    return status.status_code == 200 and bool(status.json().get("model_id"))


def health_is_ok(url: str) -> bool:
    return httpx.get(url, timeout=2).status_code == 200


def backend_answers(backend_url: str) -> bool:
    """The backend listens only once its start-up work (tables, slots) is done, so any HTTP answer means ready;
    /health may not exist (404) and still the backend is serving."""
    return httpx.get(f"{backend_url}/health", timeout=2).status_code < 500


@dataclass
class CarebotStack:
    """A running Carebot stack on free ports, with the calls a test or benchmark makes against it."""

    rasa_url: str
    backend_url: str
    action_url: str
    rasa_token: str
    backend_token: str
    env: Dict[str, str]
    services: List[str]
    running: Optional[ManagedProcess] = field(default=None, repr=False)

    @property
    def log(self) -> Path:
        assert self.running is not None
        return self.running.log

    def say(self, sender: str, text: str, metadata: Dict[str, Any] | None = None) -> List[Dict[str, Any]]:
        """One patient message through the REST channel; the bot's replies."""
        reply = httpx.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text, "metadata": metadata or {}},
            timeout=30,
        )
        reply.raise_for_status()
        return reply.json()

    def texts(self, sender: str, text: str) -> str:
        return "\n".join(m.get("text", "") for m in self.say(sender, text))

    def tracker(self, sender: str) -> Dict[str, Any]:
        reply = httpx.get(
            f"{self.rasa_url}/conversations/{sender}/tracker", params={"token": self.rasa_token}, timeout=10
        )
        reply.raise_for_status()
        return reply.json()

    def backend(self, path: str, **params: Any) -> Dict[str, Any]:
        reply = httpx.get(
            f"{self.backend_url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.backend_token}"},
            timeout=10,
        )
        reply.raise_for_status()
        return reply.json()

    def is_ready(self) -> bool:
        """Every started HTTP service answers: Rasa with a model, the action server and backend /health."""
        if not rasa_is_ready(self.rasa_url, self.rasa_token):
            return False
        if "actions" in self.services and not health_is_ok(f"{self.action_url}/health"):
            return False
        return "backend" not in self.services or backend_answers(self.backend_url)

    def wait_ready(self, timeout: float = 180) -> float:
        """Seconds from process start until every started service answered."""
        assert self.running is not None
        return self.running.wait_until(
            self.is_ready, timeout, f"the Carebot stack ({', '.join(self.services)})"
        )

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()


PROTECTED_TRACKER_STORE = "carebot.privacy.tracker_store.ProtectedSQLTrackerStore"


def carebot_stack(
    var: Path, *, model: Path = DEFAULT_MODEL, services: Sequence[str] = ALL_SERVICES
) -> CarebotStack:
    """A stack description on fresh ports with throwaway tokens and SQLite files under `var` (not started yet)."""
    var.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in ("RASA_PORT", "ACTION_SERVER_PORT", "BACKEND_PORT")}
    endpoints = var / "endpoints.yml"
    endpoints.write_text(
        "action_endpoint:\n"
        f"  url: http://127.0.0.1:{ports['ACTION_SERVER_PORT']}/webhook\n"
        "  token: ${ACTION_SERVER_TOKEN}\n  enable_selective_domain: true\n"
        f"tracker_store:\n  type: {PROTECTED_TRACKER_STORE}\n  dialect: sqlite\n  db: {var / 'tracker.db'}\n"
        "lock_store:\n  type: in_memory\n"
    )
    env = {
        **os.environ,
        **{name: str(port) for name, port in ports.items()},
        "CAREBOT_VAR_DIR": str(var),
        "RASA_API_TOKEN": uuid.uuid4().hex,
        "ACTION_SERVER_TOKEN": uuid.uuid4().hex,
        "CAREBOT_BACKEND_TOKEN": uuid.uuid4().hex,
        "RASA_ENDPOINTS": str(endpoints),
        "RASA_MODEL": str(model),
        "CAREBOT_DATABASE_URL": f"sqlite:///{var / 'carebot.db'}",
        "SCHEDULING_URL": f"http://127.0.0.1:{ports['BACKEND_PORT']}/fhir",
        "BACKEND_URL": f"http://127.0.0.1:{ports['BACKEND_PORT']}",
        "RASA_URL": f"http://127.0.0.1:{ports['RASA_PORT']}",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        "PYTHONPATH": str(ROOT),
    }
    return CarebotStack(
        rasa_url=env["RASA_URL"],
        backend_url=env["BACKEND_URL"],
        action_url=f"http://127.0.0.1:{ports['ACTION_SERVER_PORT']}",
        rasa_token=env["RASA_API_TOKEN"],
        backend_token=env["CAREBOT_BACKEND_TOKEN"],
        env=env,
        services=list(services),
    )


def start(stack: CarebotStack, log: Path) -> CarebotStack:
    """Starts the stack: the launcher itself for the full set, `python -m bench.stack` for a subset."""
    if set(stack.services) == set(ALL_SERVICES):
        argv = [sys.executable, "-m", "carebot.launcher"]
    else:
        argv = [sys.executable, "-m", "bench.stack", *stack.services]
    stack.running = spawn(argv, env=stack.env, log=log)
    return stack


PRODUCTION_READY = "carebot: ready in"  # carebot/production.py prints it once nginx and every replica answer


@dataclass
class ProductionStack:
    """`make run-production` on free ports: nginx in front of the replicas, the backend and the dispatcher."""

    url: str  # nginx
    rasa_token: str
    database_url: str
    rasa_ports: List[int]
    ready_seconds: float  # from the launcher's start until it printed that everything answers
    running: ManagedProcess = field(repr=False)

    @property
    def log(self) -> Path:
        return self.running.log


def fresh_postgres_database(server_url: str) -> str:
    """A new empty database on the PostgreSQL server of `server_url`; its URL (the caller drops it, if at all)."""
    name = f"carebot_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return str(sa.engine.make_url(server_url).set(database=name))


def drop_postgres_database(url: str) -> None:
    parsed = sa.engine.make_url(url)
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def production_stack(
    var: Path,
    database_url: str,
    redis_url: str,
    extra: Optional[Dict[str, str]] = None,
    *,
    replicas: int = 2,
    model: Path = DEFAULT_MODEL,
    timeout: float = 180,
) -> Iterator[ProductionStack]:
    """`python -m carebot.production` with `replicas` Rasa replicas on free ports over the given PostgreSQL
    database and Redis; stopped (SIGTERM to the launcher, which stops its children) on the way out."""
    nginx_port = free_port()
    env = {
        **os.environ,
        "PYTHONWARNINGS": "ignore",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "CAREBOT_VAR_DIR": str(var),
        "CAREBOT_DATABASE_URL": database_url,
        "WHATSAPP_REDIS_URL": redis_url,
        "CAREBOT_RASA_REPLICAS": str(replicas),
        "CAREBOT_NGINX_PORT": str(nginx_port),
        "RASA_PORT": str(free_port(replicas)),  # replica N takes the port N - 1 after it
        "ACTION_SERVER_PORT": str(free_port(replicas)),
        "BACKEND_PORT": str(free_port()),
        "RASA_MODEL": str(model),
        "RASA_API_TOKEN": uuid.uuid4().hex,
        **(extra or {}),
    }
    running = spawn([sys.executable, "-m", "carebot.production"], env=env, log=var / "run-production.log")
    try:
        ready = running.wait_until(
            lambda: PRODUCTION_READY in running.log.read_text(errors="replace"), timeout, "run-production"
        )
        first = int(env["RASA_PORT"])
        yield ProductionStack(
            url=f"http://127.0.0.1:{nginx_port}",
            rasa_token=env["RASA_API_TOKEN"],
            database_url=database_url,
            rasa_ports=[first + index for index in range(replicas)],
            ready_seconds=ready,
            running=running,
        )
    finally:
        running.stop()


def _run_subset(names: Sequence[str]) -> int:
    """The launcher's process-group handling over only the named services."""
    import asyncio

    from carebot.launcher import prepare_environment, run_all, services

    unknown = set(names) - set(ALL_SERVICES)
    if unknown or not names:
        print(f"usage: python -m bench.stack SERVICE... (from {', '.join(ALL_SERVICES)})", file=sys.stderr)
        return 2
    env = prepare_environment()
    return asyncio.run(run_all([s for s in services(sys.executable, env) if s.name in names], env))


if __name__ == "__main__":
    sys.exit(_run_subset(sys.argv[1:]))
