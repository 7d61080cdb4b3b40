"""Where patient data lives, as database URLs: the backend database, the WhatsApp channel's state database, and
Rasa's tracker store (read from the endpoints file Rasa uses, `RASA_ENDPOINTS`, else endpoints.yml)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Optional, Union

import yaml
from sqlalchemy import MetaData, Table, inspect
from sqlalchemy.engine import URL, Engine, make_url

from carebot.backend.db import create_tables, make_engine
from carebot.channels.contacts import ContactStore
from carebot.settings import PROJECT_ROOT, current

TRACKER_EVENTS_TABLE = "events"  # rasa.core.tracker_store.SQLTrackerStore.SQLEvent
SQL_TRACKER_TYPES = ("SQL", "CAREBOT.PRIVACY.TRACKER_STORE.PROTECTEDSQLTRACKERSTORE")


def _expand(value: Any) -> Any:
    """Rasa's `${VAR}` substitution of endpoint values."""
    return os.path.expandvars(value) if isinstance(value, str) else value


def tracker_database_url(endpoints: Optional[os.PathLike] = None) -> Optional[str]:
    """The SQL tracker store's URL, or None when the endpoints file configures no SQL tracker store."""
    path = Path(endpoints or current().rasa_endpoints)
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    config: Dict[str, Any] = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(
        "tracker_store"
    ) or {}
    if str(config.get("type", "")).upper() not in SQL_TRACKER_TYPES:
        return None
    config = {key: _expand(value) for key, value in config.items()}
    dialect = config.get("dialect") or "sqlite"
    if dialect == "sqlite":
        database = Path(config.get("db") or "rasa.db")
        return f"sqlite:///{database if database.is_absolute() else PROJECT_ROOT / database}"
    return str(
        URL.create(
            drivername=dialect,
            username=config.get("username") or None,
            password=config.get("password") or None,
            host=config.get("url") or None,
            port=int(config["port"]) if config.get("port") else None,
            database=config.get("db") or "rasa",
        )
    )


class PatientStores:
    """Engines of every database that holds patient data, created on first use and disposed by `close()`."""

    def __init__(
        self,
        backend_url: Union[str, Engine, None] = None,
        channel_url: Optional[str] = None,
        tracker_url: Optional[str] = None,
    ) -> None:
        self._owns_backend = not isinstance(backend_url, Engine)  # the backend process lends its own engine
        self.backend = make_engine(backend_url) if self._owns_backend else backend_url
        create_tables(
            self.backend
        )  # a backend that never started has nothing to purge, but the queries need tables
        self.channel = ContactStore(channel_url).engine
        url = tracker_url or tracker_database_url()
        self.tracker: Optional[Engine] = make_engine(url) if url and _has_events_table(url) else None

    def tracker_events(self) -> Table:
        assert self.tracker is not None
        return Table(TRACKER_EVENTS_TABLE, MetaData(), autoload_with=self.tracker)

    def close(self) -> None:
        for engine in (self.backend if self._owns_backend else None, self.channel, self.tracker):
            if engine is not None:
                engine.dispose()


def _has_events_table(url: str) -> bool:
    """A tracker store Rasa never opened (no file, no table) holds nothing to purge or erase."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database and not Path(parsed.database).exists():
        return False
    engine = make_engine(url)
    try:
        return inspect(engine).has_table(TRACKER_EVENTS_TABLE)
    finally:
        engine.dispose()
