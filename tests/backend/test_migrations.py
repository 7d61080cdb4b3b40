"""Alembic migrations: an empty database and one the previous release made with `create_tables` both reach the
newest revision, keep their rows, and end with exactly the tables the code defines (SQLite, and PostgreSQL when
TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import multiprocessing.synchronize
from typing import Iterator, List

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

import carebot.backend.audit  # noqa: F401 - registers its table on the shared metadata
import carebot.channels.inbound  # noqa: F401
import carebot.handoff.sessions  # noqa: F401
import carebot.handoff.store  # noqa: F401
import carebot.reminders.store  # noqa: F401
import carebot.scheduling.tables  # noqa: F401
from carebot import migrations
from carebot.backend.db import create_tables, make_engine, metadata
from carebot.channels.contacts import ContactStore
from carebot.channels.contacts import _metadata as channel_metadata
from carebot.server.app import create_app

CREATED = dt.datetime(2026, 1, 5, 9, 30)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def differences(engine: Engine, wanted: sa.MetaData) -> List[tuple]:
    """What the database lacks or has beyond `wanted` (tables, columns, indexes), as Alembic compares them."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"include_name": lambda name, kind, _parent: kind != "table" or name in wanted.tables},
        )
        return compare_metadata(context, wanted)


def test_an_empty_database_is_migrated_to_the_tables_the_code_defines(engine: Engine) -> None:
    assert migrations.current_revision(engine, migrations.BACKEND) is None
    migrations.upgrade(engine, migrations.BACKEND)
    migrations.upgrade(engine, migrations.CHANNEL)
    assert migrations.current_revision(engine, migrations.BACKEND) == migrations.head(migrations.BACKEND)
    assert migrations.current_revision(engine, migrations.CHANNEL) == migrations.head(migrations.CHANNEL)
    assert differences(engine, metadata) == []
    assert differences(engine, channel_metadata) == []


def test_a_database_of_the_previous_release_is_adopted_with_its_rows(
    engine: Engine, db_url: str, clinic, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("WHATSAPP_STATE_DATABASE_URL", f"sqlite:///{tmp_path / 'sender-state.db'}")
    create_tables(engine)  # what the backend did at start before migrations
    first_release = ("whatsapp_contacts", "whatsapp_held_messages", "whatsapp_message_sids")
    channel_metadata.create_all(
        engine, tables=[channel_metadata.tables[t] for t in first_release]
    )  # the channel
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO handoff_cases (conversation_id, patient_phone, reason, transcript, status, created_at) "
                "VALUES ('whatsapp:+447700900123', '+447700900123', 'asked_for_human', 'hello', 'open', :at)"
            ),
            {"at": CREATED},
        )
        connection.execute(
            sa.text("INSERT INTO whatsapp_contacts (phone, opted_out_at) VALUES ('+447700900123', :at)"),
            {"at": CREATED},
        )

    create_app(engine, clinic, "a-token-for-the-migration-test")  # the backend migrates at start
    ContactStore(db_url)  # the channel when its store opens

    assert migrations.current_revision(engine, migrations.BACKEND) == migrations.head(migrations.BACKEND)
    assert migrations.current_revision(engine, migrations.CHANNEL) == migrations.head(migrations.CHANNEL)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT conversation_id, status FROM handoff_cases")).all() == [
            ("whatsapp:+447700900123", "open")
        ]
        assert connection.execute(sa.text("SELECT phone FROM whatsapp_contacts")).all() == [
            ("+447700900123",)
        ]
    assert differences(engine, metadata) == []


def test_tables_a_release_did_not_have_yet_are_added(engine: Engine) -> None:
    metadata.create_all(engine, tables=[metadata.tables["sched_patient"], metadata.tables["sched_slot"]])
    migrations.upgrade(engine, migrations.BACKEND)
    assert differences(engine, metadata) == []


def test_the_channel_store_migrates_its_database_when_it_opens(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'whatsapp.db'}"
    store = ContactStore(url)
    store.set_opted_out("+447700900123", True)
    assert migrations.current_revision(store.engine, migrations.CHANNEL) == migrations.head(
        migrations.CHANNEL
    )
    assert ContactStore(url).is_opted_out("+447700900123")


def test_a_database_before_case_takers_gains_them_and_keeps_its_cases(engine: Engine) -> None:
    with engine.begin() as connection:  # the previous release's schema, made by its own migrations
        command.upgrade(migrations.config(migrations.BACKEND, connection), "backend_0002")
        connection.execute(
            sa.text(
                "INSERT INTO handoff_cases (conversation_id, patient_phone, reason, transcript, status, created_at) "
                "VALUES ('whatsapp:+447700900123', '+447700900123', 'asked_for_human', 'hello', 'open', :at)"
            ),
            {"at": CREATED},
        )
    migrations.upgrade(engine, migrations.BACKEND)
    assert differences(engine, metadata) == []
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT status, assigned_to FROM handoff_cases")).all() == [
            ("open", None)
        ]


def test_a_channel_database_before_tap_to_answer_keeps_its_queued_messages(engine: Engine) -> None:
    with engine.begin() as connection:  # the previous release's channel schema, with a message still queued
        command.upgrade(migrations.config(migrations.CHANNEL, connection), "channel_0002")
        connection.execute(
            sa.text(
                "INSERT INTO whatsapp_outbox (phone, kind, text, force, state, parts_total, parts_done, attempts, "
                "created_at, next_attempt_at, deadline_at) "
                "VALUES ('+447700900123', 'reply', 'hello', false, 'queued', 0, 0, 0, :at, :at, :at)"
            ),
            {"at": CREATED},
        )
    migrations.upgrade(engine, migrations.CHANNEL)
    assert differences(engine, channel_metadata) == []
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT text, state, offer FROM whatsapp_outbox")).all() == [
            ("hello", "queued", None)
        ]


def _migrate_channel_state(url: str, start: multiprocessing.synchronize.Event) -> None:
    start.wait()
    migrations.upgrade(make_engine(url), migrations.CHANNEL)


def test_processes_starting_together_on_one_sqlite_file_each_find_the_schema_migrated(tmp_path) -> None:
    """`make run` starts the backend, Rasa and the dispatcher at once, each migrating the same channel file."""
    url = f"sqlite:///{tmp_path / 'whatsapp.db'}"
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_migrate_channel_state, args=(url, start)) for _ in range(8)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0] * len(workers)
    assert migrations.current_revision(make_engine(url), migrations.CHANNEL) == migrations.head(
        migrations.CHANNEL
    )
