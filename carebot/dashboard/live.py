"""The demo seed through the real bot: scripted patients talk to a running Carebot (Rasa, action server, backend)
over the REST channel, and the seed counts, from each script's declared outcome and the replies it got, what the
dashboard must show for them. `python -m bench.seed_demo` starts the stack and runs it (`make seed-demo`);
tests/e2e/test_dashboard_e2e.py runs a few.

Unlike the direct-write seed (carebot/dashboard/demo.py, the fast fixture of the figure tests), the seed writes no
event: Rasa, the actions and the backend write what they write. Rasa stamps its events with its own process clock
(which carebot.clock cannot move), so every conversation happens now; right after each one, `Backdate` moves what
it left (its tracker events, their sealed copies' timestamps, its staff cases and appointments) back to its
scripted day, the same wall-clock time that many clinic days earlier, in one place. The seed counts each
conversation in the ledger of its day, so any period of the last days can be checked."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Engine

from carebot.backend.db import to_db
from carebot.dashboard.demo import Ledger, tracker_events
from carebot.handoff.store import handoff_cases, handoff_events
from carebot.privacy.sealing import FERNET_PREFIX, event_data, seal
from carebot.scheduling.tables import appointment, patient

# A patient message and a fragment the bot's reply must contain (empty: any reply). A reply without it means the bot
# did not follow the script, so the ledger would not describe what happened: the seed stops (ScriptError).
Line = Tuple[str, str]
# A REST-channel message: (sender, text) → the texts of the bot's replies.
Say = Callable[[str, str], List[str]]
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


class ScriptError(RuntimeError):
    """The bot answered off script; the message names the conversation, the line and the reply."""


@dataclass(frozen=True)
class LiveScript:
    """One conversation: its lines, the per-patient figures it counts in (dashboard markers), its backend
    figures (key → identity kind: "sender" or "phone") and how many of its messages the bot does not understand."""

    kind: str
    lines: Tuple[Line, ...]
    markers: frozenset
    backend: Tuple[Tuple[str, str], ...] = ()
    not_understood: int = 0
    days_ago: int = 0  # the clinic day it is moved to (Backdate): 0 today, 1 yesterday …


def _booking(day: str, complete: bool) -> LiveScript:
    opening: Tuple[Line, ...] = (
        ("I'd like to book a GP appointment", "When would you like to come in?"),
        (f"next {day} morning", ""),
    )
    if not complete:
        return LiveScript(
            "booking left after the times", opening, frozenset({"booking_started", "time_offered"})
        )
    rest: Tuple[Line, ...] = (
        ("1", "full name"),
        ("Sam Taylor", "date of birth"),
        ("21/07/1980", "Please check:"),
        ("yes", "Booked: "),
    )
    markers = {"booking_started", "time_offered", "picked", "confirm_asked", "booked"}
    return LiveScript("booking", opening + rest, frozenset(markers), (("appointments:booked", "phone"),))


NOT_UNDERSTOOD = LiveScript(
    "not understood", (("zorblax quingle fromp", ""),), frozenset({"not_understood"}), not_understood=1
)
ASKS_FOR_A_PERSON = LiveScript(
    "asks for a person",
    (("can I talk to a person please", ""),),
    frozenset({"paused"}),
    (("handoff:asked_for_human", "sender"),),
)


def scripts(count: int, days: int = 1) -> List[LiveScript]:
    """`count` conversations in a fixed mix: complete bookings spread over the weekdays (so the times offered do
    not run out as fast), bookings left after the times, messages not understood and requests for a person; spread
    evenly over the last `days` clinic days, the first played the oldest (as the tracker's event ids run)."""
    mix: List[LiveScript] = []
    for index in range(count):
        day = DAYS[(index // 4) % len(DAYS)]
        kind = index % 4
        script = (
            _booking(day, True)
            if kind == 0
            else _booking(day, False)
            if kind == 1
            else NOT_UNDERSTOOD
            if kind == 2
            else ASKS_FOR_A_PERSON
        )
        mix.append(replace(script, days_ago=days * (count - 1 - index) // count))
    return mix


def drive(
    say: Say,
    senders: Sequence[str],
    plan: Sequence[LiveScript],
    ledger: Optional[Ledger] = None,
    moved: Optional[Callable[[str, int], Any]] = None,
    by_day: Optional[Dict[int, Ledger]] = None,
) -> Ledger:
    """Each sender plays its script through `say`; the ledger counts what each did (patients, messages, the bot's
    replies, the markers and backend figures its script declares). After each conversation `moved(sender,
    days_ago)` (a Backdate) moves it to its scripted day, and `by_day` (days ago → ledger) counts it there too."""
    ledger = ledger or Ledger()
    for sender, script in zip(senders, plan):
        one = Ledger()
        for number, (text, expected) in enumerate(script.lines, 1):
            replies = say(sender, text)
            if expected and expected not in "\n".join(replies):
                raise ScriptError(
                    f"{script.kind} ({sender[-4:]}), line {number}: expected '{expected}', "
                    f"the bot said {' / '.join(replies)[:200]!r}"
                )
            one.messages += 1
            one.bot_messages += len(replies)
        one.conversations += 1
        one.patients[sender] = set(script.markers)
        one.not_understood_messages += script.not_understood
        for key, identity in script.backend:
            one.add_backend(key, sender.split(":", 1)[1] if identity == "phone" else sender)
        if moved is not None:
            moved(sender, script.days_ago)
        ledger.add(one)
        if by_day is not None:
            by_day.setdefault(script.days_ago, Ledger()).add(one)
    return ledger


def within(by_day: Mapping[int, Ledger], days: int) -> Ledger:
    """The ledger of the last `days` clinic days (today and the days before it) from drive's `by_day`."""
    found = Ledger()
    for days_ago, ledger in by_day.items():
        if days_ago < days:
            found.add(ledger)
    return found


class Backdate:
    """Moves a conversation the real stack just had to `days_ago` clinic days before `today` (same wall-clock
    time): its tracker events (the clear timestamp and the one inside the sealed data, so Rasa reads the same time
    the dashboard counts) and the backend rows the figures read: its staff cases (and their history) and the
    appointments booked from its number. Called between conversations, never while the bot writes them. The
    appointment's own time, the audit log and the clinic's slots keep the real clock: they are not figures of the
    period, and the audit log records when the stack really acted."""

    def __init__(self, tracker: Engine, backend: Engine, zone: dt.tzinfo, today: dt.date) -> None:
        self.tracker, self.backend, self.zone, self.today = tracker, backend, zone, today

    def __call__(self, sender: str, days_ago: int) -> float:
        """Moves `sender`'s conversation (every event of the sender: each seed patient has one conversation); the
        seconds it moved it back (0: it stays)."""
        with self.tracker.connect() as connection:
            rows = connection.execute(
                select(tracker_events.c.id, tracker_events.c.timestamp, tracker_events.c.data).where(
                    tracker_events.c.sender_id == sender
                )
            ).fetchall()
        if not rows:
            return 0.0
        began = min(row.timestamp for row in rows)
        local = dt.datetime.fromtimestamp(began, self.zone)
        target = dt.datetime.combine(self.today - dt.timedelta(days=days_ago), local.time(), self.zone)
        shift = began - target.timestamp()
        if not shift:
            return 0.0
        moved = [
            {"event": row.id, "at": row.timestamp - shift, "data": _restamped(row.data, shift)}
            for row in rows
        ]
        with self.tracker.begin() as connection:
            connection.execute(
                update(tracker_events)
                .where(tracker_events.c.id == bindparam("event"))
                .values(timestamp=bindparam("at"), data=bindparam("data")),
                moved,
            )
        self._backend(sender, dt.timedelta(seconds=shift), dt.datetime.fromtimestamp(began, dt.timezone.utc))
        return shift

    def _backend(self, sender: str, back: dt.timedelta, began: dt.datetime) -> None:
        phones = [sender, sender.split(":", 1)[-1]]
        since = to_db(began - dt.timedelta(seconds=1))

        def earlier(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
            return None if value is None else value - back

        with self.backend.begin() as connection:
            cases = connection.execute(
                select(handoff_cases.c.id, handoff_cases.c.created_at, handoff_cases.c.resolved_at).where(
                    handoff_cases.c.conversation_id == sender, handoff_cases.c.created_at >= since
                )
            ).fetchall()
            for case in cases:
                connection.execute(
                    update(handoff_cases)
                    .where(handoff_cases.c.id == case.id)
                    .values(created_at=earlier(case.created_at), resolved_at=earlier(case.resolved_at))
                )
                for event in connection.execute(
                    select(handoff_events.c.id, handoff_events.c.at).where(
                        handoff_events.c.case_id == case.id
                    )
                ).fetchall():
                    connection.execute(
                        update(handoff_events)
                        .where(handoff_events.c.id == event.id)
                        .values(at=earlier(event.at))
                    )
            booked = connection.execute(
                select(appointment.c.id, appointment.c.created, appointment.c.last_updated)
                .join(patient, patient.c.id == appointment.c.patient_id)
                .where(patient.c.phone.in_(phones), appointment.c.created >= since)
            ).fetchall()
            for row in booked:
                connection.execute(
                    update(appointment)
                    .where(appointment.c.id == row.id)
                    .values(created=earlier(row.created), last_updated=earlier(row.last_updated))
                )


def _restamped(stored: str, shift: float) -> str:
    """An event's stored data with its timestamp `shift` seconds earlier, sealed again when it was sealed."""
    data = event_data(stored)
    if isinstance(data.get("timestamp"), (int, float)):
        data["timestamp"] -= shift
    return seal(data) if stored.startswith(FERNET_PREFIX) else json.dumps(data)
