"""A Redis lock store whose ticket changes are atomic, for several Rasa replicas sharing one conversation.

Rasa 3.6's RedisLockStore reads a conversation's ticket list, changes it and writes it back without a transaction.
When one patient's messages reach two replicas at once, a write can resurrect a ticket already served, and every
later message then waits for it to expire (60 s): measured in tests/e2e/test_production_stores.py. Here each change
runs under a short per-conversation Redis mutex; the tickets, their order and their lifetime are Rasa's own.
"""

from __future__ import annotations

from typing import Any, Optional

from rasa.core.lock_store import LOCK_LIFETIME, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

MUTEX_SECONDS = (
    10  # a ticket change takes milliseconds; the mutex expires on its own if a replica dies holding it
)


class AtomicRedisLockStore(RedisLockStore):
    """`type: carebot.lock_store.AtomicRedisLockStore` in endpoints; takes the same keys as Rasa's `redis` type."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def _mutex(self, conversation_id: str) -> Any:
        return self.red.lock(
            f"{self.key_prefix}mutex:{conversation_id}", timeout=MUTEX_SECONDS, blocking_timeout=MUTEX_SECONDS
        )

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        with self._mutex(conversation_id):
            return super().issue_ticket(conversation_id, lock_lifetime)

    def update_lock(self, conversation_id: str) -> None:
        with self._mutex(conversation_id):
            super().update_lock(conversation_id)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        with self._mutex(conversation_id):
            super().cleanup(conversation_id, ticket_number)
