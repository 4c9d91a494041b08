"""An assessment's definition: typed questions, display conditions, score and flag rules.

Pure (no Django). A definition is the JSON stored on one immutable assessment version:

    {"questions": [{"id": "fell", "kind": "yes_no", "text": "...", "required": true,
                    "score": {"yes": 2}, "show_if": {"question": "x", "equals": "yes"}},
                   {"id": "mood", "kind": "choice", "text": "...",
                    "choices": [{"value": "0", "label": "Not at all", "score": 0}, ...]},
                   {"id": "times", "kind": "number", "min": 0, "max": 50},
                   {"id": "when", "kind": "date"}, {"id": "note", "kind": "text"}],
     "flags": [{"label": "Positive screen", "when": {"score": ["phq1", "phq2"], "at_least": 3}}]}

A condition (`show_if`, a flag's `when`) looks at one earlier answer
(`{"question": id, <op>: value}`) or at a score (`{"score": [ids] | "total", <op>: n}`), with
op one of equals, not_equals, in, at_least, at_most, answered (true/false). `DefinitionError`
names the field that is wrong (`questions[2].show_if`), so the API can say it in a 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

KINDS = ("yes_no", "choice", "number", "date", "text")
OPS = ("equals", "not_equals", "in", "at_least", "at_most", "answered")
QUESTION_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_QUESTIONS = 60
MAX_TEXT = 500


class DefinitionError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    score: int | None = None


@dataclass(frozen=True)
class Condition:
    op: str
    value: object
    question: str | None = None  # one earlier answer ...
    score_of: tuple[str, ...] | None = None  # ... or a score (() = every scored question)

    def as_dict(self) -> dict:
        if self.question is not None:
            return {"question": self.question, self.op: self.value}
        return {"score": list(self.score_of) or "total", self.op: self.value}


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    text: str
    required: bool = False
    choices: tuple[Choice, ...] = ()
    show_if: Condition | None = None
    score: dict = field(default_factory=dict)  # yes_no: {"yes": n, "no": n}
    min: float | None = None
    max: float | None = None
    help: str = ""

    def points(self, answer) -> int | None:
        """The points an answer earns (None: the question is not scored)."""
        if answer is None:
            return None
        if self.kind == "choice":
            for choice in self.choices:
                if choice.value == answer and choice.score is not None:
                    return choice.score
            return None
        if self.kind == "yes_no" and self.score:
            return int(self.score.get("yes" if answer else "no", 0))
        if self.kind == "number" and self.score.get("value"):
            return int(answer)
        return None

    @property
    def scored(self) -> bool:
        if self.kind == "choice":
            return any(c.score is not None for c in self.choices)
        return bool(self.score)


@dataclass(frozen=True)
class FlagRule:
    label: str
    when: Condition


@dataclass(frozen=True)
class Definition:
    questions: tuple[Question, ...]
    flags: tuple[FlagRule, ...] = ()
    bands: tuple[tuple[int, str], ...] = ()  # (minimum total, label), e.g. PHQ-9 severity

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    @property
    def ids(self) -> list[str]:
        return [q.id for q in self.questions]


def _condition(raw, where: str, earlier: dict[str, Question], *, all_ids: set[str]) -> Condition:
    if not isinstance(raw, dict):
        raise DefinitionError(where, "A condition is an object.")
    ops = [op for op in OPS if op in raw]
    if len(ops) != 1:
        raise DefinitionError(where, f"Give exactly one of {', '.join(OPS)}.")
    op, value = ops[0], raw[ops[0]]
    if op == "answered" and not isinstance(value, bool):
        raise DefinitionError(where, "answered is true or false.")
    if op in ("at_least", "at_most") and (
        isinstance(value, bool) or not isinstance(value, (int, float))
    ):
        raise DefinitionError(where, f"{op} takes a number.")
    if op == "in" and not (isinstance(value, list) and value):
        raise DefinitionError(where, "in takes a list of answers.")
    if "question" in raw:
        target = raw["question"]
        if target not in earlier:
            raise DefinitionError(
                where,
                f"Unknown question {target!r}: a condition looks at an earlier question."
                if target not in all_ids
                else f"Question {target!r} comes later: a condition looks at an earlier one.",
            )
        return Condition(op=op, value=value, question=target)
    if "score" in raw:
        of = raw["score"]
        if of == "total":
            return Condition(op=op, value=value, score_of=())
        if not isinstance(of, list) or not of or any(q not in earlier for q in of):
            raise DefinitionError(where, "score names earlier questions, or is 'total'.")
        return Condition(op=op, value=value, score_of=tuple(of))
    raise DefinitionError(where, "A condition names a question or a score.")


def _text(raw: dict, key: str, where: str, *, required: bool = True) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise DefinitionError(f"{where}.{key}", "Give a text.")
    if len(value) > MAX_TEXT:
        raise DefinitionError(f"{where}.{key}", f"At most {MAX_TEXT} characters.")
    return value.strip()


def _number(raw: dict, key: str, where: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DefinitionError(f"{where}.{key}", "A number.")
    return value


def _question(raw, index: int, earlier: dict[str, Question], all_ids: set[str]) -> Question:
    where = f"questions[{index}]"
    if not isinstance(raw, dict):
        raise DefinitionError(where, "A question is an object.")
    qid = raw.get("id")
    if not isinstance(qid, str) or not QUESTION_ID.match(qid):
        raise DefinitionError(f"{where}.id", "Lower-case letters, digits and _, from a letter.")
    if qid in earlier:
        raise DefinitionError(f"{where}.id", f"Question id {qid!r} is used twice.")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise DefinitionError(f"{where}.kind", f"One of {', '.join(KINDS)}.")
    choices: list[Choice] = []
    if kind == "choice":
        raw_choices = raw.get("choices")
        if not isinstance(raw_choices, list) or len(raw_choices) < 2:
            raise DefinitionError(f"{where}.choices", "A choice question has 2 or more choices.")
        for n, choice in enumerate(raw_choices):
            cwhere = f"{where}.choices[{n}]"
            if not isinstance(choice, dict):
                raise DefinitionError(cwhere, "A choice is an object with value and label.")
            value = choice.get("value")
            if not isinstance(value, str) or not value.strip() or len(value) > 40:
                raise DefinitionError(f"{cwhere}.value", "A short text value.")
            score = choice.get("score")
            if score is not None and (isinstance(score, bool) or not isinstance(score, int)):
                raise DefinitionError(f"{cwhere}.score", "A whole number.")
            choices.append(Choice(value=value, label=_text(choice, "label", cwhere), score=score))
        if len({c.value for c in choices}) != len(choices):
            raise DefinitionError(f"{where}.choices", "Each choice has its own value.")
    score = raw.get("score") or {}
    if not isinstance(score, dict):
        raise DefinitionError(f"{where}.score", 'An object, e.g. {"yes": 1}.')
    if score and kind == "yes_no":
        if set(score) - {"yes", "no"} or any(
            isinstance(v, bool) or not isinstance(v, int) for v in score.values()
        ):
            raise DefinitionError(f"{where}.score", "Points for yes and no, whole numbers.")
    elif score and kind == "number":
        if score != {"value": True}:
            raise DefinitionError(f"{where}.score", 'A number scores its value: {"value": true}.')
    elif score:
        raise DefinitionError(f"{where}.score", "Only yes/no and number questions take score.")
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise DefinitionError(f"{where}.required", "true or false.")
    show_if = None
    if raw.get("show_if") is not None:
        show_if = _condition(raw["show_if"], f"{where}.show_if", earlier, all_ids=all_ids)
    low, high = _number(raw, "min", where), _number(raw, "max", where)
    if low is not None and high is not None and high < low:
        raise DefinitionError(f"{where}.max", "max is not below min.")
    return Question(
        id=qid,
        kind=kind,
        text=_text(raw, "text", where),
        required=required,
        choices=tuple(choices),
        show_if=show_if,
        score=dict(score),
        min=low,
        max=high,
        help=_text(raw, "help", where, required=False),
    )


def parse_definition(raw) -> Definition:
    """Check a definition and return it; raise DefinitionError naming the wrong field."""
    if not isinstance(raw, dict):
        raise DefinitionError("definition", "An object with questions.")
    raw_questions = raw.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        raise DefinitionError("questions", "Give at least one question.")
    if len(raw_questions) > MAX_QUESTIONS:
        raise DefinitionError("questions", f"At most {MAX_QUESTIONS} questions.")
    all_ids = {q.get("id") for q in raw_questions if isinstance(q, dict)}
    earlier: dict[str, Question] = {}
    for index, raw_question in enumerate(raw_questions):
        question = _question(raw_question, index, earlier, all_ids)
        earlier[question.id] = question
    flags = []
    raw_flags = raw.get("flags") or []
    if not isinstance(raw_flags, list):
        raise DefinitionError("flags", "A list of flag rules.")
    for index, rule in enumerate(raw_flags):
        where = f"flags[{index}]"
        if not isinstance(rule, dict):
            raise DefinitionError(where, "A flag rule is an object with label and when.")
        when = _condition(rule.get("when"), f"{where}.when", earlier, all_ids=all_ids)
        flags.append(FlagRule(label=_text(rule, "label", where), when=when))
    bands = []
    raw_bands = raw.get("bands") or []
    if not isinstance(raw_bands, list):
        raise DefinitionError("bands", "A list of {at_least, label}.")
    for index, band in enumerate(raw_bands):
        where = f"bands[{index}]"
        if not isinstance(band, dict) or _number(band, "at_least", where) is None:
            raise DefinitionError(where, "Each band has at_least (a number) and a label.")
        bands.append((band["at_least"], _text(band, "label", where)))
    return Definition(questions=tuple(earlier.values()), flags=tuple(flags), bands=tuple(bands))


def definition_as_dict(definition: Definition) -> dict:
    """The canonical JSON of a definition (what a version stores and fingerprints)."""
    questions = []
    for q in definition.questions:
        item: dict = {"id": q.id, "kind": q.kind, "text": q.text, "required": q.required}
        if q.choices:
            item["choices"] = [
                {"value": c.value, "label": c.label}
                | ({"score": c.score} if c.score is not None else {})
                for c in q.choices
            ]
        if q.score:
            item["score"] = dict(q.score)
        if q.show_if is not None:
            item["show_if"] = q.show_if.as_dict()
        if q.min is not None:
            item["min"] = q.min
        if q.max is not None:
            item["max"] = q.max
        if q.help:
            item["help"] = q.help
        questions.append(item)
    result: dict = {"questions": questions}
    if definition.flags:
        result["flags"] = [{"label": f.label, "when": f.when.as_dict()} for f in definition.flags]
    if definition.bands:
        result["bands"] = [{"at_least": n, "label": label} for n, label in definition.bands]
    return result
