"""Issue 17: one Rasa replica of `make run-production` killed with SIGKILL in the middle of a 200-message WhatsApp
burst (8 patients through nginx, Twilio replaced by the recording stand-in): every acknowledged message is
answered, none twice, each patient's in order. The launcher starts the killed replica again; until then, and for
the turns it died in, the other replica takes over (the inbox's lease, carebot/channels/inbound.py).

Runs when TEST_POSTGRES_URL and TEST_REDIS_URL are set (a few minutes: the dead replica's leases must lapse).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Dict, List
from urllib.parse import urlencode

import aiohttp
import httpx
import pytest
import sqlalchemy as sa

from bench.whatsapp_replicas import channel_to_stand_in, reply_rows, settled
from carebot.channels.signature import sign
from carebot.launcher import RESTART_AFTER_SECONDS
from tests.channels.whatsapp_harness import (
    AUTH_TOKEN,
    PUBLIC_URL,
    WEBHOOK_PATH,
    TwilioStandIn,
    inbound_form,
)
from tests.e2e.test_production_stores import POSTGRES_URL, REDIS_URL, behind_nginx

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.skipif(not (POSTGRES_URL and REDIS_URL), reason="needs TEST_POSTGRES_URL and TEST_REDIS_URL"),
]
PATIENTS = [f"+4477007{index:05d}" for index in range(8)]
SAYINGS = ["hi", "what are your opening hours", "thanks", "where is the clinic"]
MESSAGES_EACH = 25
KILL_AFTER_REPLIES = 60
SETTLED_WITHIN_SECONDS = (
    420.0  # the dead replica's inbox lease (30 s), Rasa lock (60 s) and outbox lease (112 s)
)


async def burst(url: str) -> Dict[str, List[str]]:
    """Each patient's 25 messages in order, each sent once the last was acknowledged; the acknowledged MessageSids."""
    acknowledged: Dict[str, List[str]] = {phone: [] for phone in PATIENTS}

    async def patient(session: aiohttp.ClientSession, phone: str) -> None:
        for index in range(MESSAGES_EACH):
            form = inbound_form(SAYINGS[index % len(SAYINGS)], phone)
            headers = {
                "X-Twilio-Signature": sign(AUTH_TOKEN, PUBLIC_URL + WEBHOOK_PATH, form),
                "Content-Type": "application/x-www-form-urlencoded",
            }
            async with session.post(url + WEBHOOK_PATH, data=urlencode(form), headers=headers) as response:
                if response.status == 204:
                    acknowledged[phone].append(form["MessageSid"])

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(patient(session, phone) for phone in PATIENTS))
    return acknowledged


def replica_pid(rasa_port: int) -> int:
    found = subprocess.run(
        ["pgrep", "-f", f"carebot.rasa_server run .*--port {rasa_port} "], capture_output=True, text=True
    )
    [pid] = [int(line) for line in found.stdout.split()]
    return pid


async def replica_up_for(rasa_port: int, seconds: float) -> None:
    """Until the replica has run `seconds`: the launcher restarts a replica only if it was not crash-looping
    (dead within RESTART_AFTER_SECONDS of its start), so the one killed must have been up longer than that."""
    pid = replica_pid(rasa_port)
    while True:
        age = subprocess.run(["ps", "-o", "etimes=", "-p", str(pid)], capture_output=True, text=True)
        if float(age.stdout.strip() or 0) >= seconds:
            return
        await asyncio.sleep(0.5)


async def kill_a_replica_mid_burst(twilio: TwilioStandIn, rasa_port: int) -> int:
    """Once replies flow (both replicas busy with turns), SIGKILL the first replica; its pid."""
    await twilio.wait_for(KILL_AFTER_REPLIES, timeout=180)
    pid = replica_pid(rasa_port)
    os.kill(pid, signal.SIGKILL)
    return pid


@pytest.mark.asyncio
async def test_a_replica_killed_mid_burst_loses_and_repeats_no_acknowledged_message(tmp_path: Path) -> None:
    twilio = TwilioStandIn(auth_token=AUTH_TOKEN)
    await twilio.start()
    stack_run = behind_nginx(tmp_path, channel_to_stand_in(twilio.url, AUTH_TOKEN, PUBLIC_URL))
    stack = next(stack_run)
    try:
        url, tables = stack["urls"][0], sa.create_engine(stack["database"])
        await asyncio.wait_for(replica_up_for(stack["rasa_port"], RESTART_AFTER_SECONDS + 1), 120)
        killer = asyncio.ensure_future(kill_a_replica_mid_burst(twilio, stack["rasa_port"]))
        acknowledged = await asyncio.wait_for(burst(url), 300)
        await killer
        deadline = time.monotonic() + SETTLED_WITHIN_SECONDS
        while not settled(tables):  # a positive condition, read from the stores the stack writes
            assert time.monotonic() < deadline, "messages still unanswered"
            await asyncio.sleep(1)
        trackers = {
            phone: httpx.get(
                f"{url}/conversations/whatsapp:{phone}/tracker", params={"token": stack["token"]}, timeout=30
            ).json()
            for phone in PATIENTS
        }
        log = Path(stack["log"]).read_text()
    finally:
        next(stack_run, None)
        await twilio.stop()

    assert "rasa-1 exited with code -9; starting it again" in log
    assert (
        sum(len(sids) for sids in acknowledged.values()) == len(PATIENTS) * MESSAGES_EACH
    )  # nginx failed over
    replies = reply_rows(tables)
    tables.dispose()
    for phone, sids in acknowledged.items():
        seen = [e.get("message_id") for e in trackers[phone]["events"] if e["event"] == "user"]
        assert seen == sids, f"{phone}: each message once, in order"  # not lost, not run twice
        assert all(
            replies.get(sid) and {state for _, state in replies[sid]} == {"accepted"} for sid in sids
        ), phone
    per_marker = twilio.accepted_per_marker()
    assert per_marker and set(per_marker.values()) == {1}  # no reply reached Twilio twice
