"""`python -m bench.turn_profile [--profile]`: where Rasa's time per message goes, by stage, as one patient's
conversation grows (the long-conversation mix of bench/rasa_bench.py).

The `rasa` bench section says *that* the cost per message grows; this says *which stage* grows. Rasa runs in this
process (an Agent with the project's model, tracker store and the endpoints the bench stack writes), the action
server and backend as the stack's own processes, so each stage can be timed around the Rasa call that does it:
NLU, tracker retrieval (reading, decrypting and replaying the stored events), the policies' predictions, the calls
to the action server and the tracker store's save. `--profile` adds cProfile's top functions for the first and
last block. A diagnostic for docs/architecture.md, not a bench section: nothing here is written into a document.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import os
import pstats
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

from bench.rasa_bench import BLOCK, CONVERSATIONS, LATENCY_ROUNDS, LONG_MESSAGES, LONG_MIX, QUIET_ENV
from bench.stack import DEFAULT_MODEL, carebot_stack, start

STAGES = ("nlu", "retrieve", "policies", "action server", "save")


class StageClock:
    """CPU time of this process (and wall time of the action server calls) per stage, summed until reset."""

    def __init__(self) -> None:
        self.cpu_ms: Dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str, wall: bool = False) -> Iterator[None]:
        clock = time.perf_counter if wall else time.process_time
        started = clock()
        try:
            yield
        finally:
            self.cpu_ms[name] += (clock() - started) * 1000

    def wrap(self, owner: Any, attribute: str, name: str, wall: bool = False) -> None:
        """Times every call of `owner.attribute` (sync or async) under `name`."""
        original: Callable = getattr(owner, attribute)
        clock = self

        if asyncio.iscoroutinefunction(original):

            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                with clock.stage(name, wall):
                    return await original(*args, **kwargs)

            setattr(owner, attribute, timed_async)
        else:

            def timed(*args: Any, **kwargs: Any) -> Any:
                with clock.stage(name, wall):
                    return original(*args, **kwargs)

            setattr(owner, attribute, timed)


async def _short_conversations(agent: Any, clock: StageClock) -> None:
    """The bench's latency part: its scripted conversations, each as a new patient; first messages (the session
    start runs a custom action) apart from the others."""
    for round_ in range(LATENCY_ROUNDS):
        for conversation in CONVERSATIONS:
            sender = f"short-{round_}-{uuid.uuid4().hex[:6]}"
            for position, text in enumerate(conversation):
                name = "first message" if position == 0 else "later messages"
                with clock.stage(f"{name} total"):
                    before = dict(clock.cpu_ms)
                    await agent.handle_text(text, sender_id=sender)
                for stage in STAGES:
                    clock.cpu_ms[f"{name} {stage}"] += clock.cpu_ms[stage] - before.get(stage, 0.0)
                clock.cpu_ms[f"{name} count"] += 1
    for name in ("first message", "later messages"):
        count = clock.cpu_ms[f"{name} count"]
        figures = " | ".join(f"{clock.cpu_ms[f'{name} {s}'] / count:.1f}" for s in STAGES)
        print(f"| {name} ({count:.0f}) | {clock.cpu_ms[f'{name} total'] / count:.1f} | {figures} |")


async def _conversation(model: Path, endpoints: Path, profile: bool, short: bool = False) -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.agent import load_agent
    from rasa.core.processor import MessageProcessor
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.log_utils import configure_structlog

    from carebot.rasa_server import apply

    apply()  # the hot-path fixes `python -m carebot.rasa_server` applies, so the figures are the server's
    configure_structlog(logging.WARNING)  # Rasa's debug log of every event would be most of what is measured
    logging.getLogger().setLevel(logging.WARNING)
    agent = await load_agent(
        model_path=str(model), endpoints=AvailableEndpoints.read_endpoints(str(endpoints))
    )
    clock = StageClock()
    store = agent.tracker_store
    inner = store
    while hasattr(inner, "_tracker_store"):  # Rasa wraps the configured store (awaitable, fail-safe)
        inner = inner._tracker_store
    clock.wrap(inner, "_retrieve", "retrieve")
    clock.wrap(inner, "save", "save")
    clock.wrap(MessageProcessor, "_parse_message_with_graph", "nlu")
    clock.wrap(MessageProcessor, "_predict_next_with_tracker", "policies")
    clock.wrap(RemoteAction, "run", "action server", wall=True)
    print("| messages | total CPU/msg (ms) | " + " | ".join(f"{s} (ms)" for s in STAGES) + " |")
    print("|---|---:|" + "---:|" * len(STAGES))
    if short:
        await _short_conversations(agent, clock)
        return
    sender = f"profile-{uuid.uuid4().hex[:6]}"
    profiles: List[str] = []
    for first in range(0, LONG_MESSAGES, BLOCK):
        clock.cpu_ms.clear()
        profiler = cProfile.Profile() if profile and first in (0, LONG_MESSAGES - BLOCK) else None
        started = time.process_time()
        if profiler:
            profiler.enable()
        for i in range(first, first + BLOCK):
            await agent.handle_text(LONG_MIX[i % len(LONG_MIX)], sender_id=sender)
        if profiler:
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
            profiles.append(f"--- messages {first}-{first + BLOCK - 1} ---\n{out.getvalue()}")
        total = (time.process_time() - started) * 1000 / BLOCK
        figures = " | ".join(f"{clock.cpu_ms[s] / BLOCK:.1f}" for s in STAGES)
        print(f"| {first}–{first + BLOCK - 1} | {total:.1f} | {figures} |", flush=True)
    print("\n".join(profiles))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.turn_profile", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="cProfile the first and last block")
    parser.add_argument(
        "--short", action="store_true", help="the bench's short scripted conversations instead (REST latency)"
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument(
        "--window-turns",
        type=int,
        help="the tracker store's window (0: read whole sessions, as before issue 17)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="carebot-profile-") as scratch:
        var = Path(scratch)
        stack = carebot_stack(var, model=args.model, services=["actions", "backend"])
        stack.env.update(QUIET_ENV)
        if args.window_turns is not None:
            endpoints = Path(stack.env["RASA_ENDPOINTS"])
            text = endpoints.read_text().replace(
                "lock_store:", f"  window_turns: {args.window_turns}\nlock_store:"
            )
            endpoints.write_text(text)
        start(stack, var / "stack.log")
        try:
            _wait_services(stack)
            os.environ.update({k: v for k, v in stack.env.items() if k not in ("PYTHONPATH",)})
            asyncio.run(
                _conversation(args.model, Path(stack.env["RASA_ENDPOINTS"]), args.profile, args.short)
            )
        finally:
            stack.stop()
    return 0


def _wait_services(stack: Any) -> None:
    """The action server and backend answer (Rasa runs in this process, so not Rasa's /status)."""
    from bench.stack import backend_answers, health_is_ok

    assert stack.running is not None
    stack.running.wait_until(
        lambda: health_is_ok(f"{stack.action_url}/health") and backend_answers(stack.backend_url),
        120,
        "the action server and backend",
    )


if __name__ == "__main__":
    sys.exit(main())
