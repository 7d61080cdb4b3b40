"""Deleting so that deleted patient data cannot be read back from an SQLite file: shared by the backend's stores,
the channel's own state and the tracker store (a leaf module: it imports nothing of Carebot's)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine


def secure_delete(conn: Any) -> None:
    """Zero what SQLite deletes on this connection (no-op elsewhere): erased words must not stay readable in the
    file's free pages (a Connection or an ORM session's connection)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete = ON")


def checkpoint(engine: Engine) -> None:
    """After an erasure on SQLite in WAL mode: copy the log into the file and empty it, so the erased rows' old
    pages do not linger in the -wal file (no-op elsewhere)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
