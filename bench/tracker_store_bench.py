"""Encryption at rest in the tracker store: what a message costs with `ProtectedSQLTrackerStore` (event data as
Fernet tokens) against Rasa's plain `SQLTrackerStore`, on SQLite (and PostgreSQL with BENCH_POSTGRES_URL).

One "message" is a typical turn: the patient's words with intent and a medicine entity, the action, the bot's
reply, a slot and the listen: 5 events saved, then the conversation read back as Rasa does on the next message.
Conversations are restarted every 20 messages so the figure is not the cost of a long history. Run alone with
`python -m bench.tracker_store_bench`, or as the `tracker_store` section of `make bench`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Dict, List, Tuple

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from carebot.privacy.sealing import event_data, seal
from carebot.privacy.tracker_store import ProtectedSQLTrackerStore

MESSAGES = 300
PER_CONVERSATION = 20
TARGET_MS = 2.0
DOMAIN = Domain.from_yaml(
    "version: '3.1'\nslots:\n  reminder_draft:\n    type: text\n    mappings: [{type: custom}]\n"
)


def turn(n: int) -> List[Event]:
    said = f"remind me to take my metformin 500mg at {8 + n % 12}am every day please"
    return [
        UserUttered(
            said,
            {"name": "set_reminder", "confidence": 0.97},
            [{"entity": "medicine", "value": "metformin", "start": 18, "end": 27}],
        ),
        ActionExecuted("action_save_reminder"),
        BotUttered(
            f"OK, I'll remind you to take metformin 500mg every day at {8 + n % 12}:00.", {"elements": None}
        ),
        SlotSet("reminder_draft", None),
        ActionExecuted("action_listen"),
    ]


async def _measure(stores: Dict[str, SQLTrackerStore]) -> Dict[str, Tuple[List[float], List[float]]]:
    """Milliseconds per message to save the turn and to read the conversation back, per store; the stores take
    turns message by message, so a change in the machine's load hits both alike."""
    figures: Dict[str, Tuple[List[float], List[float]]] = {name: ([], []) for name in stores}
    trackers: Dict[str, DialogueStateTracker] = {}
    for n in range(MESSAGES):
        for name, store in stores.items():
            if n % PER_CONVERSATION == 0:
                trackers[name] = DialogueStateTracker(f"bench-{uuid.uuid4().hex[:8]}", DOMAIN.slots)
            tracker = trackers[name]
            for event in turn(n):
                tracker.update(event)
            save_ms, read_ms = figures[name]
            start = time.perf_counter()
            await store.save(tracker)
            save_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            await store.retrieve(tracker.sender_id)
            read_ms.append((time.perf_counter() - start) * 1000)
    return figures


def _stores(kind: str, folder: Path) -> Dict[str, SQLTrackerStore]:
    if kind == "SQLite":
        return {
            name: cls(DOMAIN, dialect="sqlite", db=str(folder / f"{name}.db"))
            for name, cls in (("plain", SQLTrackerStore), ("encrypted", ProtectedSQLTrackerStore))
        }
    url = sa.engine.make_url(os.environ["BENCH_POSTGRES_URL"])
    return {
        name: cls(
            DOMAIN,
            dialect="postgresql",
            host=url.host,
            port=url.port,
            db=url.database,
            username=url.username,
            password=url.password,
        )
        for name, cls in (("plain", SQLTrackerStore), ("encrypted", ProtectedSQLTrackerStore))
    }


def _sealing_ms() -> List[float]:
    """Encryption and decryption alone: the 5 events of a turn sealed, then opened."""
    timings = []
    for n in range(MESSAGES):
        events = [event.as_dict() for event in turn(n)]
        start = time.perf_counter()
        for sealed in [seal(data) for data in events]:
            event_data(sealed)
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def run() -> str:
    kinds = ["SQLite"] + (["PostgreSQL"] if os.environ.get("BENCH_POSTGRES_URL") else [])
    rows = [
        "| store | plain save p50 (ms) | encrypted save p50 (ms) | plain read p50 (ms) | encrypted read p50 "
        "(ms) | added per message, p50 (ms) | target |",
        "|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as folder:
        for kind in kinds:
            figures = asyncio.run(_measure(_stores(kind, Path(folder))))
            (plain_save, plain_read), (sealed_save, sealed_read) = figures["plain"], figures["encrypted"]
            added = statistics.median(  # message by message: the encrypted store's save + read minus the plain one's
                ss + sr - ps - pr for ss, sr, ps, pr in zip(sealed_save, sealed_read, plain_save, plain_read)
            )
            rows.append(
                f"| {kind} | {statistics.median(plain_save):.2f} | {statistics.median(sealed_save):.2f} | "
                f"{statistics.median(plain_read):.2f} | {statistics.median(sealed_read):.2f} | {added:.2f} | "
                f"≤ {TARGET_MS:.0f} ms ({'meets' if added <= TARGET_MS else 'MISSED'}) |"
            )
    sealing = _sealing_ms()
    return "\n".join(
        [
            f"{MESSAGES} messages of 5 events each (a reminder request with a medicine entity, the action, the reply, a "
            f"slot, the listen), conversations of {PER_CONVERSATION} messages; each message saved, then the "
            "conversation read back (what Rasa does per message).",
            "",
            *rows,
            "",
            f"- Fernet alone, sealing and opening a message's 5 events: p50 {statistics.median(sealing):.3f} ms, "
            f"max {max(sealing):.3f} ms.",
        ]
    )


if __name__ == "__main__":
    print(run())
