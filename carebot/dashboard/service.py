"""The dashboard as the staff pages use it (carebot.handoff.inbox.Dashboard): a period read from the page's
`from`/`to` in the clinic's days, its report, and the list of patients behind one figure. Bound by the backend
(carebot.server.app), so the inbox never imports this package. Blocking calls."""

from __future__ import annotations

from typing import List, Optional

from carebot.clinic import Clinic
from carebot.clock import clinic_now
from carebot.dashboard.model import Period, Report
from carebot.dashboard.store import DashboardStore


class StaffDashboard:
    def __init__(self, store: DashboardStore, clinic: Clinic) -> None:
        self.store, self.clinic = store, clinic

    def period(self, first: Optional[str], last: Optional[str]) -> Period:
        """The period of the page's query (PeriodError, a ValueError, with a message for the reader)."""
        return Period.parse(first, last, clinic_now(self.clinic.tz).date(), self.clinic.tz)

    def report(self, period: Period) -> Report:
        return self.store.report(period)

    def members(self, period: Period, key: str) -> Optional[List[str]]:
        return self.store.members(period, key)
