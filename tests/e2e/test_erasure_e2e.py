"""Issue 14's erasure promise end to end: a patient with an appointment, a medicine reminder and a chat says
"delete my data" on WhatsApp, confirms, and afterwards no store holds their number or a word only they used
(SQLite files byte by byte; with TEST_POSTGRES_URL and TEST_REDIS_URL also PostgreSQL tables and Redis keys).
Only the audit log keeps entries, naming the patient by a keyed hash. Staff are told which time came free.

The whole stack runs as `make run` starts it (bench/stack.py), Twilio replaced by the recording stand-in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
import uuid
from pathlib import Path
from typing import Callable, Dict, List, Optional
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa

from bench.stack import CarebotStack, carebot_stack, start
from carebot.backend.audit import AuditLog
from carebot.backend.notices import notices
from carebot.privacy import sealing
from carebot.scheduling.client import SchedulingClient
from tests.channels.whatsapp_harness import (
    TwilioStandIn,
    clock,  # noqa: F401 - the stand-in's clock: fixture
    stack_env,
    twilio,  # noqa: F401 - twilio: fixture
)
from tests.e2e.test_reminders_e2e import model, patient_says, wait_for_body
from tests.security.store_search import found_in_databases, found_in_files, found_in_redis

pytestmark = pytest.mark.slow
ONLY_THEIRS = "Quorvelline"
POSTGRES_URL, REDIS_URL = os.environ.get("TEST_POSTGRES_URL"), os.environ.get("TEST_REDIS_URL")


def production_stores(stack: CarebotStack, var: Path) -> str:
    """Point every store of the stack at one fresh PostgreSQL database and Redis; the database URL."""
    name = f"carebot_erasure_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url, pg, redis = (
        str(sa.engine.make_url(POSTGRES_URL).set(database=name)),
        urlparse(POSTGRES_URL),
        urlparse(REDIS_URL),
    )
    endpoints = Path(stack.env["RASA_ENDPOINTS"])
    endpoints.write_text(
        endpoints.read_text().split("tracker_store:")[0]
        + (
            "tracker_store:\n  type: carebot.privacy.tracker_store.ProtectedSQLTrackerStore\n  dialect: postgresql\n"
            f"  url: {pg.hostname}\n  port: {pg.port or 5432}\n  db: {name}\n  username: {pg.username}\n"
            f"lock_store:\n  type: carebot.lock_store.AtomicRedisLockStore\n  url: {redis.hostname}\n"
            f"  port: {redis.port or 6379}\n  db: {(redis.path or '/0').strip('/') or '0'}\n  key_prefix: carebot\n"
        )
    )
    stack.env.update(
        {"CAREBOT_DATABASE_URL": url, "WHATSAPP_STATE_DATABASE_URL": url, "WHATSAPP_REDIS_URL": REDIS_URL}
    )
    return url


async def book_for(stack: CarebotStack, phone: str) -> str:
    """A patient record and an appointment next week, made through the backend's FHIR API."""
    async with SchedulingClient(stack.env["SCHEDULING_URL"], stack.backend_token) as scheduling:
        patient = await scheduling.create_patient(f"Ada {ONLY_THEIRS}", phone, dt.date(1980, 5, 1))
        start = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=7)
        [slot, *_] = await scheduling.search_free_slots("gp", start, start + dt.timedelta(days=7))
        booked = await scheduling.book(patient.id, slot.id, "gp")
    return booked.id


async def wait_until_clean(
    find: Callable[[], Dict[str, List[str]]], timeout: float = 20
) -> Dict[str, List[str]]:
    """The channel and the tracker store erase right after the last reply: wait for that, then report."""
    deadline = time.monotonic() + timeout
    while (found := await asyncio.to_thread(find)) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return found


@pytest.mark.parametrize(
    "stores",
    [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgres",
            id="postgres+redis",
            marks=pytest.mark.skipif(
                not (POSTGRES_URL and REDIS_URL), reason="needs TEST_POSTGRES_URL and TEST_REDIS_URL"
            ),
        ),
    ],
)
async def test_after_erasure_on_whatsapp_no_store_holds_the_patient(
    twilio: TwilioStandIn, tmp_path, stores, monkeypatch
) -> None:
    if not model().exists():
        pytest.fail(f"no trained model at {model()}: run `make train` (or set RASA_MODEL)")
    var = tmp_path / "var"
    stack = carebot_stack(var, model=model())
    stack.env.update(stack_env(twilio.url, var / "whatsapp.db"), TRACKER_ENCRYPTION_KEY=uuid.uuid4().hex)
    monkeypatch.setenv("TRACKER_ENCRYPTION_KEY", stack.env["TRACKER_ENCRYPTION_KEY"])  # the search decrypts
    sealing.cipher.cache_clear()
    database: Optional[str] = production_stores(stack, var) if stores == "postgres" else None
    phone = f"+4477009{uuid.uuid4().int % 100000:05d}"
    digits = phone.lstrip("+")
    try:
        await asyncio.to_thread(lambda: start(stack, tmp_path / "stack.log").wait_ready())
        await book_for(stack, phone)
        await patient_says(stack, phone, f"hello, {ONLY_THEIRS} here")
        await patient_says(stack, phone, "remind me to take ibuprofen every day at 9am")
        await wait_for_body(twilio, lambda body: "keep the names of your medicines" in body, timeout=30)
        await patient_says(stack, phone, "1")  # "1. Yes, I agree"
        await wait_for_body(twilio, lambda body: "remind you to take ibuprofen" in body, timeout=60)

        engines = [
            sa.create_engine(database or f"sqlite:///{var / name}")
            for name in ([None] if database else ["carebot.db", "whatsapp.db", "tracker.db"])
        ]
        needles = [ONLY_THEIRS, digits]
        before = found_in_databases(engines, needles)
        assert {"events", "sched_patient", "reminders", "whatsapp_contacts"} <= set(
            before
        )  # the search can find

        await patient_says(stack, phone, "delete my data")
        await wait_for_body(twilio, lambda body: "cancels your 1 upcoming appointment(s)" in body, timeout=30)
        await patient_says(stack, phone, "1")  # "1. Yes, erase it"
        await wait_for_body(
            twilio,
            lambda body: body.startswith(
                "Done: your details, reminders and our chat are "
                "erased, and 1 upcoming appointment(s) cancelled"
            ),
            timeout=30,
        )

        assert await wait_until_clean(lambda: found_in_databases(engines, needles)) == {}
        if database:
            assert found_in_redis(REDIS_URL, needles) == {}
        else:
            assert found_in_files(var.glob("*.db"), needles) == {}
        [(_, notice)] = notices(engines[0])
        assert notice.startswith("Cancelled: GP appointment with ") and digits not in notice
        [erased] = [
            e for e in AuditLog(engines[0]).entries() if e.action == "erase (own request on WhatsApp)"
        ]
        assert (
            erased.actor == "patient" and len(erased.patient) == 64 and erased.detail.startswith("deleted ")
        )
        for engine in engines:
            engine.dispose()
    finally:
        await asyncio.to_thread(stack.stop)
        sealing.cipher.cache_clear()
