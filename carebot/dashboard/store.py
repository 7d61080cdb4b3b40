"""The dashboard's queries: Rasa's tracker events (its clear columns: sender, type, timestamp, intent and action
names) and the backend's tables, on SQLite and PostgreSQL alike.

Counting is done by the database: one grouped query gives every per-patient flag of carebot.dashboard.model.MARKERS
and the event totals (one row per patient, never a session's events), one query the slot events of the booking
outcome and of triage, a window query the bot's response times (docs/dashboard.md, "Speed"). Event data is
encrypted (carebot.privacy.sealing); only three small sets are decrypted: the `booking_result` and `triage_level`
slots (and the triage state just before a level, for its complaint), and the texts of messages the bot did not
understand, which are shown grouped.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import compress
from typing import Any, Callable, Dict, FrozenSet, List, Mapping, Optional, Sequence, Set, Tuple

from sqlalchemy import Index, MetaData, Table, bindparam, inspect, text
from sqlalchemy.engine import Connection, Engine

from carebot.backend.db import to_db
from carebot.dashboard.model import (
    FUNNELS,
    MARKERS,
    NOT_UNDERSTOOD_ACTIONS,
    RESULT_MARKERS,
    SYSTEM_INTENTS,
    TRIAGE_LEVELS,
    Count,
    Period,
    Rate,
    Report,
    funnel_members,
    funnel_report,
    group_similar,
    median_seconds,
)
from carebot.handoff.model import REASON_LABELS, Reason
from carebot.privacy.sealing import event_data

EVENTS = "events"  # rasa.core.tracker_store.SQLTrackerStore.SQLEvent
# The reads the dashboard makes of Rasa's table, which only indexes the sender: by kind of event within a period.
TRACKER_INDEXES = (
    ("ix_events_dashboard_type", ("type_name", "timestamp")),
    ("ix_events_dashboard_action", ("action_name", "timestamp")),
    ("ix_events_dashboard_intent", ("intent_name", "timestamp")),
)
TRIAGE_LOOKBACK = dt.timedelta(
    days=1
)  # a triage's state is set before its level: look that far before the period
QUERIES_AT_ONCE = 4  # of the pool's 10 connections: several staff may open the page at once
VALUES_KEPT = 500_000  # slot readings kept in memory (a short string each), oldest dropped first
DeliveryOf = Callable[[Sequence[str]], Dict[str, Optional[str]]]

_NOT_SYSTEM = "(intent_name IS NULL OR intent_name NOT IN :system)"
_IN_PERIOD = "timestamp >= :start AND timestamp < :end"


def _marker_bits() -> str:
    """An event's markers as one integer (bit i: MARKERS[i]), a CASE over its type and clear name: PostgreSQL's
    grouped pass ORs them per patient (bit_or) instead of testing every marker's condition on every event."""
    names: Dict[str, Dict[str, int]] = {}  # type → clear name → bits ("" : every event of the type)
    for index, marker in enumerate(MARKERS):
        kind = "slot" if marker.column == "requested_slot" else marker.type_name
        for name in marker.names or ("",):
            # The bot's own names (never a patient's words) are written into the query.
            assert not name or name.replace("_", "").isalnum(), name
            names.setdefault(kind, {})
            names[kind][name] = names[kind].get(name, 0) | 1 << index
    branches = []
    for kind, bits in names.items():
        whole = bits.pop("", 0)
        column = "action_name" if kind == "action" else "intent_name"
        inner = " ".join(f"WHEN '{name}' THEN {mask | whole}" for name, mask in bits.items())
        branches.append(
            f"WHEN '{kind}' THEN " + (f"CASE {column} {inner} ELSE {whole} END" if inner else str(whole))
        )
    return f"CASE type_name {' '.join(branches)} ELSE 0 END"


_MARKER_BITS = _marker_bits()


def ensure_tracker_indexes(engine: Engine) -> None:
    """Add the dashboard's indexes to Rasa's events table (idempotent; nothing when the table is not there yet)."""
    if not inspect(engine).has_table(EVENTS):
        return
    table = Table(EVENTS, MetaData(), autoload_with=engine)
    present = {index["name"] for index in inspect(engine).get_indexes(EVENTS)}
    for name, columns in TRACKER_INDEXES:
        if name not in present:
            Index(name, *(table.c[column] for column in columns)).create(engine)


@dataclass(frozen=True)
class Facts:
    """What one period's queries found: per-patient flags and the sets the report's lists are drawn from."""

    reached: Mapping[str, FrozenSet[str]]  # marker or result key → patients
    lists: Mapping[str, FrozenSet[str]]  # every figure's key → the identities behind it


class DashboardStore:
    """Reads the tracker store and the backend database; `report` for the page, `members` for a figure's list."""

    def __init__(
        self,
        backend: Engine,
        tracker: Optional[Engine],
        delivery: Optional[DeliveryOf] = None,
    ) -> None:
        self.backend, self._tracker, self.delivery = backend, tracker, delivery
        self._indexed, self._indexing = False, threading.Lock()
        self._values: Dict[int, Optional[str]] = {}  # slot event id → what the dashboard read from it

    @property
    def tracker(self) -> Optional[Engine]:
        """The tracker store's engine once Rasa has made its table (with the dashboard's indexes), else None."""
        if self._tracker is None:
            return None
        with self._indexing:  # the report's queries run on several threads
            if not self._indexed:
                if not inspect(self._tracker).has_table(EVENTS):
                    return None
                ensure_tracker_indexes(self._tracker)
                self._indexed = True
        return self._tracker

    # ---- the page --------------------------------------------------------------------------------------------------

    def report(self, period: Period) -> Report:
        report, _facts = self._compute(period)
        return report

    def members(self, period: Period, key: str) -> Optional[List[str]]:
        """The identities (conversation ids) behind the figure `key`, sorted; None for an unknown key."""
        _report, facts = self._compute(period)
        found = facts.lists.get(key)
        return None if found is None else sorted(found)

    def _compute(self, period: Period) -> Tuple[Report, Facts]:
        """The independent queries run side by side (the database works while Python decrypts and counts)."""
        report = Report(period)
        lists: Dict[str, FrozenSet[str]] = {}
        reminder_lists: Dict[str, FrozenSet[str]] = {}
        appointment_lists: Dict[str, FrozenSet[str]] = {}
        with ThreadPoolExecutor(max_workers=QUERIES_AT_ONCE) as pool:
            # The longest first: the grouped pass, the slot values (decrypted while the database groups) …
            reached_soon = pool.submit(self._reached, period)
            outcomes_soon = pool.submit(self._outcomes, period)
            not_understood_soon = pool.submit(self._not_understood, period)
            median_soon = pool.submit(self._median_response, period)
            cases_soon = pool.submit(self._handoff_cases, period)
            reminders_soon = pool.submit(self._reminders, period, reminder_lists)
            appointments_soon = pool.submit(self._appointments, period, appointment_lists)
            reached, totals = reached_soon.result()
            if totals.pop("unnamed_questions", 0):  # stored before the slot asked for was kept in clear
                for key, older in self._asked(period).items():
                    reached[key] = reached.get(key, frozenset()) | older
            results, levels, complaints = outcomes_soon.result()
            reached.update(results)
            report.median_response_seconds = median_soon.result()
            not_understood = not_understood_soon.result()
            reached["not_understood"] = frozenset(sender for sender, _text in not_understood)
            totals["not_understood"] = len(not_understood)
            cases = cases_soon.result()
            report.reminders = reminders_soon.result()
            report.appointments = appointments_soon.result()
        lists.update(reminder_lists)
        lists.update(appointment_lists)
        wrote = reached.get("wrote", frozenset())
        paused = reached.get("paused", frozenset()) & wrote
        lists.update(
            conversations=reached.get("session", frozenset()),
            patients=wrote,
            messages=wrote,
            bot_messages=reached.get("answered", frozenset()),
            contained=wrote - paused,
            paused=paused,
            consent_declined=reached.get("consent_declined", frozenset()),
            red_flag=reached.get("red_flag", frozenset()),
            not_understood=reached.get("not_understood", frozenset()),
        )
        patients = len(wrote)
        report.overview = [
            Count("conversations", totals["sessions"], "conversations"),
            Count("patients", patients, "patients"),
            Count("patient messages", totals["messages"], "messages"),
            Count("bot messages", totals["bot_messages"], "bot_messages"),
            Count("handled without staff", len(wrote - paused), "contained", patients),
            Count("handed to staff", len(paused), "paused", patients),
            Count("red flags fired", len(lists["red_flag"]), "red_flag", patients),
            Count("consent declined", len(lists["consent_declined"]), "consent_declined", patients),
            Count("messages not understood", totals["not_understood"], "not_understood", totals["messages"]),
        ]
        for reason in Reason:
            key = f"handoff:{reason.value}"
            lists[key] = frozenset(cases.get(reason.value, ()))
            report.handoff_reasons.append(
                Count(REASON_LABELS[reason], len(cases.get(reason.value, ())), key, patients)
            )
        for funnel in FUNNELS:
            built = funnel_report(funnel, reached)
            report.funnels.append(built)
            for index in range(len(funnel.steps)):
                lists[f"funnel:{funnel.key}:{index}"] = funnel_members(funnel, index, reached)
        for level in sorted(
            levels, key=lambda name: (TRIAGE_LEVELS.index(name) if name in TRIAGE_LEVELS else 99, name)
        ):
            lists[f"triage_level:{level}"] = frozenset(levels[level])
            report.triage_levels.append(
                Count(level.replace("_", " "), len(levels[level]), f"triage_level:{level}")
            )
        for complaint in sorted(complaints, key=lambda name: (-len(complaints[name]), name)):
            key = f"triage_complaint:{complaint}"
            lists[key] = frozenset(complaints[complaint])
            report.triage_complaints.append(
                Count(complaint.replace("_", " "), len(complaints[complaint]), key)
            )
        report.not_understood = group_similar(not_understood)
        for index, group in enumerate(report.not_understood):
            lists[f"not_understood:{index}"] = group.senders
        return report, Facts(reached, lists)

    # ---- tracker events --------------------------------------------------------------------------------------------

    def _params(self, period: Period, **more: Any) -> Dict[str, Any]:
        return {"start": period.start.timestamp(), "end": period.end.timestamp(), **more}

    def _reached(self, period: Period) -> Tuple[Dict[str, FrozenSet[str]], Dict[str, int]]:
        """Every clear marker as the set of patients who had its event in the period, and the event totals, from one
        grouped query (a row per patient). A total is a per-patient count, so it is also the flag of its marker
        (wrote, session, answered). `unnamed_questions` counts `requested_slot` events stored before the slot asked
        for was kept in clear (carebot.privacy.tracker_store.clear_name): only then are their values read (_asked)."""
        totals = {"sessions": 0, "messages": 0, "bot_messages": 0, "unnamed_questions": 0}
        if self.tracker is None:
            return {}, totals
        counted = {  # total → (its marker, the events it counts)
            "messages": ("wrote", f"type_name = 'user' AND {_NOT_SYSTEM}"),
            "sessions": ("session", "type_name = 'session_started'"),
            "bot_messages": ("answered", "type_name = 'bot'"),
            "unnamed_questions": (
                "",
                "type_name = 'slot' AND action_name = 'requested_slot' AND intent_name IS NULL",
            ),
        }
        conditions: Dict[str, str] = {}
        params = self._params(
            period,
            system=sorted(SYSTEM_INTENTS),
            actions=sorted({name for m in MARKERS if m.type_name == "action" for name in m.names}),
        )
        expanding = [bindparam(name, expanding=True) for name in ("system", "actions")]
        for number, marker in enumerate(MARKERS):
            if marker.column == "requested_slot":  # the tracker store keeps the slot asked for in intent_name
                params[f"m{number}"] = list(marker.names)
                expanding.append(bindparam(f"m{number}", expanding=True))
                conditions[marker.key] = (
                    f"type_name = 'slot' AND action_name = 'requested_slot' AND intent_name IN :m{number}"
                )
            elif marker.column == "type_name":
                conditions[marker.key] = f"type_name = '{marker.type_name}'"
            else:
                params[f"m{number}"] = list(marker.names)
                expanding.append(bindparam(f"m{number}", expanding=True))
                conditions[marker.key] = f"type_name = '{marker.type_name}' AND {marker.column} IN :m{number}"
        columns = [f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)" for _marker, cond in counted.values()]
        postgres = self.tracker.dialect.name == "postgresql"
        if postgres:  # one expression per event, its markers as bits (SQLite has no bit_or)
            columns.append(f"bit_or({_MARKER_BITS})")
            expanding = expanding[:2]
            params = {key: value for key, value in params.items() if not key.startswith("m")}
        else:
            columns += [f"MAX(CASE WHEN {cond} THEN 1 ELSE 0 END)" for cond in conditions.values()]
        query = text(
            f"SELECT sender_id, {', '.join(columns)} FROM {EVENTS} WHERE {_IN_PERIOD} AND (type_name IN "
            f"('user', 'bot', 'session_started', 'pause') OR (type_name = 'action' AND action_name IN :actions) "
            f"OR (type_name = 'slot' AND action_name = 'requested_slot')) "
            f"GROUP BY sender_id"
        ).bindparams(*expanding)
        with self.tracker.connect() as connection:
            rows = connection.execute(query, params).fetchall()
        by_column = list(zip(*rows)) or [()] * (1 + len(columns))
        senders = by_column[0]
        reached: Dict[str, FrozenSet[str]] = {}
        for index, (name, (flag, _cond)) in enumerate(counted.items(), start=1):
            totals[name] = int(sum(by_column[index]))
            if flag:
                reached[flag] = frozenset(compress(senders, by_column[index]))
        first = 1 + len(counted)
        for index, key in enumerate(conditions):
            flags = [bits >> index & 1 for bits in by_column[first]] if postgres else by_column[first + index]
            reached[key] = frozenset(compress(senders, flags))
        return reached, totals

    def _slot_rows(self, period: Period, names: Sequence[str], since: Optional[float] = None) -> List[Any]:
        """Slot and action events named `names` (clear columns only), by patient in event order."""
        query = text(
            f"SELECT id, sender_id, type_name, action_name, timestamp FROM {EVENTS} "
            f"WHERE timestamp >= :since AND timestamp < :end AND action_name IN :names "
            f"AND type_name IN ('slot', 'action') ORDER BY sender_id, id"
        ).bindparams(bindparam("names", expanding=True))
        assert self.tracker is not None
        with self.tracker.connect() as connection:
            return connection.execute(
                query, self._params(period, since=since or period.start.timestamp(), names=list(names))
            ).fetchall()

    def _read(self, ids: Sequence[int], reading: Callable[[Any], Optional[str]]) -> Dict[int, Optional[str]]:
        """What `reading` makes of each slot event's value (a booking kind, a level, a complaint), decrypting only
        events not read before: an event never changes, and the page and every list behind it ask again."""
        missing = [event_id for event_id in ids if event_id not in self._values]
        assert self.tracker is not None
        for start in range(0, len(missing), 5000):
            with self.tracker.connect() as connection:
                for event_id, data in _rows_by_id(connection, missing[start : start + 5000]):
                    if len(self._values) >= VALUES_KEPT:
                        self._values.pop(next(iter(self._values)), None)
                    self._values[event_id] = reading(event_data(data).get("value"))
        return {event_id: self._values.get(event_id) for event_id in ids}

    def _outcomes(
        self, period: Period
    ) -> Tuple[Dict[str, FrozenSet[str]], Dict[str, Set[str]], Dict[str, Set[str]]]:
        """What three slots say, from one pass over their events (and the actions that set them): patients whose
        `booking_result` says booked, rescheduled or cancelled in the period; patients by triage level (the
        `triage_level` slot set in the period by `action_triage_outcome` or `action_red_flag`) and by complaint (the
        first protocol of the triage state set before it; "red flag" when `action_red_flag` set the level)."""
        results: Dict[str, Set[str]] = {key: set() for key in RESULT_MARKERS.values()}
        levels: Dict[str, Set[str]] = {}
        complaints: Dict[str, Set[str]] = {}
        if self.tracker is None:
            return {}, levels, complaints
        start = period.start.timestamp()
        since = (period.start - TRIAGE_LOOKBACK).timestamp()
        rows = self._slot_rows(
            period,
            ["booking_result", "triage_level", "triage_state", "action_triage_outcome", "action_red_flag"],
            since,
        )
        booking: List[Tuple[int, str]] = []  # (booking_result event, sender)
        outcomes: List[
            Tuple[str, int, Optional[int]]
        ] = []  # (sender, level event, state event or None: red flag)
        sender, state, by = None, None, None
        for event_id, patient, type_name, name, at in rows:
            if name == "booking_result":
                if at >= start:
                    booking.append((event_id, patient))
                continue
            if patient != sender:
                sender, state, by = patient, None, None
            if type_name == "action":
                by = name
            elif name == "triage_state":
                state = event_id
            elif by and at >= start:
                outcomes.append((patient, event_id, state if by == "action_triage_outcome" else None))
                by = None
        kinds = self._read([event_id for event_id, _patient in booking], _booking_kind)
        for event_id, patient in booking:
            kind = kinds[event_id]
            if kind in RESULT_MARKERS:
                results[RESULT_MARKERS[kind]].add(patient)
        found = self._read([level for _, level, _ in outcomes], _text_value)
        found.update(self._read([state for _, _, state in outcomes if state is not None], _first_protocol))
        for patient, level_id, state_id in outcomes:
            level = found[level_id]
            if level:
                levels.setdefault(level, set()).add(patient)
                complaint = "red flag" if state_id is None else (found[state_id] or "not named")
                complaints.setdefault(complaint, set()).add(patient)
        return {key: frozenset(value) for key, value in results.items()}, levels, complaints

    def _asked(self, period: Period) -> Dict[str, FrozenSet[str]]:
        """The form-question markers of `requested_slot` events stored before the tracker store kept the slot asked
        for in clear (carebot.privacy.tracker_store.clear_name): their values are decrypted, once each."""
        if self.tracker is None:
            return {}
        query = text(
            f"SELECT id, sender_id FROM {EVENTS} WHERE {_IN_PERIOD} AND type_name = 'slot' "
            f"AND action_name = 'requested_slot' AND intent_name IS NULL"
        )
        with self.tracker.connect() as connection:
            rows = connection.execute(query, self._params(period)).fetchall()
        asked = self._read([row.id for row in rows], _text_value)
        return {
            marker.key: frozenset(row.sender_id for row in rows if asked[row.id] in marker.names)
            for marker in MARKERS
            if marker.column == "requested_slot"
        }

    def _not_understood(self, period: Period) -> List[Tuple[str, str]]:
        """(patient, text) of each message the bot answered with its fallback or declined: the first action after
        the patient's message is one of NOT_UNDERSTOOD_ACTIONS. Found from those actions, which are few: the event
        before each among the patient's messages and actions must be a message (no other action answered it first).
        The CTE is materialised (SQLite 3.35+, PostgreSQL 12+) so that the messages are then read by id: joined
        directly, PostgreSQL hashed the whole table to match the correlated subquery's ids."""
        if self.tracker is None:
            return []
        query = text(
            f"WITH answered AS MATERIALIZED (SELECT (SELECT MAX(p.id) FROM {EVENTS} p "
            f"WHERE p.sender_id = a.sender_id AND p.type_name IN ('user', 'action') AND p.id < a.id) AS asked "
            f"FROM {EVENTS} a WHERE a.timestamp >= :start AND a.timestamp < :end AND a.type_name = 'action' "
            f"AND a.action_name IN :answers) "
            f"SELECT u.sender_id, u.data FROM answered JOIN {EVENTS} u ON u.id = answered.asked "
            f"WHERE u.type_name = 'user' ORDER BY u.id"
        ).bindparams(bindparam("answers", expanding=True))
        with self.tracker.connect() as connection:
            rows = connection.execute(query, self._params(period, answers=list(NOT_UNDERSTOOD_ACTIONS)))
            return [(row.sender_id, str(event_data(row.data).get("text") or "")) for row in rows]

    def _median_response(self, period: Period) -> Optional[float]:
        """The median of the seconds from a patient's message to the bot's first reply to it (the next bot message
        before any other patient message), over every answered message in the period. PostgreSQL computes the
        median itself; SQLite has no percentile function, so its delays are read and the median taken here."""
        if self.tracker is None:
            return None
        postgres = self.tracker.dialect.name == "postgresql"
        measure = (
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY timestamp - previous_at)"
            if postgres
            else "timestamp - previous_at"
        )
        query = text(
            f"SELECT {measure} FROM (SELECT type_name, timestamp, "
            f"LAG(type_name) OVER (PARTITION BY sender_id ORDER BY id) AS previous_type, "
            f"LAG(timestamp) OVER (PARTITION BY sender_id ORDER BY id) AS previous_at "
            f"FROM {EVENTS} WHERE {_IN_PERIOD} AND (type_name = 'bot' OR (type_name = 'user' AND {_NOT_SYSTEM}))"
            f") answered WHERE type_name = 'bot' AND previous_type = 'user'"
        ).bindparams(bindparam("system", expanding=True))
        with self.tracker.connect() as connection:
            rows = connection.execute(query, self._params(period, system=sorted(SYSTEM_INTENTS))).fetchall()
        if postgres:
            return None if rows[0][0] is None else round(float(rows[0][0]), 2)
        return median_seconds([float(row[0]) for row in rows])

    # ---- backend tables --------------------------------------------------------------------------------------------

    def _between(self, period: Period) -> Dict[str, Any]:
        return {"start": to_db(period.start), "end": to_db(period.end)}

    def _handoff_cases(self, period: Period) -> Dict[str, List[str]]:
        query = text(
            "SELECT reason, conversation_id FROM handoff_cases WHERE created_at >= :start AND created_at < :end"
        )
        cases: Dict[str, List[str]] = {}
        with self.backend.connect() as connection:
            for reason, conversation in connection.execute(query, self._between(period)):
                cases.setdefault(reason, []).append(conversation)
        return cases

    def _reminders(self, period: Period, lists: Dict[str, FrozenSet[str]]) -> List[Rate]:
        """Reminder messages due in the period: sent, delivered and read on WhatsApp (from the outbox's status
        callbacks), and the medication doses' answers."""
        query = text(
            "SELECT r.conversation_id, r.kind, o.status, o.response, o.idempotency_key "
            "FROM reminder_occurrences o JOIN reminders r ON r.id = o.reminder_id "
            "WHERE o.due_at >= :start AND o.due_at < :end AND o.status IN ('sent', 'missed')"
        )
        with self.backend.connect() as connection:
            rows = list(connection.execute(query, self._between(period)))
        sent = [row for row in rows if row.status == "sent"]
        statuses = self.delivery([row.idempotency_key for row in sent]) if self.delivery and sent else {}
        delivered = [row for row in sent if statuses.get(row.idempotency_key) in ("delivered", "read")]
        read = [row for row in sent if statuses.get(row.idempotency_key) == "read"]
        doses = [row for row in sent if row.kind == "medication" and row.response != "snoozed"]
        answers = {
            "taken": [row for row in doses if row.response == "taken"],
            "skipped": [row for row in doses if row.response == "skipped"],
            "no_answer": [row for row in doses if row.response not in ("taken", "skipped")],
        }
        rates = [
            Rate(
                "sent",
                len(sent),
                len(rows),
                "reminders:sent",
            ),
            Rate("delivered", len(delivered), len(sent), "reminders:delivered"),
            Rate("read", len(read), len(sent), "reminders:read"),
        ] + [
            Rate(f"doses {name.replace('_', ' ')}", len(found), len(doses), f"reminders:{name}")
            for name, found in answers.items()
        ]
        chosen = {"reminders:sent": sent, "reminders:delivered": delivered, "reminders:read": read}
        chosen.update({f"reminders:{name}": found for name, found in answers.items()})
        for key, found in chosen.items():
            lists[key] = frozenset(row.conversation_id for row in found)
        return rates

    def _appointments(self, period: Period, lists: Dict[str, FrozenSet[str]]) -> List[Count]:
        """Appointments made in the period (a reschedule's new appointment is not a new booking), cancelled in it
        (not the old half of a reschedule), and no-shows of appointments that started in it."""
        figures = (
            (
                "booked",
                "booked via the bot",
                "a.created >= :start AND a.created < :end AND a.replaces_id IS NULL",
            ),
            (
                "cancelled",
                "cancelled",
                "a.status = 'cancelled' AND a.last_updated >= :start AND a.last_updated < :end "
                "AND a.id NOT IN (SELECT n.replaces_id FROM sched_appointment n WHERE n.replaces_id IS NOT NULL "
                "AND n.created >= :start)",
            ),
            ("noshow", "no-shows", "a.status = 'noshow' AND a.start >= :start AND a.start < :end"),
        )
        counts: List[Count] = []
        with self.backend.connect() as connection:
            for key, label, where in figures:
                rows = connection.execute(
                    text(
                        "SELECT p.phone FROM sched_appointment a JOIN sched_patient p ON p.id = a.patient_id "
                        f"WHERE a.status NOT IN ('waitlist', 'proposed') AND {where}"
                    ),
                    self._between(period),
                ).fetchall()
                lists[f"appointments:{key}"] = frozenset(row.phone for row in rows)
                counts.append(Count(label, len(rows), f"appointments:{key}"))
        return counts


def _rows_by_id(connection: Connection, ids: Sequence[int]) -> Any:
    """(id, data) of the events `ids`, written into the query as integers: SQLAlchemy's expanding parameters cost
    more to compile than the database takes to find thousands of rows by key."""
    listed = ", ".join(str(int(event_id)) for event_id in ids)
    return connection.exec_driver_sql(f"SELECT id, data FROM {EVENTS} WHERE id IN ({listed})")


def _booking_kind(value: Any) -> Optional[str]:
    return str(value.get("kind")) if isinstance(value, dict) and value.get("kind") else None


def _text_value(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def _first_protocol(value: Any) -> Optional[str]:
    protocols = value.get("protocols") if isinstance(value, dict) else None
    return str(protocols[0]) if protocols else None
