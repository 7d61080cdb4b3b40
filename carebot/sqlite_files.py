"""How Carebot's SQLite files are opened (the one-machine default): shared by the channel's own state and Rasa's
tracker store, a leaf module (it imports nothing of Carebot's)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

BUSY_TIMEOUT_S = 15


def one_connection_engine(url: Any, *, future: bool = False, max_overflow: int = 0) -> Engine:
    """An engine on the SQLite file at `url` that keeps one connection, in WAL mode without a sync per commit.

    One kept connection, taken in turn: SQLite allows one writer, threads queueing for the pool's connection are
    served in order (threads racing for the file lock back off in sleeps of up to 100 ms), and nothing reconnects
    per transaction (SQLAlchemy 1.4's default for files). WAL: readers in other processes (the dispatcher, the
    dashboard) never block the writer, and a commit appends to the log without waiting for the disk (the log is
    synced at checkpoints): a crashed process loses nothing, a power cut may lose the last commits. SQLite's default
    journal waits for the disk twice on every commit.
    """
    engine = create_engine(
        url,
        future=future,
        connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
        poolclass=QueuePool,
        pool_size=1,
        max_overflow=max_overflow,
        pool_timeout=60,
    )
    event.listen(engine, "connect", _write_ahead_pragmas)
    return engine


def _write_ahead_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
