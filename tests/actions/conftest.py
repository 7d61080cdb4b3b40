"""Every action test gets an in-memory identity check; a number without dates of birth needs none, so tests that
are not about the check see the flows as before."""

from __future__ import annotations

import pytest

from actions import identity
from tests.actions.fake_backends import FakeIdentity


@pytest.fixture(autouse=True)
def identity_check(monkeypatch) -> FakeIdentity:
    fake = FakeIdentity()
    monkeypatch.setattr(identity, "identity_client", lambda: fake)
    return fake
