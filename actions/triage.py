"""Symptom triage on chat (issue 6): one numbered question per turn until the engine has a safe disposition.

The decisions are the engine's (carebot/triage/engine.py); this module only moves them in and out of the
conversation. The findings arrive as entities from the NLU pipeline (`symptom`, `age_group`, `pregnant`, with a
role when they are not current), so a free-text answer that adds a symptom is merged and re-screened like the first
message. `triage_form` asks `triage_answer` again and again: `validate_triage_form` records each reply, picks the
next question (`triage_question`) or, when there is none, fills the slot so the form ends and
`action_triage_outcome` gives the result. Texts: data/messages/triage.yml.

Whom it is about (issue 18): when the phone books for several patients and the message names nobody and states no
age, the form first asks `triage_for` (the names, "me", someone else). A registered patient's date of birth gives
the age group the protocols use (infant, child, adult); an age the message states ("my 3 month old") wins.
`triage_for` keeps whom the triage was about ({id, name}) after the result.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import booking
from actions.common import clinic, latest_entity, patient_phone, say, send, step_aside
from actions.handoff import open_handoff
from carebot.handoff.client import HandoffClient
from carebot.handoff.model import Reason
from carebot.household import (
    Decision,
    Said,
    asks_who,
    decide,
    fitting,
    load_people,
    members,
    members_from_slot,
    who_options,
    who_said,
)
from carebot.messages import render
from carebot.scheduling.client import BackendError, Household
from carebot.scheduling.model import E164
from carebot.triage.engine import (
    CHAT_QUESTION_BUDGET,
    UNREADABLE,
    add_findings,
    default_protocols,
    fill,
    next_question,
    outcome,
    screen_emergency,
    start,
    take_reply,
)
from carebot.triage.model import (
    CHILD_MAX_YEARS,
    YOUNG_BABY,
    YOUNG_BABY_MAX_DAYS,
    Outcome,
    Profile,
    Question,
    RedFlag,
    TriageState,
    age_group_for_days,
)

logger = logging.getLogger(__name__)
DONE = "done"  # triage_answer once no question is left: the form's only slot is filled, so the form ends
# Everything one triage remembers; cleared when a new one starts and when it ends.
TRIAGE_SLOTS = (
    "triage_state",
    "triage_question",
    "triage_answer",
    "triage_retries",
    "triage_level",
    "triage_for",
)


# --- reading the NLU's findings ----------------------------------------------------------------------------------


def _entities(tracker: Tracker) -> List[Dict[str, Any]]:
    return list(tracker.latest_message.get("entities") or [])


def told_findings(entities: Sequence[Dict[str, Any]]) -> Tuple[List[str], List[str]]:
    """(current symptom ids, ruled-out symptom ids) in the order told; other roles (past, family) count for neither."""
    current = [e["value"] for e in entities if e.get("entity") == "symptom" and not e.get("role")]
    denied = [e["value"] for e in entities if e.get("entity") == "symptom" and e.get("role") == "negated"]
    return list(dict.fromkeys(current)), list(dict.fromkeys(denied))


def told_profile(entities: Sequence[Dict[str, Any]], default: Profile = Profile()) -> Profile:
    """Age group and pregnancy the message states about the patient now; what it does not state stays as it was."""
    ages = [e["value"] for e in entities if e.get("entity") == "age_group" and not e.get("role")]
    pregnancy = [e for e in entities if e.get("entity") == "pregnant"]
    pregnant = any(not e.get("role") for e in pregnancy) if pregnancy else default.pregnant
    return Profile(age_group=ages[0] if ages else default.age_group, pregnant=pregnant)


def symptom_message(tracker: Tracker) -> Dict[str, Any]:
    """The message that told the symptoms: the latest one, or, when the triage starts on "yes" to the consent
    question, the one before it that described them (its text and entities)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user" and (event.get("parse_data") or {}).get("intent", {}).get("name") in (
            "describe_symptoms",
            "red_flag",
        ):
            parsed = event.get("parse_data") or {}
            return {"text": event.get("text") or "", "entities": parsed.get("entities") or []}
    return {"text": tracker.latest_message.get("text") or "", "entities": _entities(tracker)}


def stated_days(entities: Sequence[Dict[str, Any]]) -> Optional[Tuple[float, float]]:
    """The ages (in days, [low, high)) the words give the patient: a baby ("my 3 month old", "newborn") is under six
    months, a child under 16, an adult older; None when they give no age."""
    groups = [e["value"] for e in entities if e.get("entity") == "age_group" and not e.get("role")]
    if not groups:
        return None
    current, _ = told_findings(entities)
    if groups[0] == "infant" or YOUNG_BABY in current:
        return 0, YOUNG_BABY_MAX_DAYS
    return (0, CHILD_MAX_YEARS * 365) if groups[0] == "child" else (CHILD_MAX_YEARS * 365, float("inf"))


def state_from_message(tracker: Tracker) -> TriageState:
    entities = _entities(tracker)
    current, denied = told_findings(entities)
    return start(current, told_profile(entities), denied)


def load_state(tracker: Tracker) -> Optional[TriageState]:
    data = tracker.get_slot("triage_state")
    return TriageState.from_dict(data) if isinstance(data, dict) else None


def forget_triage() -> List[EventType]:
    """Clears the triage in progress; `triage_level` is left to the caller (kept, or set to the new level)."""
    return [SlotSet(name, None) for name in TRIAGE_SLOTS if name != "triage_level"]


def fresh_triage(state: Optional[TriageState]) -> List[EventType]:
    """Slots for a new triage: the opening message's findings (None: ask for the symptoms first)."""
    return [SlotSet(name, None) for name in TRIAGE_SLOTS if name != "triage_state"] + [
        SlotSet("triage_state", state.to_dict() if state else None)
    ]


# --- asking --------------------------------------------------------------------------------------------------------


def question_buttons(question: Question) -> List[Dict[str, str]]:
    """One button per option; the payload is its number, which the engine reads like the option's words."""
    return [
        {"title": option.text, "payload": str(number)} for number, option in enumerate(question.options, 1)
    ]


def next_step(state: TriageState) -> Optional[Question]:
    """The engine's next question, within the chat's question budget (re-asks in simpler words count)."""
    if len(state.asked) + len(state.reasked) >= CHAT_QUESTION_BUDGET:
        return None
    return next_question(state)


def _is_bare_choice(question: Question, reply: str) -> bool:
    """The reply is only an option (its number or words): it carries no extra findings to merge."""
    words = " ".join(reply.lower().replace("'", "").replace(".", " ").split())
    texts = {o.text.lower().replace("'", "") for o in question.options} | {
        o.id.replace("_", " ") for o in question.options
    }
    return words.isdigit() or words in texts


# --- whom it is about ---------------------------------------------------------------------------------------------


def record(decision: Decision, said: Optional[Said]) -> Dict[str, Any]:
    """What `triage_for` keeps: the registered patient's id and name, or the relation's noun ("son"), or nothing."""
    if decision.member is not None:
        return {"id": decision.member.id, "name": decision.member.name}
    noun = said.relation.noun if said is not None and said.relation is not None else None
    return {"id": None, "name": noun}


def ages_of(household: Household) -> Dict[str, Dict[str, Any]]:
    """Each patient's age group from their date of birth, and whether a baby of 3 to 6 months (a finding of its
    own, as when the age is told)."""
    today = clinic().now().date()
    ages: Dict[str, Dict[str, Any]] = {}
    for patient in household.patients:
        if patient.birth_date is not None:
            days = (today - patient.birth_date).days
            group = age_group_for_days(days)
            ages[patient.id] = {
                "age_group": group,
                "young_baby": group == "child" and days < YOUNG_BABY_MAX_DAYS,
                "days": days,
            }
    return ages


def age_of(ages: Dict[str, Dict[str, Any]], patient_id: str) -> Dict[str, Any]:
    """What `triage_for` keeps of a patient's age: the group and the 3-6 months flag, not the days."""
    return {k: v for k, v in ages.get(patient_id, {}).items() if k != "days"}


async def fetch_household(tracker: Tracker) -> Optional[Household]:
    """The phone's household, or None (no phone number, or the backend cannot say: the triage goes on unasked)."""
    phone = patient_phone(tracker)
    if not E164.match(phone):
        return None
    try:
        async with booking.scheduling_client() as client:
            return await client.household(phone)
    except BackendError as error:
        logger.info("triage: household not loaded: %s", error)
        return None


async def who_it_is_about(tracker: Tracker) -> Tuple[Optional[Dict[str, Any]], List[Dict[str, Any]]]:
    """Whom the opening message is about ({id, name, age_group}; None: ask first) and the household (the question's
    options). Asked only when the phone books for several patients and the words name nobody and give no age. A
    relation with an age ("my 3 month old") means the one patient of that relation and age; a registered patient's
    date of birth then gives the age group, more precisely than the words."""
    found = await fetch_household(tracker)
    if found is None:
        return {"id": None, "name": None}, []
    household, ages = members(found), ages_of(found)
    slot = [m.to_slot() for m in household]
    told = symptom_message(tracker)
    said = who_said(told["text"], household, load_people())
    stated = stated_days(told["entities"])
    if said is None and household and not asks_who(household):
        said = Said(member=household[0])  # the phone's one patient
    if said is not None and said.relation is not None and stated is not None:
        low, high = stated
        of_age = [
            m for m in fitting(said.relation, household) if low <= ages.get(m.id, {}).get("days", -1) < high
        ]
        decision = Decision(member=of_age[0]) if len(of_age) == 1 else decide(said, of_age)
    else:
        decision = decide(said, household)
    if decision.ask:
        return (record(decision, said) if stated else None), slot
    about = record(decision, said)
    if decision.member is not None:
        about.update(age_of(ages, decision.member.id))
    return about, slot


def with_age(state: Optional[TriageState], about: Dict[str, Any]) -> Optional[TriageState]:
    """The state with the age group of the patient it is about (from their date of birth)."""
    if state is None or not about.get("age_group"):
        return state
    profile = Profile(age_group=about["age_group"], pregnant=state.profile.pregnant)
    return add_findings(state, [YOUNG_BABY] if about.get("young_baby") else [], (), profile)


class ValidateTriageForm(FormValidationAction):
    """Records each reply and decides what comes next: another question, or the end of the form."""

    def name(self) -> Text:
        return "validate_triage_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        state = load_state(tracker)
        reply = tracker.get_slot("triage_answer")
        if tracker.get_slot("requested_slot") is None:  # the form is starting: whom is it about?
            about, household = await who_it_is_about(tracker)
            if about:
                state = with_age(state, about)
            slots = [SlotSet("triage_for", about), SlotSet("household", household)]
            return slots + self._advance(state, retries=0)
        aside = step_aside(tracker, "triage_form")  # a person, a booking, a photo: data/forms/answers.yml
        if tracker.get_slot("requested_slot") == "triage_for":
            return aside if aside is not None else await self._take_who(dispatcher, tracker, state)
        if aside is not None or reply is None:
            return (
                aside or []
            )  # not an answer (e.g. "stop"): the rules handle it, the form asks again afterwards
        if state is None:  # the reply to "tell me your symptoms"
            told = state_from_message(tracker)
            about = tracker.get_slot("triage_for")
            if isinstance(about, dict):
                told = with_age(told, about) or told
            return self._advance(told, retries=0)
        return self._take_reply(dispatcher, tracker, state, str(reply))

    async def _take_who(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, state: Optional[TriageState]
    ) -> List[EventType]:
        """The answer to "who is this about?": a number, a name, "me", "my son", someone else."""
        household = members_from_slot(tracker.get_slot("household"))
        options = who_options(household)
        text = str(tracker.get_slot("triage_for") or "")
        number = booking.option_number(text, latest_entity(tracker, "option"), len(options))
        said = options[number - 1] if number else who_said(text, household, load_people(), answer=True)
        decision = decide(said, household) if said is not None else Decision(ask=True)
        if decision.ask:
            say(dispatcher, "triage_for_again", count=len(options))
            return [SlotSet("triage_for", None)]
        about = record(decision, said)
        if decision.member is not None:
            found = await fetch_household(tracker)
            about.update(age_of(ages_of(found), decision.member.id) if found else {})
        state = with_age(state, about)
        if state is None:  # nothing told yet: the symptoms are asked next
            return [
                SlotSet("triage_for", about),
                SlotSet("triage_question", None),
                SlotSet("triage_answer", None),
            ]
        return [SlotSet("triage_for", about)] + self._advance(state, retries=0)

    def _take_reply(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, state: TriageState, reply: str
    ) -> List[EventType]:
        """Read the reply as the engine does (engine.take_reply): findings in it are merged and can answer the
        question; an unreadable reply is asked again; "not sure" to an emergency question is asked once more."""
        question = default_protocols().questions.get(tracker.get_slot("triage_question") or "")
        entities = _entities(tracker)
        bare = question is not None and _is_bare_choice(question, reply)
        current, denied = ([], []) if bare else told_findings(entities)
        profile = told_profile(entities, state.profile)
        if question is None:
            if current or denied or profile != state.profile:
                state = add_findings(state, current, denied, profile)
            return self._advance(state, retries=0)
        retries = int(tracker.get_slot("triage_retries") or 0)
        turn = take_reply(state, question, reply, current, denied, profile, retries)
        if turn.say is None:
            return self._advance(turn.state, retries=0)
        if turn.say == UNREADABLE:
            say(dispatcher, "triage_unreadable_answer")
        return [
            SlotSet("triage_state", turn.state.to_dict()),
            SlotSet("triage_question", question.id),
            SlotSet("triage_retries", retries + 1 if turn.say == UNREADABLE else 0),
            SlotSet("triage_answer", None),
        ]  # the form asks again: the simpler wording after SIMPLER

    @staticmethod
    def _advance(state: TriageState, retries: int) -> List[EventType]:
        question = next_step(state)
        return [
            SlotSet("triage_state", state.to_dict()),
            SlotSet("triage_retries", retries),
            SlotSet("triage_question", question.id if question else None),
            SlotSet("triage_answer", None if question else DONE),
        ]


class AskTriageAnswer(Action):
    """Sends the pending question with its numbered options, or asks for the symptoms when none were told."""

    def name(self) -> Text:
        return "action_ask_triage_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        question = default_protocols().questions.get(tracker.get_slot("triage_question") or "")
        if question is None:
            say(dispatcher, "triage_ask_symptoms")
            return []
        state = load_state(tracker)
        reasking = state is not None and question.id in state.reasked and question.simpler
        text = question.simpler if reasking else question.text
        send(dispatcher, "triage_question", question_buttons(question), question=fill(text, clinic()))
        return []


class AskTriageFor(Action):
    """Asks "who is this about?" with the phone's patients, "me" (owner not registered) and someone else."""

    def name(self) -> Text:
        return "action_ask_triage_for"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        send(
            dispatcher,
            "triage_ask_for",
            booking.who_buttons(members_from_slot(tracker.get_slot("household"))),
        )
        return []


class ActionTriageStart(Action):
    """A symptom message with consent given: a new triage from what it says."""

    def name(self) -> Text:
        return "action_triage_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        return fresh_triage(state_from_message(tracker))


# --- the result ------------------------------------------------------------------------------------------------------


def handoff_client() -> HandoffClient:
    """The staff-inbox client (tests replace this factory with a fake)."""
    return HandoffClient()


def result_text(result: Outcome) -> str:
    """Disposition, one-line reason, then the advice (with the clinic's numbers), each on its own line."""
    facts = clinic()
    disposition = default_protocols().dispositions.get(result.level, "")
    advice = [fill(line, facts) for line in result.advice if line != disposition]
    return render(
        "triage_result",
        {
            "disposition": fill(disposition, facts),
            "reason": fill(result.reason, facts),
            "advice": "".join(f"\n• {line}" for line in advice),
        },
    ).text


class ActionTriageOutcome(Action):
    """Ends a triage: the level (contract slot `triage_level`), why, what to do; then booking or a staff call-back."""

    def name(self) -> Text:
        return "action_triage_outcome"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        state = load_state(tracker) or start([], Profile())
        result = outcome(state)
        dispatcher.utter_message(text=result_text(result))
        events: List[EventType] = [
            SlotSet("triage_level", result.level),
            SlotSet("triage_question", None),
            SlotSet("triage_retries", None),
        ]
        if result.level == "emergency":
            return events
        if result.callback:  # unresolved answers or the protocol asks for it: a clinician calls back
            about = tracker.get_slot("triage_for") or {}
            note = render("triage_case_about", {"name": about["name"]}).text if about.get("id") else ""
            return events + await open_handoff(
                tracker, Reason.TRIAGE_CALLBACK, dispatcher, handoff_client, note=note
            )
        if result.service_id and result.level in ("urgent", "routine"):
            service = clinic().service(result.service_id)
            if service is not None:
                say(dispatcher, "triage_offer_booking", service_name=service.name, service_id=service.id)
        return events


class ActionTriageStop(Action):
    """The patient stopped the questions: nothing is decided, so no level is set."""

    def name(self) -> Text:
        return "action_triage_stop"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        say(dispatcher, "triage_stopped", emergency_number=clinic().emergency_number)
        return forget_triage()


# --- red flags -------------------------------------------------------------------------------------------------------


def raised_flag(tracker: Tracker) -> Optional[RedFlag]:
    """The flag the NLU named (`red_flag` entity), else the screen over the message's findings and the triage's
    (which also names a protocol rule that makes the findings an emergency before any question)."""
    flags = {flag.id: flag for flag in default_protocols().red_flags}
    named = latest_entity(tracker, "red_flag")
    if named in flags:
        return flags[named]
    state = load_state(tracker)
    entities = _entities(tracker)
    current, denied = told_findings(entities)
    findings = (list(state.findings) if state else []) + current
    return screen_emergency(findings, told_profile(entities, state.profile if state else Profile()), denied)


class ActionRedFlag(Action):
    """Immediate and short, whatever the bot was doing and whether or not consent was given; ends any form."""

    def name(self) -> Text:
        return "action_red_flag"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        facts = clinic()
        flag = raised_flag(tracker)
        level = flag.level if flag else "emergency"  # the NLU saw a red flag: never less than an emergency
        reason = fill(flag.reason, facts) if flag else ""
        if flag is not None and flag.kind == "crisis":
            say(
                dispatcher,
                "red_flag_crisis",
                reason=reason,
                emergency_number=facts.emergency_number,
                crisis_line=f"{facts.crisis_line_name} on {facts.crisis_line_number}",
            )
        else:
            say(dispatcher, "red_flag_emergency", reason=reason, emergency_number=facts.emergency_number)
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            *forget_triage(),
            SlotSet("triage_level", level),
        ]
