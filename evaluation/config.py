"""Every name the evaluation depends on, in one place: flows are still being built and names may change.

Edit here when an intent, form or slot is renamed; nothing else in `evaluation/` spells these names.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, FrozenSet, Mapping, Pattern

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
TRIAGE_CASES = ROOT / "tests" / "triage_cases.csv"
TRIAGE_HOLDOUT = ROOT / "tests" / "triage_holdout.csv"  # frozen before tuning, written from clinical sources
TRIAGE_FILES = (TRIAGE_CASES, TRIAGE_HOLDOUT)


def eval_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The external corpora: EVAL_DIR, else the shared folder next to the project."""
    return Path(environ.get("EVAL_DIR") or ROOT.parent / "shared" / "eval")


# --- booking (issue 5) -----------------------------------------------------------------------------------------
SGD_FILES = ("sgd_doctor_dentist_turns.csv", "sgd_therapist_turns.csv")
SGD_OPENING_INTENTS: FrozenSet[str] = frozenset({"BookAppointment", "FindProvider"})
SGD_DATE_TIME_SLOTS = ("appointment_date", "appointment_time")
# NLU intents that start the booking flow on their own.
BOOKING_INTENTS: FrozenSet[str] = frozenset({"book_appointment"})
# The tracker shows booking started when this form became active for the task "book" (one form also
# reschedules and cancels; actions/booking.py sets the task slot when the form starts, default "book").
BOOKING_FORM = "appointment_form"
BOOKING_TASK_SLOT = "appointment_task"
BOOKING_TASK = "book"
REST_BOOKING_SAMPLE = 120  # issue 5 asks for at least 100 conversations through the REST channel

# --- declining and small talk (issue 8) -------------------------------------------------------------------------
CLINC_SCOPE_FILE = "clinc_scope.csv"
CLINC_OTHER_FILE = "clinc_other_intents.csv"
CLINC_OOS_INTENT = "oos"
DECLINE_INTENTS: FrozenSet[str] = frozenset({"out_of_scope", "nlu_fallback"})
DECLINE_ACTIONS = {"utter_out_of_scope", "action_fallback"}  # what the patient sees when declined
# CLINC intent -> the Carebot intent it must map to.
CLINC_TO_CAREBOT: Dict[str, str] = {
    "what_can_i_ask_you": "help",
    "greeting": "greet",
    "goodbye": "goodbye",
    "thank_you": "thank",
    "are_you_a_bot": "bot_challenge",
    "yes": "affirm",
    "no": "deny",
}

# --- clinic requests that must not be declined (issue 20) --------------------------------------------------------
# Written from clinic.yml and the list of what the bot does, before tuning; frozen (its own commit), never trained on.
INSCOPE_HOLDOUT = ROOT / "tests" / "fixtures" / "inscope_holdout.csv"
# The expected label of a question about a service the clinic does not offer: it must reach one of these intents
# with the entity their answer reads ("we don't offer that", then what the clinic does offer).
NOT_OFFERED = "not_offered"
NOT_OFFERED_INTENTS: FrozenSet[str] = frozenset({"ask_services", "book_appointment"})  # the form says so too
NOT_OFFERED_ENTITY = "unoffered_service"
# What the bot asks "Do you mean …?" about when the guard was unsure (value: an intent; carebot/nlu/guard.py).
GUESS_ENTITY = "clinic_guess"
# Expected label -> every intent that handles it (an emergency in a symptom description is handled by red_flag; a
# request to decline is handled by either polite decline).
HANDLED_AS: Dict[str, FrozenSet[str]] = {
    "describe_symptoms": frozenset({"describe_symptoms", "red_flag"}),
    "out_of_scope": DECLINE_INTENTS,
}
INSCOPE_TARGET = 0.97  # handled, all texts
INSCOPE_INTENT_TARGET = 0.90  # handled, per expected label

# --- symptoms and triage (issue 6) ------------------------------------------------------------------------------
SYMPTOM_FILE = "symptom_utterances.csv"
TRIAGE_INTENTS: FrozenSet[str] = frozenset({"describe_symptoms", "red_flag"})
SYMPTOM_ENTITY = "symptom"
TRIAGE_LEVEL_SLOT = "triage_level"
CONSENT_SLOT = "consent_given"
CONSENT_NAME: Pattern[str] = re.compile(r"consent")
# Where the bot keeps the question it is waiting for (a question id of data/triage/); when no such slot is
# set, the question is recognised by its text in the bot's last message.
TRIAGE_QUESTION_SLOTS = ("triage_question", "requested_slot")
EMERGENCY = "emergency"
NOT_SURE = "I'm not sure"
TRIAGE_REPLIES = (NOT_SURE, "no")  # every unscripted follow-up answered with each in turn
MAX_OVER_ESCALATION = 0.10  # non-emergencies sent to emergency, at most (issue 12)
HOLDOUT_TARGET = 0.85  # agreement on the holdout (issue 12); the case file keeps TARGET
CONSENT_YES = "yes"
MAX_BOT_TURNS = 12

# --- targets ----------------------------------------------------------------------------------------------------
TARGET = 0.90
TRIAGE_AGREEMENT_TARGETS = {TRIAGE_CASES: TARGET, TRIAGE_HOLDOUT: HOLDOUT_TARGET}
