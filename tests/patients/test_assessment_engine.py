"""The pure assessment engine: conditional display, scoring, flags and versions, with worked
examples (a builder assessment, the shipped PHQ-2/PHQ-9 and STEADI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from patients.assessments import (
    AnswersError,
    DefinitionError,
    evaluate,
    fingerprint,
    next_version,
    parse_definition,
    shown_questions,
)

LIBRARY = Path(__file__).resolve().parents[2] / "patients" / "data" / "assessments"


def shipped(key: str):
    return parse_definition(json.loads((LIBRARY / f"{key}.json").read_text())["definition"])


# A builder assessment: a yes/no, a number shown only after "yes", a choice with points.
BUILT = {
    "questions": [
        {"id": "dizzy", "kind": "yes_no", "text": "Dizzy?", "required": True, "score": {"yes": 2}},
        {
            "id": "times",
            "kind": "number",
            "text": "How many times this week?",
            "required": True,
            "min": 1,
            "max": 50,
            "show_if": {"question": "dizzy", "equals": "yes"},
            "score": {"value": True},
        },
        {
            "id": "sleep",
            "kind": "choice",
            "text": "Sleep?",
            "choices": [
                {"value": "good", "label": "Good", "score": 0},
                {"value": "poor", "label": "Poor", "score": 1},
            ],
        },
        {"id": "seen_on", "kind": "date", "text": "Last doctor visit"},
        {"id": "note", "kind": "text", "text": "Anything else?"},
    ],
    "flags": [
        {"label": "Dizzy 3+ times", "when": {"question": "times", "at_least": 3}},
        {"label": "Score 5 or more", "when": {"score": "total", "at_least": 5}},
    ],
}


def test_a_conditional_question_shows_only_after_its_answer():
    definition = parse_definition(BUILT)
    assert [q.id for q in shown_questions(definition, {"dizzy": False})] == [
        "dizzy",
        "sleep",
        "seen_on",
        "note",
    ]
    assert "times" in [q.id for q in shown_questions(definition, {"dizzy": True})]


def test_worked_example_no_dizziness_scores_the_choice_only_and_drops_the_hidden_answer():
    result = evaluate(parse_definition(BUILT), {"dizzy": "no", "times": "9", "sleep": "poor"})
    assert result.answers == {"dizzy": False, "sleep": "poor"}  # "times" was never asked
    assert result.score == 1 and result.flags == ()


def test_worked_example_dizzy_four_times_scores_seven_and_raises_both_flags():
    result = evaluate(
        parse_definition(BUILT),
        {"dizzy": "yes", "times": "4", "sleep": "poor", "seen_on": "2026-11-03", "note": " ok "},
    )
    assert result.answers == {
        "dizzy": True,
        "times": 4,
        "sleep": "poor",
        "seen_on": "2026-11-03",
        "note": "ok",
    }
    assert result.score == 2 + 4 + 1
    assert [(f.label, f.question, f.answer) for f in result.flags] == [
        ("Dizzy 3+ times", "times", "4"),
        ("Score 5 or more", None, "score 7"),
    ]


def test_a_shown_required_question_must_be_answered_and_unknown_ids_are_named():
    with pytest.raises(AnswersError) as caught:
        evaluate(parse_definition(BUILT), {"dizzy": "yes", "phq1": "3", "sleep": "meh"})
    assert caught.value.errors == {
        "phq1": "Not a question of this assessment.",
        "times": "Required.",
        "sleep": "Not one of the choices.",
    }


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"dizzy": "maybe"}, "dizzy"),
        ({"dizzy": "yes", "times": "0"}, "times"),
        ({"dizzy": "yes", "times": "lots"}, "times"),
        ({"dizzy": "no", "seen_on": "03/11/2026"}, "seen_on"),
        ({"dizzy": "no", "note": "x" * 2001}, "note"),
    ],
)
def test_bad_answers_name_their_question(answers, field):
    with pytest.raises(AnswersError) as caught:
        evaluate(parse_definition(BUILT), answers)
    assert list(caught.value.errors) == [field]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            lambda d: d["questions"][1].update(show_if={"question": "note", "equals": "x"}),
            "questions[1].show_if",
        ),
        (
            lambda d: d["questions"][1].update(show_if={"question": "zzz", "equals": "x"}),
            "questions[1].show_if",
        ),
        (lambda d: d["questions"][2].update(kind="slider"), "questions[2].kind"),
        (
            lambda d: d["questions"][2].update(choices=[{"value": "a", "label": "A"}]),
            "questions[2].choices",
        ),
        (lambda d: d["questions"][3].update(id="dizzy"), "questions[3].id"),
        (lambda d: d["questions"][4].update(id="Bad Id"), "questions[4].id"),
        (lambda d: d["flags"][0].update(when={"question": "dizzy"}), "flags[0].when"),
        (lambda d: d.update(questions=[]), "questions"),
    ],
)
def test_a_bad_definition_names_the_field(change, field):
    raw = json.loads(json.dumps(BUILT))
    change(raw)
    with pytest.raises(DefinitionError) as caught:
        parse_definition(raw)
    assert caught.value.field == field


def test_a_negative_phq2_stops_after_two_questions():
    result = evaluate(shipped("phq"), {"phq1": "1", "phq2": "1"})
    assert result.shown == ("phq1", "phq2") and result.score == 2 and result.flags == ()


def test_a_positive_phq2_asks_the_phq9_and_flags():
    definition = shipped("phq")
    with pytest.raises(AnswersError) as caught:
        evaluate(definition, {"phq1": "2", "phq2": "1"})
    assert set(caught.value.errors) == {f"phq{n}" for n in range(3, 10)}  # PHQ-9 now required
    answers = {"phq1": "2", "phq2": "1", **{f"phq{n}": "1" for n in range(3, 9)}, "phq9": "0"}
    result = evaluate(definition, answers)
    assert result.score == 9 and result.band == "Mild"
    assert [f.label for f in result.flags] == ["Positive PHQ-2 (3 or more): PHQ-9 asked"]
    answers["phq9"] = "2"
    result = evaluate(definition, answers)
    assert result.score == 11 and result.band == "Moderate"
    assert [f.answer for f in result.flags] == ["score 3", "score 11", "More than half the days"]


def test_steadi_worked_example_a_fall_and_two_more_is_at_risk():
    no = dict.fromkeys(
        [
            "cane",
            "unsteady",
            "furniture",
            "worried",
            "push_up",
            "curb",
            "toilet",
            "feet",
            "dizzy_meds",
            "sleep_meds",
            "sad",
        ],
        "no",
    )
    answers = {
        **no,
        "fallen": "yes",
        "falls_count": "2",
        "fall_injury": "no",
        "worried": "yes",
        "feet": "yes",
    }
    result = evaluate(shipped("steadi"), answers)
    assert result.score == 4 and result.band == "May be at risk of falling"
    assert {f.label for f in result.flags} == {
        "Fall risk: STEADI score 4 or more",
        "Fell in the past year",
    }


def test_every_shipped_assessment_parses():
    for path in LIBRARY.glob("*.json"):
        parse_definition(json.loads(path.read_text())["definition"])


def test_the_same_definition_keeps_its_version_and_any_change_is_a_new_one():
    definition = parse_definition(BUILT)
    print_ = fingerprint(definition)
    assert next_version(print_, 3, parse_definition(json.loads(json.dumps(BUILT)))) == (3, print_)
    changed = json.loads(json.dumps(BUILT))
    changed["questions"][0]["text"] = "Dizzy or light-headed?"
    number, new_print = next_version(print_, 3, parse_definition(changed))
    assert number == 4 and new_print != print_
