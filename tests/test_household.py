"""Whom a request or an answer names, against the phone's household (carebot/household.py, data/people/)."""

from __future__ import annotations

import pytest

from carebot.household import SOMEONE_ELSE, Member, decide, load_people, who_options, who_said

SARAH = Member("p1", "Sarah Jones", None, "female")
TOM = Member("p2", "Tom Jones", "PRN", "male")
EMMA = Member("p3", "Emma Jones", "PRN", "female")
FAMILY = [SARAH, TOM, EMMA]


@pytest.mark.parametrize(
    "text, household, member, relation, new, ask",
    [
        ("I'd like to book a GP appointment for my son", FAMILY, TOM, None, False, False),
        ("cancel Emma's appointment", FAMILY, EMMA, None, False, False),
        ("my baby girl has a rash", FAMILY, EMMA, None, False, False),
        ("book me in please", FAMILY, SARAH, None, False, False),
        ("book an appointment", FAMILY, None, None, False, True),
        ("book for my 3 month old", FAMILY, None, None, False, True),  # two children: which one?
        ("I need an appointment for my mum", FAMILY, None, "mother", True, False),
        ("can I book for my little boy", [SARAH], None, "son", True, False),
        ("book an appointment", [SARAH], SARAH, None, False, False),
        ("book an appointment", [], None, None, True, False),  # a first visit: the owner, new
        ("book an appointment", [TOM], None, None, False, True),  # only a child registered: maybe the owner
        ("an appointment with Dr Son", FAMILY, None, None, False, True),  # "son" counts only after my/our
    ],
)
def test_whom_a_request_names(text, household, member, relation, new, ask):
    decision = decide(who_said(text, household, load_people()), household)
    assert decision.member == member and decision.ask == ask and decision.new == new
    assert (decision.relation.key if decision.relation else None) == relation


@pytest.mark.parametrize(
    "answer, member, relation",
    [
        ("emma jones", EMMA, None),
        ("me", SARAH, None),
        ("son", TOM, None),
        ("someone else", None, "someone_else"),
    ],
)
def test_answers_to_who_it_is_for(answer, member, relation):
    decision = decide(who_said(answer, FAMILY, load_people(), answer=True), FAMILY)
    assert decision.member == member
    assert (decision.relation.key if decision.relation else None) == relation


def test_someone_else_is_registered_as_a_family_member():
    assert SOMEONE_ELSE.relationship == "FAMMEMB"


def test_the_options_add_me_only_while_the_owner_is_not_registered():
    assert [(o.member, o.myself, o.someone_else) for o in who_options([TOM])] == [
        (TOM, False, False),
        (None, True, False),
        (None, False, True),
    ]
    assert len(who_options(FAMILY)) == 4


def test_a_relation_with_an_unknown_relationship_names_the_file(tmp_path):
    path = tmp_path / "relations.yml"
    path.write_text(
        "self_answers: [me]\nself_in_requests: [for me]\nsomeone_else: [someone else]\n"
        "relations:\n  boss: {words: [boss], relationship: BOSS}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"relations.yml: relation 'boss' needs words and a relationship"):
        load_people(path)
