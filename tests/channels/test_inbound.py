"""The WhatsApp inbox (carebot/channels/inbound.py): kept before the 204, claimed one patient head at a time, taken
over when a worker's lease lapses, and a replayed turn that Rasa had already recorded is not run again."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any, List

import pytest

from carebot.channels.contacts import ContactStore
from carebot.channels.inbound import InboundQueue, reply_key
from carebot.channels.signature import FormParams
from carebot.channels.whatsapp import DEFAULT_REPLIES
from carebot.clock import utc_now
from tests.channels.whatsapp_harness import PATIENT, Harness, inbound_form

OTHER = "+447700900456"
LEASE = dt.timedelta(seconds=30)


def form(body: str, sender: str = PATIENT) -> FormParams:
    return FormParams({key: [value] for key, value in inbound_form(body, sender).items()})


@pytest.fixture
def queue(db_url: str) -> InboundQueue:
    """On SQLite, and on PostgreSQL when TEST_POSTGRES_URL is set (the production channel database)."""
    return InboundQueue(ContactStore(db_url).engine, LEASE)


def test_a_message_is_kept_once_with_its_form(queue: InboundQueue) -> None:
    message = form("hello, my back hurts")
    assert queue.accept(message.first("MessageSid"), message)
    assert not queue.accept(message.first("MessageSid"), message)  # Twilio's retry
    claimed = queue.claim_next(PATIENT, "worker-a")
    assert claimed is not None and claimed.form == message and not claimed.replayed
    assert queue.waiting() == 1


def test_only_the_patients_oldest_message_can_be_claimed(queue: InboundQueue) -> None:
    first, second, other = form("one"), form("two"), form("hi", OTHER)
    for message in (first, second, other):
        queue.accept(message.first("MessageSid"), message)
    claimed = queue.claim_next(PATIENT, "worker-a")
    assert claimed is not None and claimed.form.first("Body") == "one"
    assert queue.claim_next(PATIENT, "worker-b") is None  # "two" waits for "one", held by worker-a
    assert queue.claimable_phones() == [OTHER]
    queue.done(claimed)
    assert queue.claimable_phones() == [PATIENT, OTHER]
    following = queue.claim_next(PATIENT, "worker-b")
    assert following is not None and following.form.first("Body") == "two"


def test_a_lapsed_lease_is_taken_over_as_a_replay_and_a_live_one_is_renewed(queue: InboundQueue) -> None:
    message = form("book me in")
    queue.accept(message.first("MessageSid"), message)
    start = utc_now()
    held = queue.claim_next(PATIENT, "worker-a", now=start)
    assert held is not None
    assert queue.renew("worker-a", [held.id], now=start + LEASE / 2) == 1  # alive: the lease moves on
    assert queue.renew("worker-b", [held.id], now=start + LEASE / 2) == 0  # not its message
    assert queue.claim_next(PATIENT, "worker-b", now=start + LEASE) is None
    lapsed = start + LEASE * 2  # worker-a died: no renewal since
    assert queue.claimable_phones(now=lapsed) == [PATIENT]
    taken = queue.claim_next(PATIENT, "worker-b", now=lapsed)
    assert taken is not None and taken.replayed and taken.message_sid == held.message_sid
    assert queue.renew("worker-a", [held.id], now=lapsed) == 0  # the dead worker's claim is gone


def test_reply_keys_are_per_message_and_position() -> None:
    assert reply_key("SM1", 0) != reply_key("SM1", 1) != reply_key("SM2", 1)
    assert len(reply_key("SM" + "f" * 32, 99)) <= 128  # the outbox key column


class RecordedTurns:
    """A tracker store holding one UserUttered per message id Rasa recorded."""

    def __init__(self, message_ids: List[str]) -> None:
        self.message_ids = message_ids

    async def retrieve(self, sender_id: str) -> Any:
        from rasa.shared.core.events import UserUttered
        from rasa.shared.core.trackers import DialogueStateTracker

        events = [UserUttered("hello", message_id=message_id) for message_id in self.message_ids]
        return DialogueStateTracker.from_events(sender_id, events)


async def test_a_replayed_turn_rasa_recorded_is_not_run_again_and_the_next_message_is(
    harness: Harness,
) -> None:
    """The dead worker's message was recorded by Rasa (it died after the turn was saved): only the next runs."""
    harness.bot.respond = lambda message: [{"text": f"answer to {message.text}"}]
    recorded, following = form("recorded"), form("next one")
    queue = harness.channel.inbound
    for message in (recorded, following):
        queue.accept(message.first("MessageSid"), message)
    assert queue.claim_next(PATIENT, "dead-worker", now=utc_now() - LEASE * 4) is not None  # lapsed long ago
    agent = SimpleNamespace(tracker_store=RecordedTurns([recorded.first("MessageSid")]))
    harness.channel._take_up(PATIENT, SimpleNamespace(ctx=SimpleNamespace(agent=agent)))
    await harness.channel.drained()
    assert harness.bot.texts() == ["next one"]
    assert harness.twilio.bodies() == ["answer to next one"]
    assert queue.waiting() == 0


async def test_a_message_whose_turn_killed_every_worker_is_apologised_for_and_dropped(
    harness: Harness,
) -> None:
    harness.bot.respond = lambda message: [{"text": f"answer to {message.text}"}]
    poison, following = form("the message that crashes"), form("next one")
    harness.channel.sender.contacts.record_inbound(PATIENT)  # the patient wrote: the apology may be free text
    queue = harness.channel.inbound
    for message in (poison, following):
        queue.accept(message.first("MessageSid"), message)
    for lapsed in (8, 6, 4):  # three workers took it and died before their leases ran out
        assert queue.claim_next(PATIENT, f"dead-worker-{lapsed}", now=utc_now() - LEASE * lapsed) is not None
    first_reply = reply_key(poison.first("MessageSid"), 0)
    await harness.channel.sender.send(PATIENT, text="what the first worker said", key=first_reply)
    harness.channel._take_up(PATIENT, SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace())))
    await harness.channel.drained()
    assert harness.bot.texts() == ["next one"]
    assert (
        harness.twilio.bodies()
        == [  # the apology has a key of its own: the first reply's does not hide it
            "what the first worker said",
            DEFAULT_REPLIES["error_reply"],
            "answer to next one",
        ]
    )
    assert queue.waiting() == 0
