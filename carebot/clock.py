"""The one clock. Inside Carebot a time is aware and in UTC (`utc_now`); it meets the clinic's time zone only at the
edges, where patients read and write times (`clinic_now`), and the database stores naive UTC (`backend.db.to_db`).

Tests and tools inject another time with `use(source)` instead of patching each module's own "now".
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Callable, Iterator

UTC = dt.timezone.utc
Source = Callable[[], dt.datetime]


def _system_time() -> dt.datetime:
    return dt.datetime.now(UTC)


_source: Source = _system_time


def utc_now() -> dt.datetime:
    """Now, aware, in UTC."""
    return _source().astimezone(UTC)


def clinic_now(zone: dt.tzinfo) -> dt.datetime:
    """Now on the clinic's wall clock (aware, in `zone`)."""
    return utc_now().astimezone(zone)


@contextlib.contextmanager
def use(source: Source) -> Iterator[None]:
    """Within the block every `utc_now` and `clinic_now` reads `source` (an aware datetime each call)."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous
