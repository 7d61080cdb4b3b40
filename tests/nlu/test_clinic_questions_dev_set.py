"""Everyday clinic questions, chat replies and requests to decline are handled by the trained NLU (dev sets in
tests/fixtures/dev/, tuned on: regression floors, not judgements; the frozen in-scope holdout and CLINC150 are
measured by `make eval`)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from evaluation.inscope import handled

DEV = Path(__file__).resolve().parents[1] / "fixtures" / "dev"
# file, texts handled (retraining moves it by a few: the response selector), share no label may fall below
DEV_SETS = [
    # 400 clinic questions and replies; 347 when the tuning ended, faq/cost lowest (28/40)
    ("clinic_questions_dev_t.csv", 340, 0.65),
    # 500 small talk replies and requests to decline (200 out_of_scope: handled = declined); 448 before tuning,
    # 457 after (out_of_scope 170 -> 180/200), bot_challenge lowest (26/30)
    ("chat_dev_y.csv", 450, 0.85),
    # 266 small talk replies as typed to any assistant (hello, yes, no, bye, thanks, "are you a bot", "what can you
    # do"; 34 rows that also stand in ../shared/eval dropped); 245 before the tuning, 250 after (text-speak forms in
    # config.yml); help lowest (34/39)
    ("smalltalk_dev_ad.csv", 246, 0.85),
    # 300 clinic questions written from clinic.yml alone (services offered and not, costs, late cancelling, hours,
    # address, phone, parking, access, what to bring; text-speak, possessives, third person); 238 before the tuning,
    # 245 after (payment and lateness examples), the address question lowest (16/24)
    ("clinic_questions_dev_ag.csv", 240, 0.65),
    # 259 small talk replies in assistant-benchmark style (greet and affirm as whole sentences; 41 of 300 dropped:
    # they stand in ../shared/eval); 287/300 before the tuning, 252/259 after
    ("smalltalk_dev_aj.csv", 248, 0.9),
    # 300 questions about services, costs and late cancelling from clinic.yml alone; 205 before the tuning (costs
    # and lateness declined), 238 after (answer topics, re-picked answers), faq/cost lowest (59/90)
    ("clinic_questions_dev_ak.csv", 230, 0.6),
    # 414 requests for every intent the bot serves, from clinic.yml and the list of what the bot does (one row
    # that stands in ../shared/eval dropped); 372/415 before the tuning, 389/414 after, faq/registration lowest
    # (7/10)
    ("inscope_dev_al.csv", 381, 0.65),
]


@pytest.mark.parametrize("name,handled_floor,label_floor", DEV_SETS)
def test_clinic_questions_and_chat_replies_are_handled(parse_all, name, handled_floor, label_floor):
    with (DEV / name).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    parses = parse_all([row["text"] for row in rows])
    results = [(row["label"], handled(row["label"], parse)) for row, parse in zip(rows, parses)]
    missed = [(row["label"], row["text"]) for row, (_, ok) in zip(rows, results) if not ok]
    assert sum(ok for _, ok in results) >= handled_floor, missed
    totals, oks = Counter(label for label, _ in results), Counter(label for label, ok in results if ok)
    behind = {
        label: f"{oks[label]}/{totals[label]}" for label in totals if oks[label] < label_floor * totals[label]
    }
    assert not behind, behind


# chat_dev_ab: 298 requests a clinic bot declines (70 topics, 60 sharing a clinic's words) and 100 clinic requests in the same
# registers, written after the tuning of chat_dev_y and measured before any tuning on it: 268/298 declined,
# 4/100 clinic requests declined. Its labels for clinic requests are approximate ("are you open over christmas" is
# the holiday-closures question), so what is held is the decision: decline, or not. The margins allow for the
# response selector, whose training is not seeded (its answer is weighed by the DomainGuard for `faq`).
# decline_dev_ae: 298 requests to decline over ~80 topics (90 naming another business, a non-medical reminder, a sum,
# a pet, the doctor in a film; two rows that also stand in ../shared/eval dropped) and 100 clinic requests, tuned
# on: 255/300 declined before (another place's hours, a haircut to cancel, sums read as options), 277/298 after;
# 3 clinic requests declined.
# health_questions_dev_af: 160 requests to decline that use health, body, food or animal words with nobody unwell
# (trivia, diets, how the body works, pets and plants, spelling a medical word) and 150 patients' own complaints
# asked as questions; 123/160 declined before the tuning (knowledge questions and pets read as symptom stories),
# 131 after; its 50 general questions about a condition ("what are the symptoms of shingles") may be declined or
# triaged (EITHER). oos_dev_ah: 399 requests no assistant has an intent for (60 about health in general), written
# after AF's tuning: 352 declined before any tuning on it, 361 after (help weighs unknown words, household words).
DECLINE_SETS = [
    ("chat_dev_ab.csv", 263, 6),
    ("decline_dev_ae.csv", 272, 5),
    ("health_questions_dev_af.csv", 127, 2),
    ("oos_dev_ah.csv", 355, 0),
]
# Labels the bot may decline or answer: a general question about a condition, asked by no one unwell.
EITHER = {"condition_info"}


@pytest.mark.parametrize("name,declined_floor,wrongly_declined_ceiling", DECLINE_SETS)
def test_requests_to_decline_are_declined_and_clinic_requests_are_not(
    parse_all, name, declined_floor, wrongly_declined_ceiling
):
    with (DEV / name).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    parses = parse_all([row["text"] for row in rows])
    declined = [handled("out_of_scope", parse) for parse in parses]
    to_decline = [(row["text"], ok) for row, ok in zip(rows, declined) if row["label"] == "out_of_scope"]
    wrongly = [
        row["text"] for row, ok in zip(rows, declined) if row["label"] not in {"out_of_scope", *EITHER} and ok
    ]
    assert sum(ok for _, ok in to_decline) >= declined_floor, [text for text, ok in to_decline if not ok]
    assert len(wrongly) <= wrongly_declined_ceiling, wrongly
