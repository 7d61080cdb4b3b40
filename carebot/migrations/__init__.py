"""Alembic migrations for the backend database and the WhatsApp channel state, run at start by the processes that
own them (`upgrade(engine, BACKEND)` in the backend and the dispatcher, `upgrade(engine, CHANNEL)` in the channel).

Each schema is a branch of its own (revisions in `backend/`, `channel/`) with its own version table, so both may
live in one PostgreSQL database or in separate ones. All steps run in one transaction; replicas starting together
take a PostgreSQL advisory lock (on SQLite a lock file beside the database), so one runs each step and the others
find it done. This package imports no feature: `python -m carebot.server.migrations revision …` supplies the tables when
a new revision is written.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
from pathlib import Path
from typing import Iterator, Optional

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection, Engine

HERE = Path(__file__).resolve().parent
BACKEND = "backend"
CHANNEL = "channel"
VERSION_TABLES = {BACKEND: "carebot_backend_version", CHANNEL: "carebot_channel_version"}
_ADVISORY_LOCK = {BACKEND: 7_261_001, CHANNEL: 7_261_002}


def config(
    schema: str, connection: Optional[Connection] = None, metadata: Optional[MetaData] = None
) -> Config:
    """Alembic's configuration for one schema; env.py reads the connection and metadata from its attributes."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("version_locations", str(HERE / schema))  # each schema sees only its own history
    cfg.attributes.update(connection=connection, metadata=metadata, version_table=VERSION_TABLES[schema])
    return cfg


def upgrade(engine: Engine, schema: str) -> None:
    """Bring `schema` in the database of `engine` to the newest revision (nothing to do: a version check)."""
    if current_revision(engine, schema) == head(schema):
        return
    with _sqlite_file_lock(engine):
        with engine.begin() as connection:  # one transaction: a failed step leaves the schema as it was
            if connection.dialect.name == "postgresql":  # released at commit
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK[schema]}
                )
            command.upgrade(config(schema, connection), f"{schema}@head")


@contextlib.contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """Processes starting together on one SQLite file migrate one after the other: Python's sqlite3 runs DDL
    outside a transaction, so the database's own write lock does not stop two of them creating the same table.
    The lock is a file beside the database (`<database>.migrate-lock`), held until the migration is done."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file closes
        yield


def current_revision(engine: Engine, schema: str) -> Optional[str]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLES[schema]})
        return context.get_current_revision()


@functools.lru_cache(maxsize=None)
def head(schema: str) -> Optional[str]:
    revision = ScriptDirectory.from_config(config(schema)).get_revision(f"{schema}@head")
    return revision.revision if revision else None
