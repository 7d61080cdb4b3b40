"""Identity-check records shared by the store, the API and the client. Pure (no SQLAlchemy, no HTTP, no Rasa).

A number must confirm a date of birth before its appointments are shown or changed: the first time, and again once
`recheck_days` (clinic.yml `identity_check`) have passed. `attempts` wrong answers in a row lock appointment access
for `lock_minutes`; the bot then opens a staff case.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

# What the check says of a number: nothing to check (no patient with a date of birth on it), recently confirmed,
# to be asked, or locked after too many wrong answers.
NOT_NEEDED, VERIFIED, NEEDED, LOCKED = "not_needed", "verified", "needed", "locked"
STATES = (NOT_NEEDED, VERIFIED, NEEDED, LOCKED)


@dataclass(frozen=True)
class IdentityStatus:
    state: str
    attempts_left: int = 0
    locked_until: Optional[dt.datetime] = None  # aware UTC, when locked

    @property
    def may_see_appointments(self) -> bool:
        return self.state in (NOT_NEEDED, VERIFIED)

    def to_json(self) -> dict:
        return {
            "state": self.state,
            "attempts_left": self.attempts_left,
            "locked_until": self.locked_until.isoformat() if self.locked_until else None,
        }

    @classmethod
    def from_json(cls, body: dict) -> "IdentityStatus":
        until = body.get("locked_until")
        state = body.get("state")
        if state not in STATES:
            raise ValueError(f"unknown identity state {state!r}")
        return cls(
            str(state),
            int(body.get("attempts_left") or 0),
            dt.datetime.fromisoformat(until) if until else None,
        )
