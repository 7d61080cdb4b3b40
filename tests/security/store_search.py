"""Search every store for traces of a patient: each table of each database row by row (tracker-store event data
decrypted first, so encryption cannot hide a leftover), the raw bytes of SQLite files, and every Redis key and
value. What the audit log holds is reported apart: its entries name patients only by a keyed hash."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, List, Optional

from sqlalchemy import MetaData, select
from sqlalchemy.engine import Engine

from carebot.privacy.sealing import event_data

AUDIT_TABLE = "audit_log"


def _row_text(table_name: str, row) -> str:
    values = dict(row._mapping)
    if table_name == "events" and values.get("data"):
        values["data"] = str(event_data(values["data"]))
    return " ".join(str(value) for value in values.values() if value is not None)


def found_in_databases(engines: Iterable[Engine], needles: Iterable[str]) -> Dict[str, List[str]]:
    """table → the needles found in it, over every table of every engine (the audit log under its own name)."""
    hits: Dict[str, List[str]] = {}
    for engine in engines:
        tables = MetaData()
        tables.reflect(bind=engine)
        with engine.connect() as conn:
            for table in tables.sorted_tables:
                text = " ".join(_row_text(table.name, row) for row in conn.execute(select(table)))
                found = [needle for needle in needles if needle in text]
                if found:
                    hits[table.name] = found
    return hits


def found_in_files(paths: Iterable[Path], needles: Iterable[str]) -> Dict[str, List[str]]:
    """file → the needles in its raw bytes (SQLite files and their -wal/-journal companions)."""
    hits: Dict[str, List[str]] = {}
    for path in paths:
        for companion in (path, Path(f"{path}-wal"), Path(f"{path}-journal")):
            if companion.exists():
                data = companion.read_bytes()
                found = [needle for needle in needles if needle.encode() in data]
                if found:
                    hits[companion.name] = found
    return hits


def found_in_redis(url: Optional[str], needles: Iterable[str]) -> Dict[str, List[str]]:
    if not url:
        return {}
    import redis

    client = redis.Redis.from_url(url)
    hits: Dict[str, List[str]] = {}
    try:
        for key in client.scan_iter():
            kind = client.type(key).decode()
            value = client.get(key) if kind == "string" else str(client.dump(key))
            text = (
                key.decode(errors="replace")
                + " "
                + (value.decode(errors="replace") if isinstance(value, bytes) else str(value))
            )
            found = [needle for needle in needles if needle in text]
            if found:
                hits[key.decode(errors="replace")] = found
    finally:
        client.close()
    return hits
