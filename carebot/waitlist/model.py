"""Waitlist records and constants shared by the store, the FHIR API, the offer worker and the client.

Pure (no SQLAlchemy, no HTTP, no Rasa). A waitlist entry travels in FHIR as an `Appointment` with status
`waitlist` (its date range in `requestedPeriod`, its times of day in the `TIMES_OF_DAY_URL` extension); an offer of a
freed slot as an `Appointment` with status `proposed`, naming its entry in the `ENTRY_URL` extension.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, Optional, Tuple

TIMES_OF_DAY_URL = "urn:carebot:waitlist-times-of-day"
ENTRY_URL = "urn:carebot:waitlist-entry"
EXPIRES_URL = "urn:carebot:waitlist-offer-expires"
STATE_URL = "urn:carebot:waitlist-state"
CONVERSATION_URL = "urn:carebot:conversation"
CHANNEL_URL = "urn:carebot:channel"

# Entry states: waiting, holding an open offer, done (booked, left, or past its date range).
ENTRY_STATES = ("active", "offered", "booked", "left", "expired")
OPEN_ENTRY_STATES = ("active", "offered")
# Offer states: waiting for the patient, and the four ways it ends.
OFFER_STATES = ("open", "accepted", "declined", "expired", "gone")

# How a freed slot is offered (clinic.yml `waitlist.mode`): to one patient at a time, held for them; or to several
# at once, the first "yes" booking it.
HOLD, FIRST_TAP_WINS = "hold", "first_tap_wins"
MODES = (HOLD, FIRST_TAP_WINS)

# Parts of the day, as the bits of `day_parts`; a slot belongs to the part its local start falls in.
DAY_PARTS: Dict[str, int] = {"morning": 1, "afternoon": 2, "evening": 4}
ALL_DAY = 7
AFTERNOON_FROM, EVENING_FROM = dt.time(12, 0), dt.time(17, 0)


def part_of_day(moment: dt.time) -> str:
    """'morning' before noon, 'afternoon' before five, else 'evening' (the words patients use)."""
    return "morning" if moment < AFTERNOON_FROM else "afternoon" if moment < EVENING_FROM else "evening"


def day_parts_bits(parts: Iterable[str]) -> int:
    """The bitmask of the named parts; unknown names raise ValueError; none named means the whole day."""
    bits = 0
    for part in parts:
        if part not in DAY_PARTS:
            raise ValueError(f"unknown time of day '{part[:20]}' (use {', '.join(DAY_PARTS)})")
        bits |= DAY_PARTS[part]
    return bits or ALL_DAY


def day_parts_names(bits: int) -> Tuple[str, ...]:
    return tuple(name for name, bit in DAY_PARTS.items() if bits & bit)


@dataclass(frozen=True)
class WaitlistSettings:
    """clinic.yml `waitlist`: how offers are made and how long they are held."""

    mode: str = HOLD
    hold_minutes: int = 15
    offer_at_once: int = 3  # first-tap-wins: how many waiting patients hear of one slot

    @property
    def hold(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.hold_minutes)

    @property
    def offers_per_slot(self) -> int:
        return 1 if self.mode == HOLD else self.offer_at_once


@dataclass(frozen=True)
class WaitlistEntry:
    id: str
    patient_id: str
    service_id: str
    date_from: dt.date  # clinic-local, inclusive
    date_to: dt.date  # clinic-local, inclusive
    day_parts: FrozenSet[str]
    state: str
    practitioner_id: Optional[str] = None


@dataclass(frozen=True)
class WaitlistOffer:
    """A freed slot offered to one waiting patient until `expires` (aware)."""

    id: str
    entry_id: str
    patient_id: str
    slot_id: str
    service_id: str
    practitioner_id: str
    start: dt.datetime
    expires: dt.datetime
    state: str


@dataclass(frozen=True)
class OfferDelivery:
    """What the worker hands the bot to speak an offer: to whom (conversation, channel) and what."""

    offer_id: str
    conversation_id: str
    channel: str
    service_id: str
    practitioner_id: str
    start: dt.datetime  # aware UTC
    expires: dt.datetime  # aware UTC
    kind: str = "offer"  # "offer": speak it; "gone": tell the patient another patient took it first


@dataclass(frozen=True)
class AcceptedOffer:
    """The appointment an accepted offer booked (what the patient is told and reminded of)."""

    appointment_id: str
    start: dt.datetime  # aware, clinic timezone
    service_id: str
    practitioner_id: str
    practitioner_name: str


@dataclass(frozen=True)
class WaitingPatient:
    """One line of the staff inbox's waiting list: who waits for what, since when, and whether an offer is out."""

    patient_name: str
    phone: str  # E.164; the inbox masks it
    service_name: str
    date_from: dt.date
    date_to: dt.date
    day_parts: Tuple[str, ...]
    state: str  # active (waiting) or offered (an offer is out)
    joined: dt.datetime  # aware UTC
