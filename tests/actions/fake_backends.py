"""In-memory stand-ins for the scheduling and reminders clients: the same methods and exceptions, with state to
assert on. The real HTTP client and backend are exercised by tests/scheduling and tests/e2e."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace
from typing import Any, Dict, List, Optional, Set, Tuple

from typing_extensions import Self

from carebot.clinic import Clinic
from carebot.identity.model import LOCKED, NEEDED, NOT_NEEDED, VERIFIED, IdentityStatus
from carebot.phones import normalize_phone
from carebot.scheduling.client import BackendUnavailable, NotFound, SlotTaken
from carebot.scheduling.model import BookedAppointment, Dependant, FreeSlot, Household, PatientRecord
from carebot.waitlist.client import OfferGone
from carebot.waitlist.model import AcceptedOffer, WaitlistEntry


class FakeClient:
    """What the fakes share with the real clients: `async with` hands back the client itself, and `down = True` makes
    every call fail like an unreachable backend (BackendUnavailable with the message `unreachable`)."""

    unreachable = "backend unreachable"

    def __init__(self) -> None:
        self.down = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: Any) -> None:
        return None

    def _reachable(self) -> None:
        if self.down:
            raise BackendUnavailable(self.unreachable)


class FakeScheduling(FakeClient):
    """Free slots, patients and appointments in dicts. `down = True` makes every call fail like an unreachable
    backend; `taken_by_someone_else` holds slot ids another patient books between our offer and our booking."""

    unreachable = "scheduling backend unreachable: ClientConnectorError"

    def __init__(self, clinic: Clinic, now: dt.datetime) -> None:
        super().__init__()
        self.clinic, self.now = clinic, now
        self.slots: Dict[str, Tuple[dt.datetime, str]] = {}  # id -> (start, practitioner id)
        self.busy: Set[str] = set()
        self.patients: Dict[str, PatientRecord] = {}
        self.dependants: List[Dependant] = []  # RelatedPersons: the phone's owner books for these patients
        self.appointments: Dict[str, BookedAppointment] = {}
        self.taken_by_someone_else: Set[str] = set()
        self.confirmed: Set[str] = set()  # appointments the patient confirmed they will attend
        self.searches: List[Tuple[str, dt.datetime, dt.datetime, Optional[str]]] = []
        self._ids = itertools.count(1)

    # ---- test set-up ----

    def add_slot(self, start: dt.datetime, practitioner_id: str) -> str:
        slot_id = f"slot-{next(self._ids)}"
        self.slots[slot_id] = (start, practitioner_id)
        return slot_id

    def add_patient(
        self,
        name: str,
        phone: str,
        relationship: Optional[str] = None,
        gender: Optional[str] = None,
        birth_date: Optional[dt.date] = None,
    ) -> PatientRecord:
        """A registered patient; with `relationship`, a dependant of the phone's owner (what the owner is to them)."""
        patient = PatientRecord(
            f"patient-{next(self._ids)}", name, birth_date, normalize_phone(phone), gender
        )
        self.patients[patient.id] = patient
        if relationship:
            self.dependants.append(Dependant(f"rp-{patient.id}", patient.id, relationship, patient.phone))
        return patient

    # ---- the client's methods ----

    async def find_patient_by_phone(
        self, phone: str, name: Optional[str] = None, birth_date: Optional[dt.date] = None
    ) -> Optional[PatientRecord]:
        self._reachable()
        return next((p for p in self.patients.values() if p.phone == normalize_phone(phone)), None)

    async def create_patient(
        self, name: str, phone: str, birth_date: Optional[dt.date] = None, gender: Optional[str] = None
    ) -> PatientRecord:
        self._reachable()
        return self.add_patient(name, phone, None, gender, birth_date)

    async def add_dependant(
        self,
        name: str,
        phone: str,
        birth_date: Optional[dt.date],
        relationship: str,
        gender: Optional[str] = None,
    ) -> PatientRecord:
        self._reachable()
        return self.add_patient(name, phone, relationship, gender, birth_date)

    async def household(self, phone: str) -> Household:
        self._reachable()
        phone = normalize_phone(phone)
        return Household(
            tuple(p for p in self.patients.values() if p.phone == phone),
            tuple(d for d in self.dependants if d.phone == phone),
        )

    async def search_free_slots(
        self,
        service_id: str,
        start: dt.datetime,
        end: dt.datetime,
        practitioner_id: Optional[str] = None,
        count: int = 5,
    ) -> List[FreeSlot]:
        self._reachable()
        self.searches.append((service_id, start, end, practitioner_id))
        start = max(start, self.now)
        duration = dt.timedelta(minutes=self.clinic.service(service_id).duration_minutes)
        free = []
        for slot_id, (slot_start, who) in sorted(self.slots.items(), key=lambda item: item[1][0]):
            provider = self.clinic.provider(who)
            if slot_id in self.busy or service_id not in provider.services or not start <= slot_start < end:
                continue
            if practitioner_id and who != practitioner_id:
                continue
            free.append(FreeSlot(slot_id, slot_start, slot_start + duration, who, provider.name, service_id))
        return free[:count]

    async def book(self, patient_id: str, slot_id: str, service_id: str) -> BookedAppointment:
        self._reachable()
        if slot_id not in self.slots:
            raise NotFound(f"Slot/{slot_id} not found", 404)
        if slot_id in self.busy or slot_id in self.taken_by_someone_else:
            self.busy.add(slot_id)
            raise SlotTaken("that slot was just booked", 409)
        self.busy.add(slot_id)
        appointment = self._appointment(f"appt-{next(self._ids)}", slot_id, service_id, patient_id)
        self.appointments[appointment.id] = appointment
        return appointment

    async def confirm_attendance(self, appointment_id: str) -> BookedAppointment:
        self._reachable()
        if appointment_id not in self.appointments:
            raise NotFound(f"Appointment/{appointment_id} not found", 404)
        self.confirmed.add(appointment_id)
        return self.appointments[appointment_id]

    async def list_appointments(self, patient_id: str, upcoming_only: bool = True) -> List[BookedAppointment]:
        self._reachable()
        mine = [
            a
            for a in self.appointments.values()
            if a.patient_id == patient_id
            and (not upcoming_only or (a.status == "booked" and a.start >= self.now))
        ]
        return sorted(mine, key=lambda a: a.start)

    async def cancel(self, appointment_id: str, reason: str = "cancelled by patient") -> BookedAppointment:
        self._reachable()
        if appointment_id not in self.appointments:
            raise NotFound(f"Appointment/{appointment_id} not found", 404)
        cancelled = replace(self.appointments[appointment_id], status="cancelled")
        self.appointments[appointment_id] = cancelled
        self.busy.discard(cancelled.slot_id)
        return cancelled

    async def reschedule(self, appointment_id: str, new_slot_id: str) -> BookedAppointment:
        """Like the backend's $reschedule: a new booked appointment, the old one cancelled, in one step."""
        self._reachable()
        old = self.appointments[appointment_id]
        if new_slot_id in self.busy or new_slot_id in self.taken_by_someone_else:
            self.busy.add(new_slot_id)
            raise SlotTaken("that slot was just booked", 409)
        self.appointments[appointment_id] = replace(old, status="cancelled")
        self.busy.discard(old.slot_id)
        self.busy.add(new_slot_id)
        moved = self._appointment(f"appt-{next(self._ids)}", new_slot_id, old.service_id, old.patient_id)
        self.appointments[moved.id] = moved
        return moved

    def _appointment(
        self, appointment_id: str, slot_id: str, service_id: str, patient_id: str
    ) -> BookedAppointment:
        start, who = self.slots[slot_id]
        duration = dt.timedelta(minutes=self.clinic.service(service_id).duration_minutes)
        return BookedAppointment(
            appointment_id,
            slot_id,
            start,
            start + duration,
            self.clinic.provider(who).name,
            service_id,
            "booked",
            who,
            patient_id,
        )


class FakeReminders(FakeClient):
    """Records the appointment reminders the actions ask for."""

    unreachable = "reminders backend unreachable"

    def __init__(self) -> None:
        super().__init__()
        self.created: List[Tuple[str, str, dt.datetime, str]] = []
        self.cancelled: List[str] = []

    async def create_appointment_reminders(
        self, conversation_id: str, appointment_id: str, start: dt.datetime, label: str
    ) -> Dict[str, Any]:
        self._reachable()
        self.created.append((conversation_id, appointment_id, start, label))
        return {"id": len(self.created)}

    async def cancel_appointment_reminders(self, appointment_id: str) -> int:
        self._reachable()
        self.cancelled.append(appointment_id)
        return 2


class FakeWaitlist(FakeClient):
    """The waitlist client in memory: entries joined, offers that can be accepted once (OfferGone after that or
    when `gone` names them), and what was declined or left."""

    unreachable = "waitlist unreachable: ClientConnectorError"

    def __init__(self, scheduling: "FakeScheduling") -> None:
        super().__init__()
        self.scheduling = scheduling
        self.joined: List[Dict[str, Any]] = []
        self.offers: Dict[str, Tuple[str, str, str]] = {}  # offer id -> (patient id, slot id, service id)
        self.gone: Set[str] = set()
        self.declined: List[str] = []
        self.left: List[str] = []

    async def join(
        self,
        patient_id,
        service_id,
        first_day,
        last_day,
        day_parts,
        conversation_id,
        channel,
        practitioner_id=None,
    ):
        self._reachable()
        entry = WaitlistEntry(
            f"entry-{len(self.joined) + 1}",
            patient_id,
            service_id,
            first_day,
            last_day,
            frozenset(day_parts),
            "active",
            practitioner_id,
        )
        self.joined.append({"entry": entry, "conversation_id": conversation_id, "channel": channel})
        return entry

    async def entries(self, patient_id: str) -> List[WaitlistEntry]:
        self._reachable()
        return [
            j["entry"]
            for j in self.joined
            if j["entry"].patient_id == patient_id and j["entry"].id not in self.left
        ]

    async def leave(self, entry_id: str) -> None:
        self._reachable()
        self.left.append(entry_id)

    async def accept(self, offer_id: str) -> AcceptedOffer:
        self._reachable()
        if offer_id in self.gone or offer_id not in self.offers:
            raise OfferGone("this offer has ended (gone)", 409)
        patient_id, slot_id, service_id = self.offers[offer_id]
        booked = await self.scheduling.book(patient_id, slot_id, service_id)
        self.gone.add(offer_id)
        return AcceptedOffer(
            booked.id, booked.start, service_id, booked.practitioner_id, booked.practitioner_name
        )

    async def decline(self, offer_id: str) -> None:
        self._reachable()
        self.declined.append(offer_id)


class FakeIdentity(FakeClient):
    """The identity check in memory: `births` are the dates of birth registered with the number (none: no check);
    `attempts` wrong answers lock; `checked` records every answer the backend was asked to compare."""

    unreachable = "identity check unreachable"

    def __init__(self, attempts: int = 3) -> None:
        super().__init__()
        self.births: Set[dt.date] = set()
        self.verified = False
        self.failures = 0
        self.attempts = attempts
        self.checked: List[dt.date] = []
        self.about: List[
            Optional[str]
        ] = []  # the patient each answer had to be the date of birth of (None: any)

    def _now(self) -> IdentityStatus:
        if not self.births:
            return IdentityStatus(NOT_NEEDED)
        if self.failures >= self.attempts:
            return IdentityStatus(LOCKED, 0, dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
        return IdentityStatus(VERIFIED if self.verified else NEEDED, self.attempts - self.failures)

    async def status(self, phone: str) -> IdentityStatus:
        self._reachable()
        return self._now()

    async def check(
        self, phone: str, birth_date: dt.date, patient_id: Optional[str] = None
    ) -> IdentityStatus:
        self._reachable()
        self.checked.append(birth_date)
        self.about.append(patient_id)
        if self._now().state == NEEDED:
            if birth_date in self.births:
                self.verified, self.failures = True, 0
            else:
                self.failures += 1
        return self._now()
