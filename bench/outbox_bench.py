"""The WhatsApp outbox against a Twilio stand-in that fails (carebot/simulator/twilio_standin.py): three scenarios, each
checking the outbox's promises rather than only timing it.

1. faults: N due reminders written as the channel writes them, Twilio failing 20% of POSTs (500, 503, 429, and
   timeouts after accepting, in equal shares) and some numbers always (503): every reminder is accepted exactly
   once (one SID per reminder at the stand-in, none lost), or, for the always-failing numbers, a dead letter with
   its reason after its deadline.
2. outage: Twilio down for 10 minutes of a simulated clock while N replies are written, then back: nothing lost or
   duplicated, and the backlog drains at the configured rate (no one-second window above it).
3. pacing: the limit at 20 messages/s and two relay processes sharing one outbox (and one pacing slot, in the
   database or in Redis): no one-second window at the stand-in holds more than 20 POSTs.
4. tap-to-answer: N offers of three buttons inside the window cost what N numbered texts cost, with one Content API
   call for all of them (the template is made once and then read from memory).

Retries, deadlines and reconciliation run on a simulated clock (real time plus an offset the scenario advances when
nothing is due), so minutes of backoff cost no waiting; pacing and timeouts run in real time, because those are
what the figures measure. `tests/channels/test_outbox_properties.py` runs the same scenarios with small numbers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from aiohttp import web

from carebot.channels.buttons import Button, render_numbered, tap_offer
from carebot.channels.contacts import ContactStore
from carebot.channels.outbox import OutboxStore
from carebot.channels.pacing import DatabaseSlots, Pacer, RedisSlots
from carebot.channels.signature import is_valid_signature, parse_form
from carebot.channels.twilio_sender import OutboxRelay, TwilioSettings, WhatsAppSender
from carebot.clock import utc_now
from carebot.simulator.twilio_standin import TwilioStandIn

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "outbox-bench"
CLINIC_NUMBER = "+14155238886"
TEMPLATES = {"conversation_reopen": "HX" + "a" * 32, "medication_reminder": "HX" + "b" * 32}
STATUS_PATH = "/webhooks/whatsapp/status"
GRACE = dt.timedelta(minutes=120)


class SimClock:
    """Real time plus an offset: retries and deadlines jump ahead, the pacer's real seconds stay real."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return utc_now() + self.offset

    def advance_to(self, moment: dt.datetime) -> None:
        self.offset += max(dt.timedelta(), moment - self())


def phone(n: int) -> str:
    return f"+4477{n:08d}"


def max_in_any_second(times: Sequence[float]) -> int:
    """The most POSTs inside any one-second window [t, t+1) of the given monotonic times."""
    ordered, best, start = sorted(times), 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


@dataclass
class Rig:
    """A stand-in, a status-callback receiver that records statuses in the outbox, and a sender."""

    twilio: TwilioStandIn
    sender: WhatsAppSender
    clock: SimClock
    runner: web.AppRunner
    sends: List[float] = field(default_factory=list)

    async def close(self) -> None:
        await self.twilio.stop()
        await self.sender.close()
        await self.runner.cleanup()
        self.sender.contacts.engine.dispose()


async def rig(database_url: str, rate: float, fail_rate: float = 0.0, doomed: Sequence[str] = ()) -> Rig:
    clock = SimClock()
    receiver = web.Application()
    receiver_runner = web.AppRunner(receiver, access_log=None)
    contacts = ContactStore(database_url)
    outbox = OutboxStore(contacts.engine)

    async def status(request: web.Request) -> web.Response:
        """What the channel's status route does with a callback (carebot/channels/whatsapp.py `_handle_status`)."""
        form = parse_form((await request.read()).decode())
        url = public + request.path_qs
        if not is_valid_signature(AUTH_TOKEN, url, form, request.headers.get("X-Twilio-Signature")):
            return web.Response(status=403)
        await asyncio.to_thread(
            outbox.record_status,
            form.first("MessageSid"),
            form.first("MessageStatus"),
            None,
            request.query.get("outbox", ""),
            clock(),
        )
        return web.Response(status=204)

    receiver.router.add_post(STATUS_PATH, status)
    await receiver_runner.setup()
    site = web.TCPSite(receiver_runner, "127.0.0.1", 0)
    await site.start()
    public = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    twilio = TwilioStandIn(
        fail_rate=fail_rate,
        clock=clock,
        callbacks_to=public,
        auth_token=AUTH_TOKEN,
        hang_seconds=2.0,
        always_fail={f"whatsapp:{p}" for p in doomed},
    )
    await twilio.start()
    settings = TwilioSettings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        whatsapp_number=CLINIC_NUMBER,
        api_base_url=twilio.url,
        webhook_url=public,
        templates=TEMPLATES,
        timeout_seconds=0.5,
        backoff_seconds=0.02,
        max_backoff_seconds=0.1,
        rate_per_second=rate,
    )
    pacer = Pacer(CLINIC_NUMBER, rate, DatabaseSlots(contacts.engine))
    sender = WhatsAppSender(settings, contacts, clock=clock, pacer=pacer)
    rig_ = Rig(twilio, sender, clock, receiver_runner)
    note_sends(pacer, rig_.sends)
    return rig_


def note_sends(pacer: Pacer, sends: List[float]) -> None:
    """Record the moment the pacer releases each POST (wall clock): what the limiter controls, before the
    stand-in's own scheduling on a shared machine adds jitter to the arrival times."""
    released = pacer.wait

    async def wait_and_note() -> float:
        slot = await released()
        sends.append(time.time())
        return slot

    pacer.wait = wait_and_note  # type: ignore[method-assign]


async def write_all(
    sender: WhatsAppSender, messages: Sequence[Dict[str, Any]], concurrency: int = 50
) -> None:
    """Each message sent as its writer sends it (written to the outbox, then tried at once), `concurrency` at a
    time, like replicas of the channel handling many conversations."""
    gate = asyncio.Semaphore(concurrency)

    async def one(message: Dict[str, Any]) -> None:
        async with gate:
            await sender.send(**message)

    await asyncio.gather(*(one(m) for m in messages))


async def settle(rig_: Rig, relay: OutboxRelay, on_tick: Any = None) -> None:
    """Run the relay until nothing is left to send, jumping the clock to the next due message when idle."""
    outbox = rig_.sender.outbox
    while True:
        if on_tick is not None:
            on_tick()
        busy = await relay.run_once()
        if busy:
            continue
        await rig_.twilio.callbacks_done()
        due = await asyncio.to_thread(outbox.next_due)
        if due is None:
            return
        wake = max(due, relay.probe_until or due) + dt.timedelta(milliseconds=1)
        rig_.clock.advance_to(wake)


def reminder(n: int, now: dt.datetime) -> Dict[str, Any]:
    return dict(
        to=phone(n),
        text=f"It is time for your medicine number {n}. Reply 1 when taken.",
        template="medication_reminder",
        variables={"1": f"medicine {n}", "2": "08:00"},
        kind="medication_reminder",
        key=f"occurrence-{n}",
        deadline=now + GRACE,
    )


async def faults(
    database_url: str, count: int, fail_rate: float = 0.2, doomed_every: int = 100
) -> Dict[str, Any]:
    """Scenario 1; returns the figures and the checks (see the module docstring)."""
    doomed = [phone(n) for n in range(0, count, doomed_every)] if doomed_every else []
    rig_ = await rig(database_url, rate=1000.0, fail_rate=fail_rate, doomed=doomed)
    started, now = time.monotonic(), rig_.clock()
    for n in range(0, count, 2):  # half inside the 24-hour window (text), half outside (the template)
        rig_.sender.contacts.record_inbound(phone(n), now)
    try:
        await write_all(rig_.sender, [reminder(n, now) for n in range(count)])
        await settle(rig_, OutboxRelay(rig_.sender, concurrency=50))
        rows = await asyncio.to_thread(
            rig_.sender.outbox.states_by_key, [f"occurrence-{n}" for n in range(count)]
        )
        per_marker = rig_.twilio.accepted_per_marker()
        accepted = [m for m in rows.values() if m.state == "accepted"]
        dead = [m for m in rows.values() if m.state == "dead"]
        sid_of = {a.marker: a.sid for a in rig_.twilio.accepted}
        recorded = set(await asyncio.to_thread(rig_.sender.outbox.known_sids, list(sid_of.values())))
        once = sum(
            1 for m in accepted if per_marker.get(f"{m.id}.0") == 1 and sid_of[f"{m.id}.0"] in recorded
        )
        return {
            "reminders": count,
            "posts": len(rig_.twilio.requests),
            "failures injected": dict(sorted(rig_.twilio.failures.items())),
            "accepted": len(accepted),
            "accepted exactly once": once,
            "duplicates": sum(1 for n in per_marker.values() if n > 1),
            "dead letters": len(dead),
            "dead letters with reason, after deadline": sum(
                1 for m in dead if m.error and (m.settled_at or m.deadline_at) >= m.deadline_at
            ),
            "dead letters Twilio accepted anyway": sum(1 for m in dead if per_marker.get(f"{m.id}.0")),
            "always-failing numbers": len(doomed),
            "lost (neither)": count - len(accepted) - len(dead),
            "delivered (status callback)": sum(1 for m in accepted if m.delivery_status == "delivered"),
            "simulated minutes": round(rig_.clock.offset.total_seconds() / 60, 1),
            "wall seconds": round(time.monotonic() - started, 1),
        }
    finally:
        await rig_.close()


async def outage(database_url: str, count: int, rate: float, down_seconds: float = 600) -> Dict[str, Any]:
    """Scenario 2: replies written while Twilio is down, then the drain after it is back."""
    rig_ = await rig(database_url, rate=rate)
    now = rig_.clock()
    for n in range(count):
        rig_.sender.contacts.record_inbound(phone(n), now)
    back_at = now + dt.timedelta(seconds=down_seconds)
    rig_.twilio.down = True

    def reopen_when_due() -> None:
        if rig_.twilio.down and rig_.clock() >= back_at:
            rig_.twilio.down = False

    try:
        await write_all(
            rig_.sender, [dict(to=phone(n), text=f"Answer {n}", kind="reply") for n in range(count)]
        )
        await settle(rig_, OutboxRelay(rig_.sender, concurrency=50), on_tick=reopen_when_due)
        times = [t for t, ok in zip(rig_.twilio.posted_at, rig_.twilio.ok) if ok]
        drained = rig_.sends[-len(times) :] if times else []  # the accepted POSTs are the last ones released
        per_marker = rig_.twilio.accepted_per_marker()
        counts = await asyncio.to_thread(rig_.sender.outbox.counts)
        span = max(times) - min(times) if len(times) > 1 else 0.0
        return {
            "replies": count,
            "down (simulated s)": down_seconds,
            "POSTs refused while down": rig_.twilio.ok.count(False),
            "accepted": len(rig_.twilio.accepted),
            "duplicates": sum(1 for n in per_marker.values() if n > 1),
            "lost": count - counts.get("accepted", 0),
            "states": counts,
            "configured rate (msg/s)": rate,
            "drain rate (msg/s)": round((len(times) - 1) / span, 1) if span else 0.0,
            "max sends in any second (at the sender)": max_in_any_second(drained),
            "max POSTs in any second (arrival at the stand-in)": max_in_any_second(times),
            "minutes from the first reply to the last accepted": round(
                (rig_.clock() - now).total_seconds() / 60, 1
            ),
        }
    finally:
        await rig_.close()


def _relay_process(database_url: str, twilio_url: str, rate: float, redis_url: str, done: Any) -> None:
    """One dispatcher process: its own engine, sender and relay; shares only the database (and Redis)."""

    async def main() -> None:
        contacts = ContactStore(database_url)
        slots = RedisSlots(redis_url) if redis_url else DatabaseSlots(contacts.engine)
        settings = TwilioSettings(
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
            whatsapp_number=CLINIC_NUMBER,
            api_base_url=twilio_url,
            templates=TEMPLATES,
            timeout_seconds=5.0,
            rate_per_second=rate,
        )
        pacer = Pacer(CLINIC_NUMBER, rate, slots)
        sender = WhatsAppSender(settings, contacts, pacer=pacer)
        note_sends(pacer, sends)
        relay = OutboxRelay(sender, concurrency=10)
        while await relay.run_once() or await asyncio.to_thread(sender.outbox.next_due):
            await asyncio.sleep(0.05)
        await sender.close()

    sends: List[float] = []
    asyncio.run(main())
    done.put(sends)


async def pacing(database_url: str, count: int, rate: float = 20.0, redis_url: str = "") -> Dict[str, Any]:
    """Scenario 3: `count` messages already in the outbox, two relay processes sending them."""
    twilio = TwilioStandIn()
    await twilio.start()
    contacts = ContactStore(database_url)
    now = utc_now()
    for n in range(count):
        contacts.record_inbound(phone(n), now)
        OutboxStore(contacts.engine).enqueue(phone(n), "reply", text=f"Message {n}", now=now)
    context = multiprocessing.get_context("spawn")
    done = context.Queue()
    started = time.monotonic()
    workers = [
        context.Process(target=_relay_process, args=(database_url, twilio.url, rate, redis_url, done))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    try:
        sends = await asyncio.to_thread(lambda: [done.get(timeout=count / rate * 3 + 60) for _ in workers])
    finally:
        for worker in workers:
            worker.join(timeout=10)
        await twilio.stop()
    counts = OutboxStore(contacts.engine).counts()
    contacts.engine.dispose()
    return {
        "messages": count,
        "dispatchers": 2,
        "limit (msg/s)": rate,
        "slots in": "Redis" if redis_url else "the database",
        "accepted": counts.get("accepted", 0),
        "duplicates": count - len({a.to for a in twilio.accepted}) if len(twilio.accepted) >= count else "-",
        "max sends in any second (at the senders)": max_in_any_second([t for one in sends for t in one]),
        "max POSTs in any second (arrival at the stand-in)": max_in_any_second(twilio.posted_at),
        "mean rate (msg/s)": round(count / (max(twilio.posted_at) - min(twilio.posted_at)), 1),
        "wall seconds": round(time.monotonic() - started, 1),
    }


async def tap(database_url: str, count: int) -> Dict[str, Any]:
    """`count` numbered texts, then `count` tap-to-answer offers, each to a patient inside the window, one at a time
    as replies are sent; milliseconds per message (write, route, POST, accept) and Content API calls."""
    rig_ = await rig(database_url, rate=10_000.0)
    buttons = [Button("Tuesday 10:00", "/t"), Button("Wednesday 14:30", "/w"), Button("None of these", "/n")]
    per_message: Dict[str, List[float]] = {"numbered text": [], "quick replies": []}
    try:
        for n in range(2 * count):
            await asyncio.to_thread(rig_.sender.contacts.record_inbound, phone(n), rig_.clock())
        for n in range(2 * count):
            shape = "numbered text" if n < count else "quick replies"
            prompt = f"Which time suits you, patient {n}?"
            offer = tap_offer(prompt, buttons) if shape == "quick replies" else None
            started = time.perf_counter()
            result = await rig_.sender.send(phone(n), text=render_numbered(prompt, buttons), offer=offer)
            per_message[shape].append((time.perf_counter() - started) * 1000)
            assert result.status == "sent", result.error
        content_posts = sum(1 for r in rig_.twilio.requests if "ContentSid" in r)
    finally:
        await rig_.close()
    median = {shape: sorted(times)[len(times) // 2] for shape, times in per_message.items()}
    return {
        "messages of each shape": count,
        "numbered text, ms per message (median)": f"{median['numbered text']:.1f}",
        "quick replies, ms per message (median)": f"{median['quick replies']:.1f}",
        "messages sent as quick replies": content_posts,
        "Content API calls": len(rig_.twilio.contents),
    }


def _table(figures: Dict[str, Any]) -> str:
    rows = ["| figure | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in figures.items()]
    return "\n".join(rows)


def run(postgres_url: Optional[str] = None, count: int = 10_000) -> str:
    """`make bench` section "outbox": the three scenarios on SQLite (the default store), as Markdown."""
    del postgres_url  # the outbox is channel state: SQLite unless WHATSAPP_STATE_DATABASE_URL says otherwise
    redis_url = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL") or ""
    with tempfile.TemporaryDirectory() as scratch:
        url = lambda name: f"sqlite:///{Path(scratch) / name}"  # noqa: E731
        first = asyncio.run(faults(url("faults.db"), count))
        second = asyncio.run(outage(url("outage.db"), 2000, rate=50.0))
        third = [asyncio.run(pacing(url("pacing.db"), 300))]
        if redis_url:
            third.append(asyncio.run(pacing(url("pacing_redis.db"), 300, redis_url=redis_url)))
        fourth = asyncio.run(tap(url("tap.db"), 500))
    parts = [
        f"**Faults**: {count:,} due reminders, Twilio failing 20% of POSTs (500, 503, 429, timeout after "
        "accepting), 1% of numbers failing every time (503), status callbacks on; retries on a simulated clock.",
        _table(first),
        "**Outage**: Twilio answering 503 to everything for 10 simulated minutes while 2,000 replies are written "
        "(the relay probes; no message gets more than one attempt once the outage is seen), then back.",
        _table(second),
        "**Pacing**: 300 messages in the outbox, two relay processes, limit 20 msg/s. Sends are counted where the "
        "limiter releases them (wall clock, both processes) and where the stand-in receives them; the second adds the "
        "stand-in process's own scheduling delay on a shared machine, which can bunch two arrivals.",
        *(_table(t) for t in third),
        "**Tap-to-answer**: 500 replies with three options as numbered text, then 500 as quick-reply buttons, each "
        "to a patient inside the 24-hour window, one after another on SQLite (write, route, POST to the stand-in).",
        _table(fourth),
    ]
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    print(run(count=int(os.environ.get("OUTBOX_BENCH_COUNT", "10000"))))
