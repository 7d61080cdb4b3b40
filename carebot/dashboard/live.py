"""The demo seed through the real bot: scripted patients talk to a running Carebot (Rasa, action server, backend)
over the REST channel, and the seed counts, from each script's declared outcome and the replies it got, what the
dashboard must show for them. `python -m bench.seed_demo` starts the stack and runs it (`make seed-demo`);
tests/e2e/test_dashboard_e2e.py runs a few.

Unlike the direct-write seed (carebot/dashboard/demo.py, the fast fixture of the figure tests), nothing here writes
an event: Rasa, the actions and the backend write what they write. Limit: every conversation happens now. Rasa
stamps events with its own process clock, which carebot.clock cannot move (it serves only the process it runs in),
so the conversations are not spread over the 30 days; they all land in the dashboard's default period."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

from carebot.dashboard.demo import Ledger

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


def scripts(count: int) -> List[LiveScript]:
    """`count` conversations in a fixed mix: complete bookings spread over the weekdays (so the times offered do
    not run out as fast), bookings left after the times, messages not understood and requests for a person."""
    mix: List[LiveScript] = []
    for index in range(count):
        day = DAYS[(index // 4) % len(DAYS)]
        kind = index % 4
        mix.append(
            _booking(day, True)
            if kind == 0
            else _booking(day, False)
            if kind == 1
            else NOT_UNDERSTOOD
            if kind == 2
            else ASKS_FOR_A_PERSON
        )
    return mix


def drive(
    say: Say, senders: Sequence[str], plan: Sequence[LiveScript], ledger: Optional[Ledger] = None
) -> Ledger:
    """Each sender plays its script through `say`; the ledger counts what each did (patients, messages, the bot's
    replies, the markers and backend figures its script declares)."""
    ledger = ledger or Ledger()
    for sender, script in zip(senders, plan):
        for number, (text, expected) in enumerate(script.lines, 1):
            replies = say(sender, text)
            if expected and expected not in "\n".join(replies):
                raise ScriptError(
                    f"{script.kind} ({sender[-4:]}), line {number}: expected '{expected}', "
                    f"the bot said {' / '.join(replies)[:200]!r}"
                )
            ledger.messages += 1
            ledger.bot_messages += len(replies)
        ledger.conversations += 1
        ledger.patients[sender] = set(script.markers)
        ledger.not_understood_messages += script.not_understood
        for key, identity in script.backend:
            ledger.add_backend(key, sender.split(":", 1)[1] if identity == "phone" else sender)
    return ledger
