"""Small expiring key/value stores: in memory for one process, Redis when several Rasa servers share the work.

Used for `MessageSid` de-duplication (Twilio retries a webhook it thinks failed) and for the buttons last offered
to each patient. Both are short-lived facts, so an expiry keeps the store from growing without bound.
"""

from __future__ import annotations

import time
from typing import Callable, Dict, Optional, Protocol, Tuple


class TTLStore(Protocol):
    async def add(self, key: str, value: str, ttl_seconds: float) -> bool:
        """Store only if absent; True when this call stored it (the atomic check de-duplication needs)."""

    async def set(self, key: str, value: str, ttl_seconds: float) -> None: ...

    async def get(self, key: str) -> Optional[str]: ...

    async def delete(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryTTLStore:
    """Process-local store; expired keys are purged every `purge_every` writes so memory stays bounded."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, purge_every: int = 1000) -> None:
        self._items: Dict[str, Tuple[str, float]] = {}
        self._clock = clock
        self._purge_every = purge_every
        self._writes = 0

    def _live(self, key: str) -> Optional[str]:
        item = self._items.get(key)
        if item is None:
            return None
        if item[1] <= self._clock():
            del self._items[key]
            return None
        return item[0]

    def _write(self, key: str, value: str, ttl_seconds: float) -> None:
        self._items[key] = (value, self._clock() + ttl_seconds)
        self._writes += 1
        if self._writes % self._purge_every == 0:
            now = self._clock()
            for stale in [k for k, (_, expires) in self._items.items() if expires <= now]:
                del self._items[stale]

    async def add(self, key: str, value: str, ttl_seconds: float) -> bool:
        if self._live(key) is not None:
            return False
        self._write(key, value, ttl_seconds)
        return True

    async def set(self, key: str, value: str, ttl_seconds: float) -> None:
        self._write(key, value, ttl_seconds)

    async def get(self, key: str) -> Optional[str]:
        return self._live(key)

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)

    async def close(self) -> None:
        self._items.clear()


class RedisTTLStore:
    """Shared store so every Rasa replica sees the same MessageSids (SET NX EX is atomic across replicas)."""

    def __init__(self, url: str, prefix: str = "carebot:whatsapp:") -> None:
        import redis.asyncio as redis_asyncio  # imported here: memory mode must not need a Redis client

        self._redis = redis_asyncio.from_url(
            url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2
        )
        self._prefix = prefix

    async def add(self, key: str, value: str, ttl_seconds: float) -> bool:
        return bool(await self._redis.set(self._prefix + key, value, nx=True, px=int(ttl_seconds * 1000)))

    async def set(self, key: str, value: str, ttl_seconds: float) -> None:
        await self._redis.set(self._prefix + key, value, px=int(ttl_seconds * 1000))

    async def get(self, key: str) -> Optional[str]:
        return await self._redis.get(self._prefix + key)

    async def delete(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def close(self) -> None:
        await self._redis.close()


def ttl_store_from_url(url: Optional[str]) -> TTLStore:
    """Redis for `redis://…`/`rediss://…`, memory when the URL is empty."""
    return RedisTTLStore(url) if url else MemoryTTLStore()
