"""Durable inbound (issue 17): a channel worker SIGKILLed in the middle of a turn, during a 200-message burst from 8
patients, loses no acknowledged message and answers none twice; another worker takes the turn over, in order.

Two worker processes share one channel database, as two Rasa replicas share PostgreSQL. Patient 0 writes to worker
A only, the others to worker B. When A's bot calls the action server for patient 0's 10th message, the test kills
A (SIGKILL) before the action answers: that turn has sent its first reply and not its second, and A holds patient
0's later messages, acknowledged but not yet handled. Messages that A can no longer acknowledge go to B, as a load
balancer fails over. Either worker may also be working on another patient when A dies (both take up any patient
whose head nobody holds), even mid-send: that patient's queued replies wait for A's outbox claim to lapse, and the
outbox relay (the dispatcher's, in production) sends them. The test waits on signals only (the stand-ins' requests,
the workers' exit), never a sleep.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Tuple
from urllib.parse import urlencode

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from carebot.channels.contacts import ContactStore
from carebot.channels.inbound import InboundQueue
from carebot.channels.signature import sign
from carebot.channels.twilio_sender import OutboxRelay, WhatsAppSender
from tests import loopback
from tests.channels.whatsapp_harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CLINIC_NUMBER,
    PUBLIC_URL,
    TEMPLATES,
    WEBHOOK_PATH,
    TwilioStandIn,
    inbound_form,
    make_settings,
)

ROOT = Path(__file__).resolve().parents[2]
PATIENTS = [f"+4477009{index:05d}" for index in range(8)]
MESSAGES_EACH = 25  # 200 in all
KILL_AT = 10  # patient 0's message whose turn is interrupted
LEASE_SECONDS = 1.5
WAIT_SECONDS = 90.0
pytestmark = pytest.mark.asyncio


class Worker:
    """A channel worker process (tests/channels/inbound_worker.py) and the port it serves on."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process, self.url = process, f"http://127.0.0.1:{port}"
        assert process.stdout is not None
        self._drain = asyncio.ensure_future(
            process.stdout.read()
        )  # its log, read so it never blocks on a pipe

    @classmethod
    async def start(cls, config: Dict[str, Any], backend_url: str) -> "Worker":
        env = {
            **os.environ,
            "WHATSAPP_RATE_PER_SECOND": "1000",
            "BACKEND_URL": backend_url,
            "PYTHONPATH": str(ROOT),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.channels.inbound_worker",
            json.dumps(config),
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert process.stdout is not None
        line = b""
        while not line.startswith(b"ready "):
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            assert line, "the worker exited before it was ready"
        return cls(process, int(line.split()[1]))

    async def post(self, session: aiohttp.ClientSession, form: Dict[str, str]) -> bool:
        """True when the worker acknowledged the message (204)."""
        headers = {
            "X-Twilio-Signature": sign(AUTH_TOKEN, PUBLIC_URL + WEBHOOK_PATH, form),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        try:
            async with session.post(
                self.url + WEBHOOK_PATH, data=urlencode(form), headers=headers
            ) as response:
                return response.status == 204
        except aiohttp.ClientError:
            return False

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
        await self.process.wait()
        await self._drain


class ActionServer:
    """The action server both workers call mid-turn; it kills worker A at the chosen turn and never answers it."""

    def __init__(self) -> None:
        self.victim: Worker | None = None
        self.killed = asyncio.Event()

    async def act(self, request: web.Request) -> web.Response:
        call = await request.json()
        victim = self.victim
        if victim and call["pid"] == victim.process.pid and call["text"] == f"m{KILL_AT}":
            victim.process.kill()  # SIGKILL: no clean-up, the turn is half done
            self.killed.set()
            await victim.process.wait()
            return web.json_response({"text": "never delivered"}, status=500)
        return web.json_response({"text": f"done {call['text']}"})

    async def no_case(self, _: web.Request) -> web.Response:
        """The backend's answer to the channel's question before each turn: no staff case is open."""
        return web.json_response({"paused": False})


@pytest_asyncio.fixture
async def twilio() -> AsyncIterator[TwilioStandIn]:
    stand_in = TwilioStandIn(auth_token=AUTH_TOKEN)
    await stand_in.start()
    yield stand_in
    await stand_in.stop()


async def answered(twilio: TwilioStandIn, expected: Dict[str, List[str]]) -> None:
    """Returns once every expected reply reached Twilio (woken by each POST the stand-in receives)."""
    while True:
        got = replies_by_patient(twilio)
        if all(set(bodies) <= set(got.get(phone, [])) for phone, bodies in expected.items()):
            return
        await twilio.wait_for(len(twilio.requests) + 1, timeout=WAIT_SECONDS)


def replies_by_patient(twilio: TwilioStandIn) -> Dict[str, List[str]]:
    replies: Dict[str, List[str]] = {}
    for accepted in twilio.accepted:
        replies.setdefault(accepted.to.removeprefix("whatsapp:"), []).append(accepted.body)
    return replies


async def burst(
    workers: Tuple[Worker, Worker], action: ActionServer
) -> Tuple[Dict[str, List[str]], List[str]]:
    """Each patient writes m0…m24 in order (the next once the last was acknowledged); patient 0 to A, the others
    to B, A's share going to B once A is gone. The acknowledged messages per patient, and which went to B late."""
    worker_a, worker_b = workers
    acknowledged: Dict[str, List[str]] = {phone: [] for phone in PATIENTS}
    failed_over: List[str] = []

    async def patient(session: aiohttp.ClientSession, phone: str) -> None:
        for index in range(MESSAGES_EACH):
            form = inbound_form(f"m{index}", phone)
            if phone == PATIENTS[0] and index == KILL_AT + 3:
                await action.killed.wait()  # A has acknowledged m10…m12 and dies handling m10
            if phone == PATIENTS[0] and not action.killed.is_set() and await worker_a.post(session, form):
                acknowledged[phone].append(form["Body"])
                continue
            if phone == PATIENTS[0]:
                failed_over.append(form["Body"])
            assert await worker_b.post(session, form), "the surviving worker refused a message"
            acknowledged[phone].append(form["Body"])

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(patient(session, phone) for phone in PATIENTS))
    return acknowledged, failed_over


async def test_a_worker_killed_mid_turn_loses_no_acknowledged_message_and_answers_none_twice(
    twilio: TwilioStandIn, tmp_path: Path
) -> None:
    action = ActionServer()
    action_app = web.Application()
    action_app.router.add_post("/act", action.act)
    action_app.router.add_get("/api/handoff/conversations/{conversation}", action.no_case)
    runner, action_url = await loopback.start(action_app)
    database = f"sqlite:///{tmp_path / 'whatsapp.db'}"
    config = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "whatsapp_number": CLINIC_NUMBER,
        "api_base_url": twilio.url,
        "webhook_url": PUBLIC_URL,
        "templates": TEMPLATES,
        "state_database_url": database,
        "inbound_lease_seconds": LEASE_SECONDS,
        "claim_lease_seconds": LEASE_SECONDS,
        "reconcile_after_seconds": LEASE_SECONDS,
        "action_url": f"{action_url}/act",
    }
    worker_a = await Worker.start(config, action_url)
    worker_b = await Worker.start(config, action_url)
    action.victim = worker_a
    relay_sender = WhatsAppSender(
        make_settings(twilio.url, claim_lease_seconds=LEASE_SECONDS, reconcile_after_seconds=LEASE_SECONDS),
        ContactStore(database),
    )
    relay_stop = asyncio.Event()
    relay = asyncio.ensure_future(
        OutboxRelay(relay_sender, poll_seconds=LEASE_SECONDS / 3).run_forever(relay_stop)
    )
    try:
        acknowledged, failed_over = await asyncio.wait_for(burst((worker_a, worker_b), action), WAIT_SECONDS)
        expected = {
            phone: [reply for body in bodies for reply in (f"got {body}", f"done {body}")]
            for phone, bodies in acknowledged.items()
        }
        await answered(twilio, expected)
    finally:
        relay_stop.set()
        await relay
        await relay_sender.close()
        await worker_b.stop()  # a clean stop: every turn it started has finished, nothing more will be sent
        await worker_a.stop()
        await runner.cleanup()

    assert worker_a.process.returncode == -signal.SIGKILL
    assert failed_over, "some of patient 0's messages reached the surviving worker only"
    assert sum(len(bodies) for bodies in acknowledged.values()) == len(PATIENTS) * MESSAGES_EACH
    assert replies_by_patient(twilio) == expected  # each reply once, each patient's in order
    assert InboundQueue(ContactStore(database).engine).waiting() == 0
