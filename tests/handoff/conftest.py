"""Fixtures of the handoff tests (the harness itself lives in handoff_harness.py)."""

from handoff_harness import backend  # noqa: F401
