"""Invariants of the assessment engine over generated definitions and answers (hypothesis):
only shown questions keep answers, the score is the sum of the shown answers' points, a flag
holds exactly when its rule does, and evaluation never depends on answers it dropped."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from patients.assessments import evaluate, parse_definition, shown_questions

CHOICES = [
    {"value": "a", "label": "A", "score": 0},
    {"value": "b", "label": "B", "score": 1},
    {"value": "c", "label": "C", "score": 3},
]


@st.composite
def definitions(draw):
    count = draw(st.integers(min_value=1, max_value=6))
    questions = []
    for i in range(count):
        kind = draw(st.sampled_from(["yes_no", "choice"]))
        question = {"id": f"q{i}", "kind": kind, "text": f"Question {i}"}
        if kind == "choice":
            question["choices"] = CHOICES
        else:
            question["score"] = {"yes": draw(st.integers(0, 3))}
        if i and draw(st.booleans()):
            target = draw(st.integers(0, i - 1))
            if questions[target]["kind"] == "yes_no":
                question["show_if"] = {"question": f"q{target}", "equals": "yes"}
            else:
                question["show_if"] = {"question": f"q{target}", "in": ["b", "c"]}
        questions.append(question)
    threshold = draw(st.integers(0, 8))
    raw = {
        "questions": questions,
        "flags": [{"label": "High", "when": {"score": "total", "at_least": threshold}}],
    }
    return raw, threshold


@st.composite
def answered(draw):
    raw, threshold = draw(definitions())
    answers = {}
    for question in raw["questions"]:
        if question["kind"] == "yes_no":
            answers[question["id"]] = draw(st.sampled_from(["yes", "no"]))
        else:
            answers[question["id"]] = draw(st.sampled_from(["a", "b", "c"]))
    return raw, threshold, answers


@settings(max_examples=200, deadline=None)
@given(answered())
def test_only_shown_questions_keep_answers_and_the_score_sums_their_points(case):
    raw, threshold, answers = case
    definition = parse_definition(raw)
    result = evaluate(definition, answers)
    shown = [q.id for q in shown_questions(definition, result.answers)]
    assert list(result.answers) == shown == list(result.shown)
    points = [definition.question(q).points(result.answers[q]) for q in shown]
    total = sum(p for p in points if p is not None)
    assert result.score == total
    assert bool(result.flags) == (total >= threshold)


@settings(max_examples=200, deadline=None)
@given(answered())
def test_dropping_the_answers_of_hidden_questions_changes_nothing(case):
    raw, _, answers = case
    definition = parse_definition(raw)
    result = evaluate(definition, answers)
    again = evaluate(definition, result.answers)
    assert (again.answers, again.score, again.flags) == (result.answers, result.score, result.flags)
