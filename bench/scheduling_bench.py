"""Scheduling backend speed: free-slot search latency and booking throughput, over real HTTP on loopback.

Setup: 10 practitioners × 8 weeks of 15-minute slots (Mon–Sat clinic hours), the backend app on an ephemeral
port, the actions' own `SchedulingClient`. Search: the query the booking flow sends (free slots for a service in a
one-week window, first 5, with their schedules), at random days and services. Bookings: 8 concurrent clients each
booking distinct free slots. PostgreSQL runs when `BENCH_POSTGRES_URL` (or `TEST_POSTGRES_URL`) is set or
`--postgres URL` is given; it uses a fresh schema that is dropped afterwards.
Run alone with `python -m bench.scheduling_bench [--postgres URL]`, or as the `scheduling` section of `make bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import List, Optional, Tuple

from aiohttp import web
from sqlalchemy import create_engine, func, select, text

from carebot.backend.db import make_engine
from carebot.clinic import Clinic, load_clinic
from carebot.scheduling import tables as t
from carebot.scheduling.client import SchedulingClient
from carebot.scheduling.slots import regenerate_slots, utcnow
from carebot.server.app import create_app

TOKEN = "bench-token"
SEARCHES = 300
BOOKINGS = 400
CLIENTS = 8
SEARCH_TARGET_MS = 20.0
HOURS = '["08:00-12:30", "13:30-18:30"]'
CLINIC_YAML = f"""
clinic: {{name: Bench Clinic, timezone: Europe/London, phone: "+44 20 0000 0000", address: 1 Bench Street}}
emergency: {{number: "999", crisis_line: {{name: Samaritans, number: "116 123"}}}}
booking: {{slot_minutes: 15, horizon_weeks: 8, offer_count: 5}}
opening_hours: {{monday: {HOURS}, tuesday: {HOURS}, wednesday: {HOURS}, thursday: {HOURS}, friday: {HOURS},
                saturday: ["09:00-12:00"], sunday: []}}
services:
  - {{id: gp, name: GP appointment, duration_minutes: 15}}
  - {{id: nurse, name: Practice nurse, duration_minutes: 15}}
  - {{id: physio, name: Physiotherapy, duration_minutes: 30}}
providers:
""" + "".join(
    f"  - {{id: p{n}, name: Practitioner {n}, services: [{['gp', 'nurse', 'physio, gp'][n % 3]}]}}\n"
    for n in range(10)
)


def _clinic(directory: Path) -> Clinic:
    path = directory / "clinic.yml"
    path.write_text(CLINIC_YAML, encoding="utf-8")
    return load_clinic(path)


async def _serve(engine, clinic: Clinic) -> Tuple[web.AppRunner, str]:
    runner = web.AppRunner(create_app(engine, clinic, TOKEN), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/fhir"


def _p95(values: List[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


async def _search_latencies(url: str, clinic: Clinic) -> List[float]:
    rng = random.Random(7)
    now = dt.datetime.now(dt.timezone.utc)
    timings = []
    async with SchedulingClient(url, TOKEN, clinic=clinic) as client:
        await client.search_free_slots("gp", now, now + dt.timedelta(days=7))  # warm the connection
        for _ in range(SEARCHES):
            start = now + dt.timedelta(days=rng.randint(0, 49), hours=rng.randint(0, 23))
            service = rng.choice(["gp", "nurse", "physio"])
            began = time.perf_counter()
            slots = await client.search_free_slots(service, start, start + dt.timedelta(days=7), count=5)
            timings.append((time.perf_counter() - began) * 1000)
            assert slots, "the benchmark clinic should always have free slots"
    return timings


async def _booking_rate(url: str, clinic: Clinic, engine) -> Tuple[float, int]:
    with engine.connect() as conn:
        free = [
            row.id
            for row in conn.execute(
                select(t.slot.c.id)
                .where(
                    (t.slot.c.status == "free")
                    & (t.slot.c.start > utcnow() + dt.timedelta(hours=2))
                    & t.slot.c.practitioner_id.in_(["p0", "p3", "p6", "p9"])
                )
                .order_by(t.slot.c.start)
                .limit(BOOKINGS)
            )
        ]
    clients = [SchedulingClient(url, TOKEN, clinic=clinic) for _ in range(CLIENTS)]
    try:
        patients = [
            await c.create_patient(f"Bench Patient{n}", f"+4477009{n:05d}") for n, c in enumerate(clients)
        ]

        async def worker(index: int) -> int:
            booked = 0
            for slot_id in free[index::CLIENTS]:
                await clients[index].book(patients[index].id, slot_id, "gp")
                booked += 1
            return booked

        began = time.perf_counter()
        done = sum(await asyncio.gather(*(worker(i) for i in range(CLIENTS))))
        elapsed = time.perf_counter() - began
    finally:
        for client in clients:
            await client.close()
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(t.appointment)).scalar_one()
    assert stored == done == len(free), "every booking must be stored exactly once"
    return done / elapsed, done


async def _measure(
    url_for_db: str, clinic: Clinic, with_search: bool
) -> Tuple[Optional[List[float]], float, int, int]:
    engine = make_engine(url_for_db)
    try:
        runner, url = await _serve(engine, clinic)
        try:
            regenerate_slots(engine, clinic)
            with engine.connect() as conn:
                slots = conn.execute(select(func.count()).select_from(t.slot)).scalar_one()
            latencies = await _search_latencies(url, clinic) if with_search else None
            rate, booked = await _booking_rate(url, clinic, engine)
        finally:
            await runner.cleanup()
    finally:
        engine.dispose()
    return latencies, rate, booked, slots


async def _run(postgres_url: Optional[str]) -> str:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clinic = _clinic(Path(tmp))
        latencies, rate, booked, slots = await _measure(f"sqlite:///{tmp}/bench.db", clinic, with_search=True)
        assert latencies is not None
        verdict = "meets" if _p95(latencies) <= SEARCH_TARGET_MS else "MISSES"
        rows.append(
            f"| free-slot search, SQLite ({SEARCHES} queries) | p50 {statistics.median(latencies):.1f} ms, "
            f"p95 {_p95(latencies):.1f} ms, max {max(latencies):.1f} ms | ≤ {SEARCH_TARGET_MS:.0f} ms p95 "
            f"({verdict}) |"
        )
        rows.append(
            f"| bookings, SQLite, {CLIENTS} concurrent clients ({booked} bookings) | {rate:.0f} /s | — |"
        )
        if postgres_url:
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(postgres_url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            try:
                separator = "&" if "?" in postgres_url else "?"
                _, pg_rate, pg_booked, _ = await _measure(
                    f"{postgres_url}{separator}options=-csearch_path%3D{schema}", clinic, with_search=False
                )
                rows.append(
                    f"| bookings, PostgreSQL, {CLIENTS} concurrent clients ({pg_booked} bookings) "
                    f"| {pg_rate:.0f} /s | — |"
                )
            finally:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
        else:
            rows.append(
                "| bookings, PostgreSQL | not run (set BENCH_POSTGRES_URL or TEST_POSTGRES_URL) | — |"
            )
    return "\n".join(
        [
            "### Scheduling backend (`carebot/scheduling`, over HTTP on loopback with `SchedulingClient`)\n",
            f"{slots} slots: 10 practitioners × 8 weeks of 15-minute slots. Search = free slots for a service in a "
            "one-week window at a random day, first 5, with `_include=Slot:schedule`. Bookings = each client books "
            "its own distinct free slots one after another (conditional UPDATE + insert, one transaction each).\n",
            "| measure | result | target |",
            "|---|---|---|",
            *rows,
        ]
    )


def run(postgres_url: Optional[str] = None) -> str:
    return asyncio.run(
        _run(postgres_url or os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL"))
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="PostgreSQL URL for the booking figure (a fresh schema is used)")
    print(run(parser.parse_args().postgres))
