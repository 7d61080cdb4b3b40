"""The pure parts of `evaluation/`: reading the CSV layouts, span extraction, tracker reading, metrics and the
doc block. Fixtures are tiny files written here (never lines from the evaluation corpora)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Dict, List

import pytest

from carebot.triage.model import Option, Question
from evaluation import bot as botlib
from evaluation import config
from evaluation.booking import span_understood
from evaluation.cases import Case
from evaluation.corpora import (
    CorpusError,
    date_time_spans,
    opening_booking_turns,
    read_labelled,
    read_turns,
    slot_spans,
)
from evaluation.metrics import Rate, confusion, confusion_table, missed, rate
from evaluation.report import Section, console, replace_block
from evaluation.symptoms import starts_triage
from evaluation.triage import NO_LEVEL, Outcome, pending_question, reply_for, score

SGD_HEADER = "dialogue_id,turn_idx,service,utterance,active_intent,slot_values_json,split,turn_slot_spans_json,user_acts\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- corpora ----------------------------------------------------------------------------------------------------
def test_slot_spans_keep_the_said_text_and_the_first_of_several():
    assert slot_spans('{"appointment_date": "the day after", "city": ["Leeds", "York"]}') == {
        "appointment_date": "the day after",
        "city": "Leeds",
    }
    assert slot_spans("") == {} and slot_spans("{}") == {}
    assert slot_spans('{"appointment_time": "  "}') == {}


def test_slot_spans_reject_broken_json_with_a_clear_error():
    with pytest.raises(CorpusError, match="not JSON"):
        slot_spans("{appointment_date:")


def test_openings_are_first_turns_asking_to_find_or_book(tmp_path):
    path = write(
        tmp_path,
        "turns.csv",
        SGD_HEADER
        + "a,0,S,find me a chiropodist please,FindProvider,{},train,{},INFORM_INTENT\n"
        + 'a,2,S,wednesday at noon,BookAppointment,{},train,"{""appointment_date"": ""wednesday"", '
        '""appointment_time"": ""noon""}",INFORM\n'
        + "b,0,S,what is the weather,NONE,{},train,{},INFORM_INTENT\n"
        + 'c,0,S,book me in with a physio,BookAppointment,{},train,"{""appointment_time"": ""9am""}",X\n',
    )
    turns = read_turns(path)
    assert [t.dialogue_id for t in opening_booking_turns(turns)] == ["a", "c"]
    assert date_time_spans(turns) == [
        ("appointment_date", "wednesday"),
        ("appointment_time", "noon"),
        ("appointment_time", "9am"),
    ]


def test_a_missing_file_names_eval_dir_and_a_missing_column_names_the_column(tmp_path):
    with pytest.raises(CorpusError, match="EVAL_DIR"):
        read_turns(tmp_path / "absent.csv")
    with pytest.raises(CorpusError, match="active_intent"):
        read_turns(
            write(tmp_path, "bad.csv", "dialogue_id,turn_idx,service,utterance,turn_slot_spans_json\n")
        )


def test_eval_dir_defaults_next_to_the_project_and_follows_the_environment(tmp_path):
    assert config.eval_dir({}) == config.ROOT.parent / "shared" / "eval"
    assert config.eval_dir({"EVAL_DIR": str(tmp_path)}) == tmp_path


def test_labelled_rows_skip_blank_text_and_keep_the_flag(tmp_path):
    path = write(
        tmp_path,
        "q.csv",
        "split,intent,utterance,flag\nt,oos,how tall is a giraffe,0\nt,oos,  ,0\n"
        "t,recipe,how do i poach an egg,1\n",
    )
    rows = read_labelled(path, "utterance", "intent", "flag")
    assert [(r.text, r.label, r.flag) for r in rows] == [
        ("how tall is a giraffe", "oos", "0"),
        ("how do i poach an egg", "recipe", "1"),
    ]


QUESTIONS = {
    "rash_spreading": Question(
        "rash_spreading", "Is the rash spreading quickly?", (Option("yes", "Yes"), Option("no", "No")), "rash"
    ),
    "rash_days": Question(
        "rash_days",
        "How long have you had it?",
        (Option("under_3d", "Less than 3 days"), Option("3d_plus", "3 days or more")),
        "rash",
    ),
}


def test_the_pending_question_comes_from_its_slot_or_from_the_bots_words():
    assert pending_question({"slots": {"triage_question": "rash_days"}}, [], QUESTIONS) == "rash_days"
    assert (
        pending_question(
            {"slots": {}}, ["Thanks.", "How long have you had it?\n1. Less than 3 days"], QUESTIONS
        )
        == "rash_days"
    )
    assert (
        pending_question({"slots": {"requested_slot": "booking_when"}}, ["What day suits you?"], QUESTIONS)
        is None
    )


def test_a_scripted_question_gets_its_options_words_and_any_other_not_sure():
    case = Case(2, "itchy rash on my arm", "routine", "", {"rash_days": "3d_plus"})
    assert reply_for(case, "rash_days", QUESTIONS) == "3 days or more"
    assert reply_for(case, "rash_spreading", QUESTIONS) == config.NOT_SURE
    assert reply_for(case, None, QUESTIONS) == config.NOT_SURE


# --- dates ------------------------------------------------------------------------------------------------------
def test_a_past_day_is_understood_but_words_without_a_day_or_time_are_not(clinic):
    now = dt.datetime(2026, 3, 4, 10, 0, tzinfo=clinic.tz)
    assert span_understood("2 March 2026", clinic, now) == (True, "past")
    assert span_understood("Sunday", clinic, now) == (True, "closed")
    assert span_understood("purple elephant", clinic, now) == (False, "unparseable")


# --- tracker reading --------------------------------------------------------------------------------------------
def tracker(*events: Dict[str, Any], slots: Dict[str, Any] | None = None, loop: str | None = None) -> Dict:
    return {
        "events": list(events),
        "slots": slots or {},
        "active_loop": {"name": loop} if loop else {},
        "latest_message": {"intent": {"name": "book_appointment"}},
    }


USER = {"event": "user", "text": "hi"}
LISTEN = {"event": "action", "name": "action_listen"}


def test_booking_counts_as_started_when_the_form_became_active_to_book():
    form = {"event": "active_loop", "name": config.BOOKING_FORM}
    task = config.BOOKING_TASK_SLOT
    assert botlib.booking_started(tracker(USER, form, slots={task: config.BOOKING_TASK}))
    assert botlib.booking_started(tracker(USER, form, {"event": "active_loop", "name": None}, LISTEN))
    assert not botlib.booking_started(tracker(USER, form, slots={task: "cancel"}))
    assert not botlib.booking_started(
        tracker(
            USER,
            {"event": "action", "name": "utter_help"},
            {"event": "bot", "text": "I can book appointments"},
            LISTEN,
        )
    )


def test_consent_is_awaited_only_when_the_bots_latest_move_asked_for_it():
    asked = {"event": "bot", "text": "May I?", "metadata": {"utter_action": "utter_ask_consent"}}
    assert botlib.awaiting_consent(
        tracker(USER, {"event": "action", "name": "action_ask_consent"}, asked, LISTEN)
    )
    assert botlib.awaiting_consent(tracker(USER, LISTEN, loop="consent_form"))
    assert not botlib.awaiting_consent(tracker(USER, asked, LISTEN, slots={"consent_given": True}))
    assert not botlib.awaiting_consent(
        tracker(asked, USER, {"event": "action", "name": "utter_greet"}, LISTEN)
    )
    assert not botlib.awaiting_consent(tracker(asked, USER, LISTEN))


def test_the_reply_to_the_latest_message_names_each_step_once():
    said = tracker(
        USER,
        {"event": "action", "name": "utter_greet"},
        LISTEN,
        {"event": "user", "text": "order a pizza"},
        {"event": "action", "name": "utter_out_of_scope"},
        {"event": "bot", "text": "Sorry", "metadata": {"utter_action": "utter_out_of_scope"}},
        LISTEN,
    )
    assert botlib.actions_after_last_user(said) == ["utter_out_of_scope"]


def test_every_conversation_gets_a_new_phone_like_sender():
    senders = {botlib.fresh_sender() for _ in range(50)}
    assert len(senders) == 50 and all(s.startswith("whatsapp:+44") and s[10:].isdigit() for s in senders)


def test_a_retrieval_intent_is_named_with_its_answer():
    faq = {
        "intent": {"name": "faq"},
        "response_selector": {
            "all_retrieval_intents": ["faq"],
            "default": {"response": {"intent_response_key": "faq/cost"}},
        },
    }
    assert botlib.intent_name(faq) == "faq" and botlib.intent_label(faq) == "faq/cost"
    assert (
        botlib.intent_label(
            {"intent": {"name": "greet"}, "response_selector": {"all_retrieval_intents": ["faq"]}}
        )
        == "greet"
    )
    assert botlib.intent_label({}) == "none"


def test_only_current_symptoms_count():
    entities = [
        {"entity": "symptom", "value": "cough"},
        {"entity": "symptom", "value": "fever", "role": "negated"},
        {"entity": "symptom", "value": "stroke", "role": "family"},
        {"entity": "body_site", "value": "chest"},
    ]
    assert botlib.current_symptoms(entities) == ["cough"]


def test_triage_starts_only_with_the_triage_intent_and_a_current_symptom():
    intent = sorted(config.TRIAGE_INTENTS)[0]
    symptom = [{"entity": "symptom", "value": "rash"}]
    assert starts_triage({"intent": {"name": intent}, "entities": symptom}) == "ok"
    assert (
        starts_triage({"intent": {"name": intent}, "entities": []})
        == "triage intent, no current symptom entity"
    )
    assert starts_triage({"intent": {"name": "greet"}, "entities": symptom}) == "intent `greet`"


class ScriptedBot:
    """A stand-in for the REST channel: asks for consent first, then sets the level after `questions` answers."""

    def __init__(self, questions: int) -> None:
        self.questions, self.heard, self.events = questions, [], []  # type: int, List[str], List[Dict]

    def say(self, sender: str, text: str) -> List[str]:
        self.heard.append(text)
        self.events.append({"event": "user", "text": text})
        consent = {"consent_given": True} if "yes" in self.heard else {}
        if not consent:
            self.events.append({"event": "bot", "metadata": {"utter_action": "utter_ask_consent"}})
        return ["ok"]

    def tracker(self, sender: str) -> Dict:
        slots = {"consent_given": "yes" in self.heard}
        answered = len(self.heard) - 2  # the symptom and the consent
        if answered >= self.questions:
            slots["triage_level"] = "urgent"
        return {"events": self.events, "slots": slots}


def test_a_chat_gives_consent_then_answers_until_the_level_is_set():
    bot = ScriptedBot(questions=2)
    script = iter(["no", "maybe"])
    chat = botlib.chat_until(
        bot,
        "s",
        "tummy ache",
        lambda t: botlib.slot(t, "triage_level") is not None,
        lambda tracker, replies: next(script),
        max_bot_turns=12,
    )
    assert bot.heard == ["tummy ache", "yes", "no", "maybe"]
    assert chat.bot_turns == 4 and botlib.slot(chat.tracker, "triage_level") == "urgent"


def test_a_chat_that_never_ends_stops_at_the_turn_limit():
    bot = ScriptedBot(questions=100)
    chat = botlib.chat_until(
        bot,
        "s",
        "tummy ache",
        lambda t: botlib.slot(t, "triage_level") is not None,
        lambda tracker, replies: config.NOT_SURE,
        max_bot_turns=12,
    )
    assert chat.bot_turns == 12 and len(bot.heard) == 12


class HandedOffBot(ScriptedBot):
    """Replies to the first two messages, then stays quiet, as a conversation handed to staff does."""

    def say(self, sender: str, text: str) -> List[str]:
        super().say(sender, text)
        return [f"reply {len(self.heard)}"] if len(self.heard) <= 2 else []


def test_a_chat_reports_the_last_words_the_bot_said_before_going_quiet():
    chat = botlib.chat_until(
        HandedOffBot(questions=100),
        "s",
        "tummy ache",
        lambda t: botlib.slot(t, "triage_level") is not None,
        lambda tracker, replies: config.NOT_SURE,
        max_bot_turns=5,
    )
    assert chat.bot_turns == 5 and chat.last_replies == ["reply 2"]


# --- metrics ----------------------------------------------------------------------------------------------------
def test_rates_meet_or_miss_their_targets():
    assert rate("r", [True] * 9 + [False], 0.9).met is True
    assert rate("r", [True] * 8 + [False] * 2, 0.9).met is False
    assert rate("r", [], 0.9).met is None and rate("r", [True]).met is None
    ceiling = Rate("escalated", 1, 40, max_count=0)
    assert ceiling.met is False and missed([ceiling, rate("r", [True], 0.9)]) == [ceiling]
    assert rate("r", [True, False, True, True]).figure() == "75.0% (3/4)"


def outcome(expected: str, got: str) -> Outcome:
    return Outcome(Case(2, "case", expected, "", {}), got, 3, [])


def test_triage_scores_recall_escalation_and_agreement():
    outcomes = [
        outcome("emergency", "emergency"),
        outcome("emergency", NO_LEVEL),
        outcome("routine", "emergency"),
        outcome("self_care", "self_care"),
        outcome("urgent", "emergency"),
        outcome("urgent", "routine"),
    ]
    rates = {r.name: r for r in score(outcomes)}
    assert (rates["emergency recall"].hits, rates["emergency recall"].total) == (1, 2)
    assert rates["emergency recall"].met is False
    escalated = rates["non-emergencies escalated to emergency (at most 10%)"]
    assert (escalated.hits, escalated.total) == (
        2,
        4,
    ) and escalated.met is False  # routine and urgent → emergency
    assert (rates["overall agreement"].hits, rates["overall agreement"].total) == (2, 6)
    assert rates["urgent escalated to emergency (information)"].hits == 1
    assert rates["over-triaged (a more urgent level)"].hits == 2
    assert rates["under-triaged (a less urgent level or none)"].hits == 2  # no level, urgent → routine
    assert rates["triage ended within 12 bot turns"].hits == 5


def test_confusion_table_puts_expected_in_rows_and_adds_unexpected_columns():
    matrix = confusion(
        [("urgent", "urgent"), ("urgent", "none"), ("routine", "urgent"), ("urgent", "urgent")]
    )
    assert matrix == {("urgent", "urgent"): 2, ("urgent", "none"): 1, ("routine", "urgent"): 1}
    table = confusion_table(matrix, ["urgent", "routine"]).splitlines()
    assert table[0] == "| expected \\ got | urgent | routine | none |"
    assert table[2:] == ["| urgent | 2 | 0 | 1 |", "| routine | 1 | 0 | 0 |"]


# --- the shared benchmarks document -----------------------------------------------------------------------------
def test_a_run_replaces_only_its_own_block():
    other = "<!-- section:dates -->\n## Dates\nfast\n<!-- /section:dates -->\n"
    old = "<!-- section:eval -->\n## Evaluation\nold\n<!-- /section:eval -->\n"
    new = "<!-- section:eval -->\n## Evaluation\nnew\n<!-- /section:eval -->\n"
    doc = "# Benchmarks\n\n" + other + old + other.replace("dates", "rasa")
    assert replace_block(doc, "eval", new) == "# Benchmarks\n\n" + other + new + other.replace(
        "dates", "rasa"
    )
    appended = replace_block("# Benchmarks\n\n" + other, "eval", new)
    assert appended.startswith("# Benchmarks\n\n" + other) and appended.endswith(new)
    assert replace_block("", "eval", new).startswith("# Benchmarks")


class _ScriptedBot:
    """Answers every message with the given bot actions (and optionally leaves a form active)."""

    def __init__(self, actions, active_loop=None):
        self.actions, self.active_loop = actions, active_loop

    def say(self, sender, text):
        return ["…"]

    def tracker(self, sender):
        events = [{"event": "user", "text": "x"}] + [{"event": "action", "name": a} for a in self.actions]
        return {"events": events, "active_loop": {"name": self.active_loop} if self.active_loop else {}}


def test_a_reply_counts_as_declined_only_when_the_bot_declined_and_started_nothing():
    from evaluation.clinc import declined_over_rest

    assert declined_over_rest(_ScriptedBot(["utter_out_of_scope", "action_listen"]), "x") == (
        True,
        "utter_out_of_scope",
    )
    assert declined_over_rest(_ScriptedBot(["action_fallback"]), "x")[0]
    assert not declined_over_rest(_ScriptedBot(["action_ask_consent"]), "x")[0]
    assert not declined_over_rest(_ScriptedBot(["action_fallback"], active_loop="appointment_form"), "x")[0]


def test_an_in_scope_text_is_handled_asked_about_declined_or_sent_elsewhere():
    from evaluation.inscope import ASKED, DECLINED, ELSEWHERE, HANDLED, outcome

    def parse(intent: str, *entities: Dict[str, Any], answer: str = "") -> Dict[str, Any]:
        selector = {intent: {"response": {"intent_response_key": answer}}} if answer else {}
        return {"intent": {"name": intent}, "entities": list(entities), "response_selector": selector}

    guess = {"entity": "clinic_guess", "value": "ask_address"}
    dentist = {"entity": "unoffered_service", "value": "dental"}
    assert outcome("ask_address", parse("ask_address")) == HANDLED
    assert outcome("faq/cost", parse("faq", answer="faq/cost")) == HANDLED
    assert outcome("faq/cost", parse("faq", answer="faq/sick_note")) == ELSEWHERE
    assert outcome("describe_symptoms", parse("red_flag")) == HANDLED
    assert outcome("not_offered", parse("ask_services", dentist)) == HANDLED
    assert outcome("not_offered", parse("book_appointment", dentist)) == HANDLED
    assert (
        outcome("not_offered", parse("ask_services")) == ELSEWHERE
    )  # the plain list says nothing of the dentist
    assert outcome("ask_address", parse("nlu_fallback", guess)) == ASKED
    assert (
        outcome("ask_phone", parse("nlu_fallback", guess)) == DECLINED
    )  # the question offers the wrong answer
    assert outcome("ask_phone", parse("out_of_scope")) == DECLINED


def test_the_console_shows_failing_texts_only_when_asked():
    """Evaluation corpora and holdouts are for measuring: their texts are not printed unless a developer asks."""
    section = Section("Patients' symptom descriptions")
    section.rates.append(rate("read", [True, False]))
    section.examples.append(("no current symptom entity", ["my knee has gone all wobbly"]))
    assert "my knee has gone all wobbly" not in console([section])
    assert "read" in console([section])
    assert "my knee has gone all wobbly" in console([section], examples=True)
