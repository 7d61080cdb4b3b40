"""Tickets from several Rasa replicas at once: each message gets its own, so none waits on a lost one."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest

from carebot.lock_store import AtomicRedisLockStore

REDIS_URL = os.environ.get("TEST_REDIS_URL")
pytestmark = [pytest.mark.redis, pytest.mark.skipif(not REDIS_URL, reason="needs TEST_REDIS_URL")]


def replica(key_prefix: str) -> AtomicRedisLockStore:
    url = urlparse(REDIS_URL)
    return AtomicRedisLockStore(
        host=url.hostname,
        port=url.port or 6379,
        db=int((url.path or "/0").strip("/") or 0),
        key_prefix=key_prefix,
    )


def test_tickets_issued_by_two_replicas_at_once_are_distinct_and_all_served():
    # Rasa's own RedisLockStore fails this: concurrent read-modify-writes hand out the same ticket twice.
    prefix = f"test{uuid.uuid4().hex[:6]}"
    first, second = replica(prefix), replica(prefix)
    conversation = f"whatsapp:+4477{uuid.uuid4().int % 10**8:08d}"
    with ThreadPoolExecutor(max_workers=8) as pool:
        tickets = list(pool.map(lambda i: (first, second)[i % 2].issue_ticket(conversation), range(40)))
    assert sorted(tickets) == list(range(40))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda pair: (first, second)[pair[0] % 2].cleanup(conversation, pair[1]), enumerate(tickets)
            )
        )
    assert first.get_lock(conversation) is None  # every ticket served and the lock removed
