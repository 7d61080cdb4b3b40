"""WhatsApp channel under load: N patients writing at once must all be acknowledged within 1 s and all answered,
and one MessageSid delivered 3 times (Twilio's retries) must be answered once.

Two ways to run it:
- `make bench` (section "whatsapp") calls `run()`: it starts its own Twilio stand-in and its own Carebot stack
  on free ports (bench/stack.py) with the channel's environment pointing at the stand-in.
- Against a stack you started yourself with `make run`:
      TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000 TWILIO_AUTH_TOKEN=load-test \
      TWILIO_WHATSAPP_NUMBER=+14155238886 TWILIO_API_BASE_URL=http://127.0.0.1:4011 \
      WHATSAPP_WEBHOOK_URL=http://127.0.0.1:5005 make run
      TWILIO_AUTH_TOKEN=load-test .venv/bin/python -m bench.whatsapp_load --rasa-url http://127.0.0.1:5005 \
          --standin-port 4011 --patients 50
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from carebot.channels.signature import sign
from carebot.simulator.service import simulator_env

WEBHOOK_PATH = "/webhooks/whatsapp/webhook"
CLINIC_NUMBER = "+14155238886"
ACCOUNT_SID = "AC" + "0" * 32
PATIENTS = 50
ACK_TARGET_S = 1.0
ANSWER_TIMEOUT_S = 180.0
QUIET_S = 3.0  # no further reply for this long = the duplicate conversation is finished
MESSAGE = "hello"


@dataclass
class StandIn:
    """Twilio's Messages endpoint on loopback: records who was sent what, answers 201."""

    sent: List[Tuple[float, str]] = field(default_factory=list)  # (monotonic time, To)

    async def handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.sent.append((time.monotonic(), str(form.get("To", ""))))
        return web.json_response({"sid": f"SM{uuid.uuid4().hex}", "status": "queued"}, status=201)

    def first_reply(self, phone: str) -> float:
        return min(t for t, to in self.sent if to == f"whatsapp:{phone}")

    def count(self, phone: str) -> int:
        return sum(1 for _, to in self.sent if to == f"whatsapp:{phone}")

    async def serve(self, port: int = 0) -> Tuple[web.AppRunner, int]:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


def patient_phone(n: int) -> str:
    return f"+447700900{n % 1000:03d}"


def inbound(phone: str, text: str, message_sid: Optional[str] = None) -> Dict[str, str]:
    return {
        "SmsMessageSid": "",
        "NumMedia": "0",
        "ProfileName": "Load Test",
        "WaId": phone.lstrip("+"),
        "Body": text,
        "To": f"whatsapp:{CLINIC_NUMBER}",
        "From": f"whatsapp:{phone}",
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "MessageSid": message_sid or f"SM{uuid.uuid4().hex}",
    }


def signed_headers(token: str, public_url: str, form: Dict[str, str]) -> Dict[str, str]:
    """The headers Twilio sends with a webhook of `form`, signed with `token` over the channel's public URL."""
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": sign(token, public_url.rstrip("/") + WEBHOOK_PATH, form),
    }


async def post_signed(
    session: aiohttp.ClientSession, rasa_url: str, public_url: str, token: str, form: Dict[str, str]
) -> Tuple[int, float]:
    """(HTTP status, seconds until the acknowledgement arrived)."""
    headers = signed_headers(token, public_url, form)
    started = time.monotonic()
    async with session.post(rasa_url + WEBHOOK_PATH, data=urlencode(form), headers=headers) as response:
        await response.read()
        return response.status, time.monotonic() - started


async def wait_until(condition, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


async def wait_quiet(stand_in: StandIn, seconds: float) -> None:
    """Until no message has been sent for `seconds`."""
    while True:
        last = stand_in.sent[-1][0] if stand_in.sent else 0.0
        idle = time.monotonic() - last
        if idle >= seconds:
            return
        await asyncio.sleep(seconds - idle)


@dataclass
class Figures:
    patients: int
    statuses: Dict[int, int]
    acks_s: List[float]
    all_answered_s: Optional[float]
    unanswered: int
    replies_per_patient: float
    reference_replies: int
    duplicate_replies: int


async def load(rasa_url: str, public_url: str, token: str, stand_in: StandIn, patients: int) -> Figures:
    offset = uuid.uuid4().int % 1000  # numbers from Ofcom's drama range, +44 7700 900000-900999, new per run
    phones = [patient_phone(offset + i) for i in range(patients)]
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
        started = time.monotonic()
        results = await asyncio.gather(
            *(post_signed(session, rasa_url, public_url, token, inbound(p, MESSAGE)) for p in phones)
        )
        answered = await wait_until(lambda: all(stand_in.count(p) for p in phones), ANSWER_TIMEOUT_S)
        all_answered_s = max(stand_in.first_reply(p) for p in phones) - started if answered else None
        await wait_quiet(stand_in, QUIET_S)
        replies = [stand_in.count(p) for p in phones]

        # Twilio retrying one message: same MessageSid 3 times, against one plain delivery for comparison.
        reference, duplicate = patient_phone(offset + patients), patient_phone(offset + patients + 1)
        await post_signed(session, rasa_url, public_url, token, inbound(reference, MESSAGE))
        repeated = inbound(duplicate, MESSAGE)
        await asyncio.gather(*(post_signed(session, rasa_url, public_url, token, repeated) for _ in range(3)))
        await wait_until(lambda: stand_in.count(reference) and stand_in.count(duplicate), ANSWER_TIMEOUT_S)
        await wait_quiet(stand_in, QUIET_S)
    statuses: Dict[int, int] = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    return Figures(
        patients,
        statuses,
        [s for _, s in results],
        all_answered_s,
        sum(1 for r in replies if not r),
        statistics.mean(replies),
        stand_in.count(reference),
        stand_in.count(duplicate),
    )


def render(figures: Figures) -> str:
    acks = sorted(figures.acks_s)
    p95 = acks[max(0, round(0.95 * len(acks)) - 1)]
    within = sum(1 for a in acks if a <= ACK_TARGET_S)
    dedup_ok = figures.duplicate_replies == figures.reference_replies > 0
    answered = (
        f"{figures.all_answered_s:.2f} s"
        if figures.all_answered_s is not None
        else f"not all within {ANSWER_TIMEOUT_S:.0f} s ({figures.unanswered} unanswered)"
    )
    return "\n".join(
        [
            f"{figures.patients} patients post a signed WhatsApp webhook at the same moment; replies go to a loopback",
            "Twilio stand-in. Target: every acknowledgement within 1 s, every patient answered, a MessageSid delivered",
            "3 times answered once.",
            "",
            "| figure | value |",
            "|---|---|",
            f"| HTTP statuses | {', '.join(f'{k}×{v}' for k, v in sorted(figures.statuses.items()))} |",
            f"| acknowledged within {ACK_TARGET_S:.0f} s | {within}/{len(acks)} |",
            f"| ack p50 / p95 / max | {statistics.median(acks) * 1000:.0f} / {p95 * 1000:.0f} / {acks[-1] * 1000:.0f} ms |",
            f"| all {figures.patients} answered after | {answered} |",
            f"| replies per patient (mean) | {figures.replies_per_patient:.2f} |",
            f"| same MessageSid ×3: replies vs one plain delivery | {figures.duplicate_replies} vs "
            f"{figures.reference_replies} ({'answered once' if dedup_ok else 'MISMATCH'}) |",
            "",
        ]
    )


async def _against_own_stack(patients: int) -> str:
    from bench.stack import available_services, carebot_stack, start

    stand_in = StandIn()
    runner, port = await stand_in.serve()
    token = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="carebot-whatsapp-bench-") as scratch:
        stack = carebot_stack(Path(scratch), services=available_services())
        stack.env.update(
            simulator_env(f"http://127.0.0.1:{port}", token, stack.rasa_url, Path(scratch) / "whatsapp.db"),
            WHATSAPP_REDIS_URL="",
        )
        start(stack, Path(scratch) / "stack.log")
        try:
            await asyncio.get_running_loop().run_in_executor(None, stack.wait_ready)
            figures = await load(stack.rasa_url, stack.rasa_url, token, stand_in, patients)
        finally:
            stack.stop()
            await runner.cleanup()
    return render(figures)


def run() -> str:
    """The `make bench` section: own stand-in, own stack."""
    return asyncio.run(_against_own_stack(PATIENTS))


async def _against_running(rasa_url: str, public_url: str, token: str, port: int, patients: int) -> str:
    stand_in = StandIn()
    runner, _ = await stand_in.serve(port)
    try:
        return render(await load(rasa_url, public_url, token, stand_in, patients))
    finally:
        await runner.cleanup()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.whatsapp_load", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--rasa-url", help="a running Carebot (e.g. http://127.0.0.1:5005); omit to start one"
    )
    parser.add_argument("--public-url", help="WHATSAPP_WEBHOOK_URL of that Carebot (default: --rasa-url)")
    parser.add_argument(
        "--standin-port", type=int, default=4011, help="port of TWILIO_API_BASE_URL (default 4011)"
    )
    parser.add_argument("--patients", type=int, default=PATIENTS)
    args = parser.parse_args(argv)
    if args.rasa_url is None:
        print(asyncio.run(_against_own_stack(args.patients)))
        return 0
    token = os.environ.get("TWILIO_AUTH_TOKEN")
    if not token:
        print(
            "set TWILIO_AUTH_TOKEN to the value the running Carebot uses (it signs the webhooks)",
            file=sys.stderr,
        )
        return 2
    print(
        asyncio.run(
            _against_running(
                args.rasa_url.rstrip("/"),
                args.public_url or args.rasa_url,
                token,
                args.standin_port,
                args.patients,
            )
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
