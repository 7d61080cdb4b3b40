"""Reminder dispatch throughput: 10,000 due reminders delivered to a local HTTP stand-in, one vs two dispatchers.

The stand-in answers `POST /conversations/{id}/trigger_intent` the way Rasa does (it stands in for Rasa →
WhatsApp channel → Twilio) and counts every trigger per idempotency key, so duplicates are counted by the receiver,
not by the dispatcher's own bookkeeping. The stand-in and each dispatcher run in their own processes (as in
production), dispatchers with their default settings (batches of 100, 20 calls in flight). Setup (10,000
reminders, one due occurrence each, due within the last minute) is bulk-inserted and not timed; the clock runs
from releasing the dispatchers until every one has drained.

PostgreSQL runs when `BENCH_POSTGRES_URL` (or `TEST_POSTGRES_URL`) is set or `--postgres URL` is given, in a fresh
schema dropped afterwards; otherwise a temporary SQLite file. Run alone with
`python -m bench.reminders_bench [--postgres URL] [--count N]`, or as the `reminders` section of `make bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import time
from collections import Counter
from typing import Any, Dict, List, Optional

from aiohttp import web
from sqlalchemy import delete, text

from bench.databases import database, resolve_postgres_url
from carebot.backend.db import make_engine
from carebot.rasa_api import RasaAPI
from carebot.reminders.dispatcher import Dispatcher, DispatcherSettings, RasaDeliverer
from carebot.reminders.store import (
    ReminderStore,
    create_tables,
    occurrence_key,
    reminder_deliveries,
    reminder_occurrences,
    reminders,
    to_db,
)

COUNT = 10_000
# 0 ms: the dispatcher's own cost. 100 ms: closer to Rasa running the action and the channel calling Twilio.
LATENCIES_MS = (0, 100)
TOKEN = "bench-rasa-token"


# ----------------------------------------------------------------------------------------------- the stand-in
def _standin(port_queue: "multiprocessing.Queue[int]") -> None:
    """Rasa's trigger_intent, counting triggers per reminder key; GET /stats reports the counts.

    POST /reset?latency_ms=N clears the counts and sets how long each trigger takes to answer (Rasa running the
    action and the channel calling Twilio take real time; with it, in-flight concurrency is what matters).
    """
    per_key: Counter = Counter()
    latency = [0.0]

    async def trigger(request: web.Request) -> web.Response:
        if request.query.get("token") != TOKEN:
            return web.json_response({"reason": "NotAuthenticated"}, status=401)
        body = await request.json()
        per_key[body["entities"]["reminder_key"]] += 1
        if latency[0]:
            await asyncio.sleep(latency[0])
        return web.json_response({"tracker": {"sender_id": request.match_info["conversation_id"]}})

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "triggers": sum(per_key.values()),
                "keys": len(per_key),
                "duplicated_keys": sum(1 for n in per_key.values() if n > 1),
            }
        )

    async def reset(request: web.Request) -> web.Response:
        per_key.clear()
        latency[0] = float(request.query.get("latency_ms", 0)) / 1000
        return web.json_response({})

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/conversations/{conversation_id}/trigger_intent", trigger)
        app.router.add_get("/stats", stats)
        app.router.add_post("/reset", reset)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_queue.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(serve())


# ---------------------------------------------------------------------------------------------- a dispatcher
def _dispatcher(
    db_url: str, rasa_url: str, worker: str, go: Any, results: "multiprocessing.Queue[Dict]"
) -> None:
    async def drain() -> Dict[str, Any]:
        engine = make_engine(db_url)
        api = RasaAPI(rasa_url, token=TOKEN)
        dispatcher = Dispatcher(
            ReminderStore(engine),
            RasaDeliverer(api),
            DispatcherSettings(),
            is_opted_out=lambda _conversation: False,
            worker_id=worker,
        )
        await asyncio.to_thread(go.wait)
        started = time.monotonic()
        report = await dispatcher.drain()
        elapsed = time.monotonic() - started
        await api.close()
        engine.dispose()
        return {
            "worker": worker,
            "sent": report.sent,
            "claimed": report.claimed,
            "failed": report.failed,
            "seconds": elapsed,
        }

    results.put(asyncio.run(drain()))


# ------------------------------------------------------------------------------------------------ the runs
def _seed(engine: Any, count: int) -> None:
    """`count` reminders with one occurrence each, due in the last minute (what materialise would have made)."""
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as conn:
        conn.execute(delete(reminder_deliveries))
        conn.execute(delete(reminder_occurrences))
        conn.execute(delete(reminders))
        conn.execute(
            reminders.insert(),
            [
                {
                    "id": n + 1,
                    "conversation_id": f"+4477{n:08d}",
                    "channel": "whatsapp",
                    "kind": "medication",
                    "label": "metformin",
                    "dose": "500mg",
                    "rrule": "RRULE:FREQ=DAILY;COUNT=1",
                    "dtstart": to_db(now - dt.timedelta(seconds=60 * n / count + 1)),
                    "tz": "Europe/London",
                    "description": "once",
                    "status": "active",
                    "revision": 1,
                    "materialised_until": to_db(now),
                    "created_at": to_db(now),
                    "updated_at": to_db(now),
                }
                for n in range(count)
            ],
        )
        due = [now - dt.timedelta(seconds=60 * n / count + 1) for n in range(count)]
        conn.execute(
            reminder_occurrences.insert(),
            [
                {
                    "reminder_id": n + 1,
                    "revision": 1,
                    "due_at": to_db(due[n]),
                    "status": "pending",
                    "attempts": 0,
                    "idempotency_key": occurrence_key(n + 1, 1, due[n]),
                }
                for n in range(count)
            ],
        )


def _sent_in_db(engine: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM reminder_occurrences WHERE status = 'sent'")).scalar()


def _run_round(
    ctx: Any, db_url: str, rasa_url: str, workers: int, count: int, latency_ms: int
) -> Dict[str, Any]:
    engine = make_engine(db_url)
    _seed(engine, count)
    asyncio.run(_post(f"{rasa_url}/reset?latency_ms={latency_ms}"))
    go, results = ctx.Event(), ctx.Queue()
    processes = [
        ctx.Process(target=_dispatcher, args=(db_url, rasa_url, f"bench-{i}", go, results))
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    time.sleep(3)  # let every process import and connect before the clock starts
    started = time.monotonic()
    go.set()
    reports = [results.get(timeout=600) for _ in processes]
    elapsed = time.monotonic() - started
    for process in processes:
        process.join()
    stats = asyncio.run(_get(f"{rasa_url}/stats"))
    sent = _sent_in_db(engine)
    engine.dispose()
    return {
        "workers": workers,
        "latency_ms": latency_ms,
        "seconds": elapsed,
        "per_second": count / elapsed,
        "stats": stats,
        "sent_in_db": sent,
        "reports": reports,
    }


async def _get(url: str) -> Dict[str, Any]:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.json()


async def _post(url: str) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.post(url) as response:
        await response.read()


def run(postgres_url: Optional[str] = None, count: int = COUNT, latencies: tuple = LATENCIES_MS) -> str:
    postgres_url = resolve_postgres_url(postgres_url)
    ctx = multiprocessing.get_context("spawn")
    ports: "multiprocessing.Queue[int]" = ctx.Queue()
    standin = ctx.Process(target=_standin, args=(ports,), daemon=True)
    standin.start()
    rasa_url = f"http://127.0.0.1:{ports.get(timeout=60)}"
    rounds: List[Dict[str, Any]] = []
    try:
        with database(postgres_url) as (db_url, label):
            create_tables(make_engine(db_url))
            for latency_ms in latencies:
                for workers in (1, 2):
                    rounds.append(_run_round(ctx, db_url, rasa_url, workers, count, latency_ms))
    finally:
        standin.terminate()
        standin.join()
    lines = [
        f"{count:,} due medication reminders on {label}, each delivered over HTTP to a local stand-in for Rasa's "
        "trigger_intent (→ WhatsApp → Twilio) running in its own process; dispatchers in their own processes with "
        "default settings (batches of 100, 20 calls in flight). Duplicates are counted by the receiver, per "
        "idempotency key. With an instant stand-in the figure is the dispatcher's own cost (on 2 shared CPUs a "
        "second dispatcher competes with the first, the stand-in and the database for the same cores); with a "
        "100 ms answer time the calls in flight set the pace and a second dispatcher doubles them.",
        "",
        "| stand-in answers in | dispatchers | seconds | reminders / s | triggers received | distinct keys | "
        "duplicated keys | sent in DB | per dispatcher |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in rounds:
        stats = result["stats"]
        split = " / ".join(str(r["sent"]) for r in sorted(result["reports"], key=lambda r: r["worker"]))
        lines.append(
            f"| {result['latency_ms']} ms | {result['workers']} | {result['seconds']:.1f} | {result['per_second']:.0f} | "
            f"{stats['triggers']} | {stats['keys']} | {stats['duplicated_keys']} | {result['sent_in_db']} | "
            f"{split} |"
        )
    lines += [
        "",
        "Raw: `" + json.dumps([{k: v for k, v in r.items() if k != "reports"} for r in rounds]) + "`",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="PostgreSQL URL (a fresh schema is used and dropped)")
    parser.add_argument("--count", type=int, default=COUNT, help="due reminders per round")
    parser.add_argument(
        "--latency-ms",
        type=int,
        nargs="+",
        default=list(LATENCIES_MS),
        help="stand-in answer times to measure (default: 0 100)",
    )
    arguments = parser.parse_args()
    print(run(arguments.postgres, arguments.count, tuple(arguments.latency_ms)))
