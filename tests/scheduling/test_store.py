"""Store details that HTTP tests cannot force: retrying a transaction PostgreSQL aborted to break a deadlock."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from carebot.scheduling.store import MAX_ATTEMPTS, in_transaction


class DriverError(Exception):
    def __init__(self, pgcode: str) -> None:
        super().__init__(pgcode)
        self.pgcode = pgcode


def failing_work(pgcode: str, failures: int, calls: list):
    def work(conn):
        calls.append(conn)
        if len(calls) <= failures:
            raise OperationalError("UPDATE sched_slot", {}, DriverError(pgcode))
        return "done"

    return work


def test_a_deadlocked_transaction_is_run_again(engine):
    calls: list = []
    assert in_transaction(engine, failing_work("40P01", 1, calls)) == "done"
    assert len(calls) == 2


def test_retries_stop_after_the_limit(engine):
    calls: list = []
    with pytest.raises(OperationalError):
        in_transaction(engine, failing_work("40001", MAX_ATTEMPTS, calls))
    assert len(calls) == MAX_ATTEMPTS


def test_other_database_errors_are_not_retried(engine):
    calls: list = []
    with pytest.raises(OperationalError):
        in_transaction(engine, failing_work("08006", 1, calls))  # connection failure: report, do not loop
    assert len(calls) == 1
