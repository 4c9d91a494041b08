"""Taking an assessment: which questions show, the answers checked, the score and the flags.

Pure (no Django). `evaluate(definition, answers)` walks the questions in order: a question
with `show_if` shows only when its condition holds on the answers shown before it; answers to
questions that do not show are dropped (a hidden question was never asked); a shown required
question needs an answer; an id that is not a question of this definition is an error (an
answer meant for another assessment). The score is the sum of the points of the shown,
answered, scored questions; each flag rule that holds raises a flag that carries the answer
(or the score) that raised it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from patients.assessments.definition import Condition, Definition, Question, definition_as_dict

YES = {"yes", "y", "true", "1", "on"}
NO = {"no", "n", "false", "0", "off"}
MAX_ANSWER_TEXT = 2000


class AnswersError(ValueError):
    """Answers that do not fit the definition: {question id: message}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Flag:
    label: str
    question: str | None  # the question whose answer raised it (None: a score did)
    answer: str  # the answer as the patient gave it, or "score 4"

    def as_dict(self) -> dict:
        return {"label": self.label, "question": self.question, "answer": self.answer}


@dataclass(frozen=True)
class Result:
    answers: dict  # question id -> cleaned answer, shown questions only
    shown: tuple[str, ...]
    score: int | None
    band: str
    flags: tuple[Flag, ...]


def clean_answer(question: Question, value):
    """The stored form of one answer (bool, str, int/float, ISO date) or ValueError."""
    if question.kind == "yes_no":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in YES:
            return True
        if text in NO:
            return False
        raise ValueError("Answer yes or no.")
    if question.kind == "choice":
        text = str(value).strip()
        if text not in {c.value for c in question.choices}:
            raise ValueError("Not one of the choices.")
        return text
    if question.kind == "number":
        if isinstance(value, bool):
            raise ValueError("A number.")
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError("A number.") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError("A number.")
        if question.min is not None and number < question.min:
            raise ValueError(f"At least {question.min:g}.")
        if question.max is not None and number > question.max:
            raise ValueError(f"At most {question.max:g}.")
        return int(number) if number.is_integer() else number
    if question.kind == "date":
        try:
            return dt.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise ValueError("A date, YYYY-MM-DD.") from None
    text = str(value).strip()
    if len(text) > MAX_ANSWER_TEXT:
        raise ValueError(f"At most {MAX_ANSWER_TEXT} characters.")
    return text


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def display(question: Question, answer) -> str:
    """An answer as a person reads it ("Yes", a choice's label, the number or text)."""
    if answer is None:
        return ""
    if question.kind == "yes_no":
        return "Yes" if answer else "No"
    if question.kind == "choice":
        return next((c.label for c in question.choices if c.value == answer), str(answer))
    return str(answer)


def _compare(op: str, actual, expected) -> bool:
    if op == "answered":
        return (actual is not None) == expected
    if actual is None:
        return False
    if op == "equals":
        return actual == expected
    if op == "not_equals":
        return actual != expected
    if op == "in":
        return actual in expected
    if isinstance(actual, bool) or not isinstance(actual, (int, float)):
        return False
    if op == "at_least":
        return actual >= expected
    return actual <= expected  # at_most


def _expected(question: Question, op: str, value):
    """A condition's value in the answer's stored form (`"yes"` for a yes/no means True)."""
    if op in ("at_least", "at_most", "answered"):
        return value
    try:
        if op == "in":
            return [clean_answer(question, v) for v in value]
        return clean_answer(question, value)
    except ValueError:
        return value


def score_of(definition: Definition, answers: dict, ids: tuple[str, ...] = ()) -> int | None:
    """The points of the answered scored questions among `ids` (() = all). None: none scored."""
    points = [
        definition.question(qid).points(answers.get(qid))
        for qid in (ids or definition.ids)
        if definition.question(qid) is not None
    ]
    points = [p for p in points if p is not None]
    return sum(points) if points else None


def holds(definition: Definition, condition: Condition, answers: dict) -> bool:
    if condition.question is not None:
        question = definition.question(condition.question)
        actual = answers.get(condition.question)
        return _compare(condition.op, actual, _expected(question, condition.op, condition.value))
    total = score_of(definition, answers, condition.score_of or ())
    return _compare(condition.op, total, condition.value)


def shown_questions(definition: Definition, answers: dict) -> list[Question]:
    """The questions that show for these (cleaned) answers, in order."""
    shown: list[Question] = []
    so_far: dict = {}
    for question in definition.questions:
        if question.show_if is None or holds(definition, question.show_if, so_far):
            shown.append(question)
            if question.id in answers:
                so_far[question.id] = answers[question.id]
    return shown


def evaluate(definition: Definition, raw_answers: dict) -> Result:
    """Check answers against a definition and compute the score and flags (see module doc)."""
    if not isinstance(raw_answers, dict):
        raise AnswersError({"answers": "An object of question id to answer."})
    errors: dict[str, str] = {}
    for qid in raw_answers:
        if definition.question(str(qid)) is None:
            errors[str(qid)] = "Not a question of this assessment."
    cleaned: dict = {}
    shown: list[str] = []
    for question in definition.questions:
        if question.show_if is not None and not holds(definition, question.show_if, cleaned):
            continue  # not shown: an answer sent for it is dropped
        shown.append(question.id)
        value = raw_answers.get(question.id)
        if _blank(value):
            if question.required:
                errors[question.id] = "Required."
            continue
        try:
            cleaned[question.id] = clean_answer(question, value)
        except ValueError as exc:
            errors[question.id] = str(exc)
    if errors:
        raise AnswersError(errors)
    total = score_of(definition, cleaned)
    band = ""
    if total is not None:
        for minimum, label in sorted(definition.bands):
            if total >= minimum:
                band = label
    flags = []
    for rule in definition.flags:
        if not holds(definition, rule.when, cleaned):
            continue
        if rule.when.question is not None:
            question = definition.question(rule.when.question)
            answer = display(question, cleaned.get(question.id))
            flags.append(Flag(label=rule.label, question=question.id, answer=answer))
        else:
            points = score_of(definition, cleaned, rule.when.score_of or ())
            flags.append(Flag(label=rule.label, question=None, answer=f"score {points}"))
    return Result(answers=cleaned, shown=tuple(shown), score=total, band=band, flags=tuple(flags))


def fingerprint(definition: Definition) -> str:
    """A stable hash of a definition: the same questions and rules make the same version."""
    canonical = json.dumps(definition_as_dict(definition), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def next_version(current_fingerprint: str | None, current_number: int, new: Definition):
    """(number, fingerprint) for a save: the same definition keeps its version, any change is
    a new version. Versions are never edited, so a completed response keeps what it was
    taken with."""
    new_fingerprint = fingerprint(new)
    if current_fingerprint == new_fingerprint:
        return current_number, new_fingerprint
    return current_number + 1, new_fingerprint
