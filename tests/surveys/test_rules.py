"""The pure rules: what a PMO instrument needs, and which answers fit its questions."""

import copy

import pytest

from prakerja.surveys import rules
from prakerja.surveys.models import Instrument

from .test_services import QUESTIONS


def codes(problems) -> set[str]:
    return {p.code for p in problems}


def check(questions, **overrides) -> set[str]:
    fields = {"code": "quick-check", "title_id": "Cek", "title_en": "Check", "questions": questions}
    fields.update(overrides)
    return codes(rules.instrument_problems(**fields))


def test_a_well_formed_instrument_has_no_problems() -> None:
    assert check(QUESTIONS) == set()


@pytest.mark.django_db
def test_the_seeded_instruments_pass_the_same_checks_as_the_pmos() -> None:
    seeded = Instrument.objects.filter(code__in=["after-training", "after-incentive", "follow-up"])
    assert seeded.count() == 3
    for instrument in seeded:
        assert (
            rules.instrument_problems(
                code=instrument.code,
                title_id=instrument.title_id,
                title_en=instrument.title_en,
                questions=instrument.questions,
            )
            == []
        )
        employment = next(q for q in instrument.questions if q["code"] == rules.EMPLOYMENT)
        assert {rules.WORKING, rules.BUSINESS} <= {o["value"] for o in employment["options"]}


def test_each_mistake_in_an_instrument_is_named() -> None:
    broken = copy.deepcopy(QUESTIONS)
    broken[1]["code"] = "employment"  # used twice
    broken[0]["text_en"] = " "  # English missing
    broken[0]["options"][1]["label_id"] = ""  # an option without Indonesian
    assert check(broken) == {
        "questions:code_duplicate",
        "questions:text_en_missing",
        "questions:label_id_missing",
    }
    assert check([{**QUESTIONS[1], "kind": "slider"}]) == {"questions:kind_invalid"}
    assert check([{**QUESTIONS[0], "options": [QUESTIONS[0]["options"][0]]}]) == {"questions:options_missing"}
    assert check([{**QUESTIONS[0], "options": None}]) == {"questions:options_missing"}
    two_same = [QUESTIONS[0]["options"][0]] * 2
    assert check([{**QUESTIONS[0], "options": two_same}]) == {"questions:option_duplicate"}
    assert check([]) == {"questions:missing"}
    assert check({"code": "x"}) == {"questions:missing"}
    assert check(QUESTIONS, title_en="", code="Not A Code") == {"title_en:missing", "code:invalid"}


def test_answers_are_checked_against_the_questions() -> None:
    optional = {
        "code": "comment",
        "kind": "text",
        "text_id": "Saran",
        "text_en": "Comments",
        "required": False,
    }
    questions = [*QUESTIONS, optional]
    assert rules.answer_problems(questions, {"employment": "working", "satisfaction": "5"}) == []
    problems = rules.answer_problems(
        questions, {"employment": "retired", "satisfaction": "0", "comment": "x" * 2001, "extra": "1"}
    )
    assert codes(problems) == {
        "employment:unknown_option",
        "satisfaction:out_of_scale",
        "comment:too_long",
        "extra:unknown_question",
    }
    assert codes(rules.answer_problems(questions, {"employment": " ", "satisfaction": True})) == {
        "employment:missing",
        "satisfaction:out_of_scale",
    }
    assert rules.answers_clean(
        questions, {"employment": "working", "satisfaction": " 4 ", "comment": ""}
    ) == {
        "employment": "working",
        "satisfaction": 4,
    }
