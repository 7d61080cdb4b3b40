"""The decision engine's safety properties, checked over every protocol, rule, question and red flag."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Dict, List, Set, Tuple

import pytest

from carebot.clinic import load_clinic
from carebot.triage.engine import (
    MAX_QUESTIONS,
    PATTERNS_DIR,
    InvalidAnswer,
    add_findings,
    answer,
    fill,
    next_question,
    outcome,
    parse_reply,
    screen_emergency,
    screen_red_flags,
    start,
)
from carebot.triage.loader import finding_vocabulary
from carebot.triage.model import (
    AGE_GROUPS,
    Condition,
    Profile,
    Protocol,
    ProtocolSet,
    TriageState,
    level_rank,
)
from carebot.triage.simulate import simulate

PROFILES = [
    Profile(age, pregnant)
    for age in AGE_GROUPS
    for pregnant in (False, True)
    if not (pregnant and age != "adult")
]


def _profile_for(condition: Condition, protocol: Protocol) -> Profile:
    ages = condition.age_groups or protocol.applies_to.age_groups or frozenset({"adult"})
    age = "adult" if "adult" in ages else sorted(ages)[0]
    pregnant = condition.pregnant if condition.pregnant is not None else bool(protocol.applies_to.pregnant)
    return Profile(age, pregnant)


def _witness(
    condition: Condition, protocols: ProtocolSet, text_ids: Set[str]
) -> Tuple[List[str], Dict[str, str]]:
    """Findings the text can carry, plus answers for the question-only ones, that satisfy `condition`."""
    findings: List[str] = []
    answers: Dict[str, str] = {}
    for group in condition.groups:
        sayable = sorted(group & text_ids)
        if sayable:
            findings.append(sayable[0])
            continue
        question, option = next(
            (q, o) for q in protocols.questions.values() for o in q.options if o.finding in group
        )
        answers[question.id] = option.id
        if question.ask_if:
            findings += [sorted(g)[0] for g in question.ask_if.groups]
    return findings, answers


@pytest.fixture(scope="module")
def text_ids() -> Set[str]:
    return set(finding_vocabulary(PATTERNS_DIR))


def test_every_rule_is_reachable_from_text_or_answers(protocols, text_ids):
    for protocol in protocols.protocols:
        for rule in protocol.rules:
            findings, answers = _witness(rule.when, protocols, text_ids)
            route = sorted(protocol.routes)[:1]
            result, _ = simulate(
                route + findings, _profile_for(rule.when, protocol), answers=answers, protocols=protocols
            )
            assert level_rank(result.level) >= level_rank(rule.level), (protocol.id, rule.id, result)
            if result.level == rule.level and result.red_flag is None:
                assert result.protocol_id is not None


def test_every_emergency_a_message_can_tell_outright_is_screened_at_once(protocols, text_ids):
    """Each protocol or cross-cutting rule that decides `emergency` on findings a message can carry (no answer
    needed) is answered at once, like a red flag: the screen finds it on the opening message's findings alone."""
    rules = [(p, r) for p in protocols.protocols for r in p.rules] + [
        (p, r) for p in protocols.protocols[:1] for r in protocols.escalations
    ]
    screened = 0
    for protocol, rule in rules:
        if rule.level != "emergency":
            continue
        findings, answers = _witness(rule.when, protocols, text_ids)
        if answers:
            continue  # needs a question's answer: asked, then decided
        told = sorted(protocol.routes)[:1] + findings
        profile = _profile_for(rule.when, protocol)
        if outcome(start(told, profile, protocols=protocols), protocols).level != "emergency":
            continue  # another finding of the witness explains it away (`none:`)
        flag = screen_emergency(told, profile, protocols=protocols)
        assert flag is not None and flag.level == "emergency", (protocol.id, rule.id)
        screened += 1
    assert screened >= 10


def test_every_red_flag_fires_alone_and_with_any_protocol(protocols, text_ids):
    for flag in protocols.red_flags:
        findings, answers = _witness(flag.when, protocols, text_ids)
        assert not answers, f"red flag {flag.id} must be sayable in text"
        profile = Profile(
            sorted(flag.when.age_groups)[0] if flag.when.age_groups else "adult", bool(flag.when.pregnant)
        )
        assert screen_red_flags(findings, profile, protocols) is not None
        for protocol in protocols.protocols:
            combined = sorted(protocol.routes)[:2] + findings
            found = screen_red_flags(combined, profile, protocols)
            assert found is not None and level_rank(found.level) >= level_rank(flag.level), (
                flag.id,
                protocol.id,
            )
            result = outcome(start(combined, profile, protocols=protocols), protocols)
            assert level_rank(result.level) >= level_rank(flag.level)
            assert result.red_flag is not None


def test_red_flag_said_mid_triage_overrides_and_ends_questions(protocols):
    state = start(["cough"], Profile(), protocols=protocols)
    question = next_question(state, protocols)
    assert question is not None
    state = answer(state, question.id, "not sure", protocols)
    state = add_findings(state, ["blue_lips"], protocols=protocols)
    assert outcome(state, protocols).level == "emergency"
    assert outcome(state, protocols).red_flag == "cannot_breathe"
    assert next_question(state, protocols) is None


def test_crisis_red_flag_names_the_crisis_line_and_keeps_asking_about_a_plan(protocols):
    flag = screen_red_flags(["suicidal_thoughts"], Profile(), protocols)
    assert flag is not None and flag.kind == "crisis" and flag.level == "urgent"
    state = start(["suicidal_thoughts"], Profile(), protocols=protocols)
    result = outcome(state, protocols)
    assert any("{crisis_line}" in line for line in result.advice)
    assert next_question(state, protocols).id == "mental_health_plan"
    state = answer(state, "mental_health_plan", "yes", protocols)
    assert outcome(state, protocols).level == "emergency"


def test_findings_a_protocol_already_calls_an_emergency_are_screened_like_a_red_flag(protocols):
    """Severe tummy pain with black poo is an emergency in the tummy-pain protocol before any question: the screen
    answers it at once (in any state), named after the rule, with the rule's reason."""
    told = ["severity_severe", "abdominal_pain", "black_stool"]
    assert screen_red_flags(told, Profile(), protocols) is None
    flag = screen_emergency(told, Profile(), protocols=protocols)
    assert flag is not None and (flag.id, flag.level, flag.kind) == (
        "abdominal_pain/rigid_or_black_poo",
        "emergency",
        "emergency",
    )
    assert flag.reason == outcome(start(told, Profile(), protocols=protocols), protocols).reason


def test_the_emergency_screen_keeps_red_flags_first_and_lets_the_rest_be_asked(protocols):
    assert screen_emergency(["blue_lips", "cough"], Profile(), protocols=protocols).id == "cannot_breathe"
    assert screen_emergency(["abdominal_pain", "diarrhoea"], Profile(), protocols=protocols) is None
    assert screen_emergency(["severity_severe", "abdominal_pain"], Profile(), protocols=protocols) is None
    pregnant = Profile(pregnant=True)
    assert screen_emergency(["severity_severe", "abdominal_pain"], pregnant, protocols=protocols).id == (
        "pregnancy/severe_pain_in_pregnancy"
    )


def _asked_at_most_twice(asked: List[str]) -> bool:
    """Each question once, and again at most once in simpler words after "I'm not sure"."""
    return all(count <= 2 for count in Counter(asked).values())


@pytest.mark.parametrize(
    "profile", PROFILES, ids=lambda p: f"{p.age_group}-{'pregnant' if p.pregnant else 'not'}"
)
def test_all_not_sure_ends_within_twelve_questions_and_never_repeats(protocols, profile):
    for protocol in protocols.protocols:
        _, asked = simulate(sorted(protocol.routes), profile, protocols=protocols)
        assert len(asked) <= MAX_QUESTIONS and _asked_at_most_twice(asked), protocol.id
    every_route = sorted(set().union(*(p.routes for p in protocols.protocols)))
    benign = [f for f in every_route if screen_red_flags([f], profile, protocols) is None]
    _, asked = simulate(benign, profile, protocols=protocols)
    assert len(asked) <= MAX_QUESTIONS and _asked_at_most_twice(asked)


def test_never_asks_what_the_message_already_answered(protocols):
    for protocol in protocols.protocols:
        for question in protocol.questions:
            profile = _profile_for(question.ask_if or Condition(), protocol)
            route = sorted(protocol.routes)[:1]
            for told in sorted(question.answering_findings):
                asked = _all_questions(route + [told], (), profile, protocols)
                assert question.id not in asked, (question.id, told)
            if question.denies:
                asked = _all_questions(route, (question.denies,), profile, protocols)
                assert question.id not in asked, (question.id, "denied")


def _all_questions(findings, denied, profile, protocols) -> List[str]:
    state = start(findings, profile, denied, protocols)
    asked = []
    while (question := next_question(state, protocols)) is not None:
        asked.append(question.id)
        state = answer(
            state, question.id, "no" if "no" in [o.id for o in question.options] else "not sure", protocols
        )
    return asked


def test_not_sure_is_never_less_safe_than_no(protocols):
    for protocol in protocols.protocols:
        for question in protocol.questions:
            if "no" not in [o.id for o in question.options]:
                continue
            profile = _profile_for(question.ask_if or Condition(), protocol)
            asked_if = sorted(question.ask_if.findings) if question.ask_if else []
            findings = sorted(protocol.routes)[:1] + asked_if[:1]
            base = start(findings, profile, protocols=protocols)
            unsure = outcome(answer(base, question.id, "not sure", protocols), protocols)
            no = outcome(answer(base, question.id, "no", protocols), protocols)
            assert level_rank(unsure.level) >= level_rank(no.level), question.id


def test_not_sure_on_a_danger_question_marks_the_case_for_call_back(protocols):
    state = start(["headache"], Profile(), protocols=protocols)
    state = answer(state, "headache_sudden", "3", protocols)
    result = outcome(state, protocols)
    assert result.level == "self_care"
    assert result.callback and "headache_sudden" in result.uncertain


def test_all_no_answers_give_a_clean_self_care_without_call_back(protocols):
    state = start(["headache", "duration_under_3d"], Profile(), protocols=protocols)
    while (question := next_question(state, protocols)) is not None:
        state = answer(state, question.id, "no", protocols)
    result = outcome(state, protocols)
    assert (result.level, result.callback, result.service_id) == ("self_care", False, None)
    assert any("not a diagnosis" in line for line in result.advice)


def test_if_not_sure_counts_as_the_safer_option(protocols):
    state = start(["fever", "baby_age_unknown"], Profile("child"), protocols=protocols)
    assert next_question(state, protocols).id == "fever_child_baby_age"
    state = answer(state, "fever_child_baby_age", "I'm not sure", protocols)
    assert outcome(state, protocols).level == "urgent"
    older = answer(
        start(["fever", "baby_age_unknown"], Profile("child"), protocols=protocols),
        "fever_child_baby_age",
        "older",
        protocols,
    )
    assert outcome(older, protocols).level == "self_care"


def test_a_later_denial_never_erases_a_told_finding(protocols):
    state = start(["chest_pain"], Profile(), protocols=protocols)
    state = add_findings(state, [], denied=["chest_pain"], protocols=protocols)
    result = outcome(state, protocols)
    assert result.level == "urgent" and result.callback


def test_outcome_hands_booking_the_service(protocols):
    result = outcome(start(["back_pain", "duration_6w_plus"], Profile(), protocols=protocols), protocols)
    assert (result.level, result.service_id, result.rule_id) == ("routine", "physio", "back_pain_lasting")
    assert outcome(start(["overdose"], Profile(), protocols=protocols), protocols).service_id is None


def test_a_finding_that_explains_the_others_away_stops_the_rule(protocols):
    """`none:` as the sources say: sunburn blisters are not a scald; breathless for months is not new."""
    scald = screen_red_flags(["severe_burn"], Profile(), protocols)
    sunburn = screen_red_flags(["severe_burn", "sunburn"], Profile(), protocols)
    assert scald is not None and scald.id == "severe_burn"
    assert sunburn is None
    new, _ = simulate(["breathless"], Profile(), protocols=protocols, default_reply="no")
    lasting, _ = simulate(
        ["breathless", "duration_6w_plus"], Profile(), protocols=protocols, default_reply="no"
    )
    assert (new.level, new.rule_id) == ("urgent", "new_breathlessness")
    assert lasting.level == "routine"


def test_a_protocol_is_not_chosen_when_a_finding_says_the_complaint_is_something_else(protocols):
    """`applies_to: {none: [...]}`: chest pain that hurts when pressed is a strained muscle (injury, self-care),
    yet the heart attack red flags still screen the same findings."""
    muscle, _ = simulate(
        ["chest_pain", "chest_wall_tender"], Profile(), protocols=protocols, default_reply="no"
    )
    heart, _ = simulate(["chest_pain"], Profile(), protocols=protocols, default_reply="no")
    spreading, _ = simulate(
        ["chest_pain", "chest_wall_tender", "pain_radiating", "sweating"], Profile(), protocols=protocols
    )
    assert (muscle.protocol_id, muscle.level) == ("injury", "self_care")
    assert (heart.protocol_id, heart.level) == ("chest_pain", "urgent")
    assert spreading.level == "emergency"


def test_no_findings_falls_back_to_a_clinician_with_call_back(protocols):
    result, _ = simulate([], Profile(), protocols=protocols)
    assert result.level == "routine" and result.callback and result.protocol_id == "general"


def test_replies_are_understood_by_number_id_text_or_plain_words(protocols):
    question = protocols.questions["cough_duration"]
    assert parse_reply(question, "3") == "over_3w"
    assert parse_reply(question, "More than 3 weeks") == "over_3w"
    assert parse_reply(question, "1w_to_3w") == "1w_to_3w"
    assert parse_reply(question, "dunno") == "not_sure"
    yes_no = protocols.questions["cough_blood"]
    assert parse_reply(yes_no, "Yeah") == "yes"
    assert parse_reply(yes_no, "nope") == "no"
    assert parse_reply(yes_no, "I'm not sure") == "not_sure"
    with pytest.raises(InvalidAnswer, match="1. Yes; 2. No; 3. I'm not sure"):
        parse_reply(yes_no, "purple")


def test_a_question_cannot_be_answered_twice(protocols):
    state = answer(start(["cough"], Profile(), protocols=protocols), "cough_blood", "no", protocols)
    with pytest.raises(ValueError):
        answer(state, "cough_blood", "yes", protocols)


def test_state_survives_a_round_trip_through_a_slot(protocols):
    state = answer(
        start(["fever", "rash"], Profile("child"), ["cough"], protocols), "rash_glass", "1", protocols
    )
    assert TriageState.from_dict(state.to_dict()) == state


def test_placeholders_are_filled_from_clinic_yml(protocols):
    clinic = load_clinic()
    text = fill(protocols.red_flags[0].reason + " {emergency_number} {urgent_line} {crisis_line}", clinic)
    assert clinic.emergency_number in text and clinic.crisis_line_number in text and "{" not in text


def test_several_complaints_are_triaged_together_to_the_safest(protocols):
    result, asked = simulate(["sore_throat", "hair_loss", "rash"], Profile(), protocols=protocols)
    assert level_rank(result.level) >= level_rank("routine")  # gp_review's base is routine
    assert len(asked) <= MAX_QUESTIONS
    combos = itertools.combinations(sorted(p.id for p in protocols.protocols if not p.fallback), 3)
    for trio in itertools.islice(combos, 40):
        routes = [sorted(protocols.protocol(pid).routes)[0] for pid in trio]
        _, asked = simulate(routes, Profile(), protocols=protocols)
        assert len(asked) <= MAX_QUESTIONS and _asked_at_most_twice(asked)


def test_crisis_line_is_named_even_when_a_protocol_rule_decides(protocols):
    result = outcome(
        start(["abdominal_pain", "rigid_abdomen", "suicidal_thoughts"], Profile(), protocols=protocols),
        protocols,
    )
    assert result.level == "emergency" and result.rule_id == "rigid_or_black_poo"
    assert result.red_flag == "suicidal_thoughts" and any("{crisis_line}" in line for line in result.advice)


def test_urgent_crisis_offers_a_same_day_booking(protocols):
    result = outcome(start(["suicidal_thoughts"], Profile(), protocols=protocols), protocols)
    assert (result.level, result.service_id, result.callback) == ("urgent", "gp", True)
