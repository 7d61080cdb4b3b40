"""Every action test gets an in-memory identity check and an empty scheduling backend; a number without dates of birth
needs no check and a phone without patients books for nobody else, so tests that are not about them see the flows as
before (tests that book replace the scheduling fake with their own)."""

from __future__ import annotations

import datetime as dt

import pytest

from actions import booking, identity
from tests.actions.fake_backends import FakeIdentity, FakeScheduling


@pytest.fixture(autouse=True)
def identity_check(monkeypatch) -> FakeIdentity:
    fake = FakeIdentity()
    monkeypatch.setattr(identity, "identity_client", lambda: fake)
    return fake


@pytest.fixture(autouse=True)
def no_patients(monkeypatch, clinic) -> FakeScheduling:
    fake = FakeScheduling(clinic, dt.datetime(2026, 12, 7, 8, 0, tzinfo=clinic.tz))
    monkeypatch.setattr(booking, "scheduling_client", lambda: fake)
    return fake
