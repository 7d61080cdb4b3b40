"""Where the database sections of the bench run: a temporary SQLite file, then a fresh PostgreSQL schema when a URL
is given (`--postgres URL`, else BENCH_POSTGRES_URL, else TEST_POSTGRES_URL); each is removed afterwards."""

from __future__ import annotations

import argparse
import os
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Tuple

from sqlalchemy import create_engine, text


def resolve_postgres_url(given: Optional[str] = None) -> Optional[str]:
    """The PostgreSQL URL to run on: `given`, else BENCH_POSTGRES_URL, else TEST_POSTGRES_URL (None: not run)."""
    return given or os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")


@contextmanager
def database(postgres_url: Optional[str]) -> Iterator[Tuple[str, str]]:
    """(url, label): a fresh PostgreSQL schema, or a temporary SQLite file; removed afterwards."""
    if postgres_url:
        schema = f"bench_reminders_{uuid.uuid4().hex[:8]}"
        admin = create_engine(postgres_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in postgres_url else "?"
        try:
            yield f"{postgres_url}{separator}options=-csearch_path%3D{schema}", "PostgreSQL"
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    else:
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{Path(directory) / 'carebot.db'}", "SQLite (WAL)"


def databases(postgres_url: Optional[str]) -> Iterator[Tuple[str, str]]:
    """(url, label) of a temporary SQLite file, then of a fresh PostgreSQL schema when a URL is given."""
    with database(None) as sqlite:
        yield sqlite
    if postgres_url:
        with database(postgres_url) as postgres:
            yield postgres


def not_run(columns: int) -> str:
    """The row of a table of `columns` columns that says PostgreSQL was not run."""
    return "| PostgreSQL | not run (set BENCH_POSTGRES_URL or TEST_POSTGRES_URL) |" + " — |" * (columns - 2)


def postgres_argument(doc: str, help: str = "PostgreSQL URL (a fresh schema is used)") -> Optional[str]:
    """The `--postgres URL` of a section run alone (`python -m bench.<section>`), described by its docstring."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--postgres", help=help)
    return parser.parse_args().postgres
