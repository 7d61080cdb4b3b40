"""One rate limit per WhatsApp sender, shared by every process that sends from it (Rasa replicas, the backend's
staff replies, the outbox relay): Twilio queues a sender's messages at its rate (80 messages/s by default) and fails
what it cannot queue, so Carebot spreads a burst instead of having it refused.

The limiter hands out send times ("slots") spaced `1 / rate` apart, a generic cell-rate algorithm with no burst:
each caller atomically moves the sender's next free slot one interval on and waits until the slot it took. Because
slots are taken, not counted, two processes can never both use the same one, and no one-second window holds more
than `rate` sends. The next free slot lives in Redis when configured (one Lua call) or in the channel's database
(one UPDATE); slots are wall-clock seconds, so hosts need synchronised clocks (NTP), as Twilio's logs assume anyway.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, Awaitable, Callable, Optional, Protocol

from sqlalchemy import Column, Float, String, Table, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from carebot.channels.contacts import _metadata

# A slot is taken 2% further apart than 1/rate: the network adds a few milliseconds of jitter between the moment a
# send is released and the moment it reaches Twilio, and that jitter must not squeeze rate+1 sends into a second.
SPACING_MARGIN = 1.02
# With slots 1.02/rate apart, a send at most this late after its slot keeps every one-second window within `rate`
# (the sends of a window then have slots inside 1 + 0.015 s, which holds fewer than rate + 1 slots).
LATE_TOLERANCE = 0.015

whatsapp_pacing = Table(
    "whatsapp_pacing",
    _metadata,
    Column("sender", String(32), primary_key=True),
    Column("next_slot", Float, nullable=False),  # seconds since the epoch
)

_REDIS_TAKE = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', math.ceil(interval * 1000) + 60000)
return tostring(slot)
"""


class SlotSource(Protocol):
    def take(self, sender: str, now: float, interval: float) -> Any:
        """The send time reserved for the caller (seconds since the epoch); may be awaitable."""


class DatabaseSlots:
    """The next free slot as a row of `whatsapp_pacing` (SQLite serialises the UPDATE; PostgreSQL locks the row)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def take(self, sender: str, now: float, interval: float) -> float:
        t = whatsapp_pacing.c
        greatest = func.max if self.engine.dialect.name == "sqlite" else func.greatest
        with self.engine.begin() as conn:
            for _ in range(2):
                moved = conn.execute(
                    update(whatsapp_pacing)
                    .where(t.sender == sender)
                    .values(next_slot=greatest(t.next_slot, now) + interval)
                ).rowcount
                if moved:
                    return (
                        float(conn.execute(select(t.next_slot).where(t.sender == sender)).scalar()) - interval
                    )
                try:
                    with conn.begin_nested():
                        conn.execute(whatsapp_pacing.insert().values(sender=sender, next_slot=now + interval))
                    return now
                except IntegrityError:  # another process created the row first: take a slot from it
                    continue
        raise RuntimeError("pacing row could not be created")


class RedisSlots:
    """The next free slot as a Redis key (shared by replicas; the Lua script makes the take atomic)."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis  # only when configured

        self.client = redis.from_url(url)
        self.script = self.client.register_script(_REDIS_TAKE)

    async def take(self, sender: str, now: float, interval: float) -> float:
        return float(await self.script(keys=[f"carebot:pacing:{sender}"], args=[repr(now), repr(interval)]))

    async def close(self) -> None:
        await self.client.close()


class Pacer:
    """`await pacer.wait()` before each POST to Twilio: returns when this send's slot has come."""

    def __init__(
        self,
        sender: str,
        rate: float,
        slots: SlotSource,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.sender, self.slots, self.clock, self.sleep = sender, slots, clock, sleep
        self.interval = SPACING_MARGIN / rate

    async def wait(self) -> float:
        """Take the next slot and sleep until it; returns the slot. A caller that wakes more than LATE_TOLERANCE
        after its slot (a busy event loop) gives the slot up and takes another: sending late would bunch its POST
        with the next caller's, and a second could then hold more than `rate`."""
        while True:
            if inspect.iscoroutinefunction(self.slots.take):
                slot = float(await self.slots.take(self.sender, self.clock(), self.interval))
            else:
                slot = float(await asyncio.to_thread(self._take_now))
            delay = slot - self.clock()
            if delay > 0:
                await self.sleep(delay)
            if self.clock() - slot <= LATE_TOLERANCE:
                return slot

    def _take_now(self) -> float:
        """On the worker thread, so `now` is read when the slot is taken, not before waiting for the thread."""
        return float(self.slots.take(self.sender, self.clock(), self.interval))

    async def close(self) -> None:
        close: Optional[Callable[[], Awaitable[Any]]] = getattr(self.slots, "close", None)
        if close is not None:
            await close()
