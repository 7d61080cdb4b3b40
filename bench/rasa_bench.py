"""Stock `rasa init` bot against Carebot, in one run, on the same messages: training, start-up, latency, memory.

The stock bot is the yardstick issue 2 sets (Rasa's own defaults on this machine); Carebot's targets are full
training <= 60 s, ready <= 20 s after start, REST p50 <= 15 ms and p95 <= 40 ms. Both bots get the same message
texts, the same client and the same procedure, so the ratios say what Carebot's choices buy.

The second part sends 400 messages in ONE conversation: Rasa rebuilds the conversation state from every event
of the session on each turn, so a bot whose per-message cost climbs with length slows down for exactly the
patients who chat most.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import aiohttp
import psutil

from bench.stack import ROOT, available_services, carebot_stack, free_port, rasa_is_ready, spawn, start

# Scripted conversations; every bot gets exactly these texts. Gibberish and off-topic lines are what a
# low-confidence classifier sends to the fallback.
CONVERSATIONS: Tuple[Tuple[str, ...], ...] = (
    ("hi", "I'd like to book an appointment", "thanks", "bye"),
    ("hello there", "I have a headache", "what can you do?", "thank you so much", "goodbye"),
    ("good morning", "remind me to take my pills at 8pm", "asdkjh qwpoe zzz", "help", "bye"),
    (
        "hey",
        "what's the weather like tomorrow?",
        "are you a bot?",
        "can you order me a pizza",
        "thanks",
        "see you later",
    ),
    ("hi", "xqzt vrrbl plonk", "help", "ok bye"),
)
# The long-conversation mix: 12 lines, 4 of them (1/3) gibberish meant for the fallback. No line starts a flow
# (booking, triage, reminders): a form would take every later line as its answer, and this measures how the
# cost of an ordinary message grows with the length of the conversation, fallbacks included.
LONG_MIX: Tuple[str, ...] = (
    "hi",
    "asdkjh qwpoe zzz",
    "thanks",
    "what can you do?",
    "xqzt vrrbl plonk",
    "are you a bot?",
    "what's the weather like tomorrow?",
    "blorp fizzle wham",
    "help",
    "good morning",
    "mmmh kkkk jjjj",
    "thank you so much",
)
LATENCY_ROUNDS = 5  # each conversation this many times, each time as a new patient (~120 messages)
THROUGHPUT_SENDERS = 8
THROUGHPUT_MESSAGES = 40  # per sender
LONG_MESSAGES = 400
BLOCK = 100
FALLBACK_ACTIONS = {"action_fallback", "action_default_fallback"}
TARGETS = {"train_s": 60.0, "ready_s": 20.0, "p50_ms": 15.0, "p95_ms": 40.0}
# The folders of data/ that are Rasa training data; the others (patterns, triage protocols, messages) are
# Carebot's own formats that `rasa train` would reject.
RASA_DATA = ("data/nlu", "data/rules", "data/stories", "data/responses")
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "PYTHONWARNINGS": "ignore"}


@dataclass
class BotFigures:
    """Everything measured for one bot."""

    name: str
    train_s: float = 0.0
    train_cpu_s: float = 0.0
    ready_s: float = 0.0
    ready_cpu_s: float = 0.0
    first_reply_ms: float = 0.0
    latencies_ms: List[float] = field(default_factory=list)
    cpu_ms_per_message: float = 0.0
    throughput: float = 0.0
    throughput_p50_ms: float = 0.0
    rasa_rss_mb: float = 0.0
    stack_rss_mb: Dict[str, float] = field(default_factory=dict)
    block_p50_ms: List[float] = field(default_factory=list)
    block_cpu_ms: List[float] = field(default_factory=list)
    fallback_share: float = 0.0
    in_form_share: float = 0.0
    forms: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p95_ms(self) -> float:
        return percentile(self.latencies_ms, 95)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: a value that was actually observed."""
    ordered = sorted(values)
    rank = max(1, round(pct / 100 * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


# ---- load generation ---------------------------------------------------------------------------------------


async def _send(session: aiohttp.ClientSession, url: str, sender: str, text: str) -> float:
    """One REST round trip in milliseconds; a non-200 answer aborts the benchmark rather than skewing it."""
    started = time.perf_counter()
    async with session.post(url, json={"sender": sender, "message": text}) as reply:
        await reply.read()
        if reply.status != 200:
            raise RuntimeError(f"REST channel answered {reply.status} to {text!r}")
    return (time.perf_counter() - started) * 1000


async def _conversations(session: aiohttp.ClientSession, url: str, rounds: int, tag: str) -> List[float]:
    latencies = []
    for round_ in range(rounds):
        for index, conversation in enumerate(CONVERSATIONS):
            sender = f"{tag}-{round_}-{index}-{uuid.uuid4().hex[:6]}"
            for text in conversation:
                latencies.append(await _send(session, url, sender, text))
    return latencies


async def _throughput(session: aiohttp.ClientSession, url: str) -> Tuple[float, List[float]]:
    """Messages per second with THROUGHPUT_SENDERS patients chatting at once, and their round trips."""
    flat = [text for conversation in CONVERSATIONS for text in conversation]

    async def patient(number: int) -> List[float]:
        sender = f"load-{number}-{uuid.uuid4().hex[:6]}"
        return [
            await _send(session, url, sender, flat[(number + i) % len(flat)])
            for i in range(THROUGHPUT_MESSAGES)
        ]

    started = time.perf_counter()
    results = await asyncio.gather(*(patient(n) for n in range(THROUGHPUT_SENDERS)))
    elapsed = time.perf_counter() - started
    return THROUGHPUT_SENDERS * THROUGHPUT_MESSAGES / elapsed, [ms for result in results for ms in result]


async def _long_conversation(
    session: aiohttp.ClientSession, url: str, sender: str, first: int, count: int
) -> List[float]:
    """Messages `first` .. `first + count - 1` of one patient's long conversation."""
    return [
        await _send(session, url, sender, LONG_MIX[i % len(LONG_MIX)]) for i in range(first, first + count)
    ]


async def _conversation_shape(
    figures: BotFigures, session: aiohttp.ClientSession, rasa_url: str, token: str, sender: str
) -> None:
    """How the bot handled the long conversation, from its tracker: the share of messages answered by a fallback
    action and the share that arrived while a form was active (a form runs custom actions on every turn, which
    costs far more than a rule's response, so the figures mean something else then)."""
    async with session.get(
        f"{rasa_url}/conversations/{sender}/tracker", params={"token": token, "include_events": "ALL"}
    ) as reply:
        events = (await reply.json())["events"]
    users = fallbacks = in_form = 0
    active: Optional[str] = None
    forms = set()
    for event in events:
        if event["event"] == "active_loop":
            active = event.get("name")
            if active:
                forms.add(active)
        elif event["event"] == "user":
            users += 1
            in_form += active is not None
        elif event["event"] == "action" and event.get("name") in FALLBACK_ACTIONS:
            fallbacks += 1
    figures.fallback_share = fallbacks / users if users else 0.0
    figures.in_form_share = in_form / users if users else 0.0
    figures.forms = sorted(forms)


def cpu_seconds(process: psutil.Process) -> float:
    """CPU time the process has used: unlike wall time, it does not grow when other work shares the CPU."""
    times = process.cpu_times()
    return times.user + times.system


async def exercise(
    figures: BotFigures,
    rasa_url: str,
    token: str,
    rasa_process: psutil.Process,
    stack_root: Optional[psutil.Process],
) -> None:
    """The whole measurement against one running bot, in a fixed order (first reply, latency, load, length)."""
    url = f"{rasa_url}/webhooks/rest/webhook"
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=THROUGHPUT_SENDERS)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        figures.first_reply_ms = await _send(session, url, f"first-{uuid.uuid4().hex[:6]}", "hi")
        cpu_before = cpu_seconds(rasa_process)
        figures.latencies_ms = await _conversations(session, url, LATENCY_ROUNDS, "latency")
        figures.cpu_ms_per_message = (
            (cpu_seconds(rasa_process) - cpu_before) * 1000 / len(figures.latencies_ms)
        )
        figures.throughput, concurrent = await _throughput(session, url)
        figures.throughput_p50_ms = percentile(concurrent, 50)
        figures.rasa_rss_mb = rasa_process.memory_info().rss / 2**20
        if stack_root is not None:
            figures.stack_rss_mb = stack_rss_mb(stack_root)
        sender = f"long-{uuid.uuid4().hex[:6]}"
        long_run: List[float] = []
        for _ in range(0, LONG_MESSAGES, BLOCK):
            cpu_before = cpu_seconds(rasa_process)
            block = await _long_conversation(session, url, sender, len(long_run), BLOCK)
            figures.block_cpu_ms.append((cpu_seconds(rasa_process) - cpu_before) * 1000 / BLOCK)
            figures.block_p50_ms.append(statistics.median(block))
            long_run += block
        await _conversation_shape(figures, session, rasa_url, token, sender)


def stack_rss_mb(root: psutil.Process) -> Dict[str, float]:
    """Resident memory of each process of a stack (the launcher and every descendant), by a readable name."""
    usage: Dict[str, float] = {}
    for process in [root, *root.children(recursive=True)]:
        try:
            name = _service_name(process.cmdline())
            usage[name] = usage.get(name, 0.0) + process.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            continue
    return usage


def _service_name(cmdline: List[str]) -> str:
    if "rasa" in cmdline and "run" in cmdline:
        return "rasa"
    if "-m" in cmdline:
        module = cmdline[cmdline.index("-m") + 1]
        return {
            "carebot.launcher": "launcher",
            "bench.stack": "launcher",
            "actions": "actions",
            "carebot.server": "backend",
            "carebot.dispatcher": "reminders",
            "carebot.rasa_server": "rasa",
        }.get(module, module)
    return " ".join(cmdline[:3])


def _rasa_child(root: psutil.Process) -> psutil.Process:
    for child in root.children(recursive=True):
        if _service_name(child.cmdline()) == "rasa":
            return child
    raise RuntimeError("no Rasa server process under the launcher")


# ---- the two bots -------------------------------------------------------------------------------------------


def _python_env(**extra: str) -> Dict[str, str]:
    return {**os.environ, **QUIET_ENV, **extra}


def cold_train(argv: Sequence[str], cwd: Path, cache: Path, log: Path) -> Tuple[float, float]:
    """(wall seconds, CPU seconds) of a training run with an empty graph cache, so nothing is reused."""
    shutil.rmtree(cache, ignore_errors=True)
    env = _python_env(RASA_CACHE_DIRECTORY=str(cache), PYTHONPATH=str(ROOT))
    cpu_before = _children_cpu()
    started = time.monotonic()
    with open(log, "w") as out:
        result = subprocess.run(list(argv), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed in {cwd}:\n{log.read_text()[-4000:]}")
    return elapsed, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure_stock(work: Path) -> BotFigures:
    """`rasa init`'s bot: scaffolded, trained cold, served alone (it has no custom actions)."""
    from rasa.cli.scaffold import create_initial_project

    figures = BotFigures("stock `rasa init`")
    project = work / "stock"
    create_initial_project(str(project))  # the files `rasa init --no-prompt` writes before it trains
    python = sys.executable
    figures.train_s, figures.train_cpu_s = cold_train(
        [python, "-m", "rasa", "train"], project, work / "cache-stock", work / "stock-train.log"
    )
    port, token = free_port(), uuid.uuid4().hex
    rasa_url = f"http://127.0.0.1:{port}"
    server = spawn(
        [
            python,
            "-m",
            "rasa",
            "run",
            "--enable-api",
            "--auth-token",
            token,
            "--interface",
            "127.0.0.1",
            "--port",
            str(port),
            "--model",
            "models",
        ],
        env=_python_env(),
        log=work / "stock-run.log",
        cwd=project,
    )
    try:
        figures.ready_s = server.wait_until(lambda: rasa_is_ready(rasa_url, token), 300, "the stock bot")
        rasa_process = psutil.Process(server.process.pid)
        figures.ready_cpu_s = cpu_seconds(rasa_process)
        asyncio.run(exercise(figures, rasa_url, token, rasa_process, None))
    finally:
        server.stop()
    return figures


def measure_carebot(work: Path) -> BotFigures:
    """This project: trained cold into a scratch folder, then the launcher's stack on free ports."""
    figures = BotFigures("Carebot")
    python = sys.executable
    models = work / "carebot-models"
    figures.train_s, figures.train_cpu_s = cold_train(
        [
            python,
            "-m",
            "rasa",
            "train",
            "--force",
            "--fixed-model-name",
            "carebot",
            "--out",
            str(models),
            "--data",
            *[folder for folder in RASA_DATA if (ROOT / folder).is_dir()],
        ],
        ROOT,
        work / "cache-carebot",
        work / "carebot-train.log",
    )
    services = available_services()
    missing = [name for name in ("backend", "actions", "rasa", "reminders") if name not in services]
    if missing:
        figures.notes.append(f"not started (module not written yet): {', '.join(missing)}")
    stack = carebot_stack(work / "carebot-var", model=models / "carebot.tar.gz", services=services)
    stack.env.update(QUIET_ENV)
    start(stack, work / "carebot-stack.log")
    try:
        figures.ready_s = stack.wait_ready(timeout=300)
        launcher = psutil.Process(stack.running.process.pid)
        rasa_process = _rasa_child(launcher)
        figures.ready_cpu_s = cpu_seconds(rasa_process)
        asyncio.run(exercise(figures, stack.rasa_url, stack.rasa_token, rasa_process, launcher))
    finally:
        stack.stop()
    return figures


# ---- report ---------------------------------------------------------------------------------------------------


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}" if theirs else "–"


def _verdict(key: str, value: float) -> str:
    return (
        ("met" if value <= TARGETS[key] else "**missed**") + f" (≤ {TARGETS[key]:g})"
        if key in TARGETS
        else ""
    )


def render(stock: BotFigures, carebot: BotFigures) -> str:
    rows = [
        ("full training, cold (s)", "train_s", stock.train_s, carebot.train_s),
        ("… CPU time of that training (s)", "", stock.train_cpu_s, carebot.train_cpu_s),
        ("ready after start (s)", "ready_s", stock.ready_s, carebot.ready_s),
        ("… Rasa server CPU time until ready (s)", "", stock.ready_cpu_s, carebot.ready_cpu_s),
        ("first reply after ready (ms)", "", stock.first_reply_ms, carebot.first_reply_ms),
        ("REST round trip p50 (ms)", "p50_ms", stock.p50_ms, carebot.p50_ms),
        ("REST round trip p95 (ms)", "p95_ms", stock.p95_ms, carebot.p95_ms),
        ("… Rasa server CPU time per message (ms)", "", stock.cpu_ms_per_message, carebot.cpu_ms_per_message),
        (f"throughput, {THROUGHPUT_SENDERS} senders (msg/s)", "", stock.throughput, carebot.throughput),
        (
            f"round trip p50 under {THROUGHPUT_SENDERS} senders (ms)",
            "",
            stock.throughput_p50_ms,
            carebot.throughput_p50_ms,
        ),
        ("Rasa server RSS (MB)", "", stock.rasa_rss_mb, carebot.rasa_rss_mb),
    ]
    lines = [
        "| metric | stock `rasa init` | Carebot | Carebot / stock | Carebot target |",
        "|---|---:|---:|---:|---|",
    ]
    for label, key, theirs, ours in rows:
        lines.append(
            f"| {label} | {theirs:.1f} | {ours:.1f} | {_ratio(ours, theirs)} | {_verdict(key, ours)} |"
        )
    stack_total = sum(carebot.stack_rss_mb.values())
    per_service = ", ".join(f"{name} {mb:.0f}" for name, mb in sorted(carebot.stack_rss_mb.items()))
    lines += [
        "",
        "CPU times are what the measured process itself used; unlike wall times they barely move when other "
        "work shares the CPU, so compare them when the load average was high.",
        "",
        f"Carebot's whole stack: {stack_total:.0f} MB RSS ({per_service}). "
        f"Latency: {len(carebot.latencies_ms)} messages in {len(CONVERSATIONS) * LATENCY_ROUNDS} scripted "
        f"conversations, one at a time, each conversation a new patient. Throughput: {THROUGHPUT_SENDERS} "
        f"patients sending {THROUGHPUT_MESSAGES} messages each at once. Carebot's tracker store is SQLite "
        "(its real default); the stock bot keeps conversations in memory.",
        *[f"Note: {note}" for note in stock.notes + carebot.notes],
        "",
        f"### Cost against conversation length ({LONG_MESSAGES} messages, one patient)",
        "",
        f"Median round trip per block of {BLOCK} messages, and the Rasa server's CPU time per message in that "
        f"block; the mix repeats {len(LONG_MIX)} lines of small talk, 4 of them gibberish, none meant to start "
        "a flow.",
        "",
        "| messages | stock p50 (ms) | stock Rasa CPU/msg (ms) | Carebot p50 (ms) | Carebot Rasa CPU/msg (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for index in range(len(carebot.block_p50_ms)):
        lines.append(
            f"| {index * BLOCK}–{index * BLOCK + BLOCK - 1} | {stock.block_p50_ms[index]:.1f} "
            f"| {stock.block_cpu_ms[index]:.1f} | {carebot.block_p50_ms[index]:.1f} "
            f"| {carebot.block_cpu_ms[index]:.1f} |"
        )
    lines += [
        f"| growth, last block / first | {_ratio(stock.block_p50_ms[-1], stock.block_p50_ms[0])} "
        f"| {_ratio(stock.block_cpu_ms[-1], stock.block_cpu_ms[0])} "
        f"| {_ratio(carebot.block_p50_ms[-1], carebot.block_p50_ms[0])} "
        f"| {_ratio(carebot.block_cpu_ms[-1], carebot.block_cpu_ms[0])} |",
        "",
        f"Messages answered by a fallback action: stock {stock.fallback_share:.0%}, "
        f"Carebot {carebot.fallback_share:.0%}. Messages that arrived while a form was active: stock "
        f"{stock.in_form_share:.0%}, Carebot {carebot.in_form_share:.0%}"
        + (
            f" ({', '.join(carebot.forms)}: a line of the mix was understood as the start of a flow)"
            if carebot.forms
            else ""
        )
        + ".",
    ]
    return "\n".join(lines)


def run() -> str:
    """Both bots, one after the other (never at once: they would share the CPU), then the comparison."""
    with tempfile.TemporaryDirectory(prefix="carebot-bench-") as scratch:
        work = Path(scratch)
        stock = measure_stock(work)
        print(f"rasa_bench: stock bot done ({stock.p50_ms:.1f} ms p50)", file=sys.stderr, flush=True)
        carebot = measure_carebot(work)
    return render(stock, carebot)
