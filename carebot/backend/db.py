"""Database engine for the backend: the ONE database that holds the clinic's data.

`CAREBOT_DATABASE_URL` picks it: a SQLite file `var/carebot.db` by default, PostgreSQL with
`postgresql://…` (psycopg2). Times are stored as naive UTC datetimes everywhere (`to_db` / `from_db`).

Conventions other backend packages rely on:
- `metadata` is the shared `MetaData`: define your tables on it (importing your module registers them);
  `create_app` calls `create_tables(engine)` after every API `setup()` ran, so the tables exist before serving.
  (A package may keep its own MetaData instead; then it must call its own `create_all` in its `setup()`.)
- Writes: `with engine.begin() as conn:` — on SQLite this opens `BEGIN IMMEDIATE`, so concurrent writers queue on
  the busy timeout instead of failing with "database is locked" halfway through a transaction.
  Reads: `with engine.connect() as conn:` (no explicit transaction needed).
- `hide_parameters=True`: SQL errors and logs never show bound values (phone numbers, names are health data).
- The engine is synchronous (SQLAlchemy 1.4 Core): call it from aiohttp handlers through `await run_db(fn, ...)`,
  which runs `fn` on a worker thread so one slow query never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import QueuePool

from carebot import settings
from carebot.tokens import secure_sqlite_file

SQLITE_BUSY_TIMEOUT_MS = 30_000

metadata = MetaData()
T = TypeVar("T")


def database_url() -> str:
    """CAREBOT_DATABASE_URL (formerly CAREBOT_DATABASE_URL), else SQLite in the var folder."""
    return settings.database_url()


def make_engine(url: Optional[str] = None) -> Engine:
    """An engine for `url` (default: `CAREBOT_DATABASE_URL`, else var/carebot.db), tuned for concurrent writers."""
    url = url or database_url()
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, hide_parameters=True)


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        secure_sqlite_file(Path(database))
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=10,
        max_overflow=10,
        hide_parameters=True,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # isolation_level=None stops pysqlite from issuing its own deferred BEGIN; we issue BEGIN IMMEDIATE below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        # Take the write lock up front: a deferred transaction that reads first can hit SQLITE_BUSY on its first
        # write without waiting, which would surface as an error in the middle of a booking.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def to_db(moment: dt.datetime) -> dt.datetime:
    """An aware time as the naive UTC value the tables store (a naive one is refused: its zone is unknown)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given where an aware one is required")
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def from_db(moment: Optional[dt.datetime]) -> Optional[dt.datetime]:
    """A stored naive UTC value as an aware UTC time (None stays None)."""
    return moment.replace(tzinfo=dt.timezone.utc) if moment is not None else None


def create_tables(engine: Engine) -> None:
    """Create every table registered on the shared `metadata` (idempotent)."""
    metadata.create_all(engine)


async def run_db(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking database work on a worker thread and await its result."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))
