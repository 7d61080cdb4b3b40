"""How Carebot's SQLite files are written (the one-machine default): shared by the channel's own state and Rasa's
tracker store, a leaf module (it imports nothing of Carebot's)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


def write_ahead(engine: Engine) -> Engine:
    """Every new connection of `engine` in WAL mode without a sync per commit; no-op for other databases.

    Readers in other processes (the dispatcher, the dashboard) never block the writer, and a commit appends to the
    log without waiting for the disk (the log is synced at checkpoints): a crashed process loses nothing, a power
    cut may lose the last commits. A commit in SQLite's default mode (a rollback journal, synced twice) waits for the
    disk on every message.
    """
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _write_ahead_pragmas)
    return engine


def _write_ahead_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
