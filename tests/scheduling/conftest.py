"""Fixtures for the scheduling service: a small clinic, a database per test (SQLite, and PostgreSQL when
TEST_POSTGRES_URL is set: a fresh schema per test), and the backend served over real HTTP on loopback."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import AsyncIterator, Iterator

import aiohttp
import pytest
import pytest_asyncio
from scheduling_harness import Api, Backend, start_backend, write_clinic
from sqlalchemy.engine import Engine

from carebot.backend.db import make_engine
from carebot.clinic import Clinic


@pytest.fixture
def closed_day() -> dt.date:
    return dt.date.today() + dt.timedelta(days=3)


@pytest.fixture
def sched_clinic(tmp_path: Path, closed_day: dt.date) -> Clinic:
    return write_clinic(tmp_path / "clinic.yml", closed_day)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest_asyncio.fixture
async def backend(engine: Engine, sched_clinic: Clinic) -> AsyncIterator[Backend]:
    running = await start_backend(engine, sched_clinic)
    yield running
    await running.server.close()


@pytest_asyncio.fixture
async def api(backend: Backend) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session:
        yield Api(session, backend.url)
