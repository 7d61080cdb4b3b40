"""The dashboard's queries: Rasa's tracker events (its clear columns: sender, type, timestamp, intent and action
names) and the backend's tables, on SQLite and PostgreSQL alike.

Counting is done by the database: one grouped query gives every per-patient flag of carebot.dashboard.model.MARKERS
(one row per patient, never a session's events), one query the event totals, a window query the bot's response
times. Event data is encrypted (carebot.privacy.sealing); only three small sets are decrypted: the `booking_result`
and `triage_level` slots (and the triage state just before a level, for its complaint), and the texts of messages
the bot did not understand, which are shown grouped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, List, Mapping, Optional, Sequence, Set, Tuple

from sqlalchemy import Index, MetaData, Table, bindparam, inspect, text
from sqlalchemy.engine import Engine

from carebot.backend.db import to_db
from carebot.dashboard.model import (
    FUNNELS,
    MARKERS,
    NOT_UNDERSTOOD_INTENTS,
    RESULT_MARKERS,
    SYSTEM_INTENTS,
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
LEVELS = ("emergency", "urgent", "routine", "self_care")
DeliveryOf = Callable[[Sequence[str]], Dict[str, Optional[str]]]

_NOT_SYSTEM = "(intent_name IS NULL OR intent_name NOT IN :system)"
_IN_PERIOD = "timestamp >= :start AND timestamp < :end"


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
        self._indexed = False

    @property
    def tracker(self) -> Optional[Engine]:
        """The tracker store's engine once Rasa has made its table (with the dashboard's indexes), else None."""
        if self._tracker is None:
            return None
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
        report = Report(period)
        lists: Dict[str, FrozenSet[str]] = {}
        reached = self._reached(period)
        totals = self._totals(period)
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
        cases = self._handoff_cases(period)
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
        levels, complaints = self._triage(period)
        for level in sorted(levels, key=lambda name: (LEVELS.index(name) if name in LEVELS else 99, name)):
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
        report.reminders = self._reminders(period, lists)
        report.appointments = self._appointments(period, lists)
        report.not_understood = group_similar(self._not_understood(period))
        for index, group in enumerate(report.not_understood):
            lists[f"not_understood:{index}"] = group.senders
        report.median_response_seconds = median_seconds(self._response_times(period))
        return report, Facts(reached, lists)

    # ---- tracker events --------------------------------------------------------------------------------------------

    def _params(self, period: Period, **more: Any) -> Dict[str, Any]:
        return {"start": period.start.timestamp(), "end": period.end.timestamp(), **more}

    def _reached(self, period: Period) -> Dict[str, FrozenSet[str]]:
        """Every marker as the set of patients who had its event in the period (one grouped query), and the
        outcomes read from the `booking_result` slot."""
        if self.tracker is None:
            return {}
        conditions: Dict[str, str] = {
            "wrote": f"type_name = 'user' AND {_NOT_SYSTEM}",
            "session": "type_name = 'session_started'",
            "answered": "type_name = 'bot'",
        }
        params = self._params(period, system=sorted(SYSTEM_INTENTS))
        for number, marker in enumerate(MARKERS):
            if marker.column == "type_name":
                conditions[marker.key] = f"type_name = '{marker.type_name}'"
            else:
                params[f"m{number}"] = list(marker.names)
                conditions[marker.key] = f"type_name = '{marker.type_name}' AND {marker.column} IN :m{number}"
        flags = ", ".join(
            f"MAX(CASE WHEN {cond} THEN 1 ELSE 0 END) AS f{i}" for i, cond in enumerate(conditions.values())
        )
        query = text(f"SELECT sender_id, {flags} FROM {EVENTS} WHERE {_IN_PERIOD} GROUP BY sender_id")
        expanding = [bindparam("system", expanding=True)] + [
            bindparam(f"m{n}", expanding=True) for n, m in enumerate(MARKERS) if m.column != "type_name"
        ]
        keys = list(conditions)
        found: Dict[str, Set[str]] = {key: set() for key in keys}
        with self.tracker.connect() as connection:
            for row in connection.execute(query.bindparams(*expanding), params):
                for index, key in enumerate(keys):
                    if row[index + 1]:
                        found[key].add(row[0])
        reached = {key: frozenset(value) for key, value in found.items()}
        reached.update(self._results(period))
        return reached

    def _slot_rows(self, period: Period, names: Sequence[str], since: Optional[float] = None) -> List[Any]:
        query = text(
            f"SELECT id, sender_id, type_name, action_name, timestamp, data FROM {EVENTS} "
            f"WHERE timestamp >= :since AND timestamp < :end AND action_name IN :names "
            f"AND type_name IN ('slot', 'action') ORDER BY sender_id, id"
        ).bindparams(bindparam("names", expanding=True))
        assert self.tracker is not None
        with self.tracker.connect() as connection:
            return list(
                connection.execute(
                    query,
                    self._params(period, since=since or period.start.timestamp(), names=list(names)),
                )
            )

    def _results(self, period: Period) -> Dict[str, FrozenSet[str]]:
        """Patients whose `booking_result` slot says booked, rescheduled or cancelled in the period."""
        found: Dict[str, Set[str]] = {key: set() for key in RESULT_MARKERS.values()}
        for row in self._slot_rows(period, ["booking_result"]):
            value = event_data(row.data).get("value")
            kind = value.get("kind") if isinstance(value, dict) else None
            if kind in RESULT_MARKERS:
                found[RESULT_MARKERS[kind]].add(row.sender_id)
        return {key: frozenset(value) for key, value in found.items()}

    def _triage(self, period: Period) -> Tuple[Dict[str, Set[str]], Dict[str, Set[str]]]:
        """Patients by triage level (the `triage_level` slot set in the period) and by complaint (the first protocol
        of the triage state set before it; "red flag" when `action_red_flag` set the level)."""
        levels: Dict[str, Set[str]] = {}
        complaints: Dict[str, Set[str]] = {}
        if self.tracker is None:
            return levels, complaints
        since = (period.start - TRIAGE_LOOKBACK).timestamp()
        rows = self._slot_rows(
            period, ["triage_level", "triage_state", "action_triage_outcome", "action_red_flag"], since
        )
        sender, state, by = None, None, None
        for row in rows:
            if row.sender_id != sender:
                sender, state, by = row.sender_id, None, None
            if row.type_name == "action":
                by = row.action_name
            elif row.action_name == "triage_state":
                state = row.data
            elif by and row.timestamp >= period.start.timestamp():
                level = event_data(row.data).get("value")
                if isinstance(level, str):
                    levels.setdefault(level, set()).add(sender)
                    complaints.setdefault(self._complaint(by, state), set()).add(sender)
                by = None
        return levels, complaints

    @staticmethod
    def _complaint(action: str, state: Optional[str]) -> str:
        if action == "action_red_flag":
            return "red flag"
        value = event_data(state).get("value") if state else None
        protocols = value.get("protocols") if isinstance(value, dict) else None
        return str(protocols[0]) if protocols else "not named"

    def _totals(self, period: Period) -> Dict[str, int]:
        names = {"sessions": 0, "messages": 0, "bot_messages": 0, "not_understood": 0}
        if self.tracker is None:
            return names
        query = text(
            f"SELECT SUM(CASE WHEN type_name = 'session_started' THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN type_name = 'user' AND {_NOT_SYSTEM} THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN type_name = 'bot' THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN type_name = 'user' AND intent_name IN :fallback THEN 1 ELSE 0 END) "
            f"FROM {EVENTS} WHERE {_IN_PERIOD} AND type_name IN ('session_started', 'user', 'bot')"
        ).bindparams(bindparam("system", expanding=True), bindparam("fallback", expanding=True))
        params = self._params(period, system=sorted(SYSTEM_INTENTS), fallback=list(NOT_UNDERSTOOD_INTENTS))
        with self.tracker.connect() as connection:
            row = connection.execute(query, params).one()
        return {name: int(value or 0) for name, value in zip(names, row)}

    def _not_understood(self, period: Period) -> List[Tuple[str, str]]:
        if self.tracker is None:
            return []
        query = text(
            f"SELECT sender_id, data FROM {EVENTS} WHERE {_IN_PERIOD} AND type_name = 'user' "
            f"AND intent_name IN :fallback"
        ).bindparams(bindparam("fallback", expanding=True))
        with self.tracker.connect() as connection:
            rows = connection.execute(query, self._params(period, fallback=list(NOT_UNDERSTOOD_INTENTS)))
            return [(row.sender_id, str(event_data(row.data).get("text") or "")) for row in rows]

    def _response_times(self, period: Period) -> List[float]:
        """Seconds from a patient's message to the bot's first reply to it (the next bot message before any other
        patient message), for every answered message in the period."""
        if self.tracker is None:
            return []
        query = text(
            f"SELECT timestamp - previous_at FROM (SELECT type_name, timestamp, "
            f"LAG(type_name) OVER (PARTITION BY sender_id ORDER BY id) AS previous_type, "
            f"LAG(timestamp) OVER (PARTITION BY sender_id ORDER BY id) AS previous_at "
            f"FROM {EVENTS} WHERE {_IN_PERIOD} AND (type_name = 'bot' OR (type_name = 'user' AND {_NOT_SYSTEM}))"
            f") answered WHERE type_name = 'bot' AND previous_type = 'user'"
        ).bindparams(bindparam("system", expanding=True))
        with self.tracker.connect() as connection:
            rows = connection.execute(query, self._params(period, system=sorted(SYSTEM_INTENTS)))
            return [float(row[0]) for row in rows]

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
                "AND NOT EXISTS (SELECT 1 FROM sched_appointment n WHERE n.replaces_id = a.id)",
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
