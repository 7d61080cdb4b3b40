"""Review as the staff pages use it (carebot.handoff.inbox.Review): bound by the backend, so the inbox never imports
this package. Blocking calls."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Optional, Set, Tuple

from carebot.clinic import Clinic
from carebot.clock import clinic_now
from carebot.dashboard.model import Period
from carebot.review.model import FLOWS, OUTCOMES, Turn, confidence_below
from carebot.review.store import Listed, ReviewStore

# The dashboard's list of the conversations behind a figure (carebot.dashboard.store.DashboardStore.members).
FigureMembers = Callable[[Period, str], Optional[List[str]]]


class StaffReview:
    def __init__(self, store: ReviewStore, clinic: Clinic, stories: Path, members: FigureMembers) -> None:
        self.store, self.clinic, self.stories, self.members = store, clinic, stories, members

    @property
    def intents(self) -> List[str]:
        return sorted(self.store.intents)

    def period(self, first: Optional[str], last: Optional[str]) -> Period:
        """The period of the page's query (PeriodError, a ValueError, with a message for the reader)."""
        return Period.parse(first, last, clinic_now(self.clinic.tz).date(), self.clinic.tz)

    flows, outcomes = sorted(FLOWS), list(OUTCOMES)
    confidence_below = staticmethod(confidence_below)

    def conversations(
        self,
        period: Period,
        intent: str = "",
        only_not_understood: bool = False,
        flow: str = "",
        outcome: str = "",
        below: Optional[float] = None,
    ) -> List[Listed]:
        """The period's conversations matching every criterion given; a flow or outcome is one of FLOWS/OUTCOMES
        (the dashboard's figure behind it, so both pages count the same conversations)."""
        among: Optional[Set[str]] = None
        for key in (FLOWS.get(flow), OUTCOMES.get(outcome)):
            if key:
                members = set(self.members(period, key) or ())
                among = members if among is None else among & members
        return self.store.conversations(period.start, period.end, intent, only_not_understood, among, below)

    def transcript(self, event_id: int) -> Optional[Tuple[str, List[Turn]]]:
        return self.store.transcript(event_id)

    def save_story(self, event_id: int) -> Optional[Tuple[str, Path]]:
        """Write the conversation as `review_<id>.yml` in the stories folder (saved again: replaced), for a designer
        to run with `make rasa-test` and commit: (sender, path), None when there is no such conversation.
        StoryError (a ValueError) with a message for the reader when it cannot be a story."""
        found = self.store.story(event_id)
        if found is None:
            return None
        sender, story = found
        path = self.stories / f"review_{event_id}.yml"
        self.stories.mkdir(parents=True, exist_ok=True)
        path.write_text(story, encoding="utf-8")
        return sender, path

    def mark(self, event_id: int, intent: str, staff: str) -> bool:
        return self.store.mark(event_id, intent, staff)
