"""Two dispatchers (separate connection pools, as two processes would have) draining the same 500 due reminders:
each reaches the bot exactly once. On PostgreSQL this exercises FOR UPDATE SKIP LOCKED; on SQLite the single
writer lock."""

from __future__ import annotations

import asyncio
import datetime as dt

from aiohttp.test_utils import TestServer
from sqlalchemy.engine import Engine

from carebot.backend.db import make_engine
from carebot.rasa_api import RasaAPI
from carebot.reminders.dispatcher import Dispatcher, DispatcherSettings, RasaDeliverer
from carebot.reminders.store import ReminderStore

from .conftest import LONDON, UTC, Clock
from .rasa_standin import RasaStandIn

T0 = dt.datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def make_due(engine: Engine, reminders: int, each: int) -> int:
    """`reminders` reminders every 15 minutes, `each` occurrences apiece due by T0 + each*15 min."""
    store = ReminderStore(engine, horizon=dt.timedelta(minutes=15 * each))
    for number in range(reminders):
        store.create(
            f"+4477009{number:05d}",
            f"medicine {number}",
            "RRULE:FREQ=MINUTELY;INTERVAL=15",
            T0 + dt.timedelta(minutes=15),
            LONDON,
            now=T0,
        )
    return reminders * each


async def test_two_dispatchers_deliver_each_occurrence_exactly_once(engine):
    due = make_due(engine, reminders=50, each=10)
    standin = RasaStandIn()
    server = TestServer(standin.app(), host="127.0.0.1")
    await server.start_server()
    clock = Clock(T0 + dt.timedelta(minutes=15 * 10, seconds=1))
    settings = DispatcherSettings(grace=dt.timedelta(days=1), batch_size=20, concurrency=10)
    engines = [make_engine(str(engine.url.render_as_string(hide_password=False))) for _ in range(2)]
    apis = [RasaAPI(str(server.make_url("")), token=standin.token) for _ in range(2)]
    workers = [
        Dispatcher(
            ReminderStore(e),
            RasaDeliverer(api),
            settings,
            is_opted_out=lambda c: False,
            worker_id=f"worker-{i}",
            clock=clock,
        )
        for i, (e, api) in enumerate(zip(engines, apis))
    ]
    try:
        reports = await asyncio.gather(*(w.drain() for w in workers))
    finally:
        for api in apis:
            await api.close()
        for e in engines:
            e.dispose()
        await server.close()
    assert len(standin.per_key) == due == 500
    assert set(standin.per_key.values()) == {1}  # no key delivered twice
    assert sum(r.sent for r in reports) == 500
    assert all(r.sent > 0 for r in reports)  # both workers took part
    store = ReminderStore(engine)
    assert store.claim("checker", clock.now, 1000, dt.timedelta(seconds=60)) == []
