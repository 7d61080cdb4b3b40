"""Two Rasa replicas behind nginx (`make run-production`), loaded through the WhatsApp channel by Locust.

16 patients write at once, each a message every `PACING` seconds (100 messages a second offered in all), signed
webhooks posted to nginx, which spreads them over the replicas; Twilio is the loopback stand-in
(carebot/simulator/twilio_standin.py), which records when each reply was accepted. Afterwards, from the stand-in,
the stack's own tables and Rasa's trackers: how many messages a second were answered, how long each waited for its
first reply, whether every message was answered exactly once and each patient's messages were taken in order,
and where the CPU went (which is what bounds the rate on a 2-core machine).

Needs PostgreSQL and Redis (`--postgres`/BENCH_POSTGRES_URL/TEST_POSTGRES_URL, BENCH_REDIS_URL/TEST_REDIS_URL) and
nginx (`make tools`); says "not run" without them.
"""

from __future__ import annotations

import asyncio
import csv
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import httpx
import psutil
import sqlalchemy as sa

from bench.databases import resolve_postgres_url
from bench.stack import ROOT, drop_postgres_database, fresh_postgres_database, production_stack
from carebot.production import NGINX
from carebot.simulator.service import simulator_env
from carebot.simulator.twilio_standin import TwilioStandIn

PATIENTS = 16
MESSAGES_EACH = 60
TARGET_RATE = 100.0
PACING = PATIENTS / TARGET_RATE  # seconds between one patient's messages: together they offer the target rate
TARGET_P95_S = 1.0
TARGET_READY_S = 30.0
AUTH_TOKEN = "replicas-load-test"
PUBLIC_URL = "https://clinic.example/"
SETTLE_TIMEOUT_S = 300.0
LOCUSTFILE = ROOT / "bench" / "locustfile_whatsapp.py"
# Process kinds whose CPU time is counted, by a word of their command line.
KINDS = (
    ("rasa replicas", "carebot.rasa_server"),
    ("action servers", "-m actions"),
    ("backend", "carebot.server"),
    ("reminder dispatcher", "carebot.dispatcher"),
    ("nginx", "nginx"),
    ("launcher", "carebot.production"),
)


@dataclass(frozen=True)
class Sent:
    message_sid: str
    phone: str
    at: float  # wall clock
    status: int


@dataclass
class Figures:
    ready_s: float
    sent: List[Sent]
    locust_exit: int
    first_reply: Dict[str, float] = field(default_factory=dict)  # MessageSid → wall clock of its first reply
    twice_at_twilio: int = 0  # outbox parts Twilio accepted more than once
    unsettled_rows: int = 0  # outbox rows of these messages not accepted
    out_of_order: List[str] = field(
        default_factory=list
    )  # patients whose tracker differs from the sending order
    cpu_s: Dict[str, float] = field(default_factory=dict)


def channel_to_stand_in(twilio_url: str, auth_token: str, public_url: str) -> Dict[str, str]:
    """The simulator's channel environment (the stack's own state database) without Twilio's pacing, which is not
    what a load test measures."""
    return {**simulator_env(twilio_url, auth_token, public_url), "WHATSAPP_RATE_PER_SECOND": "1000"}


def settled(engine: sa.engine.Engine) -> bool:
    """No message waits in the inbox and no reply is unsettled in the outbox."""
    with engine.connect() as connection:
        waiting = connection.execute(sa.text("SELECT count(*) FROM whatsapp_inbound")).scalar()
        unsettled = connection.execute(
            sa.text("SELECT count(*) FROM whatsapp_outbox WHERE state IN ('queued', 'sending', 'unknown')")
        ).scalar()
    return waiting == 0 and unsettled == 0


def reply_rows(engine: sa.engine.Engine) -> Dict[str, List[Tuple[int, str]]]:
    """MessageSid → (outbox id, state) of each reply to it (outbox key `in:<MessageSid>:<n>`)."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT id, idempotency_key, state FROM whatsapp_outbox WHERE idempotency_key LIKE 'in:%'"
            )
        ).all()
    replies: Dict[str, List[Tuple[int, str]]] = {}
    for row_id, key, state in rows:
        replies.setdefault(key.split(":")[1], []).append((row_id, state))
    return replies


def cpu_seconds(launcher_pid: int) -> Dict[str, float]:
    """CPU time so far of the stack's processes by kind, and of the PostgreSQL and Redis servers."""
    totals = {name: 0.0 for name, _ in KINDS}
    totals.update({"PostgreSQL server": 0.0, "Redis server": 0.0})
    stack = psutil.Process(launcher_pid)
    for process in [stack, *stack.children(recursive=True)]:
        try:
            command, times = " ".join(process.cmdline()), process.cpu_times()
        except psutil.Error:
            continue
        kind = next((name for name, word in KINDS if word in command), None)
        if kind:
            totals[kind] += times.user + times.system
    for process in psutil.process_iter(["name", "cpu_times"]):
        name = {"postgres": "PostgreSQL server", "redis-server": "Redis server"}.get(
            process.info["name"] or ""
        )
        if name and process.info["cpu_times"]:
            totals[name] += process.info["cpu_times"].user + process.info["cpu_times"].system
    return totals


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def run_locust(url: str, sent_file: Path, log: Path) -> int:
    """Locust, headless, one process: PATIENTS users started at once, each stopping after MESSAGES_EACH."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CAREBOT_LOAD_AUTH_TOKEN": AUTH_TOKEN,
        "CAREBOT_LOAD_PUBLIC_URL": PUBLIC_URL,
        "CAREBOT_LOAD_MESSAGES": str(MESSAGES_EACH),
        "CAREBOT_LOAD_PACING": str(PACING),
        "CAREBOT_LOAD_FIRST_PHONE": str(uuid.uuid4().int % 900),  # new patients on every run
        "CAREBOT_LOAD_SENT": str(sent_file),
    }
    bound = MESSAGES_EACH * PACING * 4 + 30  # a time bound on top of the count bound
    locust = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary"),
        *("--users", str(PATIENTS), "--spawn-rate", str(PATIENTS), "--run-time", f"{bound:.0f}s"),
        *("--host", url, "--loglevel", "WARNING", "--exit-code-on-error", "1"),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=open(log, "w"),
    )
    return await locust.wait()


def read_sent(sent_file: Path) -> List[Sent]:
    with open(sent_file, newline="") as handle:
        return [Sent(sid, phone, float(at), int(status)) for sid, phone, at, status in csv.reader(handle)]


async def wait_settled(engine: sa.engine.Engine) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while not await asyncio.to_thread(settled, engine):
        if time.monotonic() > deadline:
            raise RuntimeError(f"messages still unanswered {SETTLE_TIMEOUT_S:.0f} s after the load")
        await asyncio.sleep(0.5)


def user_message_ids(url: str, token: str, phone: str) -> List[str]:
    tracker = httpx.get(f"{url}/conversations/whatsapp:{phone}/tracker", params={"token": token}, timeout=30)
    tracker.raise_for_status()
    return [event.get("message_id") for event in tracker.json()["events"] if event["event"] == "user"]


def account(figures: Figures, twilio: TwilioStandIn, replies: Dict[str, List[Tuple[int, str]]]) -> None:
    """Each message's first reply at Twilio, and replies accepted twice or never settled."""
    accepted_at: Dict[int, float] = {}
    for accepted in twilio.accepted:
        outbox_id = int(accepted.marker.split(".")[0]) if accepted.marker else -1
        accepted_at[outbox_id] = min(accepted_at.get(outbox_id, float("inf")), accepted.at.timestamp())
    figures.twice_at_twilio = sum(1 for count in twilio.accepted_per_marker().values() if count > 1)
    for message in figures.sent:
        rows = replies.get(message.message_sid, [])
        figures.unsettled_rows += sum(1 for _, state in rows if state != "accepted")
        times = [accepted_at[row_id] for row_id, _ in rows if row_id in accepted_at]
        if times:
            figures.first_reply[message.message_sid] = min(times)


async def measure(postgres_url: str, redis_url: str) -> Figures:
    twilio = TwilioStandIn(auth_token=AUTH_TOKEN)
    await twilio.start()
    database = await asyncio.to_thread(fresh_postgres_database, postgres_url)
    extra = {**channel_to_stand_in(twilio.url, AUTH_TOKEN, PUBLIC_URL), "LOG_LEVEL": "WARNING"}
    work = Path(tempfile.mkdtemp(prefix="carebot-replicas-"))
    running = production_stack(work, database, redis_url, extra)
    tables = sa.create_engine(database)  # the channel's inbox and outbox, read by the checks
    try:
        stack = await asyncio.to_thread(running.__enter__)
        try:
            cpu_before, locust_before = cpu_seconds(stack.running.process.pid), children_cpu()
            exit_code = await run_locust(stack.url, work / "sent.csv", work / "locust.log")
            locust_cpu = children_cpu() - locust_before
            await wait_settled(tables)
            cpu_after = cpu_seconds(stack.running.process.pid)
            figures = Figures(stack.ready_seconds, read_sent(work / "sent.csv"), exit_code)
            figures.cpu_s = {name: cpu_after[name] - cpu_before[name] for name in cpu_before}
            figures.cpu_s["Locust (the patients)"] = locust_cpu
            account(figures, twilio, await asyncio.to_thread(reply_rows, tables))
            for phone in sorted({message.phone for message in figures.sent}):
                in_order = [m.message_sid for m in figures.sent if m.phone == phone and m.status == 204]
                seen = await asyncio.to_thread(user_message_ids, stack.url, stack.rasa_token, phone)
                if seen != in_order:
                    figures.out_of_order.append(phone)
        finally:
            await asyncio.to_thread(running.__exit__, None, None, None)
    finally:
        tables.dispose()
        await twilio.stop()
        await asyncio.to_thread(drop_postgres_database, database)
        shutil.rmtree(work, ignore_errors=True)
    return figures


def _target(met: bool, target: str) -> str:
    return f"{'met' if met else '**missed**'} ({target})"


def render(figures: Figures) -> str:
    sent = figures.sent
    acknowledged = [m for m in sent if m.status == 204]
    waits = sorted(
        figures.first_reply[m.message_sid] - m.at
        for m in acknowledged
        if m.message_sid in figures.first_reply
    )
    unanswered = len(acknowledged) - len(waits)
    start, end = min(m.at for m in sent), max(figures.first_reply.values(), default=0.0)
    offered = len(sent) / (max(m.at for m in sent) - start)
    rate = len(waits) / (end - start) if waits else 0.0
    p50 = statistics.median(waits) if waits else float("nan")
    p95 = waits[int(0.95 * (len(waits) - 1))] if waits else float("nan")
    exactly_once = unanswered == 0 and figures.twice_at_twilio == 0 and figures.unsettled_rows == 0
    in_order = not figures.out_of_order
    twice, not_accepted = figures.twice_at_twilio, figures.unsettled_rows
    rows = [
        (
            "stack ready after start (s)",
            f"{figures.ready_s:.1f}",
            _target(figures.ready_s <= TARGET_READY_S, f"≤ {TARGET_READY_S:.0f}"),
        ),
        ("offered (msg/s)", f"{offered:.1f}", ""),
        ("webhooks acknowledged (204)", f"{len(acknowledged)}/{len(sent)}", ""),
        ("answered (msg/s)", f"{rate:.1f}", _target(rate >= TARGET_RATE, f"≥ {TARGET_RATE:.0f}")),
        (
            "first reply after its webhook p50 / p95 (s)",
            f"{p50:.2f} / {p95:.2f}",
            _target(p95 <= TARGET_P95_S, f"p95 ≤ {TARGET_P95_S:.0f}"),
        ),
        (
            "unanswered / replies at Twilio twice / not accepted",
            f"{unanswered} / {twice} / {not_accepted}",
            "",
        ),
        (
            "… every message answered exactly once",
            "yes" if exactly_once else "no",
            _target(exactly_once, "yes"),
        ),
        (
            "patients whose messages Rasa took out of order",
            str(len(figures.out_of_order)),
            _target(in_order, "0"),
        ),
        ("Locust exit code", str(figures.locust_exit), ""),
    ]
    budget = 1000 * (os.cpu_count() or 1) / TARGET_RATE
    lines = [
        f"{PATIENTS} patients write at once through nginx to 2 Rasa replicas (`make run-production`: PostgreSQL "
        f"tracker store, Redis lock store), each a message every {PACING} s, {MESSAGES_EACH} each "
        f"({len(sent)} messages), sent by Locust (`bench/locustfile_whatsapp.py`, headless); replies go to the "
        "loopback Twilio stand-in. Rate = messages answered / (last first reply − first message sent).",
        "",
        "| figure | value | target |",
        "|---|---:|---|",
        *(f"| {name} | {value} | {target} |" for name, value, target in rows),
        "",
        f"Where the CPU went, per message answered ({os.cpu_count()} cores: {TARGET_RATE:.0f} msg/s leaves "
        f"{budget:.0f} ms of CPU per message for all of it):",
        "",
        "| process | CPU (s) | per message (ms) |",
        "|---|---:|---:|",
    ]
    answered = max(len(waits), 1)
    for name, seconds in sorted(figures.cpu_s.items(), key=lambda item: -item[1]):
        lines.append(f"| {name} | {seconds:.1f} | {1000 * seconds / answered:.1f} |")
    total = sum(figures.cpu_s.values())
    lines.append(f"| all of them | {total:.1f} | {1000 * total / answered:.1f} |")
    return "\n".join(lines)


def run(postgres_url: Optional[str] = None) -> str:
    postgres_url = resolve_postgres_url(postgres_url)
    redis_url = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL")
    if not (postgres_url and redis_url):
        return "Not run: needs PostgreSQL and Redis (BENCH_POSTGRES_URL or TEST_POSTGRES_URL, BENCH_REDIS_URL or TEST_REDIS_URL)."
    if not Path(NGINX).exists():
        return f"Not run: {NGINX} is missing (`make tools`)."
    return render(asyncio.run(measure(postgres_url, redis_url)))


if __name__ == "__main__":
    print(run())
