"""Production mode: two Rasa replicas share a PostgreSQL tracker store and a Redis lock store.

A patient's messages may land on either replica behind a load balancer; the conversation must carry on as one
(slots, history) and every event must be in PostgreSQL. Runs when TEST_POSTGRES_URL and TEST_REDIS_URL are set,
twice: against two replicas started here, each addressed in turn, and through nginx in front of the stack
`make run-production` starts (`python -m carebot.production`: two replicas, each with its action server).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Optional
from urllib.parse import urlparse

import httpx
import pytest
import sqlalchemy as sa

from bench.stack import fresh_postgres_database, production_stack
from tests.e2e.conftest import MODEL, ROOT, free_port

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("TEST_REDIS_URL")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.skipif(not (POSTGRES_URL and REDIS_URL), reason="needs TEST_POSTGRES_URL and TEST_REDIS_URL"),
]


def production_env(tmp_path: Path, action_port: int) -> Dict[str, str]:
    pg, redis = urlparse(POSTGRES_URL), urlparse(REDIS_URL)
    database = sa.engine.make_url(fresh_postgres_database(POSTGRES_URL)).database
    return {
        **os.environ,
        "PYTHONWARNINGS": "ignore",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "CAREBOT_VAR_DIR": str(tmp_path),
        "ACTION_SERVER_PORT": str(action_port),
        "ACTION_SERVER_TOKEN": uuid.uuid4().hex,
        "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
        "TRACKER_DB_HOST": pg.hostname or "127.0.0.1",
        "TRACKER_DB_PORT": str(pg.port or 5432),
        "TRACKER_DB_NAME": database,
        "TRACKER_DB_USER": pg.username or "postgres",
        "TRACKER_DB_PASSWORD": pg.password or "",
        "REDIS_HOST": redis.hostname or "127.0.0.1",
        "REDIS_PORT": str(redis.port or 6379),
        "REDIS_DB": (redis.path or "/0").strip("/") or "0",
    }


def wait_for(url: str, processes: List[subprocess.Popen], timeout: float = 150) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise RuntimeError("a production-mode server exited early")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready in {timeout:.0f}s")


@pytest.fixture(scope="module", params=["replicas", "nginx"])
def replicas(request, tmp_path_factory) -> Iterator[Dict[str, object]]:
    if request.param == "nginx":
        yield from behind_nginx(tmp_path_factory.mktemp("run-production"))
        return
    tmp = tmp_path_factory.mktemp("production")
    action_port = free_port()
    env = production_env(tmp, action_port)
    token = uuid.uuid4().hex
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "actions"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    for port in ports:
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "carebot.rasa_server",
                    "run",
                    "--enable-api",
                    "--auth-token",
                    token,
                    "--interface",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--model",
                    str(MODEL),
                    "--endpoints",
                    "endpoints.production.yml",
                    "--credentials",
                    "credentials.yml",
                ],
                cwd=ROOT,
                env=env,
                stdout=open(tmp / f"rasa-{port}.log", "w"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    try:
        wait_for(f"http://127.0.0.1:{action_port}/health", processes)
        for port in ports:
            wait_for(f"http://127.0.0.1:{port}/status?token={token}", processes)
        yield {"urls": [f"http://127.0.0.1:{p}" for p in ports], "token": token, "env": env}
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)


def behind_nginx(tmp: Path, extra: Optional[Dict[str, str]] = None) -> Iterator[Dict[str, object]]:
    """`make run-production`'s stack on free ports; both "replicas" are nginx, which alternates between them.
    Also yields the stack's database URL, its first Rasa port and its log (tests/e2e/test_replica_crash.py)."""
    database = fresh_postgres_database(POSTGRES_URL)
    with production_stack(tmp, database, REDIS_URL, extra, model=MODEL) as stack:
        pg = urlparse(database)
        yield {
            "urls": [stack.url, stack.url],
            "token": stack.rasa_token,
            "env": {
                "TRACKER_DB_USER": pg.username or "postgres",
                "TRACKER_DB_HOST": pg.hostname or "127.0.0.1",
                "TRACKER_DB_PORT": str(pg.port or 5432),
                "TRACKER_DB_NAME": pg.path.lstrip("/"),
            },
            "database": database,
            "rasa_port": stack.rasa_ports[0],
            "log": stack.log,
        }


def test_a_conversation_alternating_between_replicas_is_one_conversation(replicas):
    sender = f"whatsapp:+4477009{uuid.uuid4().int % 100000:05d}"
    urls: List[str] = replicas["urls"]
    said = ["hi", "what can you do", "thanks", "bye"]
    for index, text in enumerate(said):
        reply = httpx.post(
            f"{urls[index % 2]}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30
        )
        assert reply.status_code == 200 and reply.json(), text

    # Both replicas see the whole conversation, in order, from the shared store.
    for url in urls:
        tracker = httpx.get(
            f"{url}/conversations/{sender}/tracker", params={"token": replicas["token"]}, timeout=10
        ).json()
        assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == said
        assert tracker["slots"]["clinic_name"]

    env = replicas["env"]
    engine = sa.create_engine(
        f"postgresql://{env['TRACKER_DB_USER']}@{env['TRACKER_DB_HOST']}:{env['TRACKER_DB_PORT']}/{env['TRACKER_DB_NAME']}"
    )
    with engine.connect() as connection:
        user_events = connection.execute(
            sa.text("SELECT count(*) FROM events WHERE sender_id = :s AND type_name = 'user'"), {"s": sender}
        ).scalar()
    engine.dispose()
    assert user_events == len(said)


def test_concurrent_messages_of_one_patient_are_processed_one_at_a_time(replicas):
    """The Redis lock store serialises a conversation across replicas: no event is lost or interleaved."""
    import concurrent.futures

    sender = f"whatsapp:+4477008{uuid.uuid4().int % 100000:05d}"
    urls: List[str] = replicas["urls"]
    texts = [f"thanks {i}" for i in range(8)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(
            pool.map(
                lambda pair: httpx.post(
                    f"{urls[pair[0] % 2]}/webhooks/rest/webhook",
                    json={"sender": sender, "message": pair[1]},
                    timeout=60,
                ),
                enumerate(texts),
            )
        )
    assert all(r.status_code == 200 for r in replies)
    tracker = httpx.get(
        f"{urls[0]}/conversations/{sender}/tracker", params={"token": replicas["token"]}, timeout=10
    ).json()
    events = tracker["events"]
    users = [e["text"] for e in events if e["event"] == "user"]
    assert sorted(users) == sorted(texts)
    # Each user turn is answered before the next one starts: never two user turns in a row, never a silent one.
    kinds = [e["event"] for e in events if e["event"] in ("user", "bot")]
    assert kinds[-1] == "bot"
    assert not [i for i in range(len(kinds) - 1) if kinds[i] == kinds[i + 1] == "user"], kinds
