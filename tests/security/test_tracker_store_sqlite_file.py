"""The tracker store on an SQLite file (the one-machine default) keeps one connection in WAL mode without a sync per
commit, as the channel's own file does (carebot/sqlite_files.py): a turn is saved without waiting for the disk, and
the dashboard or a second process reading the same file sees every committed turn while the bot keeps writing."""

from __future__ import annotations

import sqlite3

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from carebot.privacy import sealing
from carebot.privacy.tracker_store import ProtectedSQLTrackerStore

SENDER = "whatsapp:+447700900123"
SYNCHRONOUS_NORMAL = 1


@pytest.fixture
def store(tmp_path, monkeypatch) -> ProtectedSQLTrackerStore:
    monkeypatch.setenv("TRACKER_ENCRYPTION_KEY", "a-tracker-key-from-the-environment-0123456789")
    sealing.cipher.cache_clear()
    yield ProtectedSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.db"))
    sealing.cipher.cache_clear()


def turn(text: str, reply: str) -> list:
    return [
        ActionExecuted("action_listen"),
        UserUttered(text, {"name": "greet", "confidence": 0.9}),
        BotUttered(reply),
    ]


def test_the_store_writes_ahead_without_a_sync_per_commit(store) -> None:
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == SYNCHRONOUS_NORMAL


def test_the_store_keeps_one_connection_from_turn_to_turn(store) -> None:
    def connection_used() -> sqlite3.Connection:
        with store.session_scope() as session:
            return session.connection().connection.dbapi_connection

    first = connection_used()  # held, so that a new connection cannot reuse its identity
    assert connection_used() is first


async def test_another_process_reads_every_committed_turn_while_the_bot_keeps_its_connection(
    store, tmp_path
) -> None:
    await store.save(DialogueStateTracker.from_events(SENDER, turn("hi", "Hello!")))
    tracker = await store.retrieve(SENDER)
    tracker.update_with_events(turn("thanks", "You're welcome."), None)
    await store.save(tracker)

    reader = sqlite3.connect(tmp_path / "tracker.db")  # the dashboard's or the backend's own connection
    try:
        rows = reader.execute(
            "SELECT type_name FROM events WHERE sender_id = ? ORDER BY id", (SENDER,)
        ).fetchall()
    finally:
        reader.close()
    assert [name for (name,) in rows] == ["action", "user", "bot"] * 2
    read_back = await ProtectedSQLTrackerStore(
        Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.db")
    ).retrieve(SENDER)
    assert [event.text for event in read_back.events if isinstance(event, UserUttered)] == ["hi", "thanks"]


def test_the_channels_own_file_is_opened_the_same_way(tmp_path) -> None:
    from carebot.channels.contacts import ContactStore

    engine = ContactStore(f"sqlite:///{tmp_path / 'whatsapp.db'}").engine
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == SYNCHRONOUS_NORMAL
    assert (engine.pool.size(), engine.pool._max_overflow) == (1, 0)  # one kept connection, taken in turn
