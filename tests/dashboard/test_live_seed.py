"""The live seed's bookkeeping (carebot/dashboard/live.py) without a bot: what it counts per script, and that a bot
off script stops it with where and what it said (tests/e2e/test_dashboard_e2e.py runs it against the real bot)."""

from __future__ import annotations

import pytest

from carebot.dashboard.live import ScriptError, drive, scripts, within


def test_the_ledger_counts_each_script_as_declared():
    plan = scripts(8)
    said = []
    senders = [f"whatsapp:+4477006{n:05d}" for n in range(8)]

    def bot(sender, text):
        said.append((sender, text))
        return [
            f"{expected} (reply)"
            for line, expected in ((t, e) for s in plan for t, e in s.lines)
            if line == text
        ][:1]

    ledger = drive(bot, senders, plan)
    assert len(said) == ledger.messages == 2 * (6 + 2 + 1 + 1)
    figures = ledger.expected()
    assert figures["patients"] == 8 and figures["paused"] == 2 and figures["contained"] == 6
    assert figures["funnel:booking:1"] == 4 and figures["funnel:booking:4"] == 2
    assert figures["not_understood"] == 2 and figures["handoff:asked_for_human"] == 2
    assert ledger.identities("appointments:booked") == {senders[0].split(":")[1], senders[4].split(":")[1]}
    # Complete bookings ask for different weekdays, so the times offered do not run out at once.
    assert {s.lines[1][0] for s in scripts(40) if s.kind == "booking"} >= {
        "next Monday morning",
        "next Friday morning",
    }


def test_the_conversations_spread_over_the_days_each_counted_on_its_day():
    plan = scripts(60, days=30)
    assert [s.days_ago for s in plan[:3]] == [29, 29, 28] and plan[-1].days_ago == 0
    assert sorted({s.days_ago for s in plan}) == list(range(30))
    senders = [f"whatsapp:+4477006{n:05d}" for n in range(60)]
    replies = {text: f"{expected} (reply)" for s in plan for text, expected in s.lines}
    moved, by_day = [], {}
    ledger = drive(
        lambda sender, text: [replies[text]],
        senders,
        plan,
        moved=lambda sender, days_ago: moved.append((sender, days_ago)),
        by_day=by_day,
    )
    assert moved == [(sender, script.days_ago) for sender, script in zip(senders, plan)]
    assert within(by_day, 30).expected() == ledger.expected()
    week = within(by_day, 7)
    assert set(week.patients) == set(senders[-14:]) and week.conversations == 14
    assert week.expected()["funnel:booking:4"] == sum(1 for s in plan[-14:] if s.kind == "booking")


def test_a_bot_off_script_stops_the_seed_saying_where():
    with pytest.raises(ScriptError, match=r"booking \(0000\), line 1: expected 'When would you like.*Sorry"):
        drive(lambda sender, text: ["Sorry, we are closed"], ["whatsapp:+447700600000"], scripts(1))
