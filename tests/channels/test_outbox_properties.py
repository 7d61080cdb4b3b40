"""The outbox's promises at small scale, through the same scenarios `make bench` runs at full scale
(bench/outbox_bench.py): a Twilio failing 20% of POSTs, a Twilio down for 10 (simulated) minutes, and one rate limit
shared by two relays. SQLite by default; PostgreSQL too when TEST_POSTGRES_URL is set (`db_url`, a fresh schema);
Redis pacing when TEST_REDIS_URL is set."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import List

import pytest

from bench import outbox_bench
from carebot.channels.contacts import ContactStore
from carebot.channels.outbox import OutboxStore
from carebot.channels.pacing import DatabaseSlots, Pacer, RedisSlots
from carebot.channels.twilio_sender import OutboxRelay, TwilioSettings, WhatsAppSender
from carebot.simulator.twilio_standin import TwilioStandIn

pytestmark = pytest.mark.asyncio


async def test_a_twilio_failing_20_percent_loses_and_duplicates_nothing(db_url: str) -> None:
    figures = await outbox_bench.faults(db_url, count=120, doomed_every=40)
    assert sum(figures["failures injected"].values()) > 10  # the faults really happened
    assert figures["failures injected"].get("accept_then_hang", 0) > 0
    assert figures["duplicates"] == 0 and figures["lost (neither)"] == 0
    assert figures["accepted"] == figures["accepted exactly once"] == 117
    # Only the numbers Twilio always refuses are dead letters, each with its reason, after its deadline.
    assert figures["dead letters"] == figures["dead letters with reason, after deadline"] == 3
    assert figures["dead letters Twilio accepted anyway"] == 0
    assert figures["delivered (status callback)"] == 117


async def test_ten_minutes_of_twilio_down_then_back_drains_everything_once_within_the_rate(
    db_url: str,
) -> None:
    figures = await outbox_bench.outage(db_url, count=60, rate=30.0)
    assert figures["POSTs refused while down"] >= 60  # every reply met the outage
    assert figures["states"] == {"accepted": 60}
    assert figures["duplicates"] == 0 and figures["lost"] == 0
    assert figures["minutes from the first reply to the last accepted"] >= 10
    assert figures["max sends in any second (at the sender)"] <= 30


@pytest.mark.parametrize("store", ["database", "redis"])
async def test_two_relays_sharing_a_limit_never_send_more_than_it_in_a_second(
    tmp_path: Path, store: str
) -> None:
    redis_url = os.environ.get("TEST_REDIS_URL", "").rsplit("/", 1)[0] + "/14"
    if store == "redis" and not os.environ.get("TEST_REDIS_URL"):
        pytest.skip("TEST_REDIS_URL not set")
    url, rate, count = f"sqlite:///{tmp_path / 'whatsapp.db'}", 20.0, 50
    twilio = TwilioStandIn()
    await twilio.start()
    sends: List[float] = []
    relays = []
    for _ in range(2):  # two senders with their own engine, pacer and relay: they share only the stores
        contacts = ContactStore(url)
        slots = RedisSlots(redis_url) if store == "redis" else DatabaseSlots(contacts.engine)
        pacer = Pacer(outbox_bench.CLINIC_NUMBER, rate, slots)
        outbox_bench.note_sends(pacer, sends)
        settings = TwilioSettings(
            account_sid=outbox_bench.ACCOUNT_SID,
            auth_token=outbox_bench.AUTH_TOKEN,
            whatsapp_number=outbox_bench.CLINIC_NUMBER,
            api_base_url=twilio.url,
            rate_per_second=rate,
        )
        relays.append(OutboxRelay(WhatsAppSender(settings, contacts, pacer=pacer), concurrency=10))
    outbox = OutboxStore(relays[0].sender.contacts.engine)
    for n in range(count):
        relays[0].sender.contacts.record_inbound(outbox_bench.phone(n))
        outbox.enqueue(outbox_bench.phone(n), "reply", text=f"Message {n}")
    try:
        await asyncio.gather(*(relay.run_once() for relay in relays))
    finally:
        for relay in relays:
            await relay.sender.close()
        await twilio.stop()
    assert outbox.counts() == {"accepted": count}
    assert sorted(a.to for a in twilio.accepted) == sorted(
        f"whatsapp:{outbox_bench.phone(n)}" for n in range(count)
    )
    assert outbox_bench.max_in_any_second(sends) <= rate
    assert max(sends) - min(sends) >= (count - 1) / rate  # spread, not dropped


def test_max_in_any_second_counts_a_sliding_window() -> None:
    assert outbox_bench.max_in_any_second([0.0, 0.5, 0.99, 1.0, 1.2]) == 4  # [0.5, 1.5)
    assert outbox_bench.max_in_any_second([0.0, 1.0, 2.0]) == 1  # one second apart: never in one window
    assert outbox_bench.max_in_any_second([]) == 0
